package bluesky

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
)

// TestReachPDS has a second account like and answer Crier's post on a real
// PDS. A PDS alone has no App View, which alone counts likes and gathers
// threads: the read must say "not available", never 0, and tell why.
func TestReachPDS(t *testing.T) {
	t.Parallel()
	pds := blueskypds.Start(t)
	crier, fan := pds.NewAccount(t), pds.NewAccount(t)
	type ref struct {
		URI string `json:"uri"`
		CID string `json:"cid"`
	}
	create := func(a blueskypds.Account, collection string, record map[string]any) ref {
		t.Helper()
		var r ref
		in := map[string]any{"repo": a.DID, "collection": collection, "record": record}
		if err := pds.XRPC(http.MethodPost, "com.atproto.repo.createRecord", a.AccessJwt, nil, in, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	now := func() string { return time.Now().UTC().Format(time.RFC3339) }
	root := create(crier, Collection, map[string]any{"text": "Vigil on Friday at 6", "createdAt": now()})
	create(fan, "app.bsky.feed.like", map[string]any{"subject": root, "createdAt": now()})
	create(fan, Collection, map[string]any{"text": "I'll be there", "createdAt": now(), "reply": map[string]any{"root": root, "parent": root}})

	s, err := newSender(Config{Enabled: true, Service: pds.URL, Handle: crier.Handle, AppPassword: secret.Secret(crier.AppPassword)},
		channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.ReadReach(context.Background(), []channels.Part{{RemoteID: root.URI}}, channels.ReachOptions{})
	if err != nil {
		t.Fatalf("ReadReach on a bare PDS: %v (want counters not available, not an error)", err)
	}
	t.Logf("bare PDS: %+v", r)
	if c := r.Total; c.Likes.Known || c.Replies.Known || c.Likes.String() != "not available" {
		t.Errorf("counters = %+v, want not available (the PDS has no App View)", c)
	}
	if len(r.Notes) != 2 || !strings.Contains(r.Notes[0], "App View") {
		t.Errorf("notes = %q, want why counters and replies are not available", r.Notes)
	}
}

// TestReachAppView reads an App View's answers (as a PDS proxies them):
// counters per part and in total, replies newest first without the
// thread's own parts, labels as warnings; and a 429 is RateLimited.
func TestReachAppView(t *testing.T) {
	t.Parallel()
	limited := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/xrpc/com.atproto.server.createSession":
			w.Write([]byte(`{"accessJwt":"a","refreshJwt":"r","handle":"crier.test","did":"did:plc:crier"}`))
		case limited:
			w.Header().Set("Ratelimit-Reset", "")
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"error":"RateLimitExceeded"}`))
		case r.URL.Path == "/xrpc/app.bsky.feed.getPosts":
			if got := r.URL.Query()["uris"]; len(got) != 2 {
				t.Errorf("getPosts uris = %q", got)
			}
			w.Write([]byte(`{"posts":[
				{"uri":"at://did:plc:crier/app.bsky.feed.post/1","likeCount":4,"repostCount":1,"replyCount":3,"quoteCount":0},
				{"uri":"at://did:plc:crier/app.bsky.feed.post/2","likeCount":2,"repostCount":0,"replyCount":0}]}`))
		case r.URL.Path == "/xrpc/app.bsky.feed.getPostThread":
			w.Write([]byte(`{"thread":{"$type":"app.bsky.feed.defs#threadViewPost","post":{"uri":"at://did:plc:crier/app.bsky.feed.post/1"},"replies":[
				{"$type":"app.bsky.feed.defs#threadViewPost","post":{"uri":"at://did:plc:crier/app.bsky.feed.post/2","author":{"did":"did:plc:crier","handle":"crier.test"},"record":{"text":"part 2","createdAt":"2026-12-07T10:05:00Z"}}},
				{"$type":"app.bsky.feed.defs#threadViewPost","post":{"uri":"at://did:plc:ana/app.bsky.feed.post/x","author":{"did":"did:plc:ana","handle":"ana.test"},"record":{"text":"older <b>one</b>","createdAt":"2026-12-07T11:00:00Z"}},
				 "replies":[{"$type":"app.bsky.feed.defs#threadViewPost","post":{"uri":"at://did:plc:bo/app.bsky.feed.post/y","author":{"did":"did:plc:bo","handle":"bo.test"},"record":{"text":"newer","createdAt":"2026-12-07T12:00:00Z","labels":{"values":[{"val":"graphic-media"}]}}}}]},
				{"$type":"app.bsky.feed.defs#blockedPost","uri":"at://did:plc:z/app.bsky.feed.post/z"}]}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s, err := newSender(Config{Enabled: true, Service: srv.URL, Handle: "crier.test", AppPassword: "p"}, channels.Env{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	parts := []channels.Part{{Index: 0, RemoteID: "at://did:plc:crier/app.bsky.feed.post/1"}, {Index: 1, RemoteID: "at://did:plc:crier/app.bsky.feed.post/2"}}
	r, err := s.ReadReach(context.Background(), parts, channels.ReachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := channels.Counters{Replies: channels.CountOf(3), Reposts: channels.CountOf(1), Likes: channels.CountOf(6)}
	if r.Total != want {
		t.Errorf("total = %+v, want %+v (quotes: one part does not report them)", r.Total, want)
	}
	if len(r.Replies) != 2 || r.Replies[0].Author != "@bo.test" || r.Replies[0].Warning != "graphic-media" ||
		r.Replies[1].Excerpt != "older one" || r.Replies[1].URL != "https://bsky.app/profile/did:plc:ana/post/x" {
		t.Errorf("replies = %+v", r.Replies)
	}
	limited = true
	_, err = s.ReadReach(context.Background(), parts, channels.ReachOptions{})
	if kind, wait := channels.Classify(err); kind != channels.KindRateLimited || wait != 30*time.Second {
		t.Errorf("429: %v %v (%v), want RateLimited 30s", kind, wait, err)
	}
}
