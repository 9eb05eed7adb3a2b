package channeltest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Network is the HTTP layer the suite puts between a sender and its peer:
// it passes requests on to the peer's transport, answers the requests that
// create a message as a Fault says, and can refuse every request (to prove
// a formatter never uses the network). It is an http.RoundTripper, safe for
// concurrent use.
type Network struct {
	base    http.RoundTripper
	creates func(*http.Request) bool

	mu      sync.Mutex
	fault   *Fault
	seen    int  // requests the fault applied to
	lost    bool // the LoseAnswer fault has dropped its answer
	offline bool
	used    []string // requests made while offline
}

// NewNetwork returns a Network in front of base (http.DefaultTransport when
// nil); creates picks the requests faults apply to (nil: every POST).
func NewNetwork(base http.RoundTripper, creates func(*http.Request) bool) *Network {
	if base == nil {
		base = http.DefaultTransport
	}
	if creates == nil {
		creates = func(r *http.Request) bool { return r.Method == http.MethodPost }
	}
	return &Network{base: base, creates: creates}
}

// Inject makes the requests that create a message answer as f says until
// undo is called.
func (n *Network) Inject(f Fault) (undo func()) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fault, n.seen, n.lost = &f, 0, false
	return n.Clear
}

// Clear ends the fault: requests reach the peer again.
func (n *Network) Clear() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.fault = nil
}

// Offline refuses every request until the returned func is called, which
// returns the requests that were tried meanwhile.
func (n *Network) Offline() (back func() []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.offline, n.used = true, nil
	return func() []string {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.offline = false
		return n.used
	}
}

// errOffline is what a request gets while the network is offline.
var errOffline = errors.New("channeltest: the network is off: a formatter must not use it")

// errReset is what a dropped answer looks like to the client.
var errReset = errors.New("read tcp 127.0.0.1:0->127.0.0.1:0: read: connection reset by peer")

// RoundTrip implements http.RoundTripper.
func (n *Network) RoundTrip(req *http.Request) (*http.Response, error) {
	n.mu.Lock()
	if n.offline {
		n.used = append(n.used, req.Method+" "+req.URL.Path)
		n.mu.Unlock()
		return nil, errOffline
	}
	var f Fault
	if n.fault != nil && (n.fault.Every || n.creates(req)) {
		n.seen++
		switch {
		case !n.fault.LoseAnswer && n.seen >= n.fault.Nth:
			f = *n.fault
		case !n.lost && n.seen >= n.fault.Nth:
			f, n.lost = *n.fault, true
		}
	}
	n.mu.Unlock()
	switch {
	case f.Status != 0:
		if req.Body != nil {
			_, _ = io.Copy(io.Discard, req.Body)
			req.Body.Close()
		}
		return answer(req, f), nil
	case f.Timeout, f.LoseAnswer:
		// The peer gets the request whatever the deadline: that it acted
		// is the point (the trace hooks in the context still fire).
		resp, err := n.base.RoundTrip(req.WithContext(context.WithoutCancel(req.Context())))
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if f.Timeout {
			<-req.Context().Done()
			return nil, req.Context().Err()
		}
		return nil, errReset
	}
	return n.base.RoundTrip(req)
}

// answer is the error answer a fault gives, in a JSON shape each network's
// client reads (Mastodon's "error", XRPC's "error" and "message", Discord's
// "message", "code" and "retry_after"), or a proxy's HTML page.
func answer(req *http.Request, f Fault) *http.Response {
	h := http.Header{"Content-Type": {"application/json"}}
	text := http.StatusText(f.Status)
	body := fmt.Sprintf(`{"error":%q,"message":%q,"code":0`, strings.ReplaceAll(text, " ", ""), text)
	secs := int(f.RetryAfter.Seconds())
	if f.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(secs))
		body += fmt.Sprintf(`,"retry_after":%d,"global":false`, secs)
	}
	body += "}"
	if f.Proxy {
		h.Set("Content-Type", "text/html")
		body = fmt.Sprintf("<html><head><title>%d %s</title></head><body><center><h1>%d %s</h1></center><hr><center>nginx</center></body></html>\n", f.Status, text, f.Status, text)
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", f.Status, text), StatusCode: f.Status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)),
		Request: req,
	}
}
