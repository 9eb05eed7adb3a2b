package newsletter

import (
	"bytes"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/subscribers"
)

// TestMessagePartSizes reports what each part of one recipient's mail
// weighs (issue 27: a leaner message), for the post body in
// CRIER_EMAIL_BENCH_ARTICLE:
//
//	CRIER_EMAIL_BENCH_ARTICLE=$PWD/newsletter/testdata/bench-article.md go test ./newsletter -run TestMessagePartSizes -v
func TestMessagePartSizes(t *testing.T) {
	article := os.Getenv("CRIER_EMAIL_BENCH_ARTICLE")
	if article == "" {
		t.Skip("set CRIER_EMAIL_BENCH_ARTICLE to a Markdown file")
	}
	b, err := os.ReadFile(article)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	p := samplePost()
	p.Body = string(b)
	payload, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	signer := subscribers.NewSigner([]byte("test key, 32 bytes long, really"))
	sub := subscribers.Subscriber{ID: 12345, Email: "supporter0012345@example.org", Name: "Supporter 12345"}
	unsub := signer.UnsubscribeURL(testCampaign.PublicURL, sub)
	htmlOut, textOut, err := f.personal(m, "en", sub.Name, unsub)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := f.build(m.Subject, htmlOut, textOut, &mail.Address{Name: sub.Name, Address: sub.Email},
		messageID(m.SendID, "12345", f.domain), time.Now(), unsub, m.inline)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := msg.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	mailBytes := out.Bytes()
	hdrEnd := bytes.Index(mailBytes, []byte("\r\n\r\n"))
	header := mailBytes[:hdrEnd+2]
	encHTML, _ := encodedQP(stringBody(htmlOut))
	encText, _ := encodedQP(stringBody(textOut))
	styles := regexp.MustCompile(` style="[^"]*"`)
	var articleHTML string
	for _, it := range m.webItems {
		articleHTML += string(it.HTML)
	}
	articleStyles := styles.FindAllString(articleHTML, -1)
	allStyles := styles.FindAllString(htmlOut, -1)
	sum := func(ss []string) int {
		n := 0
		for _, s := range ss {
			n += len(s)
		}
		return n
	}
	t.Logf("mail: %d bytes", len(mailBytes))
	t.Logf("header: %d bytes, %d fields", len(header), len(regexp.MustCompile(`(?m)^[A-Za-z-]+:`).FindAll(header, -1)))
	t.Logf("text part: %d bytes, %d encoded", len(textOut), len(encText))
	t.Logf("HTML part: %d bytes, %d encoded (quoted-printable: +%.1f%%)", len(htmlOut), len(encHTML), 100*float64(len(encHTML)-len(htmlOut))/float64(len(htmlOut)))
	t.Logf("HTML: the article %d bytes with %d bytes of inline styles on %d elements; the template %d bytes with %d bytes of inline styles on %d elements",
		len(articleHTML), sum(articleStyles), len(articleStyles), len(htmlOut)-len(articleHTML), sum(allStyles)-sum(articleStyles), len(allStyles)-len(articleStyles))
	t.Logf("MIME structure (boundaries, part headers): %d bytes", len(mailBytes)-len(header)-2-len(encHTML)-len(encText))
	if dump := os.Getenv("CRIER_EMAIL_DUMP"); dump != "" {
		_ = os.WriteFile(dump, mailBytes, 0o644)
		_ = os.WriteFile(dump+".html", []byte(htmlOut), 0o644)
		_ = os.WriteFile(dump+".txt", []byte(textOut), 0o644)
	}
}

// TestParagraphMarginsComeFromTheStyleBlock: a post's paragraphs and list
// items carry no style attribute of their own (28 bytes a paragraph, 8% of
// a typical mail); the template's <style> gives them the margins they had.
func TestParagraphMarginsComeFromTheStyleBlock(t *testing.T) {
	t.Parallel()
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	p := samplePost()
	p.Body = "First paragraph with [a link](https://camaca.org/x).\n\nSecond.\n\n- one\n- two\n"
	payload, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	for _, want := range []string{"<p>First paragraph", "<p>Second.</p>", "<li>one</li>", `style="color:#1a56a8;">a link</a>`,
		".crier-card p { margin: 0 0 16px 0; }", ".crier-card li { margin: 0 0 4px 0; }"} {
		if !strings.Contains(m.HTML, want) {
			t.Errorf("the mail's HTML has no %q", want)
		}
	}
}
