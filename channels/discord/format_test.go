package discord

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

var campaign = channels.Campaign{Name: "Safe Passage", Website: "https://safepassage.example"}

func format(t testing.TB, cfg Config, p post.Post) Message {
	t.Helper()
	pl, err := NewFormatter(cfg, campaign).Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := pl.Body.(Message)
	checkLimits(t, m)
	return m
}

// checkLimits fails when a message breaks any of Discord's limits.
func checkLimits(t testing.TB, m Message) {
	t.Helper()
	if n := length(m.Content); n > maxContent {
		t.Errorf("content has %d characters", n)
	}
	if len(m.Embeds) != 1 {
		t.Fatalf("%d embeds, want 1", len(m.Embeds))
	}
	e := m.Embeds[0]
	for _, c := range []struct {
		what string
		s    string
		max  int
	}{
		{"title", e.Title, maxTitle}, {"description", e.Description, maxDescription}, {"url", e.URL, maxURL},
	} {
		if n := length(c.s); n > c.max {
			t.Errorf("%s has %d characters, limit %d", c.what, n, c.max)
		}
	}
	if e.Author != nil && length(e.Author.Name) > maxAuthor {
		t.Errorf("author has %d characters", length(e.Author.Name))
	}
	if e.Footer != nil && length(e.Footer.Text) > maxFooter {
		t.Errorf("footer has %d characters", length(e.Footer.Text))
	}
	if len(e.Fields) > maxFields {
		t.Errorf("%d fields", len(e.Fields))
	}
	for _, f := range e.Fields {
		if length(f.Name) > maxFieldName || length(f.Value) > maxFieldValue || strings.TrimSpace(f.Value) == "" {
			t.Errorf("field %q has %d/%d characters", f.Name, length(f.Name), length(f.Value))
		}
	}
	if e.Image != nil && (length(e.Image.Description) > maxDescription || length(e.Image.URL) > maxURL) {
		t.Errorf("image too long")
	}
	if n := embedTotal(e); n > maxEmbedTotal {
		t.Errorf("embed total %d characters", n)
	}
	if length(m.Nonce) > maxNonce {
		t.Errorf("nonce %q too long", m.Nonce)
	}
	if m.AllowedMentions.Parse == nil {
		t.Errorf("allowed_mentions.parse is null")
	}
	// Text from the post never forms a mention, a ping or raw HTML.
	texts := []string{e.Title, e.Description}
	for _, f := range e.Fields {
		texts = append(texts, f.Value)
	}
	for _, s := range texts {
		if mentionLike.MatchString(s) {
			t.Errorf("text forms a mention: %q", mentionLike.FindString(s))
		}
	}
}

// mentionLike finds @everyone/@here and an unescaped "<" opening a user,
// role, channel, emoji or timestamp mention.
var mentionLike = regexp.MustCompile(`(?i)@(everyone|here)|(^|[^\\])(\\\\)*<[@#:at]`)

