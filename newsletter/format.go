package newsletter

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/mail"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"

	"github.com/crierhq/crier/channels/markdown"
	"golang.org/x/net/html"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/i18n"
	"github.com/crierhq/crier/internal/overlayfs"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

//go:embed templates/*
var builtinTemplates embed.FS

// Template file names; an organisation's templates folder may replace any of
// them and the built-in one is used for the others.
const (
	tmplNewsletterHTML = "newsletter.html"
	tmplNewsletterText = "newsletter.txt"
	tmplConfirmHTML    = "confirm.html"
	tmplConfirmText    = "confirm.txt"
)

// placeholderUnsubscribe stands in for a subscriber's signed link in the
// un-personalised rendering (preview, outbox).
const placeholderUnsubscribe = "/unsubscribe?t=PERSONAL-LINK"

// Message is the email payload body: the un-personalised newsletter as
// `crier preview --json` shows it. The sender re-renders it per recipient
// from the data it keeps alongside.
type Message struct {
	Subject   string `json:"subject"`
	Preheader string `json:"preheader"`
	Text      string `json:"text"`
	HTML      string `json:"html"`

	// SendID names the campaign in the send ledger: "post:<id>" or
	// "digest:<id>".
	SendID string `json:"send_id"`
	// Topics are the keys of the topics (channels.email.topics) its posts
	// are on; General is true when one of its posts is on none. Supporters
	// who chose topics get it when it is general or on one of theirs.
	Topics  []string `json:"topics,omitempty"`
	General bool     `json:"general"`

	data newsletterData
	// webItems are the items as written, for the archive's web version
	// (data's carry counted links when clicks are counted).
	webItems []item
	// inline are the posts' local images, carried in every copy and shown
	// through cid: addresses.
	inline []inlineImage
	// notes say what the newsletter goes without (an image file that
	// cannot be used); the sender's receipt carries them.
	notes []string
	// source is what the message was made from, kept with the send so
	// that other replicas can make it again and share the send.
	source sendSource
}

// sendSource is what a newsletter is made from: the post, or the digest's
// posts.
type sendSource struct {
	ID     string      `json:"id"`
	Digest bool        `json:"digest"`
	Posts  []post.Post `json:"posts"`
	// Correction makes the send a correction mail (corrections.go).
	Correction *correctionSource `json:"correction,omitempty"`
}

// ChannelType makes *Message a channels.Body.
func (*Message) ChannelType() string { return Type }

// inlineImage is a picture carried in the mail itself (multipart/related).
type inlineImage struct {
	CID, Name, ContentType string
	Data                   []byte
}

// maxInlineImage caps a local image carried in the newsletter: it goes in
// every copy, to every subscriber.
const maxInlineImage = 2 << 20

// newsletterData is what the newsletter templates see.
type newsletterData struct {
	Campaign  channels.Campaign
	Language  string
	Subject   string
	Preheader string
	Intro     string
	Items     []item
	Digest    bool
	// Name, UnsubscribeURL and PreferencesURL are the recipient's.
	Name           string
	UnsubscribeURL string
	PreferencesURL string
	// WebURL is the newsletter's page in the public archive ("view in
	// your browser"); SubscribeURL is the subscribe form.
	WebURL       string
	SubscribeURL string
	ArchiveURL   string
	// WebVersion is true when rendering the archive's copy, which carries
	// nothing personal: no name, no signed links.
	WebVersion bool
	// Correction is what a correction changed, in the organiser's words,
	// made on CorrectedOn: shown above the post ("Corrected on DATE:
	// WHAT") in the corrected archive copy and the correction mail.
	Correction, CorrectedOn string
}

// item is one post in a newsletter.
type item struct {
	Title          string
	Link           string
	ContentWarning string
	// Date is when the post was published, in the campaign's time zone
	// ("Monday 3 June 2024, 10:00 BST"); digests show it.
	Date string
	// ImageURL is the lead image: an http(s) URL, or a cid: address of an
	// image carried in the mail.
	ImageURL htmltemplate.URL
	ImageAlt string
	Summary  string
	// HTML is the post's Markdown rendered and sanitised; Text is its
	// plain-text form.
	HTML htmltemplate.HTML
	Text string
}

