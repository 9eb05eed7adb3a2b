package instagram

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/plaintext"
	"github.com/crierhq/crier/post"
)

// Formatter composes a post's Instagram photo post.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
}

// NewFormatter is pure (outbox mode and crier preview): the payload it
// makes is what the sender sends, the title card's text and colours
// included.
func NewFormatter(cfg Config, campaign channels.Campaign) *Formatter {
	return &Formatter{cfg: cfg, campaign: campaign}
}

// errNoPicture declines a post without a picture when cards are off: the
// delivery ends skipped (not failed) with this note, which the organiser
// reads on the post's page.
var errNoPicture = channels.Skip(errors.New("Skipped: Instagram shows nothing without a picture and this post has none; title cards are off (cards: false) — add an image to the post, or set cards: true"))

// Format renders p as one photo post: the caption (a content warning as
// its first line, the title, the text, the link written out and the
// hashtags) within Instagram's 2,200 characters and 30 hashtags, and the
// post's picture or a title card. Instagram links nothing in a caption
// and has no content warnings; the warnings say so.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }
	title, prose, link := plaintext.Texts(p, f.cfg.instance())
	if link != "" && !absoluteHTTP(link) {
		warn("link %q is not an absolute http(s) URL; the caption has no link", link)
		link = ""
	}
	if link != "" {
		warn("Links in captions are not clickable on Instagram: the link is written out for people to copy (%s)", link)
	}
	c := plaintext.Composer{Rule: rule{}, Link: link, NoRoom: errors.New("the content warning and the link alone are over Instagram's 2,200 characters")}
	if cw := plaintext.OneLine(p.ContentWarning); cw != "" {
		c.Lead = "Content warning: " + cw
		warn("Instagram has no content warnings: the warning is the caption's first line, and the picture and text below it are not hidden")
	}
	c.Tags = plaintext.Hashtags(rule{}, plaintext.Join(title, prose), p.Tags, nil)
	if room := maxHashtags - len(hashtags(plaintext.Join(c.Lead, title, prose))); len(c.Tags) > max(room, 0) {
		warn("%d hashtags left out: Instagram takes at most %d in a caption (%s)", len(c.Tags)-max(room, 0), maxHashtags, strings.Join(c.Tags[max(room, 0):], " "))
		c.Tags = c.Tags[:max(room, 0)]
	}
	whole := c.Whole(title, prose)
	parts, err := c.Compose(title, prose, false)
	if err != nil {
		return channels.Payload{}, fmt.Errorf("post %s for Instagram: %w", p.ID, err)
	}
	caption := parts[0]
	if caption != whole {
		warn("the caption was shortened to fit Instagram's %d characters and %d hashtags: %s", maxCaption, maxHashtags, cutSummary(whole, caption))
	}
	img, err := f.image(p, title, warn)
	if channels.IsSkip(err) {
		// The note is shown to organisers as it is.
		return channels.Payload{}, err
	}
	if err != nil {
		return channels.Payload{}, fmt.Errorf("post %s: %w", p.ID, err)
	}
	return channels.Payload{Channel: f.cfg.instance(), PostID: p.ID, Body: Post{Caption: caption, Image: img}, Warnings: warnings}, nil
}

// image is the post's picture, else its title card; without either (cards
// off) the post is refused.
func (f *Formatter) image(p post.Post, title string, warn func(string, ...any)) (Image, error) {
	if p.Image != nil {
		img := Image{File: p.Image.File, Alt: plaintext.OneLine(p.Image.Alt)}
		if r := []rune(img.Alt); len(r) > maxAlt {
			img.Alt = string(r[:maxAlt-1]) + "…"
			warn("the alt text was shortened to Instagram's %d characters", maxAlt)
		}
		if u := strings.TrimSpace(p.Image.URL); u != "" && (absoluteHTTP(u) || img.File != "") {
			img.URL = u
		} else if u != "" {
			warn("image URL %q is not an absolute http(s) URL", u)
		}
		if img.File != "" || img.URL != "" {
			if f.cfg.cards() {
				img.Fallback = f.card(p, title)
			}
			if img.Alt == "" {
				warn("the image has no alt text: people using screen readers will hear only \"photo\"")
			}
			return img, nil
		}
	}
	if !f.cfg.cards() {
		return Image{}, errNoPicture
	}
	card := f.card(p, title)
	alt := cardAlt(card.Title)
	warn("This post has no picture, and Instagram shows nothing without one: Crier draws a square title card, %q under %s in the campaign's colours, with the alt text %q", card.Title, card.Campaign, alt)
	return Image{Card: card, Alt: alt}, nil
}

