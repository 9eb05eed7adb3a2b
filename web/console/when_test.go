package console

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestScheduleFieldFollowsTheCampaignLocale: the schedule field is read and
// written as the campaign's locale writes dates (issue 20), not as the
// browser's datetime-local does, in the campaign's zone; ISO is accepted
// too, and a wrong value is refused naming the format expected.
func TestScheduleFieldFollowsTheCampaignLocale(t *testing.T) {
	t.Parallel()
	london, _ := time.LoadLocation("Europe/London")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	newYork, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		lang    string
		loc     *time.Location
		pattern string
		ok      map[string]string // value → the time it means, in loc
		bad     []string
	}{
		{"en-GB", london, "dd/mm/yyyy hh:mm", map[string]string{
			"08/12/2026 09:00": "2026-12-08 09:00 GMT", "8/12/2026 9:00": "2026-12-08 09:00 GMT", " 08/12/2026,  09:00 ": "2026-12-08 09:00 GMT",
			"2026-12-08T09:00": "2026-12-08 09:00 GMT", "2026-12-08 09:00": "2026-12-08 09:00 GMT", "01/07/2026 18:30": "2026-07-01 18:30 BST",
			"08/12/2026 9:00 pm": "2026-12-08 21:00 GMT"},
			[]string{"12/31/2026 09:00", "31/02/2026 09:00", "08.12.2026 09:00", "08/12/26 09:00", "08/12/2026", "tomorrow", "08/12/2026 24:00", "08/12/2026 13:00 pm"}},
		{"en", london, "dd/mm/yyyy hh:mm", map[string]string{"08/12/2026 09:00": "2026-12-08 09:00 GMT"}, nil},
		{"de", berlin, "dd.mm.yyyy hh:mm", map[string]string{
			"08.12.2026 09:00": "2026-12-08 09:00 CET", "8.12.2026 9.00": "2026-12-08 09:00 CET", "08.12.2026, 09:00 Uhr": "2026-12-08 09:00 CET",
			"2026-12-08T09:00": "2026-12-08 09:00 CET"},
			[]string{"08/12/2026 09:00", "12.31.2026 09:00"}},
		{"fr", berlin, "dd/mm/yyyy hh:mm", map[string]string{"08/12/2026 9h00": "2026-12-08 09:00 CET"}, nil},
		{"nl", berlin, "dd-mm-yyyy hh:mm", map[string]string{"08-12-2026 09:00": "2026-12-08 09:00 CET"}, nil},
		{"en-US", newYork, "mm/dd/yyyy hh:mm am", map[string]string{
			"12/08/2026 09:00 am": "2026-12-08 09:00 EST", "12/8/2026 9:00 PM": "2026-12-08 21:00 EST", "12/08/2026 12:00 am": "2026-12-08 00:00 EST",
			"12/08/2026 21:00": "2026-12-08 21:00 EST"},
			[]string{"31/12/2026 09:00"}},
		{"en", newYork, "mm/dd/yyyy hh:mm am", map[string]string{"12/08/2026 09:00 am": "2026-12-08 09:00 EST"}, nil},
		{"en-CA", newYork, "yyyy-mm-dd hh:mm", map[string]string{"2026-12-08 09:00": "2026-12-08 09:00 EST"}, nil},
		{"sv", berlin, "yyyy-mm-dd hh:mm", map[string]string{"2026-12-08 09:00": "2026-12-08 09:00 CET"}, []string{"08/12/2026 09:00"}},
	} {
		st := whenStyleFor(tc.lang, tc.loc)
		if got := st.Pattern(); got != tc.pattern {
			t.Errorf("%s: pattern %q, want %q", tc.lang, got, tc.pattern)
		}
		for v, want := range tc.ok {
			got, err := st.Parse(v, tc.loc)
			if err != nil || got.Format("2006-01-02 15:04 MST") != want {
				t.Errorf("%s: %q read as %s (%v), want %s", tc.lang, v, got.Format("2006-01-02 15:04 MST"), err, want)
				continue
			}
			// What the field shows reads back as the same time, without seconds.
			if back, err := st.Parse(st.Format(got), tc.loc); err != nil || !back.Equal(got) || strings.Count(st.Format(got), ":") != 1 {
				t.Errorf("%s: %q shown as %q reads back as %s (%v)", tc.lang, v, st.Format(got), back, err)
			}
		}
		for _, v := range tc.bad {
			if got, err := st.Parse(v, tc.loc); err == nil {
				t.Errorf("%s: %q accepted as %s", tc.lang, v, got)
			} else if !strings.Contains(err.Error(), tc.pattern) {
				t.Errorf("%s: %q: the error does not name the format %s: %v", tc.lang, v, tc.pattern, err)
			}
		}
	}
	if got := inWords(time.Date(2026, 12, 8, 9, 0, 0, 0, london)); got != "Tuesday 8 December 2026, 09:00 GMT" {
		t.Errorf("in words: %q", got)
	}
}

// TestScheduleFieldEchoesInWords: the write form and the post page show
// the schedule field as text in the campaign's format with its pattern as
// placeholder and, under it, what it means in words; /when answers the
// field's script the same way, and Schedule takes the locale's format.
func TestScheduleFieldEchoesInWords(t *testing.T) {
	t.Parallel()
	b := setup(t)
	editor := b.browser(t).signedIn("editor@example.org")
	write := editor.get("/posts/new?date=2031-05-08")
	for _, want := range []string{`type="text"`, `placeholder="dd/mm/yyyy hh:mm" value="08/05/2031 09:00"`,
		`aria-describedby="when-hint when-echo"`, `<p class="when-echo" id="when-echo" aria-live="polite">Thursday 8 May 2031, 09:00 BST</p>`,
		"written dd/mm/yyyy hh:mm"} {
		if !strings.Contains(write.body, want) {
			t.Errorf("the write form lacks %s", want)
		}
	}
	if strings.Contains(write.body, "datetime-local") {
		t.Error("the write form still uses the browser's datetime-local")
	}
	if p := editor.get("/when?v=" + url.QueryEscape("9/5/2031 18:30")); p.status != 200 || p.body != "Friday 9 May 2031, 18:30 BST" {
		t.Errorf("/when: %d %q", p.status, p.body)
	}
	if p := editor.get("/when?v=" + url.QueryEscape("5/31/2031 18:30")); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "dd/mm/yyyy hh:mm") {
		t.Errorf("/when of a US date: %d %q", p.status, p.body)
	}
	id := editor.newPost(url.Values{"title": {"Vigil"}, "action": {"save"}})
	page := editor.get("/posts/" + id)
	if !strings.Contains(page.body, `placeholder="dd/mm/yyyy hh:mm"`) || !strings.Contains(page.body, `id="when-echo" aria-live="polite">`) {
		t.Errorf("the post page's schedule field:\n%s", page.body)
	}
	p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}, "schedule_for": {"09/05/2031 18:30"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("schedule with the locale's format: %d %s", p.status, p.body)
	}
	if sp, _ := b.st.Post(t.Context(), id); !sp.Post.PublishAt.Equal(time.Date(2031, 5, 9, 17, 30, 0, 0, time.UTC)) {
		t.Errorf("scheduled for %s", sp.Post.PublishAt)
	}
	if page := editor.get("/posts/" + id + "/edit"); !strings.Contains(page.body, `value="09/05/2031 18:30"`) {
		t.Error("the scheduled post's form does not show its time in the locale's format")
	}
}
