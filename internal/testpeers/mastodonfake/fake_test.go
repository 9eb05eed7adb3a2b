package mastodonfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingTB captures the fake's complaints instead of failing the test.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) complaints() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func do(t *testing.T, s *Server, method, path, token, key string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.URL+path, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

func TestFakeChecksRequestsAgainstTheSpec(t *testing.T) {
	rec := &recordingTB{TB: t}
	s := New(rec, Options{})
	code, _ := do(t, s, "POST", "/api/v1/statuses", s.Token(), "", url.Values{"status": {"hi"}, "visibility": {"everyone"}})
	if code != http.StatusUnprocessableEntity || len(rec.complaints()) != 1 || !strings.Contains(rec.complaints()[0], "visibility") {
		t.Errorf("bad visibility: %d, complaints %q", code, rec.complaints())
	}
	do(t, s, "GET", "/api/v1/no/such/endpoint", s.Token(), "", nil)
	if len(rec.complaints()) != 2 {
		t.Errorf("unknown endpoint not reported: %q", rec.complaints())
	}
	if code, _ := do(t, s, "POST", "/api/v1/statuses", "wrong", "", url.Values{"status": {"hi"}}); code != http.StatusUnauthorized {
		t.Errorf("wrong token: %d", code)
	}
	if len(rec.complaints()) != 2 {
		t.Errorf("a good request was reported: %q", rec.complaints()[2:])
	}
}

func TestFakeBehavesLikeMastodon(t *testing.T) {
	s := New(t, Options{MaxCharacters: 10, MediaPolls: 1})
	code, a := do(t, s, "POST", "/api/v1/statuses", s.Token(), "k1", url.Values{"status": {"hello"}, "spoiler_text": {"cw"}})
	_, b := do(t, s, "POST", "/api/v1/statuses", s.Token(), "k1", url.Values{"status": {"hello"}, "spoiler_text": {"cw"}})
	if code != 200 || a["id"] != b["id"] || len(s.Statuses()) != 1 {
		t.Errorf("Idempotency-Key replay: %d %v %v, %d statuses", code, a["id"], b["id"], len(s.Statuses()))
	}
	if code, _ := do(t, s, "POST", "/api/v1/statuses", s.Token(), "", url.Values{"status": {"more than ten"}}); code != 422 {
		t.Errorf("over the limit: %d", code)
	}
	if code, _ := do(t, s, "POST", "/api/v1/statuses", s.Token(), "", url.Values{"status": {"x"}, "in_reply_to_id": {"999"}}); code != 422 {
		t.Errorf("reply to a missing status: %d", code)
	}
}

func TestStatusLength(t *testing.T) {
	long := "https://campaign.example.org/news/2024/11/call-to-action-on-child-trafficking"
	for _, tc := range []struct {
		spoiler, text  string
		reserved, want int
	}{
		{"", "hello", 23, 5},
		{"cw", "hello", 23, 7},
		{"", long, 23, 23},
		{"", long, 30, 30},
		{"", "see " + long + ".", 23, 4 + 23 + 1},
		{"", "(" + long + ")", 23, 25},
		{"", "thanks @ally@elsewhere.example!", 23, len("thanks @ally!")},
		{"", "mail me@example.org", 23, 19},
		{"", "👩‍👩‍👧 #Tag", 23, 6},
		{"", "http:// and http://!x", 23, 21},
		{"", "x" + long, 23, 1 + len(long)},
		{"cw", "   ", 23, 2},
	} {
		if got := StatusLength(tc.spoiler, tc.text, tc.reserved); got != tc.want {
			t.Errorf("StatusLength(%q, %q, %d) = %d, want %d", tc.spoiler, tc.text, tc.reserved, got, tc.want)
		}
	}
}

func TestRender(t *testing.T) {
	known := func(user, domain string) bool { return user == "crier" && domain == "" }
	got := Render("https://fake.example", "Hi @crier and @ally@elsewhere.example, #EndTrafficking!\nhttps://www.example.org/a/very/long/path/that/goes/on/and/on\n\nhttps://example.org/x", known)
	want := `<p>Hi <span class="h-card" translate="no"><a href="https://fake.example/@crier" class="u-url mention">@<span>crier</span></a></span> and @ally@elsewhere.example, ` +
		`<a href="https://fake.example/tags/endtrafficking" class="mention hashtag" rel="tag">#<span>EndTrafficking</span></a>!<br />` +
		`<a href="https://www.example.org/a/very/long/path/that/goes/on/and/on" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://www.</span><span class="ellipsis">example.org/a/very/long/path/t</span><span class="invisible">hat/goes/on/and/on</span></a></p>` +
		`<p><a href="https://example.org/x" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://</span><span class="">example.org/x</span><span class="invisible"></span></a></p>`
	if got != want {
		t.Errorf("Render:\n got %s\nwant %s", got, want)
	}
}

func TestIdempotencyKeysArePerAccountAndExpire(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := New(t, Options{Now: func() time.Time { return now }})
	other := s.AddAccount("other")
	post := func(token string) string {
		t.Helper()
		code, st := do(t, s, "POST", "/api/v1/statuses", token, "k1", url.Values{"status": {"hello"}})
		if code != 200 {
			t.Fatalf("POST: %d", code)
		}
		return st["id"].(string)
	}
	a := post(s.Token())
	if b := post(s.Token()); b != a {
		t.Errorf("replay within the hour made %s, want %s", b, a)
	}
	if b := post(other); b == a {
		t.Error("another account's key replayed the first account's status")
	}
	now = now.Add(59 * time.Minute)
	if b := post(s.Token()); b != a {
		t.Errorf("replay after 59 minutes made %s, want %s", b, a)
	}
	now = now.Add(2 * time.Minute)
	if b := post(s.Token()); b == a {
		t.Error("a key older than an hour still replayed")
	}
	if n := len(s.Statuses()); n != 3 {
		t.Errorf("%d statuses, want 3", n)
	}
	// Each account reads its own timeline.
	code, _ := do(t, s, "GET", "/api/v1/accounts/"+accountID+"/statuses", other, "", nil)
	if code != 200 {
		t.Errorf("timeline: %d", code)
	}
}

func TestFailAfterNextActsThenFails(t *testing.T) {
	s := New(t, Options{})
	s.FailAfterNext("POST", "/api/v1/statuses", Response{Status: 502, Body: `{"error":"Bad Gateway"}`})
	if code, _ := do(t, s, "POST", "/api/v1/statuses", s.Token(), "", url.Values{"status": {"hello #Tag"}}); code != 502 {
		t.Errorf("answer %d, want 502", code)
	}
	st := s.Statuses()
	if len(st) != 1 || st[0].Text != "hello #Tag" {
		t.Fatalf("statuses %+v, want the one created before the 502", st)
	}
	code, got := do(t, s, "GET", "/api/v1/statuses/"+st[0].ID, s.Token(), "", nil)
	tags, _ := got["tags"].([]any)
	if code != 200 || len(tags) != 1 || !strings.Contains(got["content"].(string), `class="mention hashtag"`) {
		t.Errorf("status %d: %v", code, got)
	}
}
