package newsletter

import (
	"bytes"
	"encoding/json"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

var testCampaign = channels.Campaign{Name: "CAMACA", Website: "https://camaca.org", Language: "en", PublicURL: "https://news.camaca.org"}

func testConfig() Config {
	return Config{Enabled: true, From: "CAMACA <news@camaca.org>", ReplyTo: "Team <team@camaca.org>", ListID: "news.camaca.org"}
}

func samplePost() post.Post {
	return post.Post{
		ID:        "md:vigil",
		Title:     "Vigil for survivors on Saturday",
		Summary:   "Join us at the town hall at 6pm.",
		Body:      "We meet **at 6pm**.\n\n![Candles](/img/candles.jpg)\n\n[Read the report](/report)\n\n<script>alert(1)</script>\n\n<a href=\"javascript:alert(1)\">x</a>",
		Link:      "https://camaca.org/news/vigil",
		Image:     &post.Image{URL: "https://camaca.org/img/vigil.jpg", Alt: "Candles at last year's vigil"},
		PublishAt: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
	}
}

// parseEML reads the message.eml file and its two parts.
func parseEML(t *testing.T, data []byte) (*mail.Message, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("message.eml does not parse: %v", err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type = %q, want multipart/alternative (%v)", m.Header.Get("Content-Type"), err)
	}
	parts := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		var b bytes.Buffer
		b.ReadFrom(p) // multipart decodes quoted-printable
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		parts[ct] = b.String()
	}
	return m, parts
}

func TestFormat(t *testing.T) {
	t.Parallel()
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	m := p.Body.(*Message)
	if m.Subject != "Vigil for survivors on Saturday" || m.Preheader != "Join us at the town hall at 6pm." {
		t.Errorf("subject %q, preheader %q", m.Subject, m.Preheader)
	}
	if bad := unsafeHTML(m.HTML); bad != "" {
		t.Errorf("HTML carries %s", bad)
	}
	for _, want := range []string{
		"<strong>at 6pm</strong>",
		`src="https://camaca.org/img/candles.jpg"`, // relative image made absolute
		`alt="Candles"`,
		`href="https://camaca.org/report"`,
		`alt="Candles at last year&#39;s vigil"`,
		"https://news.camaca.org/unsubscribe?t=PERSONAL-LINK",
		"Join us at the town hall at 6pm.", // preheader
		`name="color-scheme"`,
	} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, want := range []string{"Vigil for survivors on Saturday\n===", "We meet **at 6pm**.", "Read on our website: https://camaca.org/news/vigil", "Unsubscribe: https://news.camaca.org/unsubscribe?t=", "Choose what you receive: https://news.camaca.org/preferences?t=", "View in your browser: https://news.camaca.org/archive/post%3Amd%3Avigil"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, m.Text)
		}
	}
	files := map[string][]byte{}
	for _, fl := range p.Files {
		files[fl.Name] = fl.Data
	}
	if string(files["message.html"]) != m.HTML {
		t.Error("message.html is not the HTML part")
	}
	hdr, parts := parseEML(t, files["message.eml"])
	for key, want := range map[string]string{
		"From":                  `"CAMACA" <news@camaca.org>`,
		"Reply-To":              `"Team" <team@camaca.org>`,
		"To":                    `"Supporter" <supporter@example.org>`,
		"List-Unsubscribe":      "<https://news.camaca.org/unsubscribe?t=PERSONAL-LINK>, <mailto:team@camaca.org?subject=unsubscribe>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"List-Id":               `"CAMACA" <news.camaca.org>`,
		"Precedence":            "bulk",
		"Auto-Submitted":        "auto-generated",
		"Date":                  "Fri, 20 Nov 2026 09:00:00 +0000",
	} {
		if got := hdr.Header.Get(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if id := hdr.Header.Get("Message-ID"); !strings.HasSuffix(id, "@camaca.org>") {
		t.Errorf("Message-ID %q is not on the sender's domain", id)
	}
	if !strings.Contains(parts["text/plain"], "We meet **at 6pm**.") || !strings.Contains(parts["text/html"], "<strong>at 6pm</strong>") {
		t.Errorf("parts: %v", parts)
	}
	// Pure: the same output twice.
	p2, _ := f.Format(samplePost())
	if !bytes.Equal(p2.Files[0].Data, p.Files[0].Data) {
		t.Error("Format is not deterministic")
	}
	// preview --json shape.
	b, _ := json.Marshal(p.Body)
	var keys map[string]any
	json.Unmarshal(b, &keys)
	for _, k := range []string{"subject", "text", "html", "preheader"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("JSON body lacks %q", k)
		}
	}
}