// confirmData is what the confirmation templates see.
type confirmData struct {
	Campaign   channels.Campaign
	Language   string
	Subject    string
	Preheader  string
	Name       string
	ConfirmURL string
}

type templates struct {
	html *htmltemplate.Template
	text *texttemplate.Template
}

// loadTemplates reads the built-in templates, replaced file by file by the
// ones in dir when it is set.
func loadTemplates(dir string) (*templates, error) {
	builtin, _ := fs.Sub(builtinTemplates, "templates")
	files, err := overlayfs.New(dir, builtin)
	if err != nil {
		return nil, fmt.Errorf("email templates folder: %w", err)
	}
	read := func(name string) (string, string, error) {
		b, where, err := files.Read(name)
		if err != nil {
			return "", where, fmt.Errorf("reading email template: %w", err)
		}
		return string(b), where, nil
	}
	// t is Crier's own words in the mail's language: {{t .Language "mail.hello"}}.
	tr := func(lang, key string, args ...any) string { return i18n.Builtin().T(lang, key, args...) }
	funcs := texttemplate.FuncMap{"underline": func(s string) string {
		n := min(utf8.RuneCountInString(s), 72)
		return strings.Repeat("=", n)
	}, "t": tr}
	t := &templates{html: htmltemplate.New("email").Funcs(htmltemplate.FuncMap{"t": tr}), text: texttemplate.New("email").Funcs(funcs)}
	for _, name := range []string{tmplNewsletterHTML, tmplConfirmHTML} {
		src, where, err := read(name)
		if err != nil {
			return nil, err
		}
		if _, err := t.html.New(name).Parse(src); err != nil {
			return nil, fmt.Errorf("email template %s: %w", where, err)
		}
	}
	for _, name := range []string{tmplNewsletterText, tmplConfirmText} {
		src, where, err := read(name)
		if err != nil {
			return nil, err
		}
		if _, err := t.text.New(name).Parse(src); err != nil {
			return nil, fmt.Errorf("email template %s: %w", where, err)
		}
	}
	return t, nil
}

// render executes the HTML and text templates of one kind of mail.
func (t *templates) render(htmlName, textName string, data any) (htmlOut, textOut string, err error) {
	var hb, tb bytes.Buffer
	hb.Grow(16 << 10)
	if err := t.html.ExecuteTemplate(&hb, htmlName, data); err != nil {
		return "", "", fmt.Errorf("rendering %s: %w", htmlName, err)
	}
	if err := t.text.ExecuteTemplate(&tb, textName, data); err != nil {
		return "", "", fmt.Errorf("rendering %s: %w", textName, err)
	}
	return hb.String(), tidyText(tb.String()), nil
}

// tidyText collapses the blank lines templates leave behind.
func tidyText(s string) string {
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	out := make([]string, 0, len(lines))
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n")) + "\n"
}

// Formatter renders posts and digests as newsletter mail. It is pure.
type Formatter struct {
	cfg      Config
	campaign channels.Campaign
	tmpl     *templates
	md       goldmark.Markdown
	policy   *bluemonday.Policy
	from     *mail.Address
	replyTo  *mail.Address
	domain   string
	listID   string
	// listIDHeader and mailto are the List-Id header and the
	// List-Unsubscribe mailto.
	listIDHeader string
	mailto       string
	// envelopeFrom is the MAIL FROM address, as go-mail's client writes it.
	envelopeFrom string
	// clicks signs counted links (count_clicks); nil leaves links as
	// they are (the offline formatter of previews has no key).
	clicks *subscribers.Signer
}