func TestLimitsOnHardInputs(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("Trafficking networks move children across borders every day. ", 4000)
	var manyTags []string
	for i := 0; i < 1000; i++ {
		manyTags = append(manyTags, fmt.Sprintf("tag%d%s", i, strings.Repeat("x", i%30)))
	}
	for _, tc := range []struct {
		name  string
		post  post.Post
		check func(t *testing.T, m Message)
	}{
		{"huge body keeps the link", post.Post{ID: "a", Title: "T", Link: "https://x.example/a", Body: huge}, func(t *testing.T, m Message) {
			d := m.Embeds[0].Description
			if !strings.HasSuffix(d, "\n\n[Read more](https://x.example/a)") || !strings.Contains(d, "…") {
				t.Errorf("description does not end with an ellipsis and the link: %q", d[len(d)-80:])
			}
			if length(d) < maxDescription-100 {
				t.Errorf("description wastes room: %d characters", length(d))
			}
		}},
		{"one endless word", post.Post{ID: "b", Title: strings.Repeat("W", 5000), Body: strings.Repeat("x", 9000)}, nil},
		{"huge emoji title", post.Post{ID: "c", Title: strings.Repeat("🚸 ", 500), Link: "https://x.example/c"}, func(t *testing.T, m Message) {
			if !strings.HasSuffix(m.Embeds[0].Title, "…") {
				t.Errorf("title not shortened with an ellipsis: %q", m.Embeds[0].Title)
			}
		}},
		{"title of one long symbol run", post.Post{ID: "q", Title: strings.Repeat(">", 10000) + " deep", Body: strings.Repeat(">", 10000) + " deep"}, func(t *testing.T, m Message) {
			if !strings.HasPrefix(m.Embeds[0].Title, `\>\>`) {
				t.Errorf("title lost: %q", m.Embeds[0].Title)
			}
		}},
		{"a megabyte of Markdown punctuation", post.Post{ID: "p", Title: "T", Body: strings.Repeat("a*b_c [d](e) <f> ", 60000), Link: "https://x.example/p"}, nil},
		{"first word longer than the description", post.Post{ID: "w", Title: "T", Body: strings.Repeat("w", 5000) + " end", Link: "https://x.example/w"}, func(t *testing.T, m Message) {
			if d := m.Embeds[0].Description; !strings.HasPrefix(d, "www") {
				t.Errorf("description lost the text: %q", d[:20])
			}
		}},
		{"many tags", post.Post{ID: "d", Title: "T", Tags: manyTags}, func(t *testing.T, m Message) {
			f := m.Embeds[0].Fields[0]
			if !strings.HasSuffix(f.Value, "· …") {
				t.Errorf("tags value does not say some were left out: %q", f.Value[len(f.Value)-20:])
			}
		}},
		{"every field at its longest", post.Post{ID: "e", Title: strings.Repeat("title ", 100), Body: huge, Tags: manyTags,
			ContentWarning: strings.Repeat("warning ", 300), Link: "https://x.example/e"}, nil},
		{"long bold paragraph stays balanced", post.Post{ID: "f", Title: "T", Body: "**" + strings.TrimSpace(huge[:20000]) + "**"}, func(t *testing.T, m Message) {
			d := m.Embeds[0].Description
			if !strings.HasPrefix(d, "**") || !strings.HasSuffix(d, "…**") {
				t.Errorf("bold not closed after the cut: %q…%q", d[:10], d[len(d)-10:])
			}
		}},
		{"cut inside a code block closes it", post.Post{ID: "g", Title: "T", Body: "```\n" + strings.Repeat("x = 1\n", 2000) + "```"}, func(t *testing.T, m Message) {
			if d := m.Embeds[0].Description; !strings.HasSuffix(d, "\n```") || strings.Count(d, "```") != 2 {
				t.Errorf("code block not closed: %q", d[len(d)-20:])
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := format(t, Config{Colour: "#000000"}, tc.post)
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

func TestMarkdownToDiscord(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Hello *world* and __strong__", "Hello *world* and **strong**"},
		{"# Heading with **bold**\n\nText", "**Heading with bold**\n\nText"},
		{"- one\n- two\n  1. sub", "- one\n- two\n  1. sub"},
		{"3. three\n4. four", "3. three\n4. four"},
		{"See [the report](/reports/1).", "See [the report](https://safepassage.example/reports/1)."},
		{"[bad](javascript:alert(1)) link", "bad link"},
		{"<script>alert(1)</script>\n\nafter", "after"},
		{"<b>bold</b> &amp; <i>it</i>", "bold & it"},
		{"a ||spoiler|| and ~~gone~~ and `co*de`", "a \\|\\|spoiler\\|\\| and ~~gone~~ and `co*de`"},
		{"Ping @everyone and @here and <@&123456789012345678>", "Ping @\u200beveryone and @\u200bhere and \\<@&123456789012345678\\>"},
		{"text [masked](https://evil.example) \\[not a link\\](https://x)", "text [masked](https://evil.example) \\[not a link\\](https://x)"},
		{"> quoted\n> line", "> quoted line"},
		{"- # not heading", "- **not heading**"},
		{"1986\\. A fine year", "1986\\. A fine year"},
		{"line one  \nline two", "line one\nline two"},
		{"Visit https://safepassage.example/a_b now", "Visit https://safepassage.example/a%5Fb now"},
		{"```\nfence ``` inside\n```", "```\nfence `\u200b`` inside\n```"},
	} {
		base := mustURL("https://safepassage.example/news/x")
		got, _ := truncate(renderMarkdown(tc.in, base), maxDescription, "")
		if got != tc.want {
			t.Errorf("%q\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}

func TestMentions(t *testing.T) {
	t.Parallel()
	role, other := "123456789012345678", "223456789012345678"
	for _, tc := range []struct {
		name, cfg, override string
		content             string
		parse, roles        []string
	}{
		{"none", "", "", "", []string{}, nil},
		{"configured role", role, "", "<@&" + role + ">", []string{}, []string{role}},
		{"post overrides the role", role, other, "<@&" + other + ">", []string{}, []string{other}},
		{"post turns it off", role, "none", "", []string{}, nil},
		{"everyone", "", "everyone", "@everyone", []string{"everyone"}, nil},
		{"here", "here", "", "@here", []string{"everyone"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := samplePost("md:m")
			p.Title = "@everyone <@&" + other + "> look"
			p.Tags = []string{"@here", "<@1234>"}
			p.Image = &post.Image{URL: "https://x.example/i.png", Alt: "@everyone"}
			if tc.override != "" {
				p.Channels = map[string]post.Override{Name: {Mention: tc.override}}
			}
			m := format(t, Config{Mention: tc.cfg}, p)
			if m.Content != tc.content || strings.Join(m.AllowedMentions.Parse, ",") != strings.Join(tc.parse, ",") || strings.Join(m.AllowedMentions.Roles, ",") != strings.Join(tc.roles, ",") {
				t.Errorf("content %q allowed %+v; want %q parse %v roles %v", m.Content, m.AllowedMentions, tc.content, tc.parse, tc.roles)
			}
		})
	}
	p := samplePost("md:bad")
	p.Channels = map[string]post.Override{Name: {Mention: "<@&1>"}}
	if _, err := NewFormatter(Config{}, campaign).Format(p); err == nil || !strings.Contains(err.Error(), "mention") {
		t.Errorf("a bad mention override gave %v, want an error naming it", err)
	}
}

func TestEmbedParts(t *testing.T) {
	t.Parallel()
	p := samplePost("md:parts")
	p.Image = &post.Image{URL: "/img/march.jpg", Alt: "Marchers with a banner"}
	p.Channels = map[string]post.Override{Name: {Text: "Short *Discord* text."}}
	m := format(t, Config{Colour: "#c0392b"}, p)
	e := m.Embeds[0]
	if e.URL != p.Link || e.Title != p.Title || e.Description != "Short *Discord* text." {
		t.Errorf("embed %+v", e)
	}
	if e.Color == nil || *e.Color != 0xc0392b || e.Timestamp != "2026-11-08T09:00:00Z" {
		t.Errorf("colour %v timestamp %q", e.Color, e.Timestamp)
	}
	if e.Image == nil || e.Image.URL != "https://safepassage.example/img/march.jpg" || e.Image.Description != "Marchers with a banner" {
		t.Errorf("image %+v", e.Image)
	}
	if e.Author == nil || e.Author.Name != "Safe Passage" || e.Footer == nil || e.Footer.Text != "Safe Passage" {
		t.Errorf("author %+v footer %+v", e.Author, e.Footer)
	}
	if len(e.Fields) != 1 || e.Fields[0].Value != "trafficking · UN" {
		t.Errorf("fields %+v", e.Fields)
	}
	// The same post always gives the same payload (pure formatter).
	again := format(t, Config{Colour: "#c0392b"}, p)
	if again.Nonce != m.Nonce || again.Embeds[0].Description != e.Description {
		t.Error("formatting is not deterministic")
	}
}

func TestContentWarningHidesTextAndImage(t *testing.T) {
	t.Parallel()
	p := samplePost("md:cw")
	p.ContentWarning = "descriptions of abuse"
	p.Image = &post.Image{URL: "https://x.example/i.png", Alt: "photo"}
	pl, err := NewFormatter(Config{}, campaign).Format(p)
	if err != nil {
		t.Fatal(err)
	}
	e := pl.Body.(Message).Embeds[0]
	if !strings.HasPrefix(e.Description, "||") || !strings.Contains(e.Description, "||\n\n") && !strings.HasSuffix(e.Description, "||") {
		t.Errorf("description not behind a spoiler: %q", e.Description)
	}
	if e.Image != nil || len(pl.Warnings) == 0 {
		t.Errorf("image %+v kept, warnings %v", e.Image, pl.Warnings)
	}
	// The image is not dropped: it goes as a spoiler attachment.
	m := pl.Body.(Message)
	if len(m.Attachments) != 1 || m.Attachments[0].Filename != "SPOILER_i.png" || m.Attachments[0].Description != "photo" ||
		len(m.Uploads) != 1 || m.Uploads[0].URL != "https://x.example/i.png" {
		t.Errorf("attachments %+v uploads %+v", m.Attachments, m.Uploads)
	}
}

func FuzzFormat(f *testing.F) {
	f.Add("Title @everyone", "**bold** <@&1> [x](javascript:1)", "tag", "everyone", "alt", 100)
	f.Add(strings.Repeat("🚸", 300), strings.Repeat("- *a* ", 2000), "<#1>", "123456789012345678", "", 0)
	f.Add("", "```\n````\n", "", "none", "@here", 7)
	f.Add("x", "> > > deep\n\n1. a\n   - b\n     > c **d", "a|b", "", "", 3)
	// Issue 18: nesting past markdown.MaxDepth, alternating marks, brackets.
	f.Add("deep", strings.Repeat(">", 40)+" deep\n"+strings.Repeat("> ", 38)+"lazy", "", "", "", 0)
	f.Add("deep", strings.Repeat("- ", 40)+"deep\n"+strings.Repeat("1. ", 30)+"x", "", "", "", 0)
	f.Add("deep", strings.Repeat("*a ~~b _c ", 30)+"x"+strings.Repeat(" c_ d~~ e*", 30), "", "", "", 0)
	f.Add("deep", strings.Repeat("[a](", 700)+"u)", "", "", "", 0)
	f.Fuzz(func(t *testing.T, title, body, tag, mention, alt string, ntags int) {
		p := post.Post{ID: "fuzz", Title: title, Body: body, Summary: "", Link: "https://x.example/p?q=" + title,
			Tags: []string{tag}, PublishAt: time.Unix(1, 0), Image: &post.Image{URL: "https://x.example/i.png", Alt: alt},
			Channels: map[string]post.Override{Name: {Mention: mention}}}
		for i := 0; i < ntags%300; i++ {
			p.Tags = append(p.Tags, tag+strings.Repeat("y", i))
		}
		cfgRole := "323456789012345678"
		pl, err := NewFormatter(Config{Mention: cfgRole}, campaign).Format(p)
		effective := mention
		if effective == "" {
			effective = cfgRole
		}
		_, wantAllowed, merr := mentionOf(effective)
		if merr != nil {
			if err == nil {
				t.Fatalf("mention %q accepted", mention)
			}
			return
		}
		if err != nil {
			if strings.TrimSpace(title) == "" {
				return // nothing to show
			}
			t.Fatalf("Format: %v", err)
		}
		m := pl.Body.(Message)
		checkLimits(t, m)
		if strings.Join(m.AllowedMentions.Parse, ",") != strings.Join(wantAllowed.Parse, ",") || strings.Join(m.AllowedMentions.Roles, ",") != strings.Join(wantAllowed.Roles, ",") {
			t.Fatalf("allowed_mentions %+v, want %+v", m.AllowedMentions, wantAllowed)
		}
	})
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
