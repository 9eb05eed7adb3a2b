// Package httpcall tells a channel's sender what became of one HTTP call made
// through a client library that hides the request (go-mastodon, discordgo):
// whether the request was written before the call failed, so that a failed
// post is reported as channels.Ambiguous (it may exist) rather than
// channels.Temporary, and what status and headers the answer had.
//
// A sender attaches a Call to the context it hands the library (With), and
// builds the library's HTTP client with Client, whose Transport fills in the
// Call for every request made under that context.
package httpcall

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/crierhq/crier/channels"
)

// Call is what the transport learns about one call. Its methods are safe for
// concurrent use; the zero value is not used, see With.
type Call struct {
	mu     sync.Mutex
	traced bool // the base transport reported on the connection at all
	wrote  bool // the whole request went out: the server may have acted
	status int  // the last answer's status, 0 when there was none
	header http.Header
}

type callKey struct{}

// With returns ctx carrying a new Call, and the Call.
func With(ctx context.Context) (context.Context, *Call) {
	c := &Call{}
	return context.WithValue(ctx, callKey{}, c), c
}

// From returns the Call ctx carries, or nil.
func From(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// MaybeSent reports whether a failed call may have reached the server: the
// request was written, or the base transport told nothing and the failure
// was not a refused connection or a failed name lookup.
func (c *Call) MaybeSent(err error) bool {
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

// Answer returns the status and headers of the last answer, or 0 and nil
// when none came.
func (c *Call) Answer() (status int, header http.Header) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status, c.header
}

// Failed classifies err, a call that got no usable answer: Ambiguous when
// the call creates something (nonIdempotent) and may have reached the
// server, else Temporary. c may be nil (nothing was tracked: Temporary).
func Failed(err error, c *Call, nonIdempotent bool) error {
	if nonIdempotent && c != nil && c.MaybeSent(err) {
		return channels.Ambiguous(err)
	}
	return channels.Temporary(err)
}

// Transport records, for requests whose context carries a Call, whether the
// request was written and the answer's status and headers. Other requests
// go to Base untouched.
type Transport struct {
	Base http.RoundTripper
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	c := From(req.Context())
	if c == nil {
		return t.Base.RoundTrip(req)
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
	resp, err := t.Base.RoundTrip(req.WithContext(ctx))
	if err == nil {
		c.mu.Lock()
		c.status = resp.StatusCode
		c.header = resp.Header.Clone()
		c.mu.Unlock()
	}
	return resp, err
}

// Client returns hc, or when hc is nil a client with a one-minute timeout,
// and a client with the same timeout and cookie jar whose transport is a
// Transport around hc's (http.DefaultTransport when unset). wrap, when not
// nil, adds a channel's own layer outside the Transport.
func Client(hc *http.Client, wrap func(http.RoundTripper) http.RoundTripper) (plain, tracked *http.Client) {
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	var rt http.RoundTripper = &Transport{Base: base}
	if wrap != nil {
		rt = wrap(rt)
	}
	return hc, &http.Client{Transport: rt, Timeout: hc.Timeout, Jar: hc.Jar}
}
