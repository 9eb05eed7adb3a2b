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
	c := composer{count: lim.Counter().Count, max: lim.MaxCharacters, cw: plaintext.OneLine(p.ContentWarning)}

	title, prose, link := plaintext.Texts(p, f.cfg.instance())
	c.tags = hashtags(title+"\n"+prose, p.Tags, f.cfg.Hashtags)
	// The summary stands in for the text only where the whole text does
	// not fit in one status.
	if !c.fits(plaintext.Join(title, prose, link, c.tagLine())) {
		if t, s, l, ok := plaintext.SummaryTexts(p, f.cfg.instance()); ok {
			title, prose, link = t, s, l
			c.tags = hashtags(title+"\n"+prose, p.Tags, f.cfg.Hashtags)
		}
	}

	// A content warning that leaves no room for the link is shortened.
	if c.count(c.cw, plaintext.Join(link)) > c.max || c.count(c.cw, "x") > c.max {
		cwCut, ok := fitPrefix(c.cw, c.max, func(cc cut) bool {
			return c.count(plaintext.Kept(c.cw, cc, false), plaintext.Join(link, "x")) <= c.max
		})
		if !ok {
			return pl, fmt.Errorf("formatting post %s for Mastodon: %w", p.ID, errNoRoom)
		}
		c.cw = plaintext.Kept(c.cw, cwCut, false)
		pl.Warnings = append(pl.Warnings, "the content warning was shortened to fit the instance's character limit")
	}

	var texts []string
	var err error
	if c.fits(plaintext.Join(title, prose, link, c.tagLine())) {
		texts = []string{plaintext.Join(title, prose, link, c.tagLine())}
	} else if f.cfg.Thread {
		texts, err = c.thread(title, prose, link)
	} else {
		var t string
		t, err = c.shorten(title, prose, link)
		texts = []string{t}
	}
	if err != nil {
		return pl, fmt.Errorf("formatting post %s for Mastodon: %w", p.ID, err)
	}

	lang := cmp.Or(p.Language, f.cfg.Language, f.campaign.Language)
	vis := cmp.Or(f.cfg.Visibility, "public")
	statuses := make(Statuses, len(texts))
	for i, t := range texts {
		statuses[i] = Status{Part: i + 1, Status: t, SpoilerText: c.cw, Visibility: vis, Language: lang}
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
		statuses[0].Sensitive = c.cw != ""
	}
	pl.Body = statuses
	return pl, nil
}

// composer holds what every part of a post shares.
type composer struct {
	count func(spoiler, text string) int
	max   int
	cw    string
	tags  []string
}

func (c *composer) fits(text string) bool { return c.count(c.cw, text) <= c.max }

func (c *composer) tagLine() string { return strings.Join(c.tags, " ") }

// shorten keeps the title, the link and as many hashtags as fit, and as much
// of the prose as fits, cut at a sentence or word boundary with an ellipsis.
// Hashtags go before the prose disappears entirely, and the title is
// shortened only when nothing else is left.
func (c *composer) shorten(title, prose, link string) (string, error) {
	for {
		tags := c.tagLine()
		if c.fits(plaintext.Join(title, link, tags)) {
			if at, ok := fitPrefix(prose, c.max, func(cc cut) bool { return c.fits(plaintext.Join(title, plaintext.Kept(prose, cc, false), link, tags)) }); ok {
				return plaintext.Join(title, plaintext.Kept(prose, at, false), link, tags), nil
			}
			if len(c.tags) == 0 || prose == "" {
				return plaintext.Join(title, link, tags), nil
			}
		}
		if len(c.tags) == 0 {
			break
		}
		c.tags = c.tags[:len(c.tags)-1]
	}
	at, ok := fitPrefix(title, c.max, func(cc cut) bool { return c.fits(plaintext.Join(plaintext.Kept(title, cc, false), link)) })
	if !ok {
		if c.fits(link) {
			return link, nil
		}
		return "", errNoRoom
	}
	return plaintext.Join(plaintext.Kept(title, at, false), link), nil
}

