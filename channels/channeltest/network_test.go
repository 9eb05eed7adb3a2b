package channeltest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestNetwork checks the suite's own fault layer: a refusal never reaches
// the peer, a lost answer reaches it once, a hang waits for the deadline,
// other requests pass, and offline refuses everything.
func TestNetwork(t *testing.T) {
	t.Parallel()
	var reached atomic.Int64
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.Write([]byte(`{}`))
	}))
	defer peer.Close()
	n := NewNetwork(nil, nil)
	c := &http.Client{Transport: n}
	post := func(ctx context.Context) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, peer.URL, strings.NewReader("x"))
		return c.Do(req)
	}

	undo := n.Inject(Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second})
	resp, err := post(context.Background())
	if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || reached.Load() != 0 {
		t.Fatalf("refusal: %v %v, peer reached %d times", resp, err, reached.Load())
	}
	if _, err := c.Get(peer.URL); err != nil || reached.Load() != 1 {
		t.Fatalf("a GET is not a post and passes: %v", err)
	}
	undo()

	n.Inject(Fault{LoseAnswer: true, Nth: 2})
	if _, err := post(context.Background()); err != nil {
		t.Fatalf("the first post passes: %v", err)
	}
	if _, err := post(context.Background()); err == nil || reached.Load() != 3 {
		t.Fatalf("the second post's answer is lost after the peer had it: %v, reached %d", err, reached.Load())
	}
	if _, err := post(context.Background()); err != nil {
		t.Fatalf("an answer is lost once: %v", err)
	}

	n.Inject(Fault{Timeout: true})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := post(ctx); !errors.Is(err, context.DeadlineExceeded) || reached.Load() != 5 {
		t.Fatalf("a hang: %v, reached %d", err, reached.Load())
	}
	n.Clear()

	back := n.Offline()
	if _, err := c.Get(peer.URL); err == nil {
		t.Fatal("offline, a request went out")
	}
	if used := back(); len(used) != 1 || reached.Load() != 5 {
		t.Fatalf("offline: used %v, reached %d", used, reached.Load())
	}
}
