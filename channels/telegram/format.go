package telegram

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// maxWarning and maxTags bound the content warning's line and the
// hashtags, so that they always leave room for the text.
const (
	maxWarning = 200
	maxTags    = 200
)

// Formatter composes a post's Telegram messages.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
}

// NewFormatter is pure (outbox mode and crier preview): the payload it
// makes is what the sender sends.
func NewFormatter(cfg Config, campaign channels.Campaign) *Formatter {
	return &Formatter{cfg: cfg, campaign: campaign}
}

// Format renders p as a text message, or as a photo with its caption and,
// when the text is longer than a caption, the rest as a reply. The whole
// text keeps within one message's 4,096 characters (shortened at a word,
// the link kept); a content warning is a visible line above the text,
// which is behind a spoiler, and the photo is blurred.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }

	base, link := (*url.URL)(nil), ""
	if p.Link != "" {
		if s, ok := safeURL(p.Link, nil); ok {
			link = s
			base, _ = url.Parse(s)
		} else {
			warn("link %q is not an absolute http(s) URL; the message has no link", p.Link)
		}
	}
	var head []tok // visible above the spoiler
	cw := collapseSpace(p.ContentWarning)
	if cw != "" {
		// A warning is a line, not the post: it keeps room for a caption.
		warning, _, _ := cut([]tok{plain("Content warning: " + cw)}, maxWarning)
		head = append(append([]tok{plain("⚠️ "), open("b")}, warning...), closeTag(), plain("\n\n"))
	}
	body := f.body(p, base)
	foot := footer(link, p.Tags)
	budget := maxText - length(head) - length(foot)
	if budget < 16 {
		return channels.Payload{}, fmt.Errorf("post %s: the content warning and tags leave no room for the text in Telegram's %d characters", p.ID, maxText)
	}
	if short, _, cutShort := cut(body, budget); cutShort {
		body = short
		warn("the text was shortened to fit Telegram's %d characters", maxText)
	}
	all := append(body, foot...)
	if length(all) == 0 {
		return channels.Payload{}, fmt.Errorf("post %s has neither a title nor text for Telegram", p.ID)
	}
	spoil := func(t []tok) []tok {
		if cw == "" {
			return t
		}
		return wrap("tg-spoiler", t)
	}
	first := Message{Method: methodText, ParseMode: "HTML", DisableNotification: f.cfg.DisableNotification}
	photo := f.photo(p, warn)
	var msgs []Message
	if photo == nil {
		first.Text = render(append(head, spoil(all)...))
		first.LinkPreviewOptions = f.preview(link, cw != "")
		msgs = []Message{first}
	} else {
		first.Method, first.Photo, first.HasSpoiler = methodPhoto, photo, cw != ""
		caption, rest, split := cut(all, maxCaption-length(head))
		first.Caption = render(append(head, spoil(caption)...))
		msgs = []Message{first}
		if split {
			// The rest of the text answers the photo, silently: one
			// post, one notification.
			msgs = append(msgs, Message{Method: methodText, ParseMode: "HTML", DisableNotification: true,
				Text:               render(append(head, spoil(rest)...)),
				LinkPreviewOptions: &LinkPreviewOptions{IsDisabled: true}})
		}
	}
	return channels.Payload{Channel: f.cfg.instance(), PostID: p.ID, Body: Messages{Messages: msgs}, Warnings: warnings}, nil
}

// body is the post's title in bold and its text (the channel's own text,
// else the summary, else the body) from Markdown.
func (f *Formatter) body(p post.Post, base *url.URL) []tok {
	var out []tok
	if title := collapseSpace(p.Title); title != "" {
		out = wrap("b", []tok{plain(title)})
	}
	source := p.TextFor(f.cfg.instance())
	if source == "" {
		source = p.Summary
	}
	if source == "" {
		source = p.Body
	}
	if t := fromMarkdown(source, base); len(t) > 0 {
		if len(out) > 0 {
			out = append(out, plain("\n\n"))
		}
		out = append(out, t...)
	}
	return out
}

// footer is the post's link and its tags as hashtags.
func footer(link string, tags []string) []tok {
	var out []tok
	if link != "" {
		out = append(out, plain("\n\n"))
		out = append(out, wrap("a", []tok{plain("Read more")})...)
		out[1].href = link
	}
	var hs []string
	seen, n := map[string]bool{}, 0
	for _, t := range tags {
		h := hashtag(t)
		if h == "" || seen[strings.ToLower(h)] || n+units(h)+2 > maxTags {
			continue // the tags keep room for the text
		}
		seen[strings.ToLower(h)] = true
		hs = append(hs, "#"+h)
		n += units(h) + 2
	}
	if len(hs) > 0 {
		out = append(out, plain("\n\n"+strings.Join(hs, " ")))
	}
	return out
}

// hashtag keeps the letters, digits and underscores Telegram links in a
// hashtag, at most 64 of them.
func hashtag(t string) string {
	var b strings.Builder
	n := 0
	for _, r := range t {
		if (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_') && n < 64 {
			b.WriteRune(r)
			n++
		}
	}
	return b.String()
}

// preview chooses a text message's link preview: the post's own page, as
// a large card under the text; none behind a content warning (the card
// would show what the spoiler hides) or without a link (a link in the text
// would pick some other page).
func (f *Formatter) preview(link string, warned bool) *LinkPreviewOptions {
	if link == "" || warned || !f.cfg.linkPreview() {
		return &LinkPreviewOptions{IsDisabled: true}
	}
	return &LinkPreviewOptions{URL: link, PreferLargeMedia: true}
}

// photo is the post's picture for sendPhoto, or nil. Telegram has no alt
// text for photos: the alt text stays in the preview only, and a warning
// says so.
func (f *Formatter) photo(p post.Post, warn func(string, ...any)) *Photo {
	if p.Image == nil {
		return nil
	}
	ph := &Photo{File: p.Image.File, Alt: collapseSpace(p.Image.Alt)}
	if strings.TrimSpace(p.Image.URL) != "" {
		u, ok := safeURL(p.Image.URL, nil)
		if !ok && ph.File == "" {
			warn("image URL %q is not an absolute http(s) URL; the message has no photo", p.Image.URL)
			return nil
		}
		ph.URL = u
	}
	if ph.File == "" && ph.URL == "" {
		return nil
	}
	if ph.Alt != "" {
		warn("Telegram shows no alt text for photos: the image's description is not sent (write what matters in the text)")
	}
	return ph
}

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
