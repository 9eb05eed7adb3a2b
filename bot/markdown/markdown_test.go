package markdown

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/post"
)

const full = `---
id: call-to-action
title: "ICAT's Call to Action is not enough"
summary: The UN's coordination group asks for action. We ask for more.
link: https://camaca.example/news/call-to-action
tags: [child trafficking, "#human rights", Child Trafficking, ""]
image:
  url: https://camaca.example/images/chain.jpg
  alt: A broken chain on a grey background
language: en-GB
content_warning: child trafficking
publish_at: 2031-05-01T09:00:00+01:00
draft: false
channels:
  mastodon:
    text: Short version for the fediverse.
  discord:
    mention: "@everyone"
  email:
    skip: true
---

On 8 November 2023 ICAT issued a **Call to Action**.

Support this campaign.
`

func TestParseFull(t *testing.T) {
	t.Parallel()
	p, err := Parse("posts/2023-11-08-call.md", []byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := post.Post{
		ID:             "md:call-to-action",
		Title:          "ICAT's Call to Action is not enough",
		Summary:        "The UN's coordination group asks for action. We ask for more.",
		Body:           "On 8 November 2023 ICAT issued a **Call to Action**.\n\nSupport this campaign.",
		Link:           "https://camaca.example/news/call-to-action",
		Tags:           []string{"child trafficking", "human rights"},
		Image:          &post.Image{URL: "https://camaca.example/images/chain.jpg", Alt: "A broken chain on a grey background"},
		Language:       "en-GB",
		ContentWarning: "child trafficking",
		PublishAt:      time.Date(2031, 5, 1, 8, 0, 0, 0, time.UTC),
		Channels: map[string]post.Override{
			"mastodon": {Text: "Short version for the fediverse."},
			"discord":  {Mention: "everyone"},
			"email":    {Skip: true},
		},
		Source: post.Source{Kind: "markdown", Name: "posts", Ref: "posts/2023-11-08-call.md", Key: "call-to-action"},
	}
	want.Source.Hash = want.ContentHash()
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
	if p.Source.Hash == "" {
		t.Error("no content hash")
	}
}

func TestParseVariants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file, src string
		check           func(t *testing.T, p post.Post)
	}{
		{"slug from file name and no publish_at", "posts/2024-01-02 Our News!.md", "---\ntitle: Hello\n---\nBody\n", func(t *testing.T, p post.Post) {
			if p.ID != "md:2024-01-02-our-news" || p.Source.Key != "2024-01-02-our-news" {
				t.Errorf("id %q key %q", p.ID, p.Source.Key)
			}
			if !p.PublishAt.IsZero() {
				t.Errorf("PublishAt = %v, want zero (publish when seen)", p.PublishAt)
			}
		}},
		{"BOM and CRLF", "a.md", "\ufeff---\r\ntitle: Hello\r\ntags:\r\n  - one\r\n---\r\nLine one\r\nLine two\r\n", func(t *testing.T, p post.Post) {
			if p.Title != "Hello" || p.Body != "Line one\nLine two" || !reflect.DeepEqual(p.Tags, []string{"one"}) {
				t.Errorf("got %+v", p)
			}
		}},
		{"old Mac line endings", "a.md", "---\rtitle: Hello\r---\rLine one\rLine two", func(t *testing.T, p post.Post) {
			if p.Title != "Hello" || p.Body != "Line one\nLine two" {
				t.Errorf("got %+v", p)
			}
		}},
		{"empty body", "a.md", "---\ntitle: Only a title\n---\n", func(t *testing.T, p post.Post) {
			if p.Body != "" || p.Title != "Only a title" {
				t.Errorf("got %+v", p)
			}
		}},
		{"no newline after closing", "a.md", "---\ntitle: T\n---", func(t *testing.T, p post.Post) {
			if p.Title != "T" {
				t.Errorf("got %+v", p)
			}
		}},
		{"leading blank lines", "a.md", "\n\n---\ntitle: T\n---\nx", func(t *testing.T, p post.Post) {
			if p.Body != "x" {
				t.Errorf("got %+v", p)
			}
		}},
		{"date only is midnight UTC", "a.md", "---\ntitle: T\npublish_at: 2031-01-02\n---\n", func(t *testing.T, p post.Post) {
			if !p.PublishAt.Equal(time.Date(2031, 1, 2, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("PublishAt = %v", p.PublishAt)
			}
		}},
		{"minute form is UTC", "a.md", "---\ntitle: T\npublish_at: 2031-01-02 15:04\n---\n", func(t *testing.T, p post.Post) {
			if !p.PublishAt.Equal(time.Date(2031, 1, 2, 15, 4, 0, 0, time.UTC)) {
				t.Errorf("PublishAt = %v", p.PublishAt)
			}
		}},
		{"draft", "a.md", "---\ntitle: T\ndraft: true\n---\n", func(t *testing.T, p post.Post) {
			if !p.Draft || p.Due(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("draft %v", p.Draft)
			}
		}},
		{"relative image file beside the post", filepath.Join("posts", "a.md"), "---\ntitle: T\nimage:\n  file: img/x.png\n  alt: X\n---\n", func(t *testing.T, p post.Post) {
			if p.Image == nil || p.Image.File != filepath.Join("posts", "img", "x.png") || p.Image.Alt != "X" {
				t.Errorf("image %+v", p.Image)
			}
		}},
		{"dashes inside the body stay", "a.md", "---\ntitle: T\n---\nabove\n\n---\n\nbelow\n", func(t *testing.T, p post.Post) {
			if p.Body != "above\n\n---\n\nbelow" {
				t.Errorf("body %q", p.Body)
			}
		}},
		{"numbers as text", "a.md", "---\ntitle: 2024\nid: 42\n---\n", func(t *testing.T, p post.Post) {
			if p.Title != "2024" || p.ID != "md:42" {
				t.Errorf("got %+v", p)
			}
		}},
		{"null fields are absent", "a.md", "---\ntitle: T\nsummary:\ntags:\nimage:\nchannels:\n---\n", func(t *testing.T, p post.Post) {
			if p.Summary != "" || p.Tags != nil || p.Image != nil || p.Channels != nil {
				t.Errorf("got %+v", p)
			}
		}},
		{"huge body is fine under the limit", "a.md", "---\ntitle: T\n---\n" + strings.Repeat("Support this campaign. ", 40000), func(t *testing.T, p post.Post) {
			if len(p.Body) < 900000 {
				t.Errorf("body length %d", len(p.Body))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.file, []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, p)
		})
	}
}

