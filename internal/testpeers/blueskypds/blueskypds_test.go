package blueskypds

import (
	"net/http"
	"strings"
	"testing"
)

// TestServer checks the peer itself: an account signs in with its app
// password and a record it writes is read back.
func TestServer(t *testing.T) {
	s := Start(t)
	a := s.NewAccount(t)
	var sess struct {
		AccessJwt string `json:"accessJwt"`
		DID       string `json:"did"`
	}
	if err := s.XRPC(http.MethodPost, "com.atproto.server.createSession", "", nil, map[string]string{"identifier": a.Handle, "password": a.AppPassword}, &sess); err != nil {
		t.Fatal(err)
	}
	if sess.DID != a.DID {
		t.Fatalf("signed in as %s, want %s", sess.DID, a.DID)
	}
	rec := map[string]any{"$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2026-01-01T00:00:00.000Z"}
	in := map[string]any{"repo": a.DID, "collection": "app.bsky.feed.post", "rkey": "3k4nw6mlotwr2", "record": rec}
	if err := s.XRPC(http.MethodPost, "com.atproto.repo.createRecord", sess.AccessJwt, nil, in, nil); err != nil {
		t.Fatal(err)
	}
	err := s.XRPC(http.MethodPost, "com.atproto.repo.createRecord", sess.AccessJwt, nil, in, nil)
	t.Logf("second create under the same key: %v", err)
	// The PDS refuses it with a 500; the channel then reads the key back.
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("a second record under the same key was accepted: %v", err)
	}
	if got := s.ListRecords(t, a.DID, "app.bsky.feed.post"); len(got) != 1 {
		t.Fatalf("%d records, want 1", len(got))
	}
}
