package bluesky

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

// DefaultService is the public Bluesky PDS entryway.
const DefaultService = "https://bsky.social"

// Config is the bluesky section of config.yaml.
type Config struct {
	// Name is the instance's name (its key under channels:); empty means
	// the type's name. Overrides, payloads and record keys use it.
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// Service is the PDS (or entryway) base URL; empty means
	// https://bsky.social.
	Service string `yaml:"service"`
	// Handle signs in (a handle such as campaign.bsky.social, the account's
	// DID, or its e-mail address).
	Handle string `yaml:"handle"`
	// AppPassword is an app password (Settings > Privacy and security > App
	// passwords), never the account's main password.
	AppPassword secret.Secret `yaml:"app_password"`
	// Language is the default post language (BCP 47) when a post has none.
	Language string `yaml:"language"`
	// Thread splits a post that is over budget into a numbered thread instead
	// of shortening it.
	Thread bool `yaml:"thread"`
	// Hashtags are added to every post.
	Hashtags []string `yaml:"hashtags"`
	// Labels maps a post's content warning (case-insensitive) to the
	// self-label Bluesky hides the post behind: sexual, nudity, porn or
	// graphic-media.
	Labels map[string]string `yaml:"labels"`
	// DefaultLabel is the self-label for a content warning Labels does not
	// name; empty means none (the warning text still opens the post).
	DefaultLabel string `yaml:"default_label"`
	// Embed chooses what a post with an image shows: "image" (default: the
	// image with its alt text; posts without one get a link card) or "card"
	// (always a link card, with the image as its thumbnail).
	Embed string `yaml:"embed"`
}

// SelfLabels are the values Bluesky's apps act on for a post.
var SelfLabels = []string{"sexual", "nudity", "porn", "graphic-media"}

var (
	languageTag = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	handleRE    = regexp.MustCompile(`^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)
)

// ServiceURL is the PDS base URL without a trailing slash.
func (c Config) ServiceURL() string {
	if c.Service == "" {
		return DefaultService
	}
	return strings.TrimRight(c.Service, "/")
}

// instance is the name overrides, payloads and record keys use.
func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.Handle != "" && c.AppPassword.IsSet() }

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	add := func(field, format string, a ...any) {
		probs = append(probs, channels.ConfigProblem{Field: field, Message: fmt.Sprintf(format, a...)})
	}
	if c.Service != "" {
		if u, err := url.Parse(c.Service); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			add("service", "must be an http(s) URL such as %s", DefaultService)
		}
	}
	if h := strings.TrimPrefix(c.Handle, "@"); h != "" && !handleRE.MatchString(h) && !strings.HasPrefix(h, "did:") && !strings.Contains(h, "@") {
		add("handle", "%q is not a handle such as campaign.bsky.social (nor a DID or an e-mail address)", c.Handle)
	}
	if c.Language != "" && !languageTag.MatchString(c.Language) {
		add("language", "must be a language code such as en, fr or pt-BR")
	}
	for i, h := range c.Hashtags {
		if Hashtag(h) == "" {
			add(fmt.Sprintf("hashtags[%d]", i), "%q has no letter, so Bluesky would not make it a hashtag", h)
		}
	}
	keys := make([]string, 0, len(c.Labels))
	for k := range c.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !validLabel(c.Labels[k]) {
			add("labels."+k, "%q is not a Bluesky self-label: use one of %s", c.Labels[k], strings.Join(SelfLabels, ", "))
		}
	}
	if c.DefaultLabel != "" && !validLabel(c.DefaultLabel) {
		add("default_label", "%q is not a Bluesky self-label: use one of %s (or leave it empty)", c.DefaultLabel, strings.Join(SelfLabels, ", "))
	}
	switch c.Embed {
	case "", "image", "card":
	default:
		add("embed", "must be image (the post's image, else a link card) or card (always a link card)")
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		add("app_password", "mode is send but handle or app_password is missing (set the environment variables they name)")
	}
	return probs
}

func validLabel(v string) bool {
	for _, l := range SelfLabels {
		if v == l {
			return true
		}
	}
	return false
}

// label returns the self-label for a content warning, or "".
func (c Config) label(warning string) string {
	if warning == "" {
		return ""
	}
	// "child trafficking, violence" matches a label for either warning; the
	// first listed warning with a label wins.
	items := append([]string{warning}, strings.FieldsFunc(warning, func(r rune) bool { return r == ',' || r == ';' || r == '/' })...)
	for _, item := range items {
		item = strings.Join(strings.Fields(item), " ")
		for k, v := range c.Labels {
			if strings.EqualFold(strings.Join(strings.Fields(k), " "), item) {
				return v
			}
		}
	}
	return c.DefaultLabel
}
