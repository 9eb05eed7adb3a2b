// Package post provides Post, the canonical campaign post that every source
// produces and every channel formats.
package post

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"time"
)

// Post is one piece of campaign news, independent of where it came from and
// where it goes.
type Post struct {
	// ID is stable across restarts: "md:<slug>" for Markdown files,
	// "feed:<feed name>:<item key hash>" for feed items.
	ID      string `json:"id"`
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
	// Body is Markdown. Feed HTML is sanitised and converted before it lands here.
	Body string `json:"body,omitempty"`
	// Link is the canonical URL of the post on the campaign website.
	Link           string    `json:"link,omitempty"`
	Tags           []string  `json:"tags,omitempty"`
	Image          *Image    `json:"image,omitempty"`
	Language       string    `json:"language,omitempty"`
	ContentWarning string    `json:"content_warning,omitempty"`
	PublishAt      time.Time `json:"publish_at"`
	Draft          bool      `json:"draft,omitempty"`
	// Example marks a sample shipped with Crier (front matter example: true,
	// or an item of a feed marked example in the config): it is only ever
	// rendered to the outbox, never sent for real.
	Example bool `json:"example,omitempty"`
	// Channels holds per-channel overrides keyed by channel instance name
	// (the keys under channels: in config.yaml, e.g. "mastodon-leeds").
	Channels map[string]Override `json:"channels,omitempty"`
	Source   Source              `json:"source"`
	// Update is set when this is an update note for an edited feed item.
	Update bool `json:"update,omitempty"`
}

// Image is a picture attached to a post, by URL or by local file.
type Image struct {
	URL  string `json:"url,omitempty"`
	File string `json:"file,omitempty"`
	Alt  string `json:"alt,omitempty"`
}

// Override changes what one channel does with a post.
type Override struct {
	// Skip leaves the channel out for this post.
	Skip bool `json:"skip,omitempty" yaml:"skip"`
	// Text replaces the composed text for this channel (toot text, Discord
	// description, newsletter intro).
	Text string `json:"text,omitempty" yaml:"text"`
	// Mention is a Discord role id, "everyone" or "here" to ping with this post.
	Mention string `json:"mention,omitempty" yaml:"mention"`
}

// Source records where a post came from.
type Source struct {
	// Kind is "markdown", "feed" or "cli".
	Kind string `json:"kind"`
	// Name is the feed name from the config, or the Markdown folder.
	Name string `json:"name,omitempty"`
	// Ref is the file path or the feed item's link.
	Ref string `json:"ref,omitempty"`
	// Key identifies the item within its source (feed GUID or link, file slug).
	Key string `json:"key,omitempty"`
	// Hash is the content hash used to notice edits.
	Hash string `json:"hash,omitempty"`
}

// Skips reports whether the post is overridden to skip the named channel.
func (p *Post) Skips(channel string) bool {
	return p.Channels[channel].Skip
}

// TextFor returns the per-channel replacement text, or "" when there is none.
func (p *Post) TextFor(channel string) string {
	return p.Channels[channel].Text
}

// ContentHash hashes what readers see of the post (not its identity or
// timestamps), so that an edit is noticed and a re-dated item is not.
func (p *Post) ContentHash() string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	_ = enc.Encode([]any{p.Title, p.Summary, p.Body, p.Link, p.Tags, p.Image, p.ContentWarning, p.Channels})
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Due reports whether the post should go out at now.
func (p *Post) Due(now time.Time) bool {
	return !p.Draft && !p.PublishAt.After(now)
}

// CanonicalLink reduces a post's link to the form two sources of the same
// story share: lower-case scheme and host, no default port, no fragment, no
// utm_* tracking parameters and no trailing slash. A link that does not parse
// is returned trimmed.
func CanonicalLink(link string) string {
	link = strings.TrimSpace(link)
	u, err := url.Parse(link)
	if err != nil || u.Host == "" {
		return link
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if h, port, ok := strings.Cut(u.Host, ":"); ok && (port == "80" && u.Scheme == "http" || port == "443" && u.Scheme == "https") {
		u.Host = h
	}
	if u.Scheme == "http" {
		u.Scheme = "https" // the same page, whichever way a source wrote it
	}
	u.Fragment, u.RawFragment = "", ""
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(strings.ToLower(k), "utm_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u.String()
}
