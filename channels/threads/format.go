package threads

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/plaintext"
	"github.com/crierhq/crier/post"
)

// Formatter composes a post's reply chain.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
}

// NewFormatter is pure (outbox mode and crier preview): the payload it
// makes is what the sender sends.
func NewFormatter(cfg Config, campaign channels.Campaign) *Formatter {
	return &Formatter{cfg: cfg, campaign: campaign}
}

// errNoRoom is returned when not even the content warning and the link fit.
var errNoRoom = errors.New("the content warning and the link alone are over Threads' 500 characters")

// Format renders p as a reply chain: the title, the text and the link in
// posts of at most 500 characters (Count), cut at sentences or words and
// numbered "1/3" when there are several. The first post carries the link
// as its link attachment (or, with a picture, written out in the text:
// Threads takes a link attachment on text posts only), the picture and
// the topic tag. A content warning opens every post, and the text below
// it is hidden behind Threads' spoiler.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	pl := channels.Payload{Channel: f.cfg.instance(), PostID: p.ID}
	warn := func(format string, args ...any) { pl.Warnings = append(pl.Warnings, fmt.Sprintf(format, args...)) }
	title, prose, link := plaintext.Texts(p, f.cfg.instance())
	if link != "" && !absoluteHTTP(link) {
		warn("link %q is not an absolute http(s) URL; the post has no link", link)
		link = ""
	}
	img := f.image(p, warn)
	c := plaintext.Composer{Rule: rule{}, MaxParts: maxParts, NoRoom: errNoRoom, Uncut: errNoRoom}
	if img != nil {
		c.Link = link // written out: an IMAGE post has no link attachment
	}
	if cw := plaintext.OneLine(p.ContentWarning); cw != "" {
		c.Lead = "Content warning: " + cw
		if !rule.Fits(rule{}, plaintext.Join(c.Lead, c.Link, "x")) {
			at, ok := plaintext.Fit(rule{}, c.Lead, func(cc plaintext.Cut) bool {
				return rule.Fits(rule{}, plaintext.Join(plaintext.Kept(c.Lead, cc, false), c.Link, "x"))
			})
			if !ok {
				return pl, fmt.Errorf("formatting post %s for Threads: %w", p.ID, errNoRoom)
			}
			c.Lead = plaintext.Kept(c.Lead, at, false)
			warn("the content warning was shortened to fit Threads' %d characters", MaxText)
		}
		warn("Threads has no content warnings: the warning opens every post, and the text below it is hidden behind Threads' spoiler until tapped")
	}
	texts, err := c.Compose(title, prose, true)
	if err != nil {
		return pl, fmt.Errorf("formatting post %s for Threads: %w", p.ID, err)
	}
	if len(texts) == maxParts && strings.Contains(texts[maxParts-1], "…") {
		warn("the text was shortened to fit a chain of %d Threads posts", maxParts)
	}
	switch {
	case len(texts) == 1 && texts[0] == "" && link != "":
		texts[0] = link // Threads takes no text post without text
	case len(texts) == 1 && texts[0] == "" && img == nil:
		return pl, fmt.Errorf("post %s has neither a title, text, link nor picture for Threads", p.ID)
	}
	texts = f.limitLinks(texts, link, img == nil, warn)
	chain := make(Chain, len(texts))
	for i, t := range texts {
		chain[i] = Part{Text: t, Spoiler: spoiler(c.Lead, t)}
	}
	chain[0].Image = img
	if img == nil {
		chain[0].Link = link
	}
	chain[0].TopicTag = f.topicTag(p.Tags, warn)
	pl.Body = chain
	return pl, nil
}

// spoiler hides what follows the lead in text, nil without a lead.
func spoiler(lead, text string) *Spoiler {
	if lead == "" || !strings.HasPrefix(text, lead) {
		return nil
	}
	head := lead + "\n\n"
	rest, ok := strings.CutPrefix(text, head)
	if !ok || rest == "" {
		return nil
	}
	return &Spoiler{Offset: utf16Len(head), Length: utf16Len(rest)}
}

// topicTag is the first of tags that makes a topic tag; the others are
// left out, with a note (Threads takes one tag per post).
func (f *Formatter) topicTag(tags []string, warn func(string, ...any)) string {
	for i, t := range tags {
		tag := TopicTag(t)
		if tag == "" {
			continue
		}
		if rest := len(tags) - i - 1; rest > 0 {
			warn("Threads takes one topic tag per post: %q is the tag, %d other tag(s) are left out", tag, rest)
		}
		if tag != strings.TrimLeft(strings.TrimSpace(t), "#") {
			warn("the tag %q became the topic tag %q (Threads' topic tags have at most %d characters and no periods or ampersands)", t, tag, maxTopicTag)
		}
		return tag
	}
	return ""
}

// image is the post's picture, or nil.
func (f *Formatter) image(p post.Post, warn func(string, ...any)) *Image {
	if p.Image == nil {
		return nil
	}
	img := &Image{File: p.Image.File, Alt: plaintext.OneLine(p.Image.Alt), Spoiler: plaintext.OneLine(p.ContentWarning) != ""}
	if u := strings.TrimSpace(p.Image.URL); u != "" {
		if !absoluteHTTP(u) && img.File == "" {
			warn("image URL %q is not an absolute http(s) URL; the post has no picture", u)
			return nil
		}
		img.URL = u
	}
	if img.File == "" && img.URL == "" {
		return nil
	}
	switch {
	case img.Alt == "":
		warn("the image has no alt text: people using screen readers will not know what it shows")
	case utf8.RuneCountInString(img.Alt) > maxAlt:
		img.Alt = string([]rune(img.Alt)[:maxAlt-1]) + "…"
		warn("the alt text was shortened to %d characters", maxAlt)
	}
	return img
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// limitLinks writes the links of each part beyond Threads' 5 as plain
// text (the first part's link attachment counts), with a warning. The
// part stays within MaxText: the plain text is never longer.
func (f *Formatter) limitLinks(texts []string, link string, attached bool, warn func(string, ...any)) []string {
	for i, t := range texts {
		att := ""
		if i == 0 && attached {
			att = link
		}
		if out, n := limitLinks(t, att); n > 0 {
			texts[i] = out
			warn("post %d of the chain has more than Threads' %d links: %d more are written as plain text Threads does not link (camaca[.]example/page)", i+1, maxLinks, n)
		}
	}
	return texts
}