// NewFormatter returns the newsletter formatter. Format's payload Body is a
// *Message (subject, text, HTML, preheader of the un-personalised mail); its
// Files are "message.eml" (the full MIME message as it would be sent, to a
// placeholder recipient) and "message.html". The error is a bad templates
// folder.
func NewFormatter(cfg Config, campaign channels.Campaign) (channels.Formatter, error) {
	return newFormatter(cfg, campaign)
}

func newFormatter(cfg Config, campaign channels.Campaign) (*Formatter, error) {
	t, err := loadTemplates(cfg.Templates)
	if err != nil {
		return nil, err
	}
	f := &Formatter{
		cfg:      cfg,
		campaign: campaign,
		tmpl:     t,
		md:       markdown.New(goldmark.WithExtensions(extension.GFM)),
		policy:   bluemonday.UGCPolicy(),
	}
	// Alt text is for people who cannot see the picture: keep it whatever
	// its punctuation (the UGC policy drops an alt with ":", "?", "%" or
	// "&"). It is escaped on output like any text.
	f.policy.AllowAttrs("alt").OnElements("img")
	// Links in mail open outside the mail client; never let a post's HTML
	// carry scripts, forms or styles that break the layout.
	f.policy.RequireNoFollowOnLinks(false)
	f.policy.AddTargetBlankToFullyQualifiedLinks(false)
	fromAddr := cfg.From
	if fromAddr == "" {
		fromAddr = "newsletter@example.org"
	}
	if f.from, err = mail.ParseAddress(fromAddr); err != nil {
		return nil, fmt.Errorf("email from address %q: %w", fromAddr, err)
	}
	if f.from.Name == "" {
		f.from.Name = campaign.Name
	}
	f.from.Name = cleanHeader(f.from.Name, 100)
	if cfg.ReplyTo != "" {
		if f.replyTo, err = mail.ParseAddress(cfg.ReplyTo); err != nil {
			return nil, fmt.Errorf("email reply_to address %q: %w", cfg.ReplyTo, err)
		}
		f.replyTo.Name = cleanHeader(f.replyTo.Name, 100)
	}
	_, f.domain, _ = strings.Cut(f.from.Address, "@")
	f.listID = cfg.ListID
	if f.listID == "" {
		f.listID = "newsletter." + f.domain
	}
	// The same in every message: made once.
	f.listIDHeader = listID(f.campaign.Name, f.listID)
	f.mailto = f.mailtoUnsubscribe()
	f.envelopeFrom = (&mail.Address{Address: f.from.Address}).String()
	return f, nil
}

// Format renders one post as a newsletter.
func (f *Formatter) Format(p post.Post) (channels.Payload, error) {
	return f.format("post:"+p.ID, p.ID, []post.Post{p}, false)
}

// FormatDigest renders several posts as one digest newsletter.
func (f *Formatter) FormatDigest(digestID string, posts []post.Post) (channels.Payload, error) {
	if len(posts) == 0 {
		return channels.Payload{}, errors.New("formatting digest: no posts")
	}
	return f.format("digest:"+digestID, digestID, posts, true)
}

func (f *Formatter) format(sendID, postID string, posts []post.Post, digest bool) (channels.Payload, error) {
	return f.formatSource(sendID, sendSource{ID: postID, Digest: digest, Posts: posts})
}

