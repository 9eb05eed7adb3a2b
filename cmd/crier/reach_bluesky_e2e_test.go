package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
)

// TestReachBlueskyPDS delivers a post to a real PDS with the daemon; a
// second account likes it and replies. The bare PDS has no App View, so
// crier reach says "not available" with the reason, never 0. Then a
// stand-in App View in front of the PDS (it counts the likes and replies in
// the second account's repository, as an App View indexes them) answers,
// and the like and the reply appear.
func TestReachBlueskyPDS(t *testing.T) {
	t.Parallel()
	pds := blueskypds.Start(t)
	acct, fan := pds.NewAccount(t), pds.NewAccount(t)
	var appView atomic.Bool
	target, _ := url.Parse(pds.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if appView.Load() && answerAsAppView(t, pds, fan, w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	b := setup(t, "")
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "posts", "vigil.md"), []byte("---\ntitle: Vigil on Friday\nlink: https://camaca.example/vigil\n---\nJoin us.\n"), 0o644)
	b.setenv("TEST_BLUESKY_PASSWORD", acct.AppPassword)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  bluesky: {enabled: true, mode: send, service: %q, handle: %q, app_password: "${TEST_BLUESKY_PASSWORD}"}
`, testnet.FreeAddr(t), proxy.URL, acct.Handle))
	sent := func() bool { return b.status().deliveries()["md:vigil/bluesky"] == "sent" }
	if logs := b.runUntil(&http.Client{Timeout: 30 * time.Second}, 90*time.Second, sent); !sent() {
		t.Fatalf("not delivered\n%s", logs.String())
	}
	own := pds.ListRecords(t, acct.DID, "app.bsky.feed.post")
	if len(own) != 1 {
		t.Fatalf("crier's posts: %d", len(own))
	}
	root := map[string]string{"uri": own[0].URI, "cid": own[0].CID}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, rec := range []struct {
		collection string
		record     map[string]any
	}{
		{"app.bsky.feed.like", map[string]any{"subject": root, "createdAt": now}},
		{"app.bsky.feed.post", map[string]any{"text": "I'll be there with candles", "createdAt": now, "reply": map[string]any{"root": root, "parent": root}}},
	} {
		in := map[string]any{"repo": fan.DID, "collection": rec.collection, "record": rec.record}
		if err := pds.XRPC(http.MethodPost, "com.atproto.repo.createRecord", fan.AccessJwt, nil, in, nil); err != nil {
			t.Fatal(err)
		}
	}

	r, out := b.reach("--refresh", "md:vigil")
	if len(r.Channels) != 1 || r.Channels[0].LastError != "" {
		t.Fatalf("crier reach on a bare PDS: %s", out)
	}
	if got := counter(r.Channels[0].Counters, "likes"); got != "not available" || !strings.Contains(out, "App View") {
		t.Errorf("likes on a bare PDS = %s, want not available and why:\n%s", got, out)
	}

	appView.Store(true)
	r, out = b.reach("--refresh", "md:vigil")
	c := r.Channels[0]
	for name, want := range map[string]string{"likes": "1", "replies": "1", "reposts": "0", "quotes": "0"} {
		if got := counter(c.Counters, name); got != want {
			t.Errorf("%s = %s, want %s\n%s", name, got, want, out)
		}
	}
	if len(c.Replies) != 1 || c.Replies[0].Excerpt != "I'll be there with candles" || c.Replies[0].Author != "@"+fan.Handle {
		t.Errorf("replies %+v, want the second account's", c.Replies)
	}
}

// answerAsAppView answers getPosts and getPostThread from the PDS's
// records, as an App View would from its index: the likes and replies in
// fan's repository. Other calls go on to the PDS.
func answerAsAppView(t *testing.T, pds *blueskypds.Server, fan blueskypds.Account, w http.ResponseWriter, r *http.Request) bool {
	type subject struct {
		Subject struct{ URI string }                  `json:"subject"`
		Reply   struct{ Parent struct{ URI string } } `json:"reply"`
		Text    string                                `json:"text"`
		Created string                                `json:"createdAt"`
	}
	count := func(uri string) (likes, replies []blueskypds.Record) {
		for _, l := range pds.ListRecords(t, fan.DID, "app.bsky.feed.like") {
			var s subject
			if json.Unmarshal(l.Value, &s) == nil && s.Subject.URI == uri {
				likes = append(likes, l)
			}
		}
		for _, p := range pds.ListRecords(t, fan.DID, "app.bsky.feed.post") {
			var s subject
			if json.Unmarshal(p.Value, &s) == nil && s.Reply.Parent.URI == uri {
				replies = append(replies, p)
			}
		}
		return likes, replies
	}
	var out any
	switch r.URL.Path {
	case "/xrpc/app.bsky.feed.getPosts":
		var posts []map[string]any
		for _, uri := range r.URL.Query()["uris"] {
			likes, replies := count(uri)
			posts = append(posts, map[string]any{"uri": uri, "likeCount": len(likes), "replyCount": len(replies), "repostCount": 0, "quoteCount": 0})
		}
		out = map[string]any{"posts": posts}
	case "/xrpc/app.bsky.feed.getPostThread":
		uri := r.URL.Query().Get("uri")
		_, replies := count(uri)
		var nodes []map[string]any
		for _, p := range replies {
			nodes = append(nodes, map[string]any{"$type": "app.bsky.feed.defs#threadViewPost",
				"post": map[string]any{"uri": p.URI, "author": map[string]any{"did": fan.DID, "handle": fan.Handle}, "record": json.RawMessage(p.Value)}})
		}
		out = map[string]any{"thread": map[string]any{"$type": "app.bsky.feed.defs#threadViewPost", "post": map[string]any{"uri": uri}, "replies": nodes}}
	default:
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
	return true
}
