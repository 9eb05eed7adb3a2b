package discord

import (
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// Formatter composes one message with one embed per post.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
}

// NewFormatter is pure (outbox mode and `crier preview`): the payload it
// makes is the exact body the bot sender posts.
func NewFormatter(cfg Config, campaign channels.Campaign) channels.Formatter {
	return &Formatter{cfg: cfg, campaign: campaign}
}

// Format renders p as the JSON body of POST /channels/{id}/messages.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	var warnings []string
	warn := func(format string, args ...any) { warnings = append(warnings, fmt.Sprintf(format, args...)) }

	mention := f.cfg.Mention
	if o := p.Channels[f.cfg.instance()].Mention; o != "" {
		mention = o
	}
	content, allowed, err := mentionOf(mention)
	if err != nil {
		return channels.Payload{}, fmt.Errorf("post %s: discord mention: %w", p.ID, err)
	}

	e := Embed{}
	link, base := "", (*url.URL)(nil)
	if p.Link != "" {
		if s, ok := safeURL(p.Link, nil); ok {
			link = s
			base, _ = url.Parse(s)
			e.URL = link
		} else {
			warn("link %q is not an absolute http(s) URL of at most %d characters; the embed has no link", p.Link, maxURL)
		}
	} else {
		warn("post has no link; the embed title links nowhere")
	}

	// An update note's title already says so (the bot titles it "Update: …").
	e.Title, _ = fit(p.Title, maxTitle, plain)

	if f.campaign.Name != "" {
		// Discord shows author and footer text as is, without Markdown:
		// escaping would show the backslashes.
		e.Author = &EmbedAuthor{Name: mustFitRaw(collapseSpace(f.campaign.Name), maxAuthor)}
		if u, ok := safeURL(f.campaign.Website, nil); ok {
			e.Author.URL = u
		}
		e.Footer = &EmbedFooter{Text: mustFitRaw(collapseSpace(f.campaign.Name), maxFooter)}
	}
	if f.cfg.Colour != "" {
		c, err := strconv.ParseUint(strings.TrimPrefix(f.cfg.Colour, "#"), 16, 32)
		if err != nil || c > 0xffffff {
			return channels.Payload{}, fmt.Errorf("discord colour %q: must be #rrggbb", f.cfg.Colour)
		}
		colour := int(c)
		e.Color = &colour
	}
	if !p.PublishAt.IsZero() {
		e.Timestamp = p.PublishAt.UTC().Format(time.RFC3339)
	}

	var atts []Attachment
	var uploads []Upload
	if p.Image != nil {
		alt := collapseSpace(p.Image.Alt)
		if alt != "" {
			// Alt text is shown as is, not as Markdown.
			alt = mustFitRaw(alt, maxAttachmentDescription)
		} else {
			warn("image %s has no alt text", imageRef(p.Image))
		}
		spoil := p.ContentWarning != ""
		u, ok := "", false
		if strings.TrimSpace(p.Image.URL) != "" {
			u, ok = safeURL(p.Image.URL, base)
		}
		switch {
		case ok && !spoil:
			e.Image = &EmbedImage{URL: u, Description: alt}
		case ok || p.Image.File != "":
			// A local file is uploaded with the message; behind a content
			// warning any image is, as a spoiler (Discord cannot blur an
			// embed's image).
			up := Upload{File: p.Image.File}
			if ok {
				up.URL = u
			}
			name := attachmentName(up)
			if spoil {
				name = spoilerPrefix + name
				warn("the image is sent as a spoiler attachment under the embed because the post has a content warning (Discord cannot blur embed images)")
			} else {
				e.Image = &EmbedImage{URL: "attachment://" + name, Description: alt}
			}
			atts = append(atts, Attachment{ID: "0", Filename: name, Description: alt})
			uploads = append(uploads, up)
		default:
			warn("image URL %q is not an absolute http(s) URL; the message has no image", p.Image.URL)
		}
	}

	if cw := collapseSpace(p.ContentWarning); cw != "" {
		e.Fields = append(e.Fields, EmbedField{Name: "Content warning", Value: mustFit(cw, maxFieldValue)})
	}
	if tags := tagList(p.Tags, maxFieldValue); tags != "" {
		e.Fields = append(e.Fields, EmbedField{Name: "Tags", Value: tags, Inline: true})
	}
	if len(e.Fields) > maxFields {
		e.Fields = e.Fields[:maxFields]
	}

	// The description gets what the 6000-character total leaves.
	budget := maxDescription
	if rest := maxEmbedTotal - embedTotal(e); rest < budget {
		budget = rest
	}
	source := p.TextFor(f.cfg.instance())
	if source == "" {
		source = p.Summary
	}
	if source == "" {
		source = p.Body
	}
	segs := renderMarkdown(source, base)
	if p.ContentWarning != "" && len(segs) > 0 {
		segs = spoiler(segs)
	}
	suffix := ""
	if link != "" {
		suffix = "\n\n[Read more](" + link + ")"
	}
	desc, cut := truncate(segs, budget, suffix)
	if cut && source != "" {
		warn("the text was shortened to fit Discord's %d-character description", budget)
	}
	e.Description = desc
	if e.Title == "" && e.Description == "" {
		return channels.Payload{}, fmt.Errorf("post %s has neither a title nor text for Discord", p.ID)
	}

	msg := Message{
		Content:         content,
		Embeds:          []Embed{e},
		AllowedMentions: allowed,
		Nonce:           Nonce(channels.Delivery{PostID: p.ID, Channel: f.cfg.instance()}.IdempotencyKey(0)),
		EnforceNonce:    true,
		Attachments:     atts,
		Uploads:         uploads,
	}
	return channels.Payload{Channel: f.cfg.instance(), PostID: p.ID, Body: msg, Warnings: warnings}, nil
}

