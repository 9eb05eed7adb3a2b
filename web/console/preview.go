package console

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"

	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/post"
)

// channelPreview is one channel's rendering as the console shows it: the
// same payload `crier preview` prints and delivery sends.
type channelPreview struct {
	Channel  string
	Type     string
	Error    string
	Warnings []string
	// Setup: a warning about Crier's configuration was left out (it is on
	// the Setup page); set for owners only, who can change it.
	Setup   bool
	Toots   []tootView
	Discord *discordView
	Email   *emailView
}

type tootView struct {
	Part, Of   int
	Spoiler    string
	Text       string
	Count, Max int
	Over       bool
	ImageAlt   string
	HasImage   bool
	ImageSrc   template.URL
}

type discordView struct {
	Content     template.HTML
	Title       string
	URL         string
	Description template.HTML
	Colour      string
	Author      string
	Footer      string
	ImageSrc    template.URL
	ImageAlt    string
	// ImageSpoiler: the image goes as a spoiler attachment (behind a
	// content warning), blurred until clicked.
	ImageSpoiler bool
	Fields       []struct{ Name, Value string }
}

type emailView struct {
	Subject, Preheader string
	Key                string
}

// previewsFor renders a post on every channel. imageSrc, when set, shows a
// picture not stored yet (a live preview of a chosen file).
func (c *Console) previewsFor(ctx context.Context, s Session, p post.Post) []channelPreview {
	return c.previews_(ctx, s, p, "")
}

func (c *Console) previews_(ctx context.Context, s Session, p post.Post, imageSrc string) []channelPreview {
	if c.opts.Render == nil {
		return nil
	}
	var out []channelPreview
	// Previewed as it will be sent: with the image's address built now.
	p, mediaErr := c.uploads().Resolve(p)
	for _, r := range c.opts.Render(ctx, p) {
		cp := channelPreview{Channel: r.Channel, Type: cmp.Or(r.Type, r.Channel), Warnings: r.Payload.Warnings}
		if r.Err == nil {
			r.Err = mediaErr
		}
		if r.Err != nil {
			cp.Error = r.Err.Error()
			out = append(out, cp)
			continue
		}
		body, _ := json.Marshal(r.Payload.Body)
		switch cp.Type {
		case "mastodon":
			cp.Toots = c.toots(body, imageSrc, r.Limit)
		case "discord":
			cp.Discord = discordOf(body, imageSrc)
		case "bluesky":
			cp.Toots = blueskyPosts(body, imageSrc)
		case "email":
			var m struct{ Subject, Preheader, HTML string }
			if json.Unmarshal(body, &m) == nil {
				cp.Email = &emailView{Subject: m.Subject, Preheader: m.Preheader, Key: c.previews.put(s.User.ID, c.sameOrigin(m.HTML))}
			}
		}
		if len(cp.Toots) == 1 && strings.Contains(cp.Toots[0].Text, "…") && !strings.Contains(p.Body+p.Title+p.Summary, "…") {
			cp.Warnings = append(cp.Warnings, fmt.Sprintf("The text was shortened to fit %d characters; readers follow the link for the rest.", cp.Toots[0].Max))
		}
		if p.Image != nil && strings.TrimSpace(p.Image.Alt) == "" && !mentions(cp.Warnings, "alt text") {
			cp.Warnings = appendOnce(cp.Warnings, "The image has no alt text: people who use screen readers will not know what it shows. Describe it under Alt text.")
		}
		c.sameOriginImages(&cp)
		if strings.TrimSpace(p.Link) == "" && r.Channel != "email" {
			cp.Warnings = appendOnce(cp.Warnings, "The post has no link: readers cannot go on to read more on the campaign website.")
		}
		cp.Warnings = c.postWarnings(s, &cp)
		out = append(out, cp)
	}
	return out
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

func (c *Console) toots(body []byte, imageSrc string, limit int) []tootView {
	if limit <= 0 {
		limit = c.opts.MastodonLimit
	}
	var sts []mastodon.Status
	if json.Unmarshal(body, &sts) != nil {
		return nil
	}
	counter := mastodon.Counter{URLLength: 23}
	var out []tootView
	for i, st := range sts {
		t := tootView{Part: i + 1, Of: len(sts), Spoiler: st.SpoilerText, Text: st.Status, Max: limit}
		t.Count = counter.Count(st.SpoilerText, st.Status)
		t.Over = t.Count > t.Max
		if st.Media != nil {
			t.HasImage, t.ImageAlt = true, st.Media.Description
			t.ImageSrc = imageURL(imageSrc, st.Media.URL)
		}
		out = append(out, t)
	}
	return out
}

// blueskyPosts shows Bluesky's records as cards, counted in graphemes as
// Bluesky counts them.
func blueskyPosts(body []byte, imageSrc string) []tootView {
	var parts []struct {
		Record struct{ Text string }
		Image  *struct{ URL, Alt string }
	}
	if json.Unmarshal(body, &parts) != nil {
		return nil
	}
	var out []tootView
	for i, p := range parts {
		t := tootView{Part: i + 1, Of: len(parts), Text: p.Record.Text, Max: 300, Count: uniseg.GraphemeClusterCount(p.Record.Text)}
		t.Over = t.Count > t.Max
		if p.Image != nil {
			t.HasImage, t.ImageAlt = true, p.Image.Alt
			t.ImageSrc = imageURL(imageSrc, p.Image.URL)
		}
		out = append(out, t)
	}
	return out
}

func discordOf(body []byte, imageSrc string) *discordView {
	var m struct {
		Content string
		Embeds  []struct {
			Title, URL, Description string
			Color                   *int
			Author                  *struct{ Name string }
			Footer                  *struct{ Text string }
			Image                   *struct{ URL, Description string }
			Fields                  []struct{ Name, Value string }
		}
		Attachments []struct{ Filename, Description string }
		Uploads     []struct{ URL, File string }
	}
	if json.Unmarshal(body, &m) != nil {
		return nil
	}
	v := &discordView{Content: discordHTML(m.Content), Colour: "#5865f2"}
	v.ImageSrc, v.ImageAlt, v.ImageSpoiler = discordAttachment(m.Attachments, m.Uploads, imageSrc)
	if len(m.Embeds) > 0 {
		e := m.Embeds[0]
		v.Title, v.Description, v.Fields = e.Title, discordHTML(e.Description), e.Fields
		if safeURL(e.URL) {
			v.URL = e.URL
		}
		if e.Color != nil {
			v.Colour = "#" + hex6(*e.Color)
		}
		if e.Author != nil {
			v.Author = e.Author.Name
		}
		if e.Footer != nil {
			v.Footer = e.Footer.Text
		}
		if e.Image != nil && !strings.HasPrefix(e.Image.URL, "attachment://") {
			v.ImageAlt = e.Image.Description
			v.ImageSrc = imageURL(imageSrc, e.Image.URL)
		}
	}
	return v
}

func hex6(n int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		b[i] = digits[n&15]
		n >>= 4
	}
	return string(b)
}

// imageURL is the picture a preview card shows: the chosen file (a data:
// URL the console made itself from a sniffed image), or the payload's
// image when it is http(s) or the console's own media; else nothing.
func imageURL(chosen, payload string) template.URL {
	if chosen != "" {
		return template.URL(chosen) // built by uploadedDataURL from a checked image type
	}
	if safeImage(payload) {
		return template.URL(payload)
	}
	return ""
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
	previews := c.previews_(r.Context(), s, p, "")
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
