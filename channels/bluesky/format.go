package bluesky

import (
	"cmp"
	"errors"
	"fmt"
	"strings"

	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/plaintext"
	"github.com/crierhq/crier/post"
)

// Name is the channel's name in config, overrides and payloads.
const Name = "bluesky"

// Collection is the record collection of Bluesky posts.
const Collection = "app.bsky.feed.post"

// maxThreadParts bounds a thread: a body that needs more is shortened in the
// last part (the first part links to the full post).
const maxThreadParts = 10

// maxCardDescription bounds a link card's description, in graphemes.
const maxCardDescription = 300

// Parts is the Bluesky payload body: the posts of a thread, in order.
type Parts []Part

// ChannelType makes Parts a channels.Body.
func (Parts) ChannelType() string { return Name }

// Part is one post of a delivery: the exact app.bsky.feed.post record, and
// what only the sender can add to it.
type Part struct {
	// Part numbers the post within its thread, from 1.
	Part int `json:"part"`
	// RKey is the record key: a TID derived from (post, channel, part), so
	// that writing the same part again can never make a second post.
	RKey   string `json:"rkey"`
	Record Record `json:"record"`
	// ReplyToPart is the Part this post replies to (0: none); the sender
	// fills Record.Reply with the root and parent references.
	ReplyToPart int `json:"reply_to_part,omitempty"`
	// Image is uploaded as a blob and becomes Record.Embed: the images embed
	// with its alt text, or the link card's thumbnail.
	Image *Image `json:"image,omitempty"`
	// Mentions are resolved to DIDs when sent; a handle that does not
	// resolve stays plain text.
	Mentions []Mention `json:"mentions,omitempty"`
}

// Image is a picture to upload with its alt text.
type Image struct {
	URL  string `json:"url,omitempty"`
	File string `json:"file,omitempty"`
	Alt  string `json:"alt"`
	// Thumb makes the image the link card's thumbnail instead of an images
	// embed.
	Thumb bool `json:"thumb,omitempty"`
}

// Mention is an @handle in the text, at its UTF-8 byte offsets.
type Mention struct {
	Handle    string `json:"handle"`
	ByteStart int    `json:"byteStart"`
	ByteEnd   int    `json:"byteEnd"`
}

// Record is an app.bsky.feed.post record. CreatedAt is set when it is sent.
type Record struct {
	Type      string   `json:"$type"`
	Text      string   `json:"text"`
	Facets    []Facet  `json:"facets,omitempty"`
	Reply     *Reply   `json:"reply,omitempty"`
	Embed     *Embed   `json:"embed,omitempty"`
	Langs     []string `json:"langs,omitempty"`
	Labels    *Labels  `json:"labels,omitempty"`
	CreatedAt string   `json:"createdAt"`
}

// Facet is app.bsky.richtext.facet: a byte range of the text and what it is.
type Facet struct {
	Index    ByteSlice `json:"index"`
	Features []Feature `json:"features"`
}

// ByteSlice is a range of UTF-8 bytes, end exclusive.
type ByteSlice struct {
	ByteStart int `json:"byteStart"`
	ByteEnd   int `json:"byteEnd"`
}

// Feature is a facet's link, mention or tag.
type Feature struct {
	Type string `json:"$type"`
	URI  string `json:"uri,omitempty"`
	DID  string `json:"did,omitempty"`
	Tag  string `json:"tag,omitempty"`
}

// Facet feature types.
const (
	FeatureLink    = "app.bsky.richtext.facet#link"
	FeatureMention = "app.bsky.richtext.facet#mention"
	FeatureTag     = "app.bsky.richtext.facet#tag"
)

// Reply is app.bsky.feed.post#replyRef.
type Reply struct {
	Root   StrongRef `json:"root"`
	Parent StrongRef `json:"parent"`
}

// StrongRef is com.atproto.repo.strongRef.
type StrongRef struct {
	URI string `json:"uri"`
	CID string `json:"cid"`
}

// Embed is app.bsky.embed.external or app.bsky.embed.images.
type Embed struct {
	Type     string       `json:"$type"`
	External *External    `json:"external,omitempty"`
	Images   []EmbedImage `json:"images,omitempty"`
}

// Embed types.
const (
	EmbedExternal = "app.bsky.embed.external"
	EmbedImages   = "app.bsky.embed.images"
)

// External is a link card.
type External struct {
	URI         string `json:"uri"`
	Title       string `json:"title"`
	Description string `json:"description"`
	Thumb       *Blob  `json:"thumb,omitempty"`
}

