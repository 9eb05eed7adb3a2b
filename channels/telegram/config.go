package telegram

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

// DefaultAPI is the public Bot API; a self-hosted telegram-bot-api server
// (or a test server) goes in api_url instead.
const DefaultAPI = "https://api.telegram.org"

// Config is a telegram section of config.yaml.
type Config struct {
	// Name is the instance's name (its key under channels:).
	Name    string        `yaml:"-"`
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	// BotToken is what @BotFather gave ("123456:ABC-…").
	BotToken secret.Secret `yaml:"bot_token"`
	// ChatID is the channel's @username or a numeric chat id (-100…).
	ChatID string `yaml:"chat_id"`
	// APIURL is the Bot API server; empty means DefaultAPI.
	APIURL string `yaml:"api_url"`
	// DisableNotification sends every message silently.
	DisableNotification bool `yaml:"disable_notification"`
	// QuietHours, "22:00-07:00" in the campaign's time zone, sends silently
	// between those times only.
	QuietHours string `yaml:"quiet_hours"`
	// LinkPreview shows the preview of the post's own link under a text
	// message (never behind a content warning, never beside a photo).
	LinkPreview *bool `yaml:"link_preview"`
}

var (
	tokenPattern  = regexp.MustCompile(`^[0-9]{3,20}:[A-Za-z0-9_-]{20,}$`)
	chatIDPattern = regexp.MustCompile(`^(?:@[A-Za-z][A-Za-z0-9_]{3,31}|-?[0-9]{1,20})$`)
	quietPattern  = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]):([0-5][0-9])$`)
)

func (c Config) instance() string {
	if c.Name != "" {
		return c.Name
	}
	return Name
}

// HasCredentials reports whether the channel can send for real.
func (c Config) HasCredentials() bool { return c.BotToken.IsSet() && c.ChatID != "" }

// api is the Bot API's base URL without a trailing slash.
func (c Config) api() string {
	if c.APIURL == "" {
		return DefaultAPI
	}
	return strings.TrimRight(c.APIURL, "/")
}

// linkPreview is link_preview, true when unset.
func (c Config) linkPreview() bool { return c.LinkPreview == nil || *c.LinkPreview }

// Validate reports every problem in the section.
func (c Config) Validate() []channels.ConfigProblem {
	var probs []channels.ConfigProblem
	add := func(field, format string, args ...any) {
		probs = append(probs, channels.ConfigProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if c.BotToken.IsSet() && !tokenPattern.MatchString(c.BotToken.Reveal()) {
		// Never echo the token.
		add("bot_token", "must be the token @BotFather gave, like 123456789:AAE… (digits, a colon, then letters)")
	}
	if c.ChatID != "" && !chatIDPattern.MatchString(c.ChatID) {
		add("chat_id", "must be the channel's @username (like @camaca_news) or its numeric id (like -1001234567890)")
	}
	if c.BotToken.IsSet() && c.ChatID == "" {
		add("chat_id", "a bot token is set but no chat_id to post in")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
			add("api_url", "must be the Bot API server's address, like %s", DefaultAPI)
		}
	}
	if c.QuietHours != "" && !quietPattern.MatchString(c.QuietHours) {
		add("quiet_hours", `must be two times like "22:00-07:00" (24-hour clock, campaign time zone)`)
	}
	if c.Mode == channels.ModeSend && !c.HasCredentials() {
		add("bot_token", "mode is send but bot_token and chat_id are not both set")
	}
	return probs
}

// quiet reports whether t falls in the quiet hours (in loc).
func (c Config) quiet(t time.Time, loc *time.Location) bool {
	m := quietPattern.FindStringSubmatch(c.QuietHours)
	if m == nil {
		return false
	}
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	minute := func(h, mm string) int { return atoi(h)*60 + atoi(mm) }
	from, to, now := minute(m[1], m[2]), minute(m[3], m[4]), t.Hour()*60+t.Minute()
	if from <= to {
		return now >= from && now < to
	}
	return now >= from || now < to // over midnight
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}
