package instagram

import (
	"fmt"
	"regexp"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/config/secret"
)

// Config is an instagram section of config.yaml.
type Config struct {
	// Name is the instance's name (its key under channels:).
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// UserID is the Instagram professional account's id as the Graph API
	// knows it (17841…), not its @name (docs/meta.md).
	UserID string `yaml:"user_id"`
	// PageToken is the long-lived token of the Facebook Page the account
	// is linked to: the shipped config reads FACEBOOK_PAGE_TOKEN, the
	// same Page's token the facebook channel uses.
	PageToken secret.Secret `yaml:"page_token"`
	// Cards draws a title card for a post without a picture (nil: true);
	// false leaves such posts off Instagram, with a note.
	Cards *bool `yaml:"cards"`
	// APIURL is the Graph API host; empty means graph.facebook.com.
	APIURL string `yaml:"api_url"`
}

var userIDPattern = regexp.MustCompile(`^[0-9]{5,25}$`)

func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// cards reports whether a post without a picture gets a title card.
func (c Config) cards() bool { return c.Cards == nil || *c.Cards }

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.PageToken.IsSet() && c.UserID != "" }

// reconnect says what to do about a refused token.
func (c Config) reconnect() string {
	return fmt.Sprintf("reconnect Instagram on the console's Channels page, or set channels.%s.page_token (FACEBOOK_PAGE_TOKEN) to a new long-lived token of the Page the account is linked to (docs/meta.md, \"The Page token\")", c.instance())
}

// client is the Graph API client for the account.
func (c Config) client(env channels.Env) *graphapi.Client {
	return graphapi.New(graphapi.Options{Base: c.APIURL, Token: c.PageToken, HTTP: env.HTTPClient, Network: "Instagram", Reconnect: c.reconnect()})
}

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	add := func(field, format string, args ...any) {
		probs = append(probs, channels.ConfigProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.UserID != "" && !userIDPattern.MatchString(c.UserID) {
		add("user_id", "must be the Instagram account's numeric id (like 17841400008460056), not its @name: docs/meta.md shows where to find it")
	}
	if c.PageToken.IsSet() && c.UserID == "" {
		add("user_id", "a page_token is set but no user_id (INSTAGRAM_USER_ID) to post to")
	}
	if c.PageToken.IsSet() && !graphapi.PlausibleToken(c.PageToken) {
		// Never echo the token.
		add("page_token", "must be a Page access token (a long string starting EAA…), see docs/meta.md")
	}
	if c.APIURL != "" && !graphapi.ValidBase(c.APIURL) {
		add("api_url", "must be the Graph API host, like %s", graphapi.DefaultBase)
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		add("page_token", "mode is send but user_id and page_token are not both set")
	}
	return probs
}
