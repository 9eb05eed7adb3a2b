package threads

import (
	"fmt"
	"regexp"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/config/secret"
)

// Config is a threads section of config.yaml.
type Config struct {
	// Name is the instance's name (its key under channels:).
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// UserID is the Threads account's numeric id (GET /me answers it).
	UserID string `yaml:"user_id"`
	// Token is a long-lived Threads user access token (docs/meta.md).
	Token secret.Secret `yaml:"token"`
	// APIURL is the Threads API host; empty means graph.threads.net.
	APIURL string `yaml:"api_url"`
}

var userIDPattern = regexp.MustCompile(`^[0-9]{5,25}$`)

func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.Token.IsSet() && c.UserID != "" }

// reconnect says what to do about a refused token.
func (c Config) reconnect() string {
	return fmt.Sprintf("reconnect the Threads account on the console's Channels page, or set channels.%s.token (THREADS_TOKEN) to a new long-lived Threads token (docs/meta.md, \"Threads\"); a long-lived token lasts 60 days unless refreshed", c.instance())
}

// client is the Graph API client for the Threads account.
func (c Config) client(env channels.Env) *graphapi.Client {
	base := c.APIURL
	if base == "" {
		base = graphapi.ThreadsBase
	}
	return graphapi.New(graphapi.Options{Base: base, Version: graphapi.ThreadsVersion, Token: c.Token, HTTP: env.HTTPClient, Network: "Threads", Reconnect: c.reconnect()})
}

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	add := func(field, format string, args ...any) {
		probs = append(probs, channels.ConfigProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.UserID != "" && !userIDPattern.MatchString(c.UserID) {
		add("user_id", "must be the Threads account's numeric id (like 17841400008460056), not its @name: docs/meta.md shows how to find it")
	}
	if c.Token.IsSet() && c.UserID == "" {
		add("user_id", "a token is set but no user_id to post as")
	}
	if c.Token.IsSet() && !graphapi.TokenShaped(c.Token) {
		// Never echo the token.
		add("token", "must be a Threads access token (a long string starting TH…), see docs/meta.md")
	}
	if c.APIURL != "" && !graphapi.IsHost(c.APIURL) {
		add("api_url", "must be the Threads API host, like %s", graphapi.ThreadsBase)
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		add("token", "mode is send but user_id and token are not both set")
	}
	return probs
}