// formatSource makes the newsletter of src under sendID: a post, a digest,
// or a post's correction.
func (f *Formatter) formatSource(sendID string, src sendSource) (channels.Payload, error) {
	postID, posts, digest := src.ID, src.Posts, src.Digest
	var warnings []string
	data := newsletterData{Campaign: f.campaign, Language: f.campaign.Language, Digest: digest}
	if data.Language == "" {
		data.Language = "en"
	}
	if c := src.Correction; c != nil {
		data.Correction, data.CorrectedOn = c.Note, f.day(c.At)
	}
	var inline []inlineImage
	var notes []string
	for _, p := range posts {
		it, img, warns, note := f.item(p)
		warnings = append(warnings, warns...)
		data.Items = append(data.Items, it)
		if img != nil && !slices.ContainsFunc(inline, func(i inlineImage) bool { return i.CID == img.CID }) {
			inline = append(inline, *img)
		}
		if note != "" {
			notes = append(notes, note)
		}
	}
	first := posts[0]
	if digest {
		data.Subject = cleanHeader(fmt.Sprintf("%s news: %s", f.campaign.Name, first.Title), 200)
		if len(posts) > 1 {
			data.Subject = cleanHeader(fmt.Sprintf("%s news: %s and %d more", f.campaign.Name, first.Title, len(posts)-1), 200)
		}
	} else {
		data.Subject = cleanHeader(first.Title, 200)
		data.Intro = strings.TrimSpace(first.TextFor(f.cfg.Instance()))
		if src.Correction != nil && src.Correction.Of != sendID {
			data.Subject = cleanHeader(i18n.Builtin().T(data.Language, "mail.correction_subject", first.Title), 200)
		}
	}
	if data.Subject == "" {
		return channels.Payload{}, fmt.Errorf("formatting %s: the post has no title to use as the subject", postID)
	}
	data.Preheader = preheader(first, data.Items[0])
	if f.campaign.PublicURL == "" {
		warnings = append(warnings, "http.public_url is not set: the newsletter cannot carry working unsubscribe links, so it will not be sent")
	} else if !strings.HasPrefix(f.campaign.PublicURL, "https://") {
		warnings = append(warnings, "http.public_url is not https: mail providers ignore one-click unsubscribe (RFC 8058) over plain http")
	}
	data.UnsubscribeURL = f.publicURL() + placeholderUnsubscribe
	data.PreferencesURL = preferencesURL(data.UnsubscribeURL)
	data.WebURL = f.publicURL() + archive.Path(sendID)
	data.SubscribeURL = f.publicURL() + "/subscribe"
	data.ArchiveURL = f.publicURL() + "/archive"
	web := data.Items
	if f.clicks != nil {
		// The mail's links are counted; the archive's web version keeps
		// the addresses as written.
		data.Items = f.countedItems(sendID, data.Items)
	}
	htmlOut, textOut, err := f.tmpl.render(tmplNewsletterHTML, tmplNewsletterText, data)
	if err != nil {
		return channels.Payload{}, fmt.Errorf("formatting %s: %w", postID, err)
	}
	m := &Message{webItems: web, Subject: data.Subject, Preheader: data.Preheader, Text: textOut, HTML: htmlOut, SendID: sendID, data: data, inline: inline, notes: notes,
		source: src}
	m.Topics, m.General = TopicsOf(f.cfg.Topics, posts)
	msg, err := f.build(m.Subject, htmlOut, textOut, &mail.Address{Name: "Supporter", Address: "supporter@example.org"},
		messageID(sendID, "preview", f.domain), first.PublishAt, data.UnsubscribeURL, inline)
	if err != nil {
		return channels.Payload{}, fmt.Errorf("formatting %s: %w", postID, err)
	}
	if len(inline) == 0 {
		// go-mail's fixed boundary applies to every multipart level, so
		// it is only usable for a single level: a mail with inline
		// images (related around alternative) keeps random ones.
		msg.SetBoundary(boundary(sendID, "preview"))
	}
	var eml bytes.Buffer
	if _, err := msg.WriteTo(&eml); err != nil {
		return channels.Payload{}, fmt.Errorf("formatting %s as MIME: %w", postID, err)
	}
	return channels.Payload{
		Channel:  f.cfg.Instance(),
		PostID:   postID,
		Body:     m,
		Files:    []channels.File{{Name: "message.eml", Data: eml.Bytes()}, {Name: "message.html", Data: []byte(htmlOut)}},
		Warnings: warnings,
	}, nil
}

func (f *Formatter) publicURL() string {
	if f.campaign.PublicURL == "" {
		return "https://newsletter.invalid"
	}
	return strings.TrimRight(f.campaign.PublicURL, "/")
}

