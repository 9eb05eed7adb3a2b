package mastodon

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/plaintext"
	"github.com/crierhq/crier/post"
)

// checkStatuses asserts what must hold for any post: every part fits the
// budget by the server's counting, the link survives whole in the first
// part, every URL in the output appears whole in the input, and a thread is
// chained and numbered.
func checkStatuses(t *testing.T, lim Limits, p post.Post, statuses []Status) {
	t.Helper()
	if len(statuses) == 0 {
		t.Fatal("no statuses")
	}
	count := lim.Counter().Count
	// Every URL that goes out must be a whole URL of the input, not a piece.
	urls := map[string]bool{}
	for _, in := range []string{plaintext.OneLine(p.Title), plaintext.FromMarkdown(p.Summary), plaintext.FromMarkdown(p.Body), p.Link, p.TextFor(Name)} {
		for _, e := range entities(in) {
			if e.kind == entityURL {
				urls[in[e.start:e.end]] = true
			}
		}
	}
	for i, s := range statuses {
		if n := count(s.SpoilerText, s.Status); n > lim.MaxCharacters {
			t.Errorf("part %d counts %d > %d:\n%s", i+1, n, lim.MaxCharacters, s.Status)
		}
		if s.Part != i+1 {
			t.Errorf("part %d is numbered %d", i+1, s.Part)
		}
		if i > 0 && s.InReplyToPart != i {
			t.Errorf("part %d replies to part %d, want %d", i+1, s.InReplyToPart, i)
		}
		for _, e := range entities(s.Status) {
			if e.kind == entityURL && !urls[s.Status[e.start:e.end]] {
				t.Errorf("part %d has URL %q that is not in the post (cut?)", i+1, s.Status[e.start:e.end])
			}
		}
	}
	if p.Link != "" && !strings.Contains(statuses[0].Status, p.Link) && !strings.Contains(p.TextFor(Name), p.Link) {
		t.Errorf("the link %q is missing from the first part:\n%s", p.Link, statuses[0].Status)
	}
	if len(statuses) > 1 {
		for i, s := range statuses {
			if want := "/" + itoa(len(statuses)); !strings.HasSuffix(s.Status, itoa(i+1)+want) {
				t.Errorf("part %d is not numbered %d%s:\n%s", i+1, i+1, want, s.Status)
			}
		}
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func format(t *testing.T, cfg Config, lim Limits, p post.Post) ([]Status, channels.Payload) {
	t.Helper()
	f := newFormatter(cfg, channels.Campaign{Language: "en"}, func() Limits { return lim })
	pl, err := f.Format(p)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	st := pl.Body.(Statuses)
	checkStatuses(t, lim, p, st)
	return st, pl
}

const link = "https://campaign.example.org/news/2024/11/call-to-action-on-child-trafficking"

func sampleBody(t *testing.T) string {
	// Our first user's own campaign news (shared/samples), as real input.
	b, err := os.ReadFile("testdata/campaign-news.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFormatShort(t *testing.T) {
	t.Parallel()
	p := post.Post{
		ID: "md:a", Title: "Call to Action", Summary: "ICAT issued a call to action.",
		Link: link, Tags: []string{"child trafficking", "UN"}, ContentWarning: "child trafficking",
		Language: "fr",
	}
	st, pl := format(t, Config{Visibility: "unlisted", Hashtags: []string{"EndTrafficking"}}, defaultLimits(), p)
	want := "Call to Action\n\nICAT issued a call to action.\n\n" + link + "\n\n#ChildTrafficking #UN #EndTrafficking"
	if len(st) != 1 || st[0].Status != want {
		t.Fatalf("got %#v\nwant %q", st, want)
	}
	if st[0].SpoilerText != "child trafficking" || st[0].Visibility != "unlisted" || st[0].Language != "fr" {
		t.Errorf("parameters: %+v", st[0])
	}
	if len(pl.Warnings) != 0 {
		t.Errorf("warnings: %v", pl.Warnings)
	}
}

func TestFormatShortensAtBoundaries(t *testing.T) {
	t.Parallel()
	body := sampleBody(t)
	for _, max := range []int{500, 5000, 11000} {
		lim := Limits{MaxCharacters: max, CharactersReservedPerURL: 23}
		p := post.Post{ID: "md:b", Title: "Our Child Trafficking Campaign News", Body: strings.Repeat(body+"\n\n", 8), Link: link, Tags: []string{"child trafficking"}, ContentWarning: "trafficking"}
		st, _ := format(t, Config{}, lim, p)
		if len(st) != 1 {
			t.Fatalf("max %d: %d parts without thread", max, len(st))
		}
		n := lim.Counter().Count(st[0].SpoilerText, st[0].Status)
		if n < max/2 {
			t.Errorf("max %d: only %d used", max, n)
		}
		prose := strings.Split(st[0].Status, "\n\n"+link)[0]
		if !strings.HasSuffix(prose, "…") {
			t.Errorf("max %d: no ellipsis at the cut: %q", max, prose[len(prose)-40:])
		}
	}
}

func TestFormatPrefersSentences(t *testing.T) {
	t.Parallel()
	prose := "First sentence is here. " + strings.Repeat("Word ", 200)
	p := post.Post{ID: "x", Title: "T", Summary: prose, Link: link}
	st, _ := format(t, Config{}, Limits{MaxCharacters: 70, CharactersReservedPerURL: 23}, p)
	if want := "T\n\nFirst sentence is here. …\n\n" + link; st[0].Status != want {
		t.Errorf("got %q, want %q", st[0].Status, want)
	}
}

func TestFormatNeverCutsURLsMentionsOrHashtags(t *testing.T) {
	t.Parallel()
	long := "https://example.org/" + strings.Repeat("very-long-path-", 30)
	for _, summary := range []string{
		"Read " + long + " and more words after it to push it over",
		"Thanks @someone@example.social and #ChildTrafficking campaigners everywhere, and more words",
		strings.Repeat("x", 30) + " https://example.org/boundary " + strings.Repeat("y", 30),
	} {
		for max := 40; max < 130; max += 3 {
			lim := Limits{MaxCharacters: max, CharactersReservedPerURL: 23}
			st, _ := format(t, Config{}, lim, post.Post{ID: "x", Title: "T", Summary: summary, Link: "https://e.org/p"})
			for _, e := range entities(st[0].Status) {
				if tok := st[0].Status[e.start:e.end]; !strings.Contains(summary+" https://e.org/p T", tok) {
					t.Errorf("max %d: %q is a cut entity", max, tok)
				}
			}
			if strings.Contains(st[0].Status, "@someone@") && !strings.Contains(st[0].Status, "@someone@example.social") {
				t.Errorf("max %d: mention cut: %q", max, st[0].Status)
			}
		}
	}
}

func TestFormatHardScripts(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"emoji and zwj": strings.Repeat("👨‍👩‍👧‍👦 family 🇬🇧 flag 👍🏽 ", 60),
		"cjk":           strings.Repeat("人身売買は深刻な犯罪です。子どもたちを守りましょう。", 40),
		"rtl":           strings.Repeat("الاتجار بالأطفال جريمة خطيرة. يجب حماية الأطفال. ", 40),
		"no spaces":     strings.Repeat("a", 3000),
	} {
		t.Run(name, func(t *testing.T) {
			for _, thread := range []bool{false, true} {
				st, _ := format(t, Config{Thread: thread}, defaultLimits(), post.Post{ID: "x", Title: "Title", Summary: text, Link: link})
				if name == "cjk" && !thread && !strings.Contains(st[0].Status, "。 …") {
					t.Errorf("CJK not cut at a sentence: %q", st[0].Status)
				}
			}
		})
	}
}

func TestFormatTitleLongerThanBudget(t *testing.T) {
	t.Parallel()
	title := strings.Repeat("An extremely long headline about trafficking ", 20)
	st, _ := format(t, Config{}, defaultLimits(), post.Post{ID: "x", Title: title, Summary: "Summary.", Link: link, Tags: []string{"a b"}})
	if !strings.Contains(st[0].Status, "…") || strings.Contains(st[0].Status, "Summary.") {
		t.Errorf("got %q", st[0].Status)
	}
	st, _ = format(t, Config{Thread: true}, defaultLimits(), post.Post{ID: "x", Title: title, Summary: "Summary.", Link: link})
	if len(st) != 2 || !strings.HasPrefix(st[1].Status, "Summary.") {
		t.Errorf("thread got %#v", st)
	}
}

func TestFormatThread(t *testing.T) {
	t.Parallel()
	body := sampleBody(t)
	for _, max := range []int{500, 5000, 11000} {
		lim := Limits{MaxCharacters: max, CharactersReservedPerURL: 23}
		p := post.Post{ID: "md:c", Title: "News", Body: strings.Repeat(body+"\n\n", 6), Link: link, Tags: []string{"child trafficking"}, ContentWarning: "trafficking"}
		st, _ := format(t, Config{Thread: true}, lim, p)
		if max == 500 && len(st) != maxThreadParts {
			t.Errorf("max 500: %d parts, want the cap %d", len(st), maxThreadParts)
		}
		if max == 11000 && len(st) != 2 {
			t.Errorf("max 11000: %d parts, want 2", len(st))
		}
		for i, s := range st {
			if s.SpoilerText != "trafficking" {
				t.Errorf("part %d lost the content warning", i+1)
			}
		}
	}
	// A post that fits is one status without a number.
	st, _ := format(t, Config{Thread: true}, defaultLimits(), post.Post{ID: "x", Title: "Short", Link: link})
	if len(st) != 1 || strings.Contains(st[0].Status, "1/1") {
		t.Errorf("got %#v", st)
	}
}

func TestFormatOverrideImageAndWarnings(t *testing.T) {
	t.Parallel()
	p := post.Post{
		ID: "x", Title: "Ignored title", Summary: "Ignored", Link: link, Tags: []string{"Safeguarding"},
		Channels: map[string]post.Override{Name: {Text: "Custom toot text #safeguarding"}},
		Image:    &post.Image{URL: "https://campaign.example.org/a.png"}, ContentWarning: "cw",
	}
	st, pl := format(t, Config{}, defaultLimits(), p)
	if want := "Custom toot text #safeguarding\n\n" + link; st[0].Status != want {
		t.Errorf("got %q, want %q", st[0].Status, want)
	}
	if st[0].Media == nil || st[0].Media.URL != p.Image.URL || !st[0].Sensitive {
		t.Errorf("media: %+v sensitive %v", st[0].Media, st[0].Sensitive)
	}
	if len(pl.Warnings) != 1 || !strings.Contains(pl.Warnings[0], "alt text") {
		t.Errorf("warnings: %v", pl.Warnings)
	}
	js, err := channels.MarshalIndent(pl.Body)
	if err != nil || !strings.Contains(string(js), `"media": {`) || !strings.Contains(string(js), `"spoiler_text": "cw"`) {
		t.Errorf("preview JSON: %s %v", js, err)
	}
}

func TestFormatGoToSocialCounting(t *testing.T) {
	t.Parallel()
	lim := Limits{MaxCharacters: 500, CharactersReservedPerURL: 25, CountRunes: true}
	long := "https://campaign.example.org/" + strings.Repeat("segment/", 30)
	format(t, Config{}, lim, post.Post{ID: "x", Title: "T", Body: sampleBody(t), Link: long})
	format(t, Config{Thread: true}, lim, post.Post{ID: "x", Title: "T", Body: sampleBody(t), Link: long})
}

func TestFormatNoRoom(t *testing.T) {
	t.Parallel()
	f := newFormatter(Config{}, channels.Campaign{}, func() Limits { return Limits{MaxCharacters: 10, CharactersReservedPerURL: 23} })
	if _, err := f.Format(post.Post{ID: "x", Title: "T", Link: link}); err == nil || !strings.Contains(err.Error(), "character limit") {
		t.Errorf("err = %v", err)
	}
}

func TestNewFormatterBudget(t *testing.T) {
	t.Parallel()
	p := post.Post{ID: "x", Title: "T", Summary: strings.Repeat("word ", 400), Link: link}
	for _, tc := range []struct{ max, want int }{{0, 500}, {1000, 1000}} {
		pl, err := NewFormatter(Config{MaxCharacters: tc.max}, channels.Campaign{}).Format(p)
		if err != nil {
			t.Fatal(err)
		}
		st := pl.Body.(Statuses)
		if n := defaultLimits().Counter().Count("", st[0].Status); n > tc.want || n < tc.want-10 {
			t.Errorf("max_characters %d: status counts %d", tc.max, n)
		}
	}
}

func FuzzFormat(f *testing.F) {
	f.Add("Title", "Summary with https://example.org/x and @a@b.org #Tag.", "body", "https://e.org/p", "cw", "tag one", 500, false, false)
	f.Add(strings.Repeat("t ", 300), "", strings.Repeat("人身売買。", 200), "https://e.org/"+strings.Repeat("p", 100), "", "", 120, true, true)
	f.Add("👨‍👩‍👧‍👦", strings.Repeat("👍🏽", 600), "", "", "", "", 60, true, false)
	// Issue 18: nesting past markdown.MaxDepth, and brackets.
	f.Add("deep", "", strings.Repeat("- ", 40)+"deep\n"+strings.Repeat("> ", 40)+"quote", "https://e.org/p", "", "", 500, true, false)
	f.Add("deep", strings.Repeat("1. ", 40)+"x", strings.Repeat("[a](", 700), "https://e.org/p", "", "", 500, false, false)
	f.Fuzz(func(t *testing.T, title, summary, body, link, cw, tag string, max int, thread, runes bool) {
		if max < 1 || max > 20000 {
			return
		}
		lim := Limits{MaxCharacters: max, CharactersReservedPerURL: 23, CountRunes: runes}
		p := post.Post{ID: "f", Title: title, Summary: summary, Body: body, Link: link, ContentWarning: cw, Tags: []string{tag}}
		fm := newFormatter(Config{Thread: thread}, channels.Campaign{}, func() Limits { return lim })
		pl, err := fm.Format(p)
		if err != nil {
			return // no room for the link: a clear error, never a bad toot
		}
		checkStatuses(t, lim, p, pl.Body.(Statuses))
	})
}

func TestFormatThreadWithOnlyALongTitle(t *testing.T) {
	t.Parallel()
	title := strings.Repeat("A very long headline ", 40)
	st, _ := format(t, Config{Thread: true}, defaultLimits(), post.Post{ID: "x", Title: title, Link: link})
	if len(st) != 1 || strings.HasSuffix(st[0].Status, "1/1") {
		t.Errorf("got %#v", st)
	}
}