// mentionOf is the message content and allowed_mentions for a configured
// mention: a role id, "everyone", "here", or "none"/"" for no ping.
func mentionOf(m string) (string, AllowedMentions, error) {
	switch {
	case m == "" || m == "none":
		return "", AllowedMentions{Parse: []string{}}, nil
	case m == "everyone" || m == "here":
		return "@" + m, AllowedMentions{Parse: []string{"everyone"}}, nil
	case snowflakePattern.MatchString(m):
		return "<@&" + m + ">", AllowedMentions{Parse: []string{}, Roles: []string{m}}, nil
	}
	return "", AllowedMentions{}, fmt.Errorf("%q must be a role id, everyone, here or none", m)
}

// spoiler hides the description behind Discord's spoiler markers.
func spoiler(segs []segment) []segment {
	out := make([]segment, 0, len(segs)+2)
	out = append(out, segment{kind: segAtom, s: "||", close: "||"})
	for _, g := range segs {
		g.close += "||"
		out = append(out, g)
	}
	return append(out, segment{kind: segAtom, s: "||", end: true})
}

// tagList joins as many tags as fit, escaped, with an ellipsis when some
// are left out.
func tagList(tags []string, limit int) string {
	var parts, raw []string
	seen := map[string]bool{}
	for _, t := range tags {
		t = collapseSpace(strings.TrimPrefix(strings.TrimSpace(t), "#"))
		if t == "" || seen[strings.ToLower(t)] {
			continue
		}
		seen[strings.ToLower(t)] = true
		parts = append(parts, plain(t))
		raw = append(raw, t)
	}
	out := ""
	for i, t := range parts {
		next := t
		if i > 0 {
			next = out + " · " + t
		}
		more := 0
		if i < len(parts)-1 {
			more = length(" · " + ellipsis)
		}
		if length(next)+more > limit {
			if out == "" {
				s, _ := fit(raw[0], limit, plain)
				return s
			}
			return out + " · " + ellipsis
		}
		out = next
	}
	return out
}

func mustFit(s string, limit int) string {
	out, _ := fit(s, limit, plain)
	return out
}

// mustFitRaw shortens text that is not rendered as Markdown.
func mustFitRaw(s string, limit int) string {
	out, _ := fit(s, limit, func(s string) string { return s })
	return out
}

// embedTotal counts what Discord adds up against the 6000 total.
func embedTotal(e Embed) int {
	n := length(e.Title) + length(e.Description)
	if e.Author != nil {
		n += length(e.Author.Name)
	}
	if e.Footer != nil {
		n += length(e.Footer.Text)
	}
	for _, f := range e.Fields {
		n += length(f.Name) + length(f.Value)
	}
	return n
}

// maxAttachmentDescription is Discord's limit on an attachment's alt text.
const maxAttachmentDescription = 1024

func imageRef(img *post.Image) string {
	if img.File != "" {
		return img.File
	}
	return img.URL
}

// attachmentName is the file name an upload gets: its own base name, made
// safe for Discord (which links attachments by name), with the picture's
// extension kept.
func attachmentName(up Upload) string {
	name := ""
	if up.File != "" {
		name = filepath.Base(up.File)
	} else if u, err := url.Parse(up.URL); err == nil {
		name = path.Base(u.Path)
	}
	ext := strings.ToLower(path.Ext(name))
	stem := strings.TrimSuffix(name, path.Ext(name))
	stem = unsafeName.ReplaceAllString(stem, "_")
	stem = strings.Trim(stem, "._")
	if stem == "" || stem == "." {
		stem = "image"
	}
	if len(stem) > 60 {
		stem = stem[:60]
	}
	if plainExt.MatchString(ext) {
		return stem + ext
	}
	return stem
}

var (
	unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)
	plainExt   = regexp.MustCompile(`^\.[a-z0-9]{1,5}$`)
)
