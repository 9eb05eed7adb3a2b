package discord

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// call is what the transport learns about one request, shared through the
// request's context: discordgo returns only the body or an error.
type call struct {
	mu      sync.Mutex
	traced  bool // the base transport reported on the connection at all
	wrote   bool // the whole request went out: Discord may have acted
	status  int  // the answer's status, 0 when there was none
	headers http.Header
}

type callKey struct{}

func withCall(ctx context.Context) (context.Context, *call) {
	c := &call{}
	return context.WithValue(ctx, callKey{}, c), c
}

// transport records whether a request was written and what came back.
type transport struct {
	base http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c, _ := req.Context().Value(callKey{}).(*call)
	if c == nil {
		return t.base.RoundTrip(req)
	}
	ctx := httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) {
			c.mu.Lock()
			c.traced = true
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
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err == nil {
		c.mu.Lock()
		c.status = resp.StatusCode
		c.headers = resp.Header.Clone()
		c.mu.Unlock()
	}
	return resp, err
}

// maybeSent reports whether a failed request may have reached Discord: it
// was written, or the base transport told nothing and the failure was not a
// refused connection.
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

func (c *call) answer() (int, http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.headers
}