// thread splits the post into numbered parts. The first carries the title,
// the link and the hashtags; the prose flows on through the replies.
func (c *composer) thread(title, prose, link string) ([]string, error) {
	// Start from an estimate so that usually one pass is enough.
	estimate := c.count(c.cw, plaintext.Join(title, prose, link, c.tagLine()))/c.max + 1
	return plaintext.Thread(estimate, maxThreadParts, func(total int) ([]string, error) {
		return c.split(title, prose, link, total)
	})
}

// split cuts the post into parts without their numbers, assuming total parts.
func (c *composer) split(title, prose, link string, total int) ([]string, error) {
	num := func(i int) string { return fmt.Sprintf("%d/%d", i, total) }
	// Part one's fixed content must fit with its number; drop hashtags, then
	// shorten the title, until it does.
	tags := c.tags
	for !c.fits(plaintext.Join(title, link, strings.Join(tags, " "), num(1))) && len(tags) > 0 {
		tags = tags[:len(tags)-1]
	}
	tagLine := strings.Join(tags, " ")
	if !c.fits(plaintext.Join(title, link, tagLine, num(1))) {
		at, ok := fitPrefix(title, c.max, func(cc cut) bool { return c.fits(plaintext.Join(plaintext.Kept(title, cc, false), link, num(1))) })
		if !ok {
			return nil, errNoRoom
		}
		title = plaintext.Kept(title, at, false)
	}
	var texts []string
	rest := prose
	for i := 1; ; i++ {
		last := i == total && total == maxThreadParts
		body := func(chunk string) string {
			if i == 1 {
				return plaintext.Join(title, chunk, link, tagLine)
			}
			return chunk
		}
		fitsNumbered := func(chunk string) bool { return c.fits(plaintext.Join(body(chunk), num(i))) }
		if rest == "" || fitsNumbered(rest) {
			return append(texts, body(rest)), nil
		}
		at, ok := fitPrefix(rest, c.max, func(cc cut) bool { return fitsNumbered(plaintext.Kept(rest, cc, !last)) })
		switch {
		case ok:
			texts = append(texts, body(plaintext.Kept(rest, at, !last)))
			rest = strings.TrimLeftFunc(rest[at.Pos:], unicode.IsSpace)
		case i == 1:
			// No prose fits beside the title and link: it starts in part 2.
			texts = append(texts, body(""))
		default:
			return nil, errors.New("a URL in the text is longer than the instance's character limit")
		}
		if last {
			return texts, nil
		}
	}
}

// hashtags makes hashtags from a post's tags and the configured ones, leaving
// out duplicates (case-insensitive) and those the text already has.
func hashtags(text string, tags, fixed []string) []string {
	seen := map[string]bool{}
	for _, e := range entities(text) {
		if e.kind == entityHashtag {
			seen[strings.ToLower(text[e.start:e.end])] = true
		}
	}
	var out []string
	for _, t := range append(append([]string(nil), tags...), fixed...) {
		h := Hashtag(t)
		if h == "" || seen[strings.ToLower(h)] {
			continue
		}
		seen[strings.ToLower(h)] = true
		out = append(out, h)
	}
	return out
}

// Hashtag turns a tag into a hashtag: "child trafficking" becomes
// "#ChildTrafficking" (CamelCase keeps multi-word tags readable for screen
// readers), punctuation is dropped, and "" is returned for a tag without a
// letter (Mastodon does not link all-digit hashtags).
func Hashtag(tag string) string {
	tag = strings.TrimPrefix(strings.TrimSpace(tag), "#")
	tag = strings.NewReplacer("'", "", "’", "", "‘", "").Replace(tag)
	words := strings.FieldsFunc(tag, func(r rune) bool { return !isWordRune(r) })
	if len(words) > 1 {
		for i, w := range words {
			words[i] = firstRuneUpper(w)
		}
	}
	h := strings.Join(words, "")
	if !strings.ContainsFunc(h, func(r rune) bool { return unicode.IsLetter(r) || r == '_' }) {
		return ""
	}
	return "#" + h
}
