package bluesky

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// checkFacets checks what the server does not: every facet's byte range lies
// on character boundaries of the UTF-8 text and slices out exactly its link
// (or the link's display text), hashtag or mention; facets are in order and
// do not overlap; the text is within the lexicon's limits.
func checkFacets(t testing.TB, text string, facets []Facet, mentions []Mention) {
	t.Helper()
	if !utf8.ValidString(text) {
		t.Fatalf("text is not UTF-8: %q", text)
	}
	if g := uniseg.GraphemeClusterCount(text); g > MaxGraphemes || len(text) > MaxBytes {
		t.Fatalf("text is %d graphemes, %d bytes: %q", g, len(text), text)
	}
	slice := func(s ByteSlice) string {
		if s.ByteStart < 0 || s.ByteEnd > len(text) || s.ByteStart >= s.ByteEnd {
			t.Fatalf("facet %+v out of range of %d bytes: %q", s, len(text), text)
		}
		if !utf8.RuneStart(text[s.ByteStart]) || s.ByteEnd < len(text) && !utf8.RuneStart(text[s.ByteEnd]) {
			t.Fatalf("facet %+v splits a character: %q", s, text)
		}
		return text[s.ByteStart:s.ByteEnd]
	}
	end := 0
	for _, f := range facets {
		if f.Index.ByteStart < end {
			t.Fatalf("facets overlap or are out of order at %+v: %+v", f.Index, facets)
		}
		end = f.Index.ByteEnd
		got := slice(f.Index)
		if len(f.Features) != 1 {
			t.Fatalf("facet with %d features", len(f.Features))
		}
		switch ft := f.Features[0]; ft.Type {
		case FeatureLink:
			if got != ft.URI && got != displayLink(ft.URI) {
				t.Errorf("link facet %+v slices %q, not %q or %q", f.Index, got, ft.URI, displayLink(ft.URI))
			}
		case FeatureTag:
			if got != "#"+ft.Tag && got != "＃"+ft.Tag {
				t.Errorf("tag facet %+v slices %q, not #%s", f.Index, got, ft.Tag)
			}
		case FeatureMention:
			if m := mentionRE.FindString(got); m != got || !strings.HasPrefix(ft.DID, "did:") {
				t.Errorf("mention facet %+v slices %q (did %q)", f.Index, got, ft.DID)
			}
		default:
			t.Errorf("facet of unknown type %q", ft.Type)
		}
	}
	for _, m := range mentions {
		if got := slice(ByteSlice{m.ByteStart, m.ByteEnd}); !strings.EqualFold(got, "@"+m.Handle) {
			t.Errorf("mention %+v slices %q", m, got)
		}
	}
}

func format(t testing.TB, cfg Config, p post.Post) (channels.Payload, []Part) {
	t.Helper()
	pl, err := NewFormatter(cfg, channels.Campaign{Language: "en"}).Format(p)
	if err != nil {
		t.Fatal(err)
	}
	parts := pl.Body.(Parts)
	for _, part := range parts {
		checkFacets(t, part.Record.Text, part.Record.Facets, part.Mentions)
	}
	return pl, parts
}

// hardPrefixes come before facets in the facet tests: every kind of text
// whose byte length differs from its character or grapheme count.
var hardPrefixes = map[string]string{
	"ZWJ family":           "👨‍👩‍👧‍👦👩🏽‍❤️‍💋‍👨🏿",
	"skin tones":           "👍🏽👋🏿🧑🏻‍🦰",
	"combining accents":    "café́ naïve e\u0301\u0302 Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
	"CJK":                  "児童人身売買に反対する。儿童拐卖",
	"Arabic":               "مكافحة الاتجار بالأطفال",
	"Hebrew and RTL marks": "\u200fנגד סחר בילדים\u200e \u202bembedded\u202c",
	"flags and keycaps":    "🇬🇧🇺🇦#️⃣1️⃣",
	"ASCII":                "plain",
}

func TestFacetsSliceExactlyAfterHardText(t *testing.T) {
	for name, prefix := range hardPrefixes {
		t.Run(name, func(t *testing.T) {
			p := post.Post{ID: "md:x", Title: prefix,
				Summary: prefix + " see https://example.org/path?q=1 and #Solidarity with @alice.bsky.social " + prefix + " #" + prefix,
				Link:    "https://camaca.example/news/" + strings.Repeat("long-", 10),
				Tags:    []string{"child trafficking", prefix}}
			_, parts := format(t, Config{Hashtags: []string{"EndChildTrafficking"}}, p)
			rec := parts[0].Record
			var kinds []string
			for _, f := range rec.Facets {
				kinds = append(kinds, f.Features[0].Type[len("app.bsky.richtext.facet#"):])
			}
			if s := strings.Join(kinds, " "); !strings.HasPrefix(s, "link tag") || !strings.Contains(s, "link tag tag") {
				t.Errorf("facets %s in %q", s, rec.Text)
			}
			if len(parts[0].Mentions) != 1 || parts[0].Mentions[0].Handle != "alice.bsky.social" {
				t.Errorf("mentions %+v", parts[0].Mentions)
			}
		})
	}
}