// testReader knows the channels of the shipped config.yaml.
var testReader = Reader{Channels: []Channel{{Name: "mastodon"}, {Name: "discord", Mention: true}, {Name: "email"}}}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		want      []string // each must appear in the error
	}{
		{"no front matter", "# Title\n\nText", []string{"post.md:1:", "no front matter"}},
		{"empty file", "", []string{"post.md:", "empty"}},
		{"toml", "+++\ntitle = 'x'\n+++\n", []string{"post.md:1:", "TOML"}},
		{"unterminated", "---\ntitle: x\nbody", []string{"post.md:1:", "never closed"}},
		{"missing title", "---\nsummary: s\n---\n", []string{"post.md:1:", "title is required"}},
		{"empty title", "---\ntitle: \"  \"\n---\n", []string{"post.md:2:", "title is empty"}},
		{"empty front matter", "---\n---\n", []string{"title is required"}},
		{"unknown key with hint", "---\ntitle: x\ntitel: y\n---\n", []string{"post.md:3:", `unknown field "titel"`, `did you mean "title"`}},
		{"unknown key in image", "---\ntitle: x\nimage:\n  url: https://camaca.example/a.jpg\n  alt_text: y\n---\n", []string{"post.md:5:", `unknown field "alt_text"`, "known fields: url, file, alt"}},
		{"duplicate key", "---\ntitle: x\ntitle: y\n---\n", []string{"post.md:3:", "given twice"}},
		{"bad date", "---\ntitle: x\npublish_at: next tuesday\n---\n", []string{"post.md:3:", "publish_at", "next tuesday"}},
		{"bad bool", "---\ntitle: x\ndraft: maybe\n---\n", []string{"post.md:3:", "draft: expected true or false", "maybe"}},
		{"tags not a list", "---\ntitle: x\ntags: one, two\n---\n", []string{"post.md:3:", "tags: expected a list"}},
		{"title is a list", "---\ntitle:\n  - a\n---\n", []string{"post.md:3:", "title: expected text, found a list"}},
		{"image is text", "---\ntitle: x\nimage: https://camaca.example/a.jpg\n---\n", []string{"post.md:3:", "image: expected fields"}},
		{"image url and file", "---\ntitle: x\nimage:\n  url: https://camaca.example/a.jpg\n  file: a.jpg\n---\n", []string{"post.md:4:", "not both"}},
		{"image without source", "---\ntitle: x\nimage:\n  alt: a\n---\n", []string{"post.md:4:", "needs url"}},
		{"relative link", "---\ntitle: x\nlink: /news/x\n---\n", []string{"post.md:3:", "not a full web address"}},
		{"javascript link", "---\ntitle: x\nlink: javascript:alert(1)\n---\n", []string{"post.md:3:", "not a full web address"}},
		{"bad id", "---\ntitle: x\nid: has space\n---\n", []string{"post.md:3:", `id "has space"`}},
		{"bad language", "---\ntitle: x\nlanguage: English\n---\n", []string{"post.md:3:", "language"}},
		{"unknown channel", "---\ntitle: x\nchannels:\n  mastadon:\n    skip: true\n---\n", []string{"post.md:4:", `"mastadon"`, `did you mean "mastodon"`}},
		{"mention outside discord", "---\ntitle: x\nchannels:\n  email:\n    mention: here\n---\n", []string{"post.md:5:", "email cannot mention a role; only discord can"}},
		{"bad mention", "---\ntitle: x\nchannels:\n  discord:\n    mention: admins\n---\n", []string{"post.md:5:", "role id"}},
		{"yaml syntax error is offset", "---\ntitle: x\nsummary: [unclosed\n---\n", []string{"post.md:3:", "cannot be read", `never closed with "]"`}},
		{"colon in a value, in plain words on its line", "---\nsummary: ok\ntitle: Vigil: Saturday\n---\n", []string{"post.md:3:", "put the whole value in quotes"}},
		{"unclosed quote on its own line", "---\ntitle: ok\nlink: \"https://camaca.example\nsummary: s\n---\n", []string{"post.md:3:", "quoted value is never closed"}},
		{"front matter is a list", "---\n- a\n- b\n---\n", []string{"post.md:2:", "must be fields"}},
		{"every problem at once", "---\ntitel: x\ndraft: perhaps\n---\n", []string{"post.md:2:", "post.md:3:", "title is required"}},
		{"utf16", "\xff\xfe-\x00-\x00", []string{"UTF-16"}},
		{"invalid utf8", "---\ntitle: x\n---\nbad \xc3\x28 byte\n", []string{"post.md:4:", "UTF-8"}},
		{"too big", "---\ntitle: x\n---\n" + strings.Repeat("x", MaxFileSize), []string{"post.md:", "at most 1 MiB"}},
		{"no id possible", "---\ntitle: x\n---\n", nil}, // checked below with a file name of punctuation
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "post.md"
			if tt.want == nil {
				name = "!!!.md"
				tt.want = []string{"!!!.md:1:", "cannot make an id"}
			}
			p, err := testReader.Parse(name, []byte(tt.src))
			if err == nil {
				t.Fatalf("no error; got %+v", p)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestYAMLSyntaxErrorLine(t *testing.T) {
	t.Parallel()
	// The YAML error is on the front matter's line 3, which is the file's line 4.
	_, err := Parse("p.md", []byte("---\ntitle: x\nsummary: ok\n  bad: indent\n---\n"))
	if err == nil || !strings.Contains(err.Error(), "p.md:4:") {
		t.Fatalf("error %v, want one at p.md:4", err)
	}
}

func TestLoadDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"b.md":         "---\ntitle: B\n---\n",
		"a.md":         "---\ntitle: A\n---\n",
		"broken.md":    "no front matter",
		"c.md":         "---\ntitle: C\nid: a\n---\n", // reuses a.md's id
		"README.md":    "# How to write posts",
		"_template.md": "---\n---\n",
		".hidden.md":   "x",
		"notes.txt":    "x",
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.md"), 0o755); err != nil {
		t.Fatal(err)
	}
	posts, errs := LoadDir(dir)
	var ids []string
	for _, p := range posts {
		ids = append(ids, p.ID)
		if p.Source.Name != dir {
			t.Errorf("%s: source name %q, want %q", p.ID, p.Source.Name, dir)
		}
	}
	if !reflect.DeepEqual(ids, []string{"md:a", "md:b"}) {
		t.Errorf("ids %v", ids)
	}
	if len(errs) != 2 {
		t.Fatalf("errs %v, want 2 (broken.md, c.md)", errs)
	}
	if !strings.Contains(errs[0].Error(), "broken.md:1:") || !strings.Contains(errs[1].Error(), "c.md") || !strings.Contains(errs[1].Error(), "already used") {
		t.Errorf("errs %v", errs)
	}

	if _, errs := LoadDir(filepath.Join(dir, "missing")); len(errs) != 1 {
		t.Errorf("missing folder: errs %v", errs)
	}
}

