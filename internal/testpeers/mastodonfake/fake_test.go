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
