package console

import (
	"cmp"
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/media"
	"github.com/crierhq/crier/post"
)

// channelPreview is one channel's rendering as the console shows it: the
// same payload `crier preview` prints and delivery sends, drawn from the
// card the channel made of it (channels.PreviewCard). The console knows no
// channel by name: Type only names the card's class.
type channelPreview struct {
	Channel  string
	Type     string
	Docs     string
	Error    string
	Warnings []string
	// Setup: a warning about Crier's configuration was left out (it is on
	// the Setup page); set for owners only, who can change it.
	Setup    bool
	Messages []messageView
	Mail     *mailView
}

// messageView is one remote message of a card, with its text made HTML
// and its pictures' addresses checked.
type messageView struct {
	Part, Of       int
	Chat           bool
	ContentWarning string
	Text           template.HTML
	Embed          *embedView
	Images         []imageView
	Count, Limit   int
	Over           bool
}

type embedView struct {
	Title, URL     string
	Description    template.HTML
	Colour         string
	Author, Footer string
	Fields         []channels.PreviewField
	Image          *imageView
}

// imageView is a picture as a card shows it: Src is empty when its
// address is not one the console trusts (a placeholder shows instead).
type imageView struct {
	Src     template.URL
	Alt     string
	Spoiler bool
}

type mailView struct {
	Subject, Preheader string
	Key                string
}

// previewsFor renders a post on every channel.
func (c *Console) previewsFor(ctx context.Context, s Session, p post.Post) []channelPreview {
	if c.opts.Render == nil {
		return nil
	}
	var out []channelPreview
	// Previewed as it will be sent: with the image's address built now.
	p, mediaErr := c.uploads().Resolve(p)
	for _, r := range c.opts.Render(ctx, p) {
		cp := channelPreview{Channel: r.Channel, Type: cmp.Or(r.Type, r.Channel), Docs: r.Docs, Warnings: r.Payload.Warnings}
		if r.Err == nil {
			r.Err = mediaErr
		}
		if r.Err != nil {
			cp.Error = r.Err.Error()
			out = append(out, cp)
			continue
		}
		card := r.Card
		if len(card.Messages) == 0 && card.Mail == nil {
			card = channels.FieldsCard(r.Payload)
		}
		c.drawCard(s, &cp, card)
		if len(cp.Messages) == 1 && cp.Messages[0].Limit > 0 && shortened(card.Messages[0].Text) && !strings.Contains(p.Body+p.Title+p.Summary, "…") {
			cp.Warnings = append(cp.Warnings, fmt.Sprintf("The text was shortened to fit %d characters; readers follow the link for the rest.", cp.Messages[0].Limit))
		}
		if p.Image != nil && strings.TrimSpace(p.Image.Alt) == "" && !mentions(cp.Warnings, "alt text") {
			cp.Warnings = appendOnce(cp.Warnings, "The image has no alt text: people who use screen readers will not know what it shows. Describe it under Alt text.")
		}
		if strings.TrimSpace(p.Link) == "" && !card.WholePost {
			cp.Warnings = appendOnce(cp.Warnings, "The post has no link: readers cannot go on to read more on the campaign website.")
		}
		cp.Warnings = c.postWarnings(s, &cp)
		out = append(out, cp)
	}
	return out
}

// drawCard makes a channel's card into what the previews template shows.
func (c *Console) drawCard(s Session, cp *channelPreview, card channels.PreviewCard) {
	for i, m := range card.Messages {
		v := messageView{Part: i + 1, Of: len(card.Messages), Chat: m.Style == channels.StyleChat, ContentWarning: m.ContentWarning,
			Text: spansHTML(m.Text), Count: m.Count, Limit: m.Limit, Over: m.Limit > 0 && m.Count > m.Limit}
		for _, img := range m.Images {
			v.Images = append(v.Images, c.image(img))
		}
		if e := m.Embed; e != nil {
			v.Embed = &embedView{Title: e.Title, Description: spansHTML(e.Description), Colour: e.Colour, Author: e.Author, Footer: e.Footer, Fields: e.Fields}
			if safeURL(e.URL) {
				v.Embed.URL = e.URL
			}
			if e.Image != nil {
				img := c.image(*e.Image)
				v.Embed.Image = &img
			}
		}
		cp.Messages = append(cp.Messages, v)
	}
	if m := card.Mail; m != nil {
		cp.Mail = &mailView{Subject: m.Subject, Preheader: m.Preheader, Key: c.previews.put(s.User.ID, c.sameOrigin(m.HTML))}
	}
	cp.Warnings = append(cp.Warnings, card.Notes...)
}