// personal renders m for one recipient whose mail is in lang.
func (f *Formatter) personal(m *Message, lang, name, unsubscribeURL string) (htmlOut, textOut string, err error) {
	data := m.data
	if lang != "" {
		data.Language = lang
	}
	data.Name = cleanHeader(name, 100)
	data.UnsubscribeURL = unsubscribeURL
	data.PreferencesURL = preferencesURL(unsubscribeURL)
	return f.tmpl.render(tmplNewsletterHTML, tmplNewsletterText, data)
}

// WebVersion renders m for the public archive: the campaign's language, no
// name, no signed links, and no pictures carried in the mail (a web page
// cannot show them).
func (f *Formatter) WebVersion(m *Message) (string, error) {
	data := m.data
	data.Name, data.UnsubscribeURL, data.PreferencesURL = "", "", ""
	data.WebVersion = true
	data.Items = slices.Clone(m.webItems)
	for i := range data.Items {
		if strings.HasPrefix(string(data.Items[i].ImageURL), "cid:") {
			data.Items[i].ImageURL = ""
		}
	}
	var b bytes.Buffer
	if err := f.tmpl.html.ExecuteTemplate(&b, tmplNewsletterHTML, data); err != nil {
		return "", fmt.Errorf("rendering the web version of %s: %w", m.SendID, err)
	}
	return b.String(), nil
}

// plainHeader reports whether cleanHeader would leave s as it is: printable
// ASCII, single spaces between words, at most max long.
func plainHeader(s string, max int) bool {
	if len(s) > max || strings.HasPrefix(s, " ") || strings.HasSuffix(s, " ") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c > '~' || c == ' ' && s[i+1] == ' ' {
			return false
		}
	}
	return true
}

// item turns a post into its newsletter item, with its local image (to
// carry in the mail) and a note when the image had to be left out.
func (f *Formatter) item(p post.Post) (item, *inlineImage, []string, string) {
	var warns []string
	var img *inlineImage
	note := ""
	it := item{Title: cleanText(p.Title), Link: safeURL(p.Link), ContentWarning: cleanText(p.ContentWarning), Summary: cleanText(p.Summary), Date: f.date(p.PublishAt)}
	if p.Link != "" && it.Link == "" {
		warns = append(warns, fmt.Sprintf("post %s: link %q is not an http(s) URL; left out", p.ID, p.Link))
	}
	if p.Image != nil {
		switch {
		case p.Image.URL != "" && safeURL(p.Image.URL) != "":
			// A web image is shown from its address by the reader's mail
			// program; Crier does not fetch it.
			it.ImageURL = htmltemplate.URL(safeURL(p.Image.URL))
		case p.Image.File != "":
			data, ct, err := channels.ReadImageFile(p.Image.File, maxInlineImage)
			if err != nil {
				note = fmt.Sprintf("image left out: %s: %v", p.Image.File, err)
				warns = append(warns, fmt.Sprintf("post %s: %s; the newsletter goes without it", p.ID, note))
				break
			}
			sum := sha256.Sum256(data)
			img = &inlineImage{CID: hex.EncodeToString(sum[:12]) + "@crier", Name: filepath.Base(p.Image.File), ContentType: ct, Data: data}
			it.ImageURL = htmltemplate.URL("cid:" + img.CID)
		}
		if it.ImageURL != "" {
			it.ImageAlt = cleanText(p.Image.Alt)
			if it.ImageAlt == "" {
				warns = append(warns, fmt.Sprintf("post %s: the image has no alt text; readers who cannot see it get nothing", p.ID))
			}
		}
	}
	body := strings.TrimSpace(p.Body)
	if body == "" {
		body = strings.TrimSpace(p.Summary)
	}
	base := p.Link
	if base == "" {
		base = f.campaign.Website
	}
	h, w := f.renderMarkdown(body, base, string(it.ImageURL))
	for _, s := range w {
		warns = append(warns, fmt.Sprintf("post %s: %s", p.ID, s))
	}
	it.HTML = htmltemplate.HTML(h)
	it.Text = textOfMarkdown(body)
	return it, img, warns, note
}