// EmbedImage is one image of an images embed.
type EmbedImage struct {
	Image       *Blob        `json:"image"`
	Alt         string       `json:"alt"`
	AspectRatio *AspectRatio `json:"aspectRatio,omitempty"`
}

// AspectRatio is the image's width and height.
type AspectRatio struct {
	Width  int `json:"width"`
	Height int `json:"height"`
}

// Blob is a blob reference as uploadBlob returns it.
type Blob struct {
	Type     string  `json:"$type"`
	Ref      BlobRef `json:"ref"`
	MimeType string  `json:"mimeType"`
	Size     int64   `json:"size"`
}

// BlobRef is a blob's CID link.
type BlobRef struct {
	Link string `json:"$link"`
}

// Labels is com.atproto.label.defs#selfLabels.
type Labels struct {
	Type   string       `json:"$type"`
	Values []LabelValue `json:"values"`
}

// LabelValue is one self-label.
type LabelValue struct {
	Val string `json:"val"`
}

// Formatter composes Bluesky posts within the lexicon's limits.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
}

// NewFormatter returns the formatter; it needs no network.
func NewFormatter(cfg Config, campaign channels.Campaign) channels.Formatter {
	return &Formatter{cfg: cfg, campaign: campaign}
}

// errNoRoom is returned when not even the link and content warning fit.
var errNoRoom = errors.New("the link and content warning alone are over Bluesky's 300-grapheme limit")

// Format turns a post into the records to write, in thread order.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	pl := channels.Payload{Channel: f.cfg.instance(), PostID: p.ID}
	p = validUTF8(p, f.cfg.instance())
	c := plaintext.Composer{Rule: rule{}, MaxParts: maxThreadParts, NoRoom: errNoRoom, Uncut: errNoRoom}
	if cw := plaintext.OneLine(p.ContentWarning); cw != "" {
		c.Lead = "CW: " + cw // opens every part
	}
	title, prose, link := plaintext.Texts(p, f.cfg.instance())
	setTexts(&c, title, prose, link, p.Tags, f.cfg.Hashtags)
	// The summary stands in for the text only where the whole text does
	// not fit in one post.
	if !fits(c.Whole(title, prose)) {
		if t, s, l, ok := plaintext.SummaryTexts(p, f.cfg.instance()); ok {
			title, prose, link = t, s, l
			setTexts(&c, title, prose, link, p.Tags, f.cfg.Hashtags)
		}
	}

	if !fits(plaintext.Join(c.Lead, c.Link, "x")) {
		at, ok := plaintext.Fit(rule{}, c.Lead, func(cc cut) bool { return fits(plaintext.Join(plaintext.Kept(c.Lead, cc, false), c.Link, "x")) })
		if !ok {
			return pl, fmt.Errorf("formatting post %s for Bluesky: %w", p.ID, errNoRoom)
		}
		c.Lead = plaintext.Kept(c.Lead, at, false)
		pl.Warnings = append(pl.Warnings, "the content warning was shortened to fit Bluesky's 300-grapheme limit")
	}

	texts, err := c.Compose(title, prose, f.cfg.Thread)
	if err != nil {
		return pl, fmt.Errorf("formatting post %s for Bluesky: %w", p.ID, err)
	}

	var langs []string
	if l := cmp.Or(p.Language, f.cfg.Language, f.campaign.Language); l != "" {
		langs = []string{strings.ReplaceAll(l, "_", "-")}
	}
	var labels *Labels
	if l := f.cfg.label(plaintext.OneLine(p.ContentWarning)); l != "" {
		labels = &Labels{Type: "com.atproto.label.defs#selfLabels", Values: []LabelValue{{Val: l}}}
	} else if p.ContentWarning != "" {
		pl.Warnings = append(pl.Warnings, fmt.Sprintf("the content warning %q has no self-label in channels.bluesky.labels: the post opens with the warning but Bluesky will not hide it", plaintext.OneLine(p.ContentWarning)))
	}
	parts := make(Parts, len(texts))
	for i, t := range texts {
		facets, mentions := facetsOf(t, c.Link, link)
		parts[i] = Part{
			Part: i + 1, RKey: RecordKey(p.ID, f.cfg.instance(), i),
			Record:   Record{Type: Collection, Text: t, Facets: facets, Langs: langs, Labels: labels},
			Mentions: mentions,
		}
		if i > 0 {
			parts[i].ReplyToPart = i
		}
	}
	f.embed(&parts[0], p, link, &pl)
	pl.Body = parts
	return pl, nil
}

