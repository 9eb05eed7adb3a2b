package facebook

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/plaintext"
	"github.com/crierhq/crier/post"
)

// Formatter composes a post's Page post.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
}

// NewFormatter is pure (outbox mode and crier preview): the payload it
// makes is what the sender sends.
func NewFormatter(cfg Config, campaign channels.Campaign) *Formatter {
	return &Formatter{cfg: cfg, campaign: campaign}
}

// Format renders p as one Page post: the title, the text and the
// hashtags, within Facebook's 63,206 characters (shortened at a word). A
// feed post sends the link apart, for Facebook's link card; a photo post
// writes it out in the caption, where Facebook links it. Facebook has no
// content warnings: a warning is the post's first line.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	title, prose, link := plaintext.Texts(p, f.cfg.instance())
	if link != "" && !absoluteHTTP(link) {
		warn("link %q is not an absolute http(s) URL; the post has no link", link)
		link = ""
	}
	var head string
	if cw := plaintext.OneLine(p.ContentWarning); cw != "" {
		head = "Content warning: " + cw
		warn("Facebook has no content warnings: the warning is the post's first line, and the text below it is not hidden")
	}
	var tags []string
	for _, t := range p.Tags {
		if c := plaintext.CamelTag(t); c != "" {
			tags = append(tags, "#"+c)
		}
	}
	photo := f.photo(p, warn)
	foot := strings.Join(tags, " ")
	if photo != nil && link != "" {
		foot = plaintext.Join(link, foot)
	}
	body := plaintext.Join(head, title, prose)
	budget := maxMessage
	if foot != "" {
		budget -= utf8.RuneCountInString(plaintext.Join("x", foot)) - 1
	}
	if utf8.RuneCountInString(body) > budget {
		body = shorten(body, budget)
		warn("the text was shortened to fit Facebook's %d characters", maxMessage)
	}
	out := Post{Message: plaintext.Join(body, foot), Photo: photo}
	if photo == nil {
		out.Link = link
	}
	if out.Message == "" && out.Link == "" && photo == nil {
		return channels.Payload{}, fmt.Errorf("post %s has neither a title, text nor a link for Facebook", p.ID)
	}
	return channels.Payload{Channel: f.cfg.instance(), PostID: p.ID, Body: out, Warnings: warnings}, nil
}

// photo is the post's picture, or nil.
func (f *Formatter) photo(p post.Post, warn func(string, ...any)) *Photo {
	if p.Image == nil {
		return nil
	}
	ph := &Photo{File: p.Image.File, Alt: plaintext.OneLine(p.Image.Alt)}
	if u := strings.TrimSpace(p.Image.URL); u != "" {
		if !absoluteHTTP(u) && ph.File == "" {
			warn("image URL %q is not an absolute http(s) URL; the post has no photo", u)
			return nil
		}
		ph.URL = u
	}
	if ph.File == "" && ph.URL == "" {
		return nil
	}
	if ph.Alt == "" {
		warn("the image has no alt text: people using screen readers will hear only \"photo\"")
	}
	return ph
}

// shorten cuts s to at most max characters at a word, with an ellipsis.
func shorten(s string, max int) string {
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	cut := max - 1
	for i := cut; i > cut-200 && i > 0; i-- {
		if unicode.IsSpace(r[i]) {
			cut = i
			break
		}
	}
	return strings.TrimRightFunc(string(r[:cut]), unicode.IsSpace) + "…"
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