// renderMarkdown renders Markdown to sanitised HTML with the inline styles
// mail clients need (Gmail and Outlook drop most <style> rules).
// An <img> of the lead image's address is left out: the item already
// shows it above the text.
func (f *Formatter) renderMarkdown(src, base, lead string) (string, []string) {
	var buf bytes.Buffer
	if err := f.md.Convert([]byte(src), &buf); err != nil {
		// goldmark only fails on writer errors; keep the text readable.
		return "<p>" + htmltemplate.HTMLEscapeString(src) + "</p>", nil
	}
	clean := f.policy.SanitizeBytes(buf.Bytes())
	return inlineStyles(clean, base, lead)
}

// inlineStyle is each element's style attribute. Paragraphs and list
// items, two thirds of the elements of a typical post, take their margins
// from the template's <style> instead (.crier-card p, .crier-card li): at
// 28 bytes a paragraph that was 8% of the mail (issue 27). A mail program
// that drops <style> shows them with its default margins, which give the
// same 16px between paragraphs (4px more after a heading, none between
// list items). Links keep their colour; underlined is their default.
var inlineStyle = map[string]string{
	"h1":         "margin:24px 0 12px 0;font-size:22px;line-height:1.3;",
	"h2":         "margin:24px 0 12px 0;font-size:20px;line-height:1.3;",
	"h3":         "margin:20px 0 8px 0;font-size:18px;line-height:1.3;",
	"h4":         "margin:16px 0 8px 0;font-size:16px;",
	"a":          "color:#1a56a8;",
	"img":        "display:block;max-width:100%;height:auto;border:0;",
	"ul":         "margin:0 0 16px 0;padding-left:24px;",
	"ol":         "margin:0 0 16px 0;padding-left:24px;",
	"blockquote": "margin:0 0 16px 0;padding:0 0 0 12px;border-left:3px solid #cccccc;color:#555555;",
	"pre":        "margin:0 0 16px 0;padding:12px;background-color:#f0f0f0;white-space:pre-wrap;font-size:14px;",
	"code":       "font-family:Consolas,Menlo,monospace;font-size:14px;",
	"table":      "border-collapse:collapse;margin:0 0 16px 0;",
	"td":         "border:1px solid #dddddd;padding:4px 8px;",
	"th":         "border:1px solid #dddddd;padding:4px 8px;",
	"hr":         "border:none;border-top:1px solid #dddddd;margin:24px 0;",
}

// inlineStyles adds style attributes to sanitised HTML, makes relative
// links absolute against base, drops images of the lead address, and
// reports images without alt text.
func inlineStyles(src []byte, base, lead string) (string, []string) {
	baseURL, _ := url.Parse(base)
	var out strings.Builder
	var warns []string
	z := html.NewTokenizer(bytes.NewReader(src))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return out.String(), warns
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			if style, ok := inlineStyle[tok.Data]; ok {
				tok.Attr = append(tok.Attr, html.Attribute{Key: "style", Val: style})
			}
			hasAlt := false
			for i, a := range tok.Attr {
				switch {
				case (a.Key == "href" || a.Key == "src") && baseURL != nil && baseURL.IsAbs():
					if u, err := baseURL.Parse(a.Val); err == nil {
						tok.Attr[i].Val = u.String()
					}
				case a.Key == "alt" && strings.TrimSpace(a.Val) != "":
					hasAlt = true
				}
			}
			if tok.Data == "img" && lead != "" && attrValue(tok, "src") == lead {
				continue // shown as the lead image already
			}
			if tok.Data == "img" && !hasAlt {
				warns = append(warns, "an image in the body has no alt text")
			}
			out.WriteString(tok.String())
		default:
			out.Write(z.Raw())
		}
	}
}

