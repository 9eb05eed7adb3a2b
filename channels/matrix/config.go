package matrix

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

// Config is one matrix section of config.yaml. Homeserver, AccessToken and
// a room make it send for real.
type Config struct {
	// Name is the instance's name (its key under channels:).
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// Homeserver is the bot account's homeserver, https://matrix.example.org.
	Homeserver string `yaml:"homeserver"`
	// AccessToken is the bot account's access token.
	AccessToken secret.Secret `yaml:"access_token"`
	// Room is a room ID (!abc:example.org) or alias (#news:example.org);
	// Rooms adds more, each getting every post.
	Room  string   `yaml:"room"`
	Rooms []string `yaml:"rooms"`
}

// instance is the name overrides and payloads use.
func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// RoomList is Room and Rooms, in order, without blanks or repeats.
func (c Config) RoomList() []string {
	var out []string
	for _, r := range append([]string{c.Room}, c.Rooms...) {
		r = strings.TrimSpace(r)
		if r != "" && !contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// HasCredentials reports whether the instance can send for real.
func (c Config) HasCredentials() bool {
	return c.Homeserver != "" && c.AccessToken.IsSet() && len(c.RoomList()) > 0
}

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	if c.Homeserver != "" {
		if msg := checkHomeserver(c.Homeserver); msg != "" {
			probs = append(probs, channels.ConfigProblem{Field: "homeserver", Message: msg})
		}
	}
	if c.Room != "" && !roomLike(c.Room) {
		probs = append(probs, channels.ConfigProblem{Field: "room", Message: roomHelp})
	}
	for i, r := range c.Rooms {
		if !roomLike(r) {
			probs = append(probs, channels.ConfigProblem{Field: fmt.Sprintf("rooms[%d]", i), Message: roomHelp})
		}
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		probs = append(probs, channels.ConfigProblem{Field: "access_token", Message: "mode is send but homeserver, access_token and room are not all set"})
	}
	return probs
}

const roomHelp = "must be a room ID (!abc:example.org, in Element: Room settings, Advanced) or an alias (#news:example.org)"

// roomLike reports whether s looks like a room ID or alias.
func roomLike(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) > 3 && len(s) <= 255 && (s[0] == '!' || s[0] == '#') && strings.Contains(s[1:], ":")
}

// checkHomeserver says what is wrong with a homeserver address, or "".
func checkHomeserver(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return "must be the homeserver's address, such as https://matrix.example.org (its client API, not the server name after the colon of a user ID)"
	}
	return ""
}
