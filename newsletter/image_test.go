package newsletter

import (
	"bytes"
	"context"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

func pngFile(t *testing.T) (string, []byte) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(2, 2, color.RGBA{B: 200, A: 255})
	var b bytes.Buffer
	png.Encode(&b, img)
	path := filepath.Join(t.TempDir(), "vigil poster.png")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, b.Bytes()
}

// Issue 9: the plain-text part never holds Markdown image syntax; the
// picture becomes its alt text.
func TestTextPartHasNoImageSyntax(t *testing.T) {
	f, _ := newFormatter(testConfig(), testCampaign)
	p := samplePost()
	p.Body = "Before.\n\n![Chart: victims 2010-2024](https://camaca.org/c.png \"title\")\n\n" +
		"[![Is it rising?](/img/r.png)](/report) and ![](https://camaca.org/spacer.gif) and ![ref img][r]\n\n[r]: https://camaca.org/r.png\n\nAfter."
	out, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	text := out.Body.(*Message).Text
	if strings.Contains(text, "![") {
		t.Errorf("text part has Markdown image syntax:\n%s", text)
	}
	for _, want := range []string{"[Image: Chart: victims 2010-2024]", "[Image: Is it rising?]", "[Image: ref img]", "Before.", "After."} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
}

// Issue 9: a feed item's image is shown once, as the lead image, not again
// where the body has it; alt text with punctuation survives.
func TestLeadImageIsNotRepeated(t *testing.T) {
	f, _ := newFormatter(testConfig(), testCampaign)
	p := samplePost()
	p.Image = &post.Image{URL: "https://camaca.org/img/chart.png", Alt: "Chart: victims 2010-2024"}
	p.Body = "Intro.\n\n![Chart: victims 2010-2024](https://camaca.org/img/chart.png)\n\nMore.\n\n![50% more & rising?](/img/other.png)"
	out, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	h := out.Body.(*Message).HTML
	if n := strings.Count(h, "https://camaca.org/img/chart.png"); n != 1 {
		t.Errorf("the lead image appears %d times in the HTML", n)
	}
	if !strings.Contains(h, `alt="50% more &amp; rising?"`) {
		t.Errorf("the body image lost its alt text:\n%s", h)
	}
}

// Issue 9: a post's local image travels in the mail as an inline part,
// shown by cid:, in preview's .eml and in what Mailpit receives.
func TestLocalImageIsInline(t *testing.T) { pgpeer.EachDriver(t, testLocalImageIsInline) }

func testLocalImageIsInline(t *testing.T, driver string) {
	path, data := pngFile(t)
	f, _ := newFormatter(testConfig(), testCampaign)
	p := samplePost()
	p.Image = &post.Image{File: path, Alt: "Poster: vigil & march?"}
	out, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := out.Body.(*Message)
	cid := regexp.MustCompile(`src="cid:([^"]+)"`).FindStringSubmatch(m.HTML)
	if cid == nil {
		t.Fatalf("the HTML shows no cid: image:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, `alt="Poster: vigil &amp; march?"`) {
		t.Errorf("alt text lost")
	}
	for _, w := range out.Warnings {
		if strings.Contains(w, "local file") || strings.Contains(w, "left out") {
			t.Errorf("warning %q", w)
		}
	}
	eml := string(out.Files[0].Data)
	if !strings.Contains(eml, "multipart/related") || !strings.Contains(eml, "Content-Id: <"+cid[1]+">") && !strings.Contains(eml, "Content-ID: <"+cid[1]+">") {
		t.Errorf("the .eml carries no inline part for %s:\n%s", cid[1], eml)
	}

	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	fx.add(t, "anna@example.org", "Anna", subscribers.Confirmed)
	fx.add(t, "ben@example.org", "Ben", subscribers.Confirmed)
	if _, err := fx.send(t, p); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msgs, err := mp.Messages(ctx)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("%d messages, %v", len(msgs), err)
	}
	for _, s := range msgs {
		got, err := mp.Message(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Inline) != 1 || got.Inline[0].ContentID != cid[1] || got.Inline[0].ContentType != "image/png" || len(got.Attachments) != 0 {
			t.Fatalf("%s: inline %+v attachments %+v", s.To[0].Address, got.Inline, got.Attachments)
		}
		part, err := mp.PartData(ctx, s.ID, got.Inline[0].PartID)
		if err != nil || !bytes.Equal(part, data) {
			t.Errorf("%s: the inline picture arrived as %d bytes (%v), want the file's %d", s.To[0].Address, len(part), err, len(data))
		}
		if !strings.Contains(got.HTML, "cid:"+cid[1]) || strings.Contains(got.Text, "![") {
			t.Errorf("%s: HTML or text part wrong", s.To[0].Address)
		}
	}
}

// An image file that cannot be used never stops the newsletter: it goes
// without, the warning and the receipt say why.
func TestMissingImageFileLeavesANote(t *testing.T) {
	pgpeer.EachDriver(t, testMissingImageFileLeavesANote)
}

func testMissingImageFileLeavesANote(t *testing.T, driver string) {
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	fx.add(t, "anna@example.org", "Anna", subscribers.Confirmed)
	p := samplePost()
	p.Image = &post.Image{File: filepath.Join(t.TempDir(), "gone.png"), Alt: "x"}
	out, err := fx.sender.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(out.Warnings, "\n"), "does not exist") {
		t.Errorf("warnings %q", out.Warnings)
	}
	r, err := fx.sender.Send(context.Background(), channels.Delivery{PostID: p.ID, Channel: "email", Attempt: 1}, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "image left out") {
		t.Errorf("notes %q", r.Notes)
	}
	if n, _ := mp.Count(context.Background()); n != 1 {
		t.Errorf("%d messages", n)
	}
}

// FuzzTextOfMarkdown: whatever the Markdown, the text part has no picture
// syntax left.
func FuzzTextOfMarkdown(f *testing.F) {
	for _, s := range []string{"![a](b)", "[![a](b)](c)", "![![a](b)](c)", "![a\\]b](c \"t\")", "![a][r]\n\n[r]: x", "!![a](b)", "!\\[a](b)", "![[x]](y)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, md string) {
		if out := textOfMarkdown(md); strings.Contains(out, "![") {
			t.Errorf("%q -> %q keeps picture syntax", md, out)
		}
	})
}
