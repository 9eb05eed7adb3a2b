package plaintext

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// runeRule counts runes up to max a part, and never cuts a word that
// starts with "http" (a stand-in for a network's links).
type runeRule struct{ max int }

func (r runeRule) Fits(text string) bool { return utf8.RuneCountInString(text) <= r.max }

// Parts estimates low, so that Thread has to try more parts.
func (r runeRule) Parts(text string) int { return 1 }

func (r runeRule) Cuts(text string) (word, fine []Cut) {
	var spans []Span
	for i := 0; i < len(text); {
		j := strings.Index(text[i:], "http")
		if j < 0 {
			break
		}
		start := i + j
		end := start + strings.IndexAny(text[start:]+" ", " \n")
		spans = append(spans, Span{start, end})
		i = end
	}
	return Cuts(text, spans, func(_, graphemes, _ int) bool { return graphemes <= r.max })
}

func (runeRule) Hashtag(tag string) string {
	if h := CamelTag(tag); h != "" {
		return "#" + h
	}
	return ""
}

func (runeRule) Hashtags(text string) []string {
	var out []string
	for _, w := range strings.Fields(text) {
		if strings.HasPrefix(w, "#") {
			out = append(out, w[1:])
		}
	}
	return out
}

var errNoRoom, errUncut = errors.New("no room"), errors.New("uncut")

func composer(max int, lead, link string, tags ...string) *Composer {
	r := runeRule{max}
	return &Composer{Rule: r, Lead: lead, Link: link, Tags: Hashtags(r, "", tags, nil), MaxParts: 10, NoRoom: errNoRoom, Uncut: errUncut}
}

func TestComposeShortensThenThreads(t *testing.T) {
	t.Parallel()
	c := composer(70, "CW: war", "https://camaca.example/p", "child trafficking", "#ChildTrafficking")
	if got := strings.Join(c.Tags, " "); got != "#ChildTrafficking" {
		t.Errorf("tags %q: duplicates are left out", got)
	}
	prose := "The vigil is on Saturday. Bring candles and friends, and tell your neighbours about it."
	texts, err := c.Compose("Vigil", prose, false)
	if err != nil || len(texts) != 1 || texts[0] != "CW: war\n\nVigil\n\nThe…\n\nhttps://camaca.example/p\n\n#ChildTrafficking" {
		t.Fatalf("shortened: %q %v", texts, err)
	}
	texts, err = c.Compose("Vigil", prose, true)
	if err != nil || len(texts) < 2 || !strings.HasSuffix(texts[len(texts)-1], fmt.Sprintf("%d/%d", len(texts), len(texts))) {
		t.Fatalf("thread: %q %v", texts, err)
	}
	for _, p := range texts {
		if !strings.HasPrefix(p, "CW: war\n\n") || !c.Rule.Fits(p) {
			t.Errorf("part %q: every part opens with the lead and fits", p)
		}
	}
}

// TestComposeThreadStopsAtMaxParts: a link too long for any part, past what
// ten parts hold, is cut off with the rest, not an error (Mastodon failed
// such a post before the composer was shared).
func TestComposeThreadStopsAtMaxParts(t *testing.T) {
	t.Parallel()
	prose := strings.Repeat("word ", 200) + "https://camaca.example/" + strings.Repeat("x", 100)
	texts, err := composer(40, "", "").Compose("Title", prose, true)
	if err != nil || len(texts) != 10 || !strings.HasSuffix(texts[9], "…\n\n10/10") {
		t.Fatalf("got %d parts, %v: %q", len(texts), err, texts)
	}
	if _, err := composer(40, "", "").Compose("Title", "https://camaca.example/"+strings.Repeat("x", 100), true); !errors.Is(err, errUncut) {
		t.Fatalf("an uncuttable link in part 2: %v", err)
	}
}

// FuzzCompose: whatever the text, every part fits the rule and opens with
// the lead, a thread has at most MaxParts parts numbered i/n, the same
// input composes the same, and the only errors are the composer's own.
func FuzzCompose(f *testing.F) {
	f.Add("Title", "Some prose. More prose https://e.org/x and more.", "CW", "https://e.org/p", "tag one", 60, true)
	f.Add(strings.Repeat("t ", 80), strings.Repeat("人身売買。", 100), "", "", "", 30, true)
	f.Add("👨‍👩‍👧‍👦", strings.Repeat("👍🏽", 300), "", "", "", 11, false)
	f.Add("T", strings.Repeat("word ", 300)+"http"+strings.Repeat("x", 80), "", "", "", 40, true)
	f.Fuzz(func(t *testing.T, title, prose, lead, link, tag string, max int, thread bool) {
		if max < 1 || max > 2000 || len(title)+len(prose) > 8<<10 {
			return
		}
		title, prose, lead, link = OneLine(title), Normalise(prose), OneLine(lead), strings.TrimSpace(link)
		c := composer(max, lead, link, tag)
		texts, err := c.Compose(title, prose, thread)
		if err != nil {
			if !errors.Is(err, errNoRoom) && !errors.Is(err, errUncut) {
				t.Fatalf("error %v", err)
			}
			return
		}
		again, _ := composer(max, lead, link, tag).Compose(title, prose, thread)
		if strings.Join(again, "\x00") != strings.Join(texts, "\x00") {
			t.Fatalf("not deterministic: %q then %q", texts, again)
		}
		if len(texts) == 0 || len(texts) > c.MaxParts || !thread && len(texts) != 1 {
			t.Fatalf("%d parts (thread %v)", len(texts), thread)
		}
		for i, p := range texts {
			if !c.Rule.Fits(p) {
				t.Errorf("part %d does not fit %d: %q", i+1, max, p)
			}
			if !strings.HasPrefix(p, lead) {
				t.Errorf("part %d does not open with the lead %q: %q", i+1, lead, p)
			}
			if len(texts) > 1 && !strings.HasSuffix(p, fmt.Sprintf("%d/%d", i+1, len(texts))) {
				t.Errorf("part %d is not numbered: %q", i+1, p)
			}
		}
	})
}