func TestBudget(t *testing.T) {
	accent := "e\u0301" // one grapheme, three bytes
	family := "👨‍👩‍👧‍👦" // one grapheme, 25 bytes
	tests := []struct {
		name      string
		summary   string
		shortened bool
	}{
		{"300 graphemes", strings.Repeat(accent, 300), false},
		{"301 graphemes", strings.Repeat(accent, 301), true},
		{"300 graphemes of words", strings.Repeat("word ", 59) + "word.", false},
		{"301 graphemes of words", strings.Repeat("word ", 59) + "words.", true},
		{"3,000 bytes of emoji", strings.Repeat(family, 120), false},
		{"3,025 bytes of emoji", strings.Repeat(family, 121), true},
		{"3,000 bytes of CJK", strings.Repeat("児", 300), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, parts := format(t, Config{}, post.Post{ID: "md:b", Summary: tc.summary})
			text := parts[0].Record.Text
			if got := text != tc.summary; got != tc.shortened {
				t.Fatalf("shortened %v, want %v: %d graphemes, %d bytes", got, tc.shortened, uniseg.GraphemeClusterCount(text), len(text))
			}
			if tc.shortened && !strings.HasSuffix(text, "…") {
				t.Errorf("shortened text lacks an ellipsis: %q", text)
			}
		})
	}
}

func TestShortenKeepsLinkAndEntitiesWhole(t *testing.T) {
	link := "https://camaca.example/news/vigil"
	// Put a URL, a hashtag and a mention across the 300th grapheme at every
	// offset: the cut must never land inside one.
	for pad := 230; pad < 300; pad++ {
		prose := strings.Repeat("a", pad) + " https://example.org/some/longer/path #Hashtag @bob.example.com and more words to go past the limit"
		_, parts := format(t, Config{}, post.Post{ID: "md:l", Summary: prose, Link: link})
		text := parts[0].Record.Text
		if !strings.Contains(text, displayLink(link)) {
			t.Fatalf("pad %d: the canonical link is gone: %q", pad, text)
		}
		for _, frag := range []string{"https://example.org", "#Hashtag", "@bob.example.com"} {
			whole := map[string]string{"https://example.org": "https://example.org/some/longer/path", "#Hashtag": "#Hashtag", "@bob.example.com": "@bob.example.com"}[frag]
			for _, cutAt := range []int{2, len(whole) / 2, len(whole) - 1} {
				if i := strings.Index(text, whole[:cutAt]); i >= 0 && !strings.HasPrefix(text[i:], whole) {
					t.Fatalf("pad %d: %q was cut: %q", pad, whole, text)
				}
			}
		}
	}
}

func TestThreadParts(t *testing.T) {
	p := post.Post{ID: "md:t", Title: "Report", Link: "https://camaca.example/r", ContentWarning: "abuse",
		Body: strings.Repeat("Sentence with 児童 and 👩🏽‍⚕️ emoji. ", 40)}
	_, parts := format(t, Config{Thread: true, Labels: map[string]string{"abuse": "graphic-media"}}, p)
	if len(parts) < 3 {
		t.Fatalf("%d parts", len(parts))
	}
	seen := map[string]bool{}
	for i, part := range parts {
		if part.Part != i+1 || part.ReplyToPart != i {
			t.Errorf("part %d numbered %d replying to %d", i+1, part.Part, part.ReplyToPart)
		}
		if !strings.HasPrefix(part.Record.Text, "CW: abuse") || part.Record.Labels == nil {
			t.Errorf("part %d lacks the warning or label", i+1)
		}
		if !validTID(part.RKey) || seen[part.RKey] {
			t.Errorf("part %d key %q", i+1, part.RKey)
		}
		seen[part.RKey] = true
	}
}

func TestEmbedChoice(t *testing.T) {
	img := &post.Image{URL: "https://camaca.example/i.jpg", Alt: "A chain"}
	p := post.Post{ID: "md:e", Title: "T", Summary: "S", Link: "https://camaca.example/n"}
	_, parts := format(t, Config{}, p)
	if e := parts[0].Record.Embed; e == nil || e.Type != EmbedExternal || e.External.URI != p.Link || e.External.Title != "T" || e.External.Description != "S" || parts[0].Image != nil {
		t.Errorf("no image: want a link card, got %+v %+v", e, parts[0].Image)
	}
	p.Image = img
	_, parts = format(t, Config{}, p)
	if parts[0].Record.Embed != nil || parts[0].Image == nil || parts[0].Image.Thumb || parts[0].Image.Alt != "A chain" {
		t.Errorf("image: want the image, got %+v %+v", parts[0].Record.Embed, parts[0].Image)
	}
	_, parts = format(t, Config{Embed: "card"}, p)
	if e := parts[0].Record.Embed; e == nil || e.Type != EmbedExternal || parts[0].Image == nil || !parts[0].Image.Thumb {
		t.Errorf("card: want a card with the image as thumbnail, got %+v %+v", e, parts[0].Image)
	}
	p.Image.Alt = ""
	pl, _ := format(t, Config{}, p)
	if len(pl.Warnings) == 0 {
		t.Error("no warning for an image without alt text")
	}
}

