package facebook

import (
	"fmt"
	"regexp"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/config/secret"
)

// Config is a facebook section of config.yaml.
type Config struct {
	// Name is the instance's name (its key under channels:).
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// PageID is the Page's numeric id (Page settings, "Page transparency",
	// or the About section).
	PageID string `yaml:"page_id"`
	// PageToken is a long-lived Page access token (docs/meta.md).
	PageToken secret.Secret `yaml:"page_token"`
	// APIURL is the Graph API host; empty means graph.facebook.com.
	APIURL string `yaml:"api_url"`
}

var pageIDPattern = regexp.MustCompile(`^[0-9]{5,25}$`)

func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.PageToken.IsSet() && c.PageID != "" }

// reconnect says what to do about a refused token.
func (c Config) reconnect() string {
	return fmt.Sprintf("reconnect the Page on the console's Channels page, or set channels.%s.page_token (FACEBOOK_PAGE_TOKEN) to a new long-lived Page token (docs/meta.md, \"The Page token\")", c.instance())
}

// client is the Graph API client for the Page.
func (c Config) client(env channels.Env) *graphapi.Client {
	return graphapi.New(graphapi.Options{Base: c.APIURL, Token: c.PageToken, HTTP: env.HTTPClient, Network: "Facebook", Reconnect: c.reconnect()})
}

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	add := func(field, format string, args ...any) {
		probs = append(probs, channels.ConfigProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.PageID != "" && !pageIDPattern.MatchString(c.PageID) {
		add("page_id", "must be the Page's numeric id (like 104857600012345), not its name or address")
	}
	if c.PageToken.IsSet() && c.PageID == "" {
		add("page_id", "a page_token is set but no page_id to post to")
	}
	if c.PageToken.IsSet() && !graphapi.TokenShaped(c.PageToken) {
		// Never echo the token.
		add("page_token", "must be a Page access token (a long string starting EAA…), see docs/meta.md")
	}
	if c.APIURL != "" && !graphapi.IsHost(c.APIURL) {
		add("api_url", "must be the Graph API host, like %s", graphapi.DefaultBase)
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		add("page_token", "mode is send but page_id and page_token are not both set")
	}
	return probs
}
