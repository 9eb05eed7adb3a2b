package matrix_test

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/post"
)

func format(t *testing.T, p post.Post) []matrix.Message {
	t.Helper()
	pl, err := matrix.NewFormatter(matrix.Config{}, channels.Campaign{}).Format(p)
	if err != nil {
		t.Fatal(err)
	}
	return pl.Body.(matrix.Body).Messages
}

// formatted_body keeps only the HTML the specification allows: raw HTML,
// images (which must be mxc:// there) and unsafe links are left out.
func TestFormattedBodyIsTheHTMLTheSpecAllows(t *testing.T) {
	t.Parallel()
	m := format(t, post.Post{ID: "p", Title: "A <b>title</b> & more", Body: "## Plan\n\n<iframe src=x></iframe><b onclick=x>raw</b>\n\n" +
		"![poster](https://camaca.example/p.png) [bad](javascript:alert(1)) ~~old~~ `x<y`\n\n```go\nfmt.Println(1)\n```\n"})[0]
	for _, bad := range []string{"iframe", "onclick", "<img", "javascript", "<b>title"} {
		if strings.Contains(m.FormattedBody, bad) {
			t.Errorf("formatted_body holds %s:\n%s", bad, m.FormattedBody)
		}
	}
	for _, want := range []string{"<strong>A &lt;b&gt;title&lt;/b&gt; &amp; more</strong>", "<h2>Plan</h2>", "<del>old</del>", "<code>x&lt;y</code>", `<code class="language-go">`} {
		if !strings.Contains(m.FormattedBody, want) {
			t.Errorf("formatted_body lacks %s:\n%s", want, m.FormattedBody)
		}
	}
	if m.Format != "org.matrix.custom.html" || m.MsgType != "m.text" {
		t.Errorf("format %q, msgtype %q", m.Format, m.MsgType)
	}
}

// Behind a content warning every block's text is a spoiler with the
// warning as its reason, after a visible warning line; the plain body,
// which notifications show, leaves the text out.
func TestContentWarningIsASpoilerInEveryBlock(t *testing.T) {
	t.Parallel()
	m := format(t, post.Post{ID: "p", Title: "Report", Link: "https://camaca.example/r", ContentWarning: "violence",
		Body: "First *paragraph*.\n\n> A quote\n\n- one\n- two\n"})[0]
	for _, want := range []string{
		"<p><strong>Content warning: violence</strong></p>",
		`<p><span data-mx-spoiler="violence">First <em>paragraph</em>.</span></p>`,
		`<blockquote>`, `<span data-mx-spoiler="violence">A quote</span>`,
		`<li><span data-mx-spoiler="violence">one</span></li>`,
	} {
		if !strings.Contains(m.FormattedBody, want) {
			t.Errorf("formatted_body lacks %s:\n%s", want, m.FormattedBody)
		}
	}
	if strings.Contains(m.Body, "paragraph") || !strings.Contains(m.Body, "violence") || !strings.Contains(m.Body, "https://camaca.example/r") {
		t.Errorf("plain body %q", m.Body)
	}
}

// The plain body is the text for clients without HTML: links keep their
// address, lists their bullets; the organiser's own text for the instance
// replaces title and body.
func TestPlainBody(t *testing.T) {
	t.Parallel()
	m := format(t, post.Post{ID: "p", Title: "Vigil", Link: "https://camaca.example/v", Tags: []string{"human rights"},
		Body: "Bring [a candle](https://camaca.example/c).\n\n- one\n- two"})[0]
	want := "Vigil\n\nBring a candle (https://camaca.example/c).\n\n• one\n• two\n\nhttps://camaca.example/v\n\n#HumanRights"
	if m.Body != want {
		t.Errorf("plain body:\n%q\nwant\n%q", m.Body, want)
	}
	own := format(t, post.Post{ID: "p", Title: "Vigil", Body: "Body", Channels: map[string]post.Override{"matrix": {Text: "Our own words"}}})[0]
	if own.Body != "Our own words" || strings.Contains(own.FormattedBody, "Vigil") {
		t.Errorf("with the instance's own text: %q / %q", own.Body, own.FormattedBody)
	}
}

// Without a content warning the picture follows the text in the room;
// without alt text the payload warns.
func TestImageMessage(t *testing.T) {
	t.Parallel()
	pl, err := matrix.NewFormatter(matrix.Config{}, channels.Campaign{}).Format(post.Post{ID: "p", Title: "Vigil",
		Image: &post.Image{URL: "https://camaca.example/p.png"}})
	if err != nil {
		t.Fatal(err)
	}
	msgs := pl.Body.(matrix.Body).Messages
	if len(msgs) != 2 || msgs[1].MsgType != "m.image" || msgs[1].InThread || msgs[1].Image.URL != "https://camaca.example/p.png" || msgs[1].Body != "Image" {
		t.Errorf("messages %+v", msgs)
	}
	if len(pl.Warnings) != 1 || !strings.Contains(pl.Warnings[0], "no alt text") {
		t.Errorf("warnings %q", pl.Warnings)
	}
}

// A long plain text keeps both limits in every message of its thread.
func TestLongTextKeepsBothLimits(t *testing.T) {
	t.Parallel()
	word := "https://camaca.example/a-long-address-in-plain-text "
	msgs := format(t, post.Post{ID: "p", Title: "Links", Body: strings.Repeat(word, 2000)})
	if len(msgs) < 3 {
		t.Fatalf("%d messages for %d bytes of text", len(msgs), 2000*len(word))
	}
	total := 0
	for i, m := range msgs {
		if matrix.EncodedLen(m.Body) > matrix.MaxBodyBytes || matrix.EncodedLen(m.FormattedBody) > matrix.MaxHTMLBytes {
			t.Errorf("message %d: body %d bytes, HTML %d", i, matrix.EncodedLen(m.Body), matrix.EncodedLen(m.FormattedBody))
		}
		total += strings.Count(m.Body, "a-long-address")
	}
	if total != 2000 {
		t.Errorf("the thread carries %d of the 2000 addresses", total)
	}
}

// A soft line break in the Markdown is a space, and no line breaks stand
// between blocks, so a client that shows them adds no empty lines; a code
// block keeps its own.
func TestNoStrayLineBreaks(t *testing.T) {
	t.Parallel()
	m := format(t, post.Post{ID: "p", Body: "one\ntwo\n\n- a\n- b\n\n> q\n\n```\nx\ny\n```\n"})[0]
	want := "<p>one two</p><ul><li>a</li><li>b</li></ul><blockquote><p>q</p></blockquote><pre><code>x\ny\n</code></pre>"
	if m.FormattedBody != want {
		t.Errorf("formatted_body\n%q\nwant\n%q", m.FormattedBody, want)
	}
}