func TestFormatWarnings(t *testing.T) {
	t.Parallel()
	f, _ := newFormatter(testConfig(), channels.Campaign{Name: "CAMACA"})
	p := samplePost()
	p.Image = &post.Image{URL: "https://camaca.org/a.jpg"}
	p.Body = "![](https://camaca.org/b.jpg)"
	out, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(out.Warnings, "\n")
	for _, want := range []string{"image has no alt text", "image in the body has no alt text", "public_url is not set"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q: %v", want, out.Warnings)
		}
	}
	p.Title = " \r\n "
	if _, err := f.Format(p); err == nil || !strings.Contains(err.Error(), "no title") {
		t.Errorf("empty title: %v", err)
	}
}

// TestHeaderInjection: names and subjects with line breaks must not add
// headers or recipients.
func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	f, _ := newFormatter(cfg, channels.Campaign{Name: "CAMACA\r\nBcc: evil@example.net", PublicURL: "https://news.camaca.org"})
	for _, title := range []string{
		"Hello\r\nBcc: evil@example.net",
		"Hello\nBcc: evil@example.net",
		"Hello\rBcc: evil@example.net",
		"Hello\u2028Bcc: evil@example.net",
		"Hello\u0085Bcc: evil@example.net",
		"=?utf-8?q?x?=\r\n\r\n<html>",
	} {
		p := samplePost()
		p.Title = title
		payload, err := f.Format(p)
		if err != nil {
			t.Fatal(err)
		}
		m := payload.Body.(*Message)
		htmlOut, textOut, err := f.personal(m, "", "Eve\r\nBcc: evil2@example.net", "https://news.camaca.org/unsubscribe?t=x")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := f.build(m.Subject, htmlOut, textOut, &mail.Address{Name: "Eve\r\nBcc: evil2@example.net", Address: "eve@example.org"}, "id@camaca.org", time.Unix(0, 0), "https://news.camaca.org/unsubscribe?t=x", nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		msg.WriteTo(&buf)
		parsed, err := mail.ReadMessage(&buf)
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := strings.Cut(buf.String(), "\r\n\r\n")
		if parsed.Header.Get("Bcc") != "" || strings.Contains(head, "\r\nBcc:") {
			t.Errorf("title %q: a Bcc header got in", title)
		}
		rcpts, _ := msg.GetRecipients()
		if len(rcpts) != 1 || strings.Trim(rcpts[0], "<>") != "eve@example.org" {
			t.Errorf("title %q: recipients %v", title, rcpts)
		}
		dec := new(mime.WordDecoder)
		subj, _ := dec.DecodeHeader(parsed.Header.Get("Subject"))
		if strings.ContainsAny(subj, "\r\n") {
			t.Errorf("subject %q has a line break", subj)
		}
	}
	if _, err := f.build("x", "", "", &mail.Address{Address: "a@b.c\r\nBcc: e@x.y"}, "id@x", time.Unix(0, 0), "https://x/u", nil); err == nil {
		t.Error("an address with a line break was accepted")
	}
	if _, err := f.build("x", "", "", &mail.Address{Address: "a@b.c"}, "id@x", time.Unix(0, 0), "https://x/u\r\nBcc: e@x.y", nil); err == nil {
		t.Error("an unsubscribe link with a line break was accepted")
	}
}

func TestTemplatesFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "newsletter.txt"), []byte("Custom {{range .Items}}{{.Title}}{{end}} {{.UnsubscribeURL}}\n"), 0o644)
	cfg := testConfig()
	cfg.Templates = dir
	f, err := newFormatter(cfg, testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Format(samplePost())
	if err != nil {
		t.Fatal(err)
	}
	if m := p.Body.(*Message); !strings.HasPrefix(m.Text, "Custom Vigil") || !strings.Contains(m.HTML, "color-scheme") {
		t.Errorf("custom text / built-in html not used: %q", m.Text)
	}
	os.WriteFile(filepath.Join(dir, "newsletter.html"), []byte("{{.Nope"), 0o644)
	if _, err := newFormatter(cfg, testCampaign); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "newsletter.html")) {
		t.Errorf("bad template: %v", err)
	}
	cfg.Templates = filepath.Join(dir, "missing")
	if _, err := newFormatter(cfg, testCampaign); err == nil || !strings.Contains(err.Error(), "templates folder") {
		t.Errorf("missing folder: %v", err)
	}
}