// cardAlt is a title card's alt text, "Title card: TITLE", as the issue
// and titlecard's documentation give it. It is kept here rather than
// taken from titlecard, whose drawing branch dropped the seam's AltText.
func cardAlt(title string) string { return "Title card: " + title }

// card is the post's title card: its title (the post's, where the
// organiser wrote Instagram's own text), else the campaign's name.
func (f *Formatter) card(p post.Post, title string) *Card {
	if title == "" {
		title = plaintext.OneLine(p.Title)
	}
	if title == "" {
		title = f.campaign.Name
	}
	col := f.campaign.Colours
	return &Card{Campaign: f.campaign.Name, Title: title, Background: col.Background, Text: col.Text, Accent: col.Accent}
}

// cutSummary says what shortening left out.
func cutSummary(whole, kept string) string {
	var out []string
	if n := len(hashtags(whole)) - len(hashtags(kept)); n > 0 {
		out = append(out, fmt.Sprintf("%d hashtags", n))
	}
	if n := utf8.RuneCountInString(whole) - utf8.RuneCountInString(kept); n > 0 {
		out = append(out, fmt.Sprintf("about %d characters of the text", n))
	}
	return strings.Join(out, " and ") + " left out"
}

// hashtagRE is a hashtag as Instagram counts one: # and letters, digits or
// underscores, not inside a word or a link.
var hashtagRE = regexp.MustCompile(`(?:^|[^\pL\pN_/&#])(#[\pL\pM\pN_]*[\pL\pM_][\pL\pM\pN_]*)`)

// hashtags returns the hashtags of text, without their '#'.
func hashtags(text string) []string {
	var out []string
	for _, m := range hashtagRE.FindAllStringSubmatchIndex(text, -1) {
		out = append(out, text[m[2]+1:m[3]])
	}
	return out
}

// rule is how Instagram counts a caption (plaintext.Rule): characters, at
// most 2,200, and hashtags, at most 30. A caption is one part.
type rule struct{}

func (rule) Fits(text string) bool {
	return utf8.RuneCountInString(text) <= maxCaption && len(hashtags(text)) <= maxHashtags
}

func (rule) Parts(string) int { return 1 }

// Cuts never cuts inside a link or a hashtag, and stops once the text
// before a cut is over the limit.
func (rule) Cuts(text string) (word, fine []plaintext.Cut) {
	var spans []plaintext.Span
	for _, m := range hashtagRE.FindAllStringSubmatchIndex(text, -1) {
		spans = append(spans, plaintext.Span{Start: m[2], End: m[3]})
	}
	for i := 0; i < len(text); {
		n := plaintext.SchemeLen(text[i:])
		if n == 0 || (i > 0 && plaintext.IsWordRune(rune(text[i-1]))) {
			i++
			continue
		}
		end := plaintext.URLEnd(text, i+n)
		if end > i+n {
			spans = append(spans, plaintext.Span{Start: i, End: end})
			i = end
			continue
		}
		i++
	}
	spans = sortSpans(spans)
	return plaintext.Cuts(text, spans, func(_, graphemes, _ int) bool { return graphemes <= maxCaption+1 })
}

func (rule) Hashtag(tag string) string {
	if c := plaintext.CamelTag(tag); c != "" {
		return "#" + c
	}
	return ""
}

func (rule) Hashtags(text string) []string { return hashtags(text) }

// sortSpans orders spans and drops those inside another (a hashtag in a
// link's fragment).
func sortSpans(spans []plaintext.Span) []plaintext.Span {
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].Start < spans[j-1].Start; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	var out []plaintext.Span
	for _, s := range spans {
		if len(out) > 0 && s.Start < out[len(out)-1].End {
			continue
		}
		out = append(out, s)
	}
	return out
}

func absoluteHTTP(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}