// embed adds the image or the link card to the first part.
func (f *Formatter) embed(first *Part, p post.Post, link string, pl *channels.Payload) {
	img := p.Image
	hasImage := img != nil && (img.URL != "" || img.File != "")
	if hasImage && f.cfg.Embed != "card" || hasImage && link == "" {
		alt := strings.TrimSpace(img.Alt)
		if alt == "" {
			pl.Warnings = append(pl.Warnings, "the image has no alt text: people using screen readers will not know what it shows")
		}
		first.Image = &Image{URL: img.URL, File: img.File, Alt: alt}
		return
	}
	if link == "" {
		return
	}
	desc := plaintext.OneLine(plaintext.FromMarkdown(p.Summary))
	if desc == "" {
		desc = plaintext.OneLine(plaintext.FromMarkdown(p.Body))
	}
	if uniseg.GraphemeClusterCount(desc) > maxCardDescription {
		if at, ok := plaintext.Fit(rule{}, desc, func(cc cut) bool {
			return uniseg.GraphemeClusterCount(plaintext.Kept(desc, cc, false)) <= maxCardDescription
		}); ok {
			desc = plaintext.Kept(desc, at, false)
		}
	}
	first.Record.Embed = &Embed{Type: EmbedExternal, External: &External{URI: link, Title: plaintext.OneLine(p.Title), Description: desc}}
	if hasImage {
		first.Image = &Image{URL: img.URL, File: img.File, Alt: strings.TrimSpace(img.Alt), Thumb: true}
	}
}

// validUTF8 replaces invalid UTF-8 in what a post shows with U+FFFD before
// anything is measured: JSON encoding would do it later, and every facet
// offset after the bad byte would then be off.
func validUTF8(p post.Post, instance string) post.Post {
	fix := func(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }
	p.Title, p.Summary, p.Body, p.Link, p.ContentWarning = fix(p.Title), fix(p.Summary), fix(p.Body), fix(p.Link), fix(p.ContentWarning)
	p.Tags = append([]string(nil), p.Tags...)
	for i := range p.Tags {
		p.Tags[i] = fix(p.Tags[i])
	}
	if o, ok := p.Channels[instance]; ok {
		o.Text = fix(o.Text)
		p.Channels = map[string]post.Override{instance: o}
	}
	if p.Image != nil {
		img := *p.Image
		img.Alt = fix(img.Alt)
		p.Image = &img
	}
	return p
}

// facetsOf finds the facets of a composed text: the canonical link (shown as
// display, pointing at uri) and every link, hashtag and mention in the rest
// of it. Mentions come back apart: they become facets once resolved.
func facetsOf(text, display, uri string) ([]Facet, []Mention) {
	linkAt, linkEnd := -1, -1
	if display != "" {
		// The link block is a paragraph of its own, after the prose.
		if i := strings.LastIndex(text, "\n\n"+display); i >= 0 {
			linkAt, linkEnd = i+2, i+2+len(display)
		} else if strings.HasPrefix(text, display) {
			linkAt, linkEnd = 0, len(display)
		}
	}
	var facets []Facet
	var mentions []Mention
	addLink := func() {
		facets = append(facets, Facet{Index: ByteSlice{linkAt, linkEnd}, Features: []Feature{{Type: FeatureLink, URI: uri}}})
		linkAt = -1
	}
	for _, e := range entities(text) {
		if linkAt >= 0 && e.start >= linkEnd {
			addLink()
		}
		if linkAt >= 0 && e.end > linkAt && e.start < linkEnd {
			continue // inside the link's display text
		}
		switch e.kind {
		case entityLink:
			facets = append(facets, Facet{Index: ByteSlice{e.start, e.end}, Features: []Feature{{Type: FeatureLink, URI: e.value}}})
		case entityTag:
			facets = append(facets, Facet{Index: ByteSlice{e.start, e.end}, Features: []Feature{{Type: FeatureTag, Tag: e.value}}})
		case entityMention:
			mentions = append(mentions, Mention{Handle: e.value, ByteStart: e.start, ByteEnd: e.end})
		}
	}
	if linkAt >= 0 {
		addLink()
	}
	return facets, mentions
}

// setTexts gives c the link and hashtags of the prose the post will say.
func setTexts(c *plaintext.Composer, title, prose, link string, tags, fixed []string) {
	c.Link = ""
	if link != "" {
		c.Link = displayLink(link)
	}
	c.Tags = plaintext.Hashtags(rule{}, title+"\n"+prose, tags, fixed)
}