// TestTemplateLinkOutOfFolder: a template in the folder that is a link to a
// file outside it is refused with its path, not read from where it points
// (the same overlay serves the newsletter pages: internal/overlayfs).
func TestTemplateLinkOutOfFolder(t *testing.T) {
	t.Parallel()
	outside := filepath.Join(t.TempDir(), "elsewhere.txt")
	os.WriteFile(outside, []byte("Read from outside {{.UnsubscribeURL}}\n"), 0o644)
	dir := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "newsletter.txt")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	cfg := testConfig()
	cfg.Templates = dir
	f, err := newFormatter(cfg, testCampaign)
	if err == nil {
		p, _ := f.Format(samplePost())
		t.Fatalf("a template linked from outside the folder was used: %q", p.Body.(*Message).Text)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "newsletter.txt")) {
		t.Fatalf("the error does not name the template: %v", err)
	}
}

func TestDigest(t *testing.T) {
	t.Parallel()
	f, _ := newFormatter(testConfig(), testCampaign)
	a, b := samplePost(), samplePost()
	b.ID, b.Title = "md:report", "Annual report"
	p, err := f.FormatDigest("digest-1", []post.Post{a, b})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Body.(*Message)
	if m.SendID != "digest:digest-1" || m.Subject != "CAMACA news: Vigil for survivors on Saturday and 1 more" {
		t.Errorf("send %q subject %q", m.SendID, m.Subject)
	}
	if !strings.Contains(m.Text, "Annual report") || !strings.Contains(m.HTML, "Annual report") {
		t.Error("digest lacks the second post")
	}
}

func FuzzFormat(f *testing.F) {
	f.Add("Title", "Body **bold**", "Summary", "https://camaca.org/x", "Name")
	f.Add("T\r\nBcc: x@y", "<script>x</script><img src=x onerror=alert(1)>", "", "javascript:alert(1)", "A\nB")
	f.Add("{{.Name}}", "[x](javascript:alert(1)) <style>body{}</style>", "\x00", "", "<b>")
	// Issue 18: nesting past markdown.MaxDepth, and brackets.
	f.Add("Deep", strings.Repeat(">", 40)+" deep\n\n"+strings.Repeat("- ", 40)+"list\n\n"+strings.Repeat("[a](", 700), "", "https://camaca.org/x", "")
	f.Add("Deep", strings.Repeat("*a ~~b ", 30)+"x"+strings.Repeat(" c~~ d*", 30)+"\n\n| a |\n|---|\n| "+strings.Repeat("> ", 40)+" |", "", "", "")
	fm, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, title, body, summary, link, name string) {
		p := post.Post{ID: "md:fuzz", Title: title, Body: body, Summary: summary, Link: link}
		payload, err := fm.Format(p)
		if err != nil {
			if strings.TrimSpace(cleanText(title)) != "" {
				t.Fatalf("Format(%q): %v", title, err)
			}
			return
		}
		m := payload.Body.(*Message)
		if strings.ContainsAny(m.Subject, "\r\n") {
			t.Fatalf("subject has a line break: %q", m.Subject)
		}
		if bad := unsafeHTML(m.HTML); bad != "" {
			t.Fatalf("unsafe HTML (%s): %s", bad, m.HTML)
		}
		htmlOut, textOut, err := fm.personal(m, "", name, "https://news.camaca.org/unsubscribe?t=u.1.0.x")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := fm.build(m.Subject, htmlOut, textOut, &mail.Address{Name: name, Address: "a@example.org"}, "id@camaca.org", time.Unix(0, 0), "https://news.camaca.org/unsubscribe?t=u.1.0.x", nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := msg.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		parsed, err := mail.ReadMessage(&buf)
		if err != nil {
			t.Fatalf("generated mail does not parse: %v", err)
		}
		if parsed.Header.Get("Bcc") != "" || parsed.Header.Get("Cc") != "" {
			t.Fatal("injected header")
		}
	})
}

// unsafeHTML names the first active content in doc: a script, object or
// iframe element, an event handler attribute, or a javascript: URL.
func unsafeHTML(doc string) string {
	z := html.NewTokenizer(strings.NewReader(doc))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return ""
		case html.StartTagToken, html.SelfClosingTagToken:
			tok := z.Token()
			switch tok.Data {
			case "script", "iframe", "object", "embed", "form":
				return "<" + tok.Data + ">"
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if strings.HasPrefix(a.Key, "on") || strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") || strings.HasPrefix(v, "data:text/html") {
					return a.Key + "=" + a.Val
				}
			}
		}
	}
}

