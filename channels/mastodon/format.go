package mastodon

import (
	"cmp"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/plaintext"
	"github.com/crierhq/crier/post"
)

// Name is the channel's name in config, overrides and payloads.
const Name = "mastodon"

// maxThreadParts bounds a thread: a body that needs more is shortened in the
// last part (the first part links to the full post).
const maxThreadParts = 10

// Status is one POST /api/v1/statuses parameter set. The JSON names are the
// API's form parameters; Part, InReplyToPart and Media are Crier's, for what
// is only known at send time.
type Status struct {
	// Part numbers the status within its thread, from 1.
	Part   int    `json:"part"`
	Status string `json:"status"`
	// InReplyToID is filled at send time with the remote id of InReplyToPart.
	InReplyToID string `json:"in_reply_to_id,omitempty"`
	// InReplyToPart is the Part this status replies to (0: none).
	InReplyToPart int      `json:"in_reply_to_part,omitempty"`
	SpoilerText   string   `json:"spoiler_text,omitempty"`
	Visibility    string   `json:"visibility,omitempty"`
	Language      string   `json:"language,omitempty"`
	Sensitive     bool     `json:"sensitive,omitempty"`
	MediaIDs      []string `json:"media_ids,omitempty"`
	// Media is uploaded (POST /api/v2/media) before the status is posted; its
	// id then goes into MediaIDs.
	Media *Media `json:"media,omitempty"`
}

// Media is an image to upload with its alt text.
type Media struct {
	URL  string `json:"url,omitempty"`
	File string `json:"file,omitempty"`
	// Description is the alt text (the API's parameter name).
	Description string `json:"description,omitempty"`
}

// Limits are what an instance accepts.
type Limits struct {
	MaxCharacters            int `json:"max_characters"`
	CharactersReservedPerURL int `json:"characters_reserved_per_url"`
	// CountRunes is set for servers that count code points and whole URLs
	// (GoToSocial).
	CountRunes bool `json:"count_runes,omitempty"`
	// DescriptionLimit is the longest alt text accepted (0: unknown).
	DescriptionLimit int `json:"description_limit,omitempty"`
}

// defaultLimits are Mastodon's defaults, used when the instance cannot be
// asked.
func defaultLimits() Limits { return Limits{MaxCharacters: 500, CharactersReservedPerURL: 23} }

// Counter returns the counting rules of the limits.
func (l Limits) Counter() Counter {
	return Counter{URLLength: l.CharactersReservedPerURL, Runes: l.CountRunes}
}

// Statuses is the Mastodon payload body: the POST /api/v1/statuses
// parameter sets of a thread, in order.
type Statuses []Status

// ChannelType makes Statuses a channels.Body.
func (Statuses) ChannelType() string { return Name }

// Formatter composes toots within an instance's limits.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
	limits   func() Limits
}

// NewFormatter is the offline formatter (outbox mode and `crier preview`):
// budget from cfg.MaxCharacters, else 500.
func NewFormatter(cfg Config, campaign channels.Campaign) channels.Formatter {
	l := defaultLimits()
	if cfg.MaxCharacters > 0 {
		l.MaxCharacters = cfg.MaxCharacters
	}
	return newFormatter(cfg, campaign, func() Limits { return l })
}

func newFormatter(cfg Config, campaign channels.Campaign, limits func() Limits) *Formatter {
	return &Formatter{cfg: cfg, campaign: campaign, limits: limits}
}

// errNoRoom is returned when not even the link and content warning fit.
var errNoRoom = errors.New("the link and content warning alone are over the instance's character limit")