func attrValue(tok html.Token, key string) string {
	for _, a := range tok.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// markdownImage matches an inline Markdown image, ![alt](address "title"),
// and a reference one, ![alt][ref].
var markdownImage = regexp.MustCompile(`!\[((?:\\.|[^\]\\])*)\](?:\((?:<[^>\n]*>|(?:\\.|[^()\s\\]|\([^()\s]*\))*)(?:\s+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\)))?\s*\)|\[[^\]\n]*\])`)

// textOfMarkdown is a post's Markdown for the plain-text part: as written,
// except that pictures, which a text mail cannot show, become their alt
// text ("[Image: …]") or nothing.
func textOfMarkdown(md string) string {
	out := md
	// A picture inside a link's or another picture's brackets is found on
	// the next pass.
	for range 3 {
		next := markdownImage.ReplaceAllStringFunc(out, func(m string) string {
			alt := strings.TrimSpace(markdownImage.FindStringSubmatch(m)[1])
			alt = strings.NewReplacer(`\[`, "[", `\]`, "]", `\\`, `\`).Replace(alt)
			if alt == "" {
				return ""
			}
			return "[Image: " + alt + "]"
		})
		if next == out {
			break
		}
		out = next
	}
	// Whatever odd form is left, no "![" means no picture syntax ("!![" is
	// "![" again after one replacement).
	for strings.Contains(out, "![") {
		out = strings.ReplaceAll(out, "![", "[")
	}
	return strings.TrimSpace(out)
}

// preheader is the preview line mail clients show after the subject.
func preheader(p post.Post, it item) string {
	s := cleanText(p.Summary)
	if s == "" {
		// The text of the rendered, sanitised HTML: no Markdown or tags.
		s = cleanText(html.UnescapeString(bluemonday.StrictPolicy().Sanitize(string(it.HTML))))
	}
	if r := []rune(s); len(r) > 140 {
		s = strings.TrimSpace(string(r[:139])) + "…"
	}
	return s
}

// cleanHeader makes s safe for a mail header: no control characters or line
// breaks of any kind (header injection), whitespace collapsed, at most max
// runes.
func cleanHeader(s string, max int) string {
	if plainHeader(s, max) {
		return s // the usual case, on the path of every message
	}
	return cleanHeaderFull(s, max)
}

func cleanHeaderFull(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}), " ")
	s = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.Is(unicode.Cf, r) && r != '\u200d' {
			return -1
		}
		return r
	}, s)
	if r := []rune(s); len(r) > max {
		s = strings.TrimSpace(string(r[:max-1])) + "…"
	}
	return s
}

// cleanText is cleanHeader without a length cap, for one-line text.
func cleanText(s string) string { return cleanHeader(s, 1<<20) }

// safeURL returns u when it is an absolute http(s) URL, else "".
func safeURL(u string) string {
	u = strings.TrimSpace(u)
	if strings.ContainsFunc(u, unicode.IsControl) {
		return ""
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		return ""
	}
	return pu.String()
}

// messageID makes a Message-ID on the sender's domain that is the same for
// the same campaign and recipient, so that a copy sent twice after a crash
// carries the same id and mail clients that de-duplicate show it once.
func messageID(sendID, recipient, domain string) string {
	if domain == "" {
		domain = "crier.invalid"
	}
	// The bounce reader finds the send and subscriber in it.
	return fmt.Sprintf("crier.%s.%s@%s", bounces.SendHash(sendID), recipient, domain)
}

// boundary is a MIME boundary fixed per campaign and recipient, so that the
// formatter's output is the same for the same post.
func boundary(sendID, recipient string) string {
	h := sha256.Sum256([]byte("boundary\x00" + sendID + "\x00" + recipient))
	return "crier-" + hex.EncodeToString(h[:16])
}

// date shows a post's time to readers in the campaign's time zone.
func (f *Formatter) date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	loc := f.campaign.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Monday 2 January 2006, 15:04 MST")
}