func TestPersonaliser(t *testing.T) {
	t.Parallel()
	f, _ := newFormatter(testConfig(), testCampaign)
	payload, _ := f.Format(samplePost())
	m := payload.Body.(*Message)
	link := "https://news.camaca.org/unsubscribe?t=u.42.0.abc_-DEF"
	pz := f.newPersonaliser(m, link, "en")
	if !pz.fast {
		t.Fatal("the built-in templates do not take the fast path")
	}
	for _, name := range []string{"", "Anna", `O'Brien & <Sons> "+1"`, "Zoë"} {
		h, tx := pz.render(name, link)
		wh, wt, _ := f.personal(m, "en", name, link)
		if h != wh || tx != wt {
			t.Errorf("name %q: fast rendering differs from the full one", name)
		}
	}
	// A template that compares the name must take the slow, exact path.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "newsletter.txt"), []byte(`{{if eq .Name "Ann"}}Hi Ann{{else}}Hello {{.Name}}{{end}} {{.UnsubscribeURL}}`), 0o644)
	cfg := testConfig()
	cfg.Templates = dir
	f2, _ := newFormatter(cfg, testCampaign)
	payload, _ = f2.Format(samplePost())
	pz2 := f2.newPersonaliser(payload.Body.(*Message), link, "en")
	if pz2.fast {
		t.Error("a template comparing the name took the fast path")
	}
	if _, tx := pz2.render("Ann", link); !strings.HasPrefix(tx, "Hi Ann") {
		t.Errorf("slow path: %q", tx)
	}
}

// FuzzPlainHeader: the shortcut for plain headers never skips a change the
// full cleaning would make.
func FuzzPlainHeader(f *testing.F) {
	for _, s := range []string{"", "Ann", "Ann  Lee", " Ann", "Ann ", "A\tB", "Zoë", "a\r\nBcc: x", "\x7f", strings.Repeat("x", 101)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if plainHeader(s, 100) {
			if got := cleanHeaderFull(s, 100); got != s {
				t.Errorf("plainHeader(%q) but the full cleaning gives %q", s, got)
			}
		}
		if cleanHeader(s, 100) != cleanHeaderFull(s, 100) {
			t.Errorf("cleanHeader(%q) differs from the full cleaning", s)
		}
	})
}

// FuzzNameEscaper: the per-recipient escaping of names gives what
// html/template gives for {{.Name}} in text.
func FuzzNameEscaper(f *testing.F) {
	for _, s := range []string{"", "Ann", `Zoë <A&B> "C" 'D' +E=F`, "a\x00b", "\xff\xfe", "\ufdd0"} {
		f.Add(s)
	}
	tmpl := htmltemplate.Must(htmltemplate.New("name").Parse(`<p>{{.}}</p>`))
	f.Fuzz(func(t *testing.T, s string) {
		var want strings.Builder
		if err := tmpl.Execute(&want, s); err != nil {
			t.Fatal(err)
		}
		if got := "<p>" + nameEscaper.Replace(s) + "</p>"; got != want.String() {
			t.Errorf("name %q: escaped %q, html/template gives %q", s, got, want.String())
		}
	})
}

// TestDigestDatesAreCampaignTime: a digest dates each post in the
// campaign's time zone, summer and winter; a single post's mail does not.
func TestDigestDatesAreCampaignTime(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	camp := testCampaign
	camp.Location = london
	f, _ := newFormatter(testConfig(), camp)
	a, b := samplePost(), samplePost()
	a.PublishAt = time.Date(2031, 7, 1, 8, 0, 0, 0, time.UTC)
	b.ID, b.Title, b.PublishAt = "md:report", "Annual report", time.Date(2031, 1, 6, 9, 0, 0, 0, time.UTC)
	p, err := f.FormatDigest("digest-1", []post.Post{a, b})
	if err != nil {
		t.Fatal(err)
	}
	m := p.Body.(*Message)
	for _, want := range []string{"Tuesday 1 July 2031, 09:00 BST", "Monday 6 January 2031, 09:00 GMT"} {
		if !strings.Contains(m.Text, want) || !strings.Contains(m.HTML, want) {
			t.Errorf("digest lacks %q:\n%s", want, m.Text)
		}
	}
	single, _ := f.Format(a)
	if strings.Contains(single.Body.(*Message).Text, "BST") {
		t.Error("a single post's newsletter should not carry a date line")
	}
}
