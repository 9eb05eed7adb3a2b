package mastodon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
)

// TestReachGoToSocial has a second account favourite, boost and answer
// Crier's thread on a real GoToSocial, and reads the counts and the reply
// back through ReadReach.
func TestReachGoToSocial(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	crier, fan := gts.NewUser(t), gts.NewUser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	as := func(u gotosocial.User) *gomastodon.Client {
		return gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: u.Token})
	}
	first, err := as(crier).PostStatus(ctx, &gomastodon.Toot{Status: "Vigil on Friday at 6", Visibility: "public"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := as(crier).PostStatus(ctx, &gomastodon.Toot{Status: "Bring a candle", Visibility: "public", InReplyToID: first.ID})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSender(Config{Instance: gts.URL, Token: secret.Secret(crier.Token)}, channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	parts := []channels.Part{{Index: 0, RemoteID: string(first.ID)}, {Index: 1, RemoteID: string(second.ID)}}

	before, err := s.ReadReach(ctx, parts, channels.ReachOptions{})
	if err != nil {
		t.Fatalf("ReadReach before any interaction: %v", err)
	}
	if c := before.Total.Likes; c != channels.CountOf(0) {
		t.Errorf("favourites before = %v, want a known 0", c)
	}
	if len(before.Replies) != 0 {
		t.Errorf("replies before = %+v, want none (the thread's own parts are not replies)", before.Replies)
	}

	fc := as(fan)
	if _, err := fc.Favourite(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Reblog(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Favourite(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.PostStatus(ctx, &gomastodon.Toot{Status: "I'll be there & bring friends #vigil", SpoilerText: "vigil plans", Visibility: "public", InReplyToID: first.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.PostStatus(ctx, &gomastodon.Toot{Status: "@" + crier.Username + " private word", Visibility: "direct", InReplyToID: first.ID}); err != nil {
		t.Fatal(err)
	}

	r, err := s.ReadReach(ctx, parts, channels.ReachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p0 := r.Parts[0].Counters
	if p0.Likes != channels.CountOf(1) || p0.Reposts != channels.CountOf(1) || !p0.Replies.Known || p0.Replies.N < 1 {
		t.Errorf("first toot's counters = %+v, want 1 favourite, 1 boost, at least 1 reply", p0)
	}
	if r.Total.Likes != channels.CountOf(2) || r.Total.Reposts != channels.CountOf(1) {
		t.Errorf("totals = %+v, want 2 favourites and 1 boost", r.Total)
	}
	t.Logf("GoToSocial counters: first %+v, total %+v", p0, r.Total)
	if len(r.Replies) != 1 {
		t.Fatalf("replies = %+v, want the one public reply (no thread part, no direct message)", r.Replies)
	}
	got := r.Replies[0]
	if got.Author != "@"+fan.Username || got.Warning != "vigil plans" || !strings.Contains(got.Excerpt, "I'll be there & bring friends") ||
		strings.Contains(got.Excerpt, "<p") || strings.Contains(got.Excerpt, "&amp;") || !strings.HasPrefix(got.URL, "http") || got.At.IsZero() {
		t.Errorf("reply = %+v", got)
	}
}

// TestReachUnreportedAndFailures: a counter the server leaves out is "not
// available", a 429 is RateLimited with its wait, a deleted status is
// Permanent and a 503 Temporary.
func TestReachUnreportedAndFailures(t *testing.T) {
	t.Parallel()
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != http.StatusOK {
			w.Header().Set("Retry-After", "120")
			w.WriteHeader(status)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/context") {
			w.Write([]byte(`{"ancestors":[],"descendants":[]}`))
			return
		}
		w.Write([]byte(`{"id":"1","replies_count":0,"reblogs_count":4,"favourites_count":7}`))
	}))
	defer srv.Close()
	s, err := newSender(Config{Instance: srv.URL, Token: "t"}, channels.Env{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	parts := []channels.Part{{RemoteID: "1"}}
	r, err := s.ReadReach(context.Background(), parts, channels.ReachOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Total; c.Quotes.Known || c.Quotes.String() != "not available" || c.Reactions.Known || c.Likes != channels.CountOf(7) || c.Replies != channels.CountOf(0) {
		t.Errorf("counters = %+v, want quotes and reactions not available, 7 favourites, 0 replies", c)
	}
	for _, tc := range []struct {
		status int
		kind   channels.Kind
	}{{http.StatusTooManyRequests, channels.KindRateLimited}, {http.StatusNotFound, channels.KindPermanent}, {http.StatusServiceUnavailable, channels.KindTemporary}} {
		status = tc.status
		_, err := s.ReadReach(context.Background(), parts, channels.ReachOptions{})
		kind, wait := channels.Classify(err)
		if kind != tc.kind {
			t.Errorf("%d: class %v (%v), want %v", tc.status, kind, err, tc.kind)
		}
		if tc.kind == channels.KindRateLimited && wait != 2*time.Minute {
			t.Errorf("429 wait = %v, want 2m from Retry-After", wait)
		}
	}
}
