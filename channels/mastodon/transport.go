package mastodon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"time"
)

// call is what the transport learns about one API call, shared through the
// request's context because go-mastodon offers no per-request options.
type call struct {
	// idempotencyKey is sent as the Idempotency-Key header when set.
	idempotencyKey string

	mu        sync.Mutex
	gotConn   bool // a connection was obtained (the dial succeeded)
	traced    bool // the base transport reported on the connection at all
	wrote     bool // the whole request went out: the server may have acted
	remaining int  // X-RateLimit-Remaining of the last response, -1 unknown
	reset     string
}

type callKey struct{}

func withCall(ctx context.Context, idempotencyKey string) (context.Context, *call) {
	c := &call{idempotencyKey: idempotencyKey, remaining: -1}
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

// transport adds the Idempotency-Key header, records whether a request was
// written and the rate-limit headers, and turns 429 answers into errors.
type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	if c == nil {
		return t.roundTrip(req, nil)
	}
	ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			c.mu.Lock()
			c.gotConn, c.traced = true, true
			c.mu.Unlock()
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			c.mu.Lock()
			c.traced = true
			if info.Err == nil {
				c.wrote = true
			}
			c.mu.Unlock()
		},
	})
	r := req.Clone(ctx)
	if c.idempotencyKey != "" {
		// Not the canonical key on purpose: net/http silently resends a
		// request carrying "Idempotency-Key" when a reused connection breaks
		// before the answer, which duplicates the status on servers that
		// ignore the key (GoToSocial). Under this spelling the header still
		// goes out (names are case-insensitive) but the transport leaves the
		// retry to Send, which checks the account first.
		r.Header["idempotency-key"] = []string{c.idempotencyKey}
	}
	return t.roundTrip(r, c)
}

func (t *transport) roundTrip(req *http.Request, c *call) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if c != nil {
		c.mu.Lock()
		if n, err := strconv.Atoi(resp.Header.Get("X-RateLimit-Remaining")); err == nil {
			c.remaining = n
		}
		c.reset = resp.Header.Get("X-RateLimit-Reset")
		c.mu.Unlock()
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		return nil, &rateLimitError{reset: resp.Header.Get("X-RateLimit-Reset"), retryAfter: resp.Header.Get("Retry-After")}
	}
	return resp, nil
}

// maybeSent reports whether a failed call may have reached the server: the
// request was written, or the base transport told nothing and the failure
// was not a refused connection.
func (c *call) maybeSent(err error) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.wrote {
		return true
	}
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") {
		return false
	}
	return !c.traced
}

func (c *call) rateLimit() (remaining int, reset string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remaining, c.reset
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