// The shipped sample posts must parse, and show each feature they stand for.
func TestSamplePosts(t *testing.T) {
	t.Parallel()
	posts, errs := LoadDir(filepath.Join("..", "..", "posts"))
	for _, err := range errs {
		t.Error(err)
	}
	var draft, scheduled, image, warning bool
	far := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range posts {
		draft = draft || p.Draft
		scheduled = scheduled || p.PublishAt.After(far)
		image = image || (p.Image != nil && p.Image.Alt != "")
		warning = warning || p.ContentWarning != ""
		if !strings.HasPrefix(p.Link, "https://camaca.example/") {
			t.Errorf("%s: link %q is not on camaca.example", p.ID, p.Link)
		}
		// Shipped samples must never be sent for real (issue 9).
		if !p.Example {
			t.Errorf("%s: a shipped sample must say example: true", p.Source.Ref)
		}
	}
	if len(posts) < 3 || !draft || !scheduled || !image || !warning {
		t.Errorf("samples: %d posts, draft %v, scheduled %v, image %v, content warning %v", len(posts), draft, scheduled, image, warning)
	}
}

func TestParseFileMissing(t *testing.T) {
	t.Parallel()
	if _, err := ParseFile(filepath.Join(t.TempDir(), "nope.md")); err == nil || !strings.Contains(err.Error(), "nope.md") {
		t.Errorf("error %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add([]byte("---\ntitle: x\n---\n"))
	f.Add([]byte("\ufeff---\r\ntitle: x\r\n---\r\n"))
	f.Add([]byte("---\ntitle: &a x\nsummary: *a\n---\n"))
	f.Add([]byte("---\ntitle: x\nchannels: {discord: {mention: here}}\n---\n"))
	f.Add([]byte("---\ntitle: x\npublish_at: 2031-03-30 01:30\nexample: true\n---\n"))
	f.Add([]byte("---\ntitle: x\npublish_at: 2031-10-26 1:30\n---\n"))
	// Times without an offset are read in a zone with summer time.
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseIn("fuzz.md", data, london)
		if err != nil {
			return
		}
		if p.ID == "" || p.ID == IDPrefix || strings.TrimSpace(p.Title) == "" {
			t.Fatalf("accepted a post without id or title: %+v", p)
		}
		if p.Source.Hash == "" {
			t.Fatal("accepted a post without a content hash")
		}
	})
}