// Format turns a post into the statuses to post, in thread order.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	lim := f.limits()
	if lim.MaxCharacters <= 0 {
		lim.MaxCharacters = defaultLimits().MaxCharacters
	}
	if lim.CharactersReservedPerURL <= 0 {
		lim.CharactersReservedPerURL = defaultLimits().CharactersReservedPerURL
	}
	pl := channels.Payload{Channel: f.cfg.instance(), PostID: p.ID}
	r := &rule{count: lim.Counter().Count, max: lim.MaxCharacters, cw: plaintext.OneLine(p.ContentWarning)}
	c := plaintext.Composer{Rule: r, MaxParts: maxThreadParts, NoRoom: errNoRoom,
		Uncut: errors.New("a URL in the text is longer than the instance's character limit")}

	title, prose, link := plaintext.Texts(p, f.cfg.instance())
	c.Link, c.Tags = link, plaintext.Hashtags(r, title+"\n"+prose, p.Tags, f.cfg.Hashtags)
	// The summary stands in for the text only where the whole text does
	// not fit in one status.
	if !r.Fits(c.Whole(title, prose)) {
		if t, s, l, ok := plaintext.SummaryTexts(p, f.cfg.instance()); ok {
			title, prose, link = t, s, l
			c.Link, c.Tags = link, plaintext.Hashtags(r, title+"\n"+prose, p.Tags, f.cfg.Hashtags)
		}
	}

	// A content warning that leaves no room for the link is shortened.
	if r.count(r.cw, plaintext.Join(link)) > r.max || r.count(r.cw, "x") > r.max {
		cwCut, ok := plaintext.Fit(r, r.cw, func(cc cut) bool {
			return r.count(plaintext.Kept(r.cw, cc, false), plaintext.Join(link, "x")) <= r.max
		})
		if !ok {
			return pl, fmt.Errorf("formatting post %s for Mastodon: %w", p.ID, errNoRoom)
		}
		r.cw = plaintext.Kept(r.cw, cwCut, false)
		pl.Warnings = append(pl.Warnings, "the content warning was shortened to fit the instance's character limit")
	}

	texts, err := c.Compose(title, prose, f.cfg.Thread)
	if err != nil {
		return pl, fmt.Errorf("formatting post %s for Mastodon: %w", p.ID, err)
	}

	lang := cmp.Or(p.Language, f.cfg.Language, f.campaign.Language)
	vis := cmp.Or(f.cfg.Visibility, "public")
	statuses := make(Statuses, len(texts))
	for i, t := range texts {
		statuses[i] = Status{Part: i + 1, Status: t, SpoilerText: r.cw, Visibility: vis, Language: lang}
		if i > 0 {
			statuses[i].InReplyToPart = i
		}
	}
	if img := p.Image; img != nil && (img.URL != "" || img.File != "") {
		alt := strings.TrimSpace(img.Alt)
		if alt == "" {
			pl.Warnings = append(pl.Warnings, "the image has no alt text: people using screen readers will not know what it shows")
		}
		if lim.DescriptionLimit > 0 && len([]rune(alt)) > lim.DescriptionLimit {
			alt = string([]rune(alt)[:lim.DescriptionLimit-1]) + "…"
			pl.Warnings = append(pl.Warnings, fmt.Sprintf("the alt text was shortened to the instance's limit of %d characters", lim.DescriptionLimit))
		}
		statuses[0].Media = &Media{URL: img.URL, File: img.File, Description: alt}
		statuses[0].Sensitive = r.cw != ""
	}
	pl.Body = statuses
	return pl, nil
}

// hashtags makes hashtags from a post's tags and the configured ones, leaving
// out duplicates (case-insensitive) and those the text already has.
func hashtags(text string, tags, fixed []string) []string {
	return plaintext.Hashtags(&rule{}, text, tags, fixed)
}

// Hashtag turns a tag into a hashtag: "child trafficking" becomes
// "#ChildTrafficking" (CamelCase keeps multi-word tags readable for screen
// readers), punctuation is dropped, and "" is returned for a tag without a
// letter (Mastodon does not link all-digit hashtags).
func Hashtag(tag string) string {
	h := plaintext.CamelTag(tag)
	if !strings.ContainsFunc(h, func(r rune) bool { return unicode.IsLetter(r) || r == '_' }) {
		return ""
	}
	return "#" + h
}
