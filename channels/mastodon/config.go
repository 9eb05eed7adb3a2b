package mastodon

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

// Config is the mastodon section of config.yaml.
type Config struct {
	// Name is the instance's name (its key under channels:); empty means
	// the type's name. Overrides, payloads and deliveries use it.
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// Instance is the server's base URL, e.g. https://mastodon.social.
	Instance string        `yaml:"instance"`
	Token    secret.Secret `yaml:"token"`
	// Visibility is public, unlisted, private or direct.
	Visibility string `yaml:"visibility"`
	// Language is the ISO 639-1 default when a post has none.
	Language string `yaml:"language"`
	// Thread splits a post that is over budget into a numbered thread instead
	// of shortening it.
	Thread bool `yaml:"thread"`
	// Hashtags are added to every toot.
	Hashtags []string `yaml:"hashtags"`
	// MaxCharacters is the budget used when the instance cannot be asked
	// (outbox mode, or the instance is down at start without a cached
	// answer); 0 means 500.
	MaxCharacters int `yaml:"max_characters"`
}

var languageCode = regexp.MustCompile(`^[a-z]{2,3}$`)

// instance is the name overrides and payloads use.
func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.Instance != "" && c.Token.IsSet() }

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	if c.Instance != "" {
		if u, err := url.Parse(c.Instance); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			probs = append(probs, channels.ConfigProblem{Field: "instance", Message: "must be an http(s) URL such as https://mastodon.social"})
		}
	}
	switch c.Visibility {
	case "", "public", "unlisted", "private", "direct":
	default:
		probs = append(probs, channels.ConfigProblem{Field: "visibility", Message: "must be public, unlisted, private or direct"})
	}
	if c.Language != "" && !languageCode.MatchString(c.Language) {
		probs = append(probs, channels.ConfigProblem{Field: "language", Message: "must be an ISO 639 language code such as en or fr"})
	}
	for i, h := range c.Hashtags {
		if Hashtag(h) == "" {
			probs = append(probs, channels.ConfigProblem{Field: fmt.Sprintf("hashtags[%d]", i), Message: fmt.Sprintf("%q has no letter, so Mastodon would not make it a hashtag", h)})
		}
	}
	if c.MaxCharacters < 0 {
		probs = append(probs, channels.ConfigProblem{Field: "max_characters", Message: "must be 0 (ask the instance, else 500) or a positive number"})
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		probs = append(probs, channels.ConfigProblem{Field: "token", Message: "mode is send but instance or token is missing (set the environment variable the token names)"})
	}
	return probs
}