// Front matter addresses a channel instance by its name in config.yaml.
func TestOverridesAddressInstances(t *testing.T) {
	t.Parallel()
	r := Reader{Channels: []Channel{{Name: "mastodon"}, {Name: "mastodon-leeds"}, {Name: "discord-partners", Mention: true}}}
	p, err := r.Parse("post.md", []byte("---\ntitle: x\nchannels:\n  mastodon-leeds:\n    skip: true\n  discord-partners:\n    mention: here\n    text: Partners, please share.\n---\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Skips("mastodon-leeds") || p.Skips("mastodon") || p.TextFor("discord-partners") != "Partners, please share." || p.Channels["discord-partners"].Mention != "here" {
		t.Errorf("overrides %+v", p.Channels)
	}
	_, err = r.Parse("post.md", []byte("---\ntitle: x\nchannels:\n  mastodon-leds:\n    skip: true\n---\n"))
	if err == nil || !strings.Contains(err.Error(), `post.md:4:`) || !strings.Contains(err.Error(), `did you mean "mastodon-leeds"`) {
		t.Errorf("want a did-you-mean for a misspelt instance, got %v", err)
	}
	// Knowing no channels (no config at hand), any well-formed name is
	// accepted; the configured channels decide when it is published.
	if _, err := Parse("post.md", []byte("---\ntitle: x\nchannels:\n  mastodon-leeds: {skip: true}\n  Not A Name: {skip: true}\n---\n")); err == nil || !strings.Contains(err.Error(), `"Not A Name" is not a channel name`) {
		t.Errorf("want a bad name refused, got %v", err)
	}
}

func TestYAMLSyntaxErrorHasNoFollowOnTitleError(t *testing.T) {
	_, err := Parse("p.md", []byte("---\ntitle: Vigil: Saturday\n---\nBody.\n"))
	if err == nil || !strings.Contains(err.Error(), "p.md:2:") {
		t.Fatalf("want the mistake on line 2, got %v", err)
	}
	if strings.Contains(err.Error(), "title is required") || strings.Contains(err.Error(), "\n") {
		t.Errorf("one problem, not a follow-on one: %v", err)
	}
}

// TestPublishAtWithoutOffsetIsCampaignTime: a time without an offset is
// read in the campaign's zone, with daylight saving; an offset wins.
func TestPublishAtWithoutOffsetIsCampaignTime(t *testing.T) {
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Fatal(err)
	}
	for at, want := range map[string]time.Time{
		"2031-07-01 09:00":          time.Date(2031, 7, 1, 8, 0, 0, 0, time.UTC), // BST
		"2031-01-06 09:00":          time.Date(2031, 1, 6, 9, 0, 0, 0, time.UTC), // GMT
		"2031-07-01T09:00:30":       time.Date(2031, 7, 1, 8, 0, 30, 0, time.UTC),
		"2031-07-01 9:00":           time.Date(2031, 7, 1, 8, 0, 0, 0, time.UTC),
		"2031-10-26 01:30":          time.Date(2031, 10, 26, 1, 30, 0, 0, time.UTC), // twice that night: Go takes the GMT one
		"2031-07-01":                time.Date(2031, 6, 30, 23, 0, 0, 0, time.UTC),  // midnight in London
		"2031-07-01T09:00:00+02:00": time.Date(2031, 7, 1, 7, 0, 0, 0, time.UTC),
		"2031-07-01T09:00:00Z":      time.Date(2031, 7, 1, 9, 0, 0, 0, time.UTC),
	} {
		p, err := ParseIn("posts/vigil.md", []byte("---\ntitle: Vigil\npublish_at: "+at+"\n---\n"), london)
		if err != nil {
			t.Fatal(err)
		}
		if !p.PublishAt.Equal(want) {
			t.Errorf("publish_at %q read as %s, want %s", at, p.PublishAt.UTC(), want)
		}
	}
	_, err = ParseIn("posts/vigil.md", []byte("---\ntitle: Vigil\npublish_at: 2031-03-30 01:30\n---\n"), london)
	if err == nil || !strings.Contains(err.Error(), "posts/vigil.md:3: publish_at: 2031-03-30 01:30 does not exist in Europe/London") {
		t.Errorf("a time in the hour the clocks skip should be refused with its line: %v", err)
	}
	_, err = ParseIn("posts/vigil.md", []byte("---\ntitle: Vigil\npublish_at: next tuesday\n---\n"), london)
	if err == nil || !strings.Contains(err.Error(), "posts/vigil.md:3:") || !strings.Contains(err.Error(), "Europe/London") {
		t.Fatalf("the error should name the line and the zone times are read in: %v", err)
	}
}

func TestExampleField(t *testing.T) {
	p, err := Parse("posts/sample.md", []byte("---\nexample: true\ntitle: A sample\n---\n"))
	if err != nil || !p.Example {
		t.Fatalf("example: true not read: %v %+v", err, p)
	}
	if _, err := Parse("posts/sample.md", []byte("---\nexample: sure\ntitle: A sample\n---\n")); err == nil || !strings.Contains(err.Error(), "posts/sample.md:2: example: expected true or false") {
		t.Fatalf("want a line-numbered error, got %v", err)
	}
}
