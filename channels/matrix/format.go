package matrix

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/plaintext"
	"github.com/crierhq/crier/post"
)

// The limits a message keeps to, in bytes of the JSON string as it goes on
// the wire. Dendrite v0.13.8 refuses an event over 65,536 bytes; measured
// there (TestMeasureEventLimit), an m.room.message's content may then be at
// most 64,946 bytes with short IDs. The two budgets together (60,000) leave
// room for the thread relation added at send (under 700 bytes with 255-byte
// IDs) and for an envelope with long server names and room IDs.
const (
	// MaxBodyBytes bounds the plain body.
	MaxBodyBytes = 24000
	// MaxHTMLBytes bounds formatted_body, which repeats the body with its
	// markup.
	MaxHTMLBytes = 36000
)

// htmlFormat is the only format the specification defines.
const htmlFormat = "org.matrix.custom.html"

// Body is a Matrix payload: the messages sent to each room, in order. The
// first is the post; a picture follows it; the rest continue the post in
// its thread.
type Body struct {
	Messages []Message `json:"messages"`
}

// ChannelType is "matrix".
func (Body) ChannelType() string { return Name }

// Message is one m.room.message's content as sent, less what only the send
// knows (the thread's event IDs, the picture's mxc:// address and size).
type Message struct {
	MsgType       string `json:"msgtype"`
	Body          string `json:"body"`
	Format        string `json:"format,omitempty"`
	FormattedBody string `json:"formatted_body,omitempty"`
	// InThread sends it as a reply in the thread of the first message.
	InThread bool `json:"in_thread,omitempty"`
	// Image, for an m.image, is where its picture is read (a content URL
	// or a local file), uploaded to the media repository at send.
	Image *Image `json:"image,omitempty"`
}

// Image is a picture to upload.
type Image struct {
	URL  string `json:"url,omitempty"`
	File string `json:"file,omitempty"`
}

// Formatter renders posts as Matrix messages. It is pure.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
}

// NewFormatter returns the formatter of an instance.
func NewFormatter(cfg Config, c channels.Campaign) *Formatter {
	return &Formatter{cfg: cfg, campaign: c}
}

// Format renders p: the title in bold, the text as HTML (the organiser's
// own text for the instance, else the body, else the summary), the link,
// the tags; the text behind a spoiler when p has a content warning.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	pl := channels.Payload{Channel: f.cfg.instance(), PostID: p.ID}
	source := strings.TrimSpace(p.TextFor(f.cfg.instance()))
	title := plaintext.OneLine(p.Title)
	if source != "" {
		title = "" // the organiser's own text replaces the title too
	} else if source = strings.TrimSpace(p.Body); source == "" {
		source = strings.TrimSpace(p.Summary)
	}
	link := safeLink(p.Link)
	if p.Link != "" && link == "" {
		pl.Warnings = append(pl.Warnings, fmt.Sprintf("link %q is not an absolute http(s) URL; the message has no link", p.Link))
	}
	c := composer{title: title, link: link, warning: plaintext.OneLine(p.ContentWarning), tags: tagLine(p.Tags)}
	texts, err := c.compose(renderHTML(source))
	if err != nil {
		return pl, fmt.Errorf("post %s: %w", p.ID, err)
	}
	msgs := []Message{texts[0]}
	if img, warn := imageMessage(p, c.warning != ""); img != nil {
		msgs = append(msgs, *img)
		pl.Warnings = append(pl.Warnings, warn...)
	} else {
		pl.Warnings = append(pl.Warnings, warn...)
	}
	for _, m := range texts[1:] {
		m.InThread = true
		msgs = append(msgs, m)
	}
	if len(texts) > 1 {
		pl.Warnings = append(pl.Warnings, fmt.Sprintf("the post is over one message's limit (%d bytes of HTML): it continues in %d replies in the message's thread", MaxHTMLBytes, len(texts)-1))
	}
	pl.Body = Body{Messages: msgs}
	return pl, nil
}

// imageMessage is p's picture as an m.image, its alt text the body. Behind
// a content warning it goes into the thread: Matrix has no spoiler for a
// picture, and a thread stays closed until a reader opens it.
func imageMessage(p post.Post, warned bool) (*Message, []string) {
	if p.Image == nil {
		return nil, nil
	}
	var warn []string
	src := Image{File: p.Image.File}
	if u := strings.TrimSpace(p.Image.URL); u != "" && src.File == "" {
		if src.URL = safeLink(u); src.URL == "" {
			return nil, []string{fmt.Sprintf("image URL %q is not an absolute http(s) URL; the post goes out without it", u)}
		}
	}
	alt := plaintext.OneLine(p.Image.Alt)
	if alt == "" {
		warn = append(warn, "the image has no alt text: readers who cannot see it get only \"Image\"")
		alt = "Image"
	}
	m := &Message{MsgType: "m.image", Body: alt, Image: &src}
	if warned {
		m.InThread = true
		warn = append(warn, "the picture goes into the message's thread because the post has a content warning (Matrix cannot blur a picture)")
	}
	return m, warn
}

// safeLink is s when it is an absolute http(s) URL, else "".
func safeLink(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	return u.String()
}

// tagLine is the post's tags as hashtags.
func tagLine(tags []string) string {
	var out []string
	for _, t := range tags {
		if t = plaintext.CamelTag(t); t != "" {
			out = append(out, "#"+t)
		}
	}
	return strings.Join(out, " ")
}

// EncodedLen is how many bytes s takes as a JSON string on the wire
// (encoding/json, quotes excluded): what the limits count.
func EncodedLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b) - 2
}
