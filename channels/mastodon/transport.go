package mastodon

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/crierhq/crier/channels/httpcall"
)

// call is what the transport learns about one API call, shared through the
// request's context because go-mastodon offers no per-request options.
type call struct {
	*httpcall.Call
	// idempotencyKey is sent as the Idempotency-Key header when set.
	idempotencyKey string
}

type callKey struct{}

func withCall(ctx context.Context, idempotencyKey string) (context.Context, *call) {
	ctx, hc := httpcall.With(ctx)
	c := &call{Call: hc, idempotencyKey: idempotencyKey}
	return context.WithValue(ctx, callKey{}, c), c
}

// rateLimitError is returned by the transport instead of a 429 response, so
// go-mastodon's own retry loop (which backs off for up to hours) never runs:
// the delivery engine schedules the retry instead.
type rateLimitError struct {
	reset      string // X-RateLimit-Reset, ISO 8601
	retryAfter string // Retry-After, seconds or HTTP date
}

func (e *rateLimitError) Error() string {
	if e.reset != "" {
		return "the instance is rate limiting requests (429) until " + e.reset
	}
	return "the instance is rate limiting requests (429)"
}

// wait is how long to wait before trying again.
func (e *rateLimitError) wait(now time.Time) time.Duration {
	if t, err := time.Parse(time.RFC3339Nano, e.reset); err == nil {
		return max(t.Sub(now), time.Second)
	}
	if s, err := strconv.Atoi(e.retryAfter); err == nil && s >= 0 {
		return max(time.Duration(s)*time.Second, time.Second)
	}
	if t, err := http.ParseTime(e.retryAfter); err == nil {
		return max(t.Sub(now), time.Second)
	}
	// Mastodon's limits reset every 5 minutes; a minute is a polite guess.
	return time.Minute
}

// transport adds the Idempotency-Key header and turns 429 answers into
// errors. Its base is an httpcall.Transport, which records whether the
// request was written and the answer's headers.
type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if c, _ := req.Context().Value(callKey{}).(*call); c != nil && c.idempotencyKey != "" {
		req = req.Clone(req.Context())
		// Not the canonical key on purpose: net/http silently resends a
		// request carrying "Idempotency-Key" when a reused connection breaks
		// before the answer, which duplicates the status on servers that
		// ignore the key (GoToSocial). Under this spelling the header still
		// goes out (names are case-insensitive) but the transport leaves the
		// retry to Send, which checks the account first.
		req.Header["idempotency-key"] = []string{c.idempotencyKey}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &rateLimitError{reset: resp.Header.Get("X-RateLimit-Reset"), retryAfter: resp.Header.Get("Retry-After")}
	}
	return resp, nil
}

// rateLimit returns the X-RateLimit-Remaining (-1 when unknown) and
// X-RateLimit-Reset headers of the call's last answer.
func (c *call) rateLimit() (remaining int, reset string) {
	_, h := c.Answer()
	remaining = -1
	if n, err := strconv.Atoi(h.Get("X-RateLimit-Remaining")); err == nil {
		remaining = n
	}
	return remaining, h.Get("X-RateLimit-Reset")
}

// httpStatusError is a non-2xx answer from an endpoint this package calls
// without go-mastodon.
type httpStatusError struct {
	StatusCode int
	Message    string
}

func (e *httpStatusError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("%d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	return fmt.Sprintf("%d %s: %s", e.StatusCode, http.StatusText(e.StatusCode), e.Message)
}