// shortened reports whether a message's text ends a cut (has an ellipsis).
func shortened(text []channels.Span) bool {
	for _, sp := range text {
		if strings.Contains(sp.Text, "…") || shortened(sp.Spans) {
			return true
		}
	}
	return false
}

// image is a card's picture as the console shows it: an http(s) address
// or the console's own media, from its own origin; a local upload by its
// media address; anything else not at all.
func (c *Console) image(img channels.PreviewImage) imageView {
	v := imageView{Alt: img.Alt, Spoiler: img.Spoiler}
	src := img.URL
	if src == "" && img.File != "" {
		if name := filepath.Base(img.File); media.ValidName(name) {
			src = media.Ref(name)
		}
	}
	if safeImage(src) {
		v.Src = template.URL(c.sameOrigin(src)) // an http(s) address or the console's own
	}
	return v
}

// postWarnings are the preview's warnings about the post itself: those
// about Crier's configuration go to the Setup page, and only owners are
// pointed there.
func (c *Console) postWarnings(s Session, cp *channelPreview) []string {
	var out []string
	for _, w := range cp.Warnings {
		if setupWarning(w) {
			cp.Setup = s.User.Role.Can(RoleOwner)
			continue
		}
		out = append(out, w)
	}
	return out
}

func mentions(l []string, s string) bool {
	for _, x := range l {
		if strings.Contains(strings.ToLower(x), s) {
			return true
		}
	}
	return false
}

func appendOnce(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}

// safeImage admits http(s) image URLs and the console's own media.
func safeImage(s string) bool {
	return safeURL(s) || strings.HasPrefix(s, "/media/") || strings.HasPrefix(s, "/preview/image/")
}

// livePreview renders the write form's content without saving it: the
// fragment for the page's script, or the whole write page without script.
func (c *Console) livePreview(w http.ResponseWriter, r *http.Request, s Session) {
	p := post.Post{ID: "preview", Draft: true, Source: post.Source{Kind: Kind, Name: "console"}}
	if id := r.PostFormValue("id"); id != "" {
		if sp, err := c.opts.Store.Post(r.Context(), id); err == nil {
			if _, ok, _ := c.meta(r.Context(), id); ok {
				p = sp.Post
			}
		}
	}
	p, problems := c.postFromForm(r, p)
	if data, ct, ok := chosenImage(r); ok {
		// Every channel, the newsletter included, shows the chosen picture
		// from a short-lived address of its own until the post is saved.
		key := c.previews.putImage(s.User.ID, data, ct)
		p.Image = &post.Image{URL: strings.TrimRight(c.opts.PublicURL, "/") + "/preview/image/" + key, Alt: strings.TrimSpace(r.PostFormValue("alt"))}
	}
	previews := c.previewsFor(r.Context(), s, p)
	if r.Header.Get("X-Crier-Fragment") == "1" {
		secureHeaders(w)
		c.renderFragment(w, r, "previews", map[string]any{"Previews": previews})
		return
	}
	f := c.formFromPost(p)
	f.ID = r.PostFormValue("id")
	f.ScheduleFor = r.PostFormValue("schedule_for")
	f.Revision = r.PostFormValue("revision")
	f.Problems = problems
	c.render(w, r, s, "write", map[string]any{"Form": f, "New": f.ID == "", "Previews": previews})
}

// chosenImage reads a chosen (not yet saved) picture from a preview request.
func chosenImage(r *http.Request) ([]byte, string, bool) {
	if r.MultipartForm == nil {
		return nil, "", false
	}
	file, hdr, err := r.FormFile("image")
	if err != nil || hdr.Size == 0 {
		return nil, "", false
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, maxImage+1))
	if err != nil || len(data) > maxImage {
		return nil, "", false
	}
	ct := http.DetectContentType(data)
	if _, ok := imageTypes[ct]; !ok {
		return nil, "", false
	}
	return data, ct, true
}

// cachedImage serves a chosen picture to its chooser's previews.
func (c *Console) cachedImage(w http.ResponseWriter, r *http.Request, s Session) {
	data, ct, ok := c.previews.getImage(s.User.ID, r.PathValue("key"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.Write(data)
}

// cachedEmailPreview serves a rendered newsletter into the preview frame:
// its own inline styles apply, nothing in it can run.
func (c *Console) cachedEmailPreview(w http.ResponseWriter, r *http.Request, s Session) {
	html, ok := c.previews.get(s.User.ID, r.PathValue("key"))
	if !ok {
		http.Error(w, "This preview has expired; reload the page.", http.StatusNotFound)
		return
	}
	// No script can run: the policy allows none and the frame's sandbox
	// (allow-same-origin only, so 'self' images load) forbids them too.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; font-src https: data:; frame-ancestors 'self'; form-action 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, html)
}