func TestLabelsAndLanguage(t *testing.T) {
	cfg := Config{Labels: map[string]string{"Child  Trafficking": "graphic-media"}, Language: "de"}
	_, parts := format(t, cfg, post.Post{ID: "md:l", Title: "x", ContentWarning: "violence, child trafficking"})
	r := parts[0].Record
	if r.Labels == nil || r.Labels.Values[0].Val != "graphic-media" || !strings.HasPrefix(r.Text, "CW: violence, child trafficking\n\n") {
		t.Errorf("labels %+v text %q", r.Labels, r.Text)
	}
	if len(r.Langs) != 1 || r.Langs[0] != "de" {
		t.Errorf("langs %v", r.Langs)
	}
	pl, parts := format(t, Config{}, post.Post{ID: "md:l", Title: "x", ContentWarning: "grief", Language: "pt_BR"})
	if parts[0].Record.Labels != nil || len(pl.Warnings) == 0 || parts[0].Record.Langs[0] != "pt-BR" {
		t.Errorf("unmapped warning: labels %+v warnings %v langs %v", parts[0].Record.Labels, pl.Warnings, parts[0].Record.Langs)
	}
	_, parts = format(t, Config{DefaultLabel: "graphic-media"}, post.Post{ID: "md:l", Title: "x", ContentWarning: "grief"})
	if parts[0].Record.Labels == nil {
		t.Error("default_label not applied")
	}
}

func TestRecordKey(t *testing.T) {
	seen := map[string]bool{}
	for _, id := range []string{"md:a", "md:b", "feed:site:0123"} {
		for _, ch := range []string{"bluesky", "bluesky-2"} {
			for part := range 10 {
				k := RecordKey(id, ch, part)
				if !validTID(k) || seen[k] {
					t.Fatalf("%s %s %d: key %q (valid %v, repeated %v)", id, ch, part, k, validTID(k), seen[k])
				}
				seen[k] = true
				if RecordKey(id, ch, part) != k {
					t.Fatal("not deterministic")
				}
			}
		}
	}
	// The timestamp part lies in the past window.
	for k := range seen {
		var v uint64
		for i := 0; i < len(k); i++ {
			v = v<<5 | uint64(strings.IndexByte(tidAlphabet, k[i]))
		}
		ts := int64(v >> 10)
		if v>>63 != 0 || ts < tidWindowStart || ts >= tidWindowStart+tidWindowLen {
			t.Errorf("key %s: timestamp %d outside the window", k, ts)
		}
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	pl, parts := format(t, Config{}, post.Post{ID: "md:r", Title: "T", Summary: "@a.example.com #x", Link: "https://x.example/"})
	js, err := json.Marshal(pl.Body)
	if err != nil {
		t.Fatal(err)
	}
	var got Parts
	if err := json.Unmarshal(js, &got); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(parts)
	if string(a) != string(b) {
		t.Errorf("round trip changed the payload:\n%s\n%s", a, b)
	}
}

func FuzzFormat(f *testing.F) {
	for _, p := range hardPrefixes {
		f.Add(p, p+" https://example.org/x #tag @a.bsky.social "+strings.Repeat(p, 30), "tag "+p, true)
	}
	f.Add("", strings.Repeat("👨‍👩‍👧‍👦", 121), "", false)
	// Issue 18: nesting past markdown.MaxDepth, and brackets.
	f.Add("deep", strings.Repeat("- ", 40)+"deep\n"+strings.Repeat("> ", 40)+"quote", "", true)
	f.Add("deep", strings.Repeat("[a](<", 600)+strings.Repeat("1) ", 30)+"x", "", true)
	f.Add("t", strings.Repeat("a ", 149)+"https://example.org/"+strings.Repeat("x", 40), "", false)
	f.Fuzz(func(t *testing.T, title, summary, tag string, thread bool) {
		// Invalid UTF-8 is welcome: the formatter must repair it before
		// measuring (testdata/fuzz/FuzzFormat/23f59bf0b71663df). Huge
		// inputs only slow the search down; BenchmarkFormat covers them.
		if len(title)+len(summary)+len(tag) > 16<<10 {
			return
		}
		p := post.Post{ID: "md:f", Title: title, Summary: summary, Link: "https://camaca.example/news/x", Tags: []string{tag}, ContentWarning: tag}
		pl, err := NewFormatter(Config{Thread: thread, Hashtags: []string{"Fixed"}}, channels.Campaign{}).Format(p)
		if err != nil {
			return // a content warning too long for any post
		}
		for _, part := range pl.Body.(Parts) {
			checkFacets(t, part.Record.Text, part.Record.Facets, part.Mentions)
			// The text must reach the server byte for byte, or the offsets
			// point elsewhere.
			var back Record
			if err := json.Unmarshal(must(json.Marshal(part.Record)), &back); err != nil || back.Text != part.Record.Text {
				t.Fatalf("the text changes in JSON: %q -> %q (%v)", part.Record.Text, back.Text, err)
			}
		}
	})
}
