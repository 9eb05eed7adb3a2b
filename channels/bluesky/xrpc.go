package bluesky

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
)

// xrpcError is an XRPC error answer: its status, the error name and message
// the server gave, and its rate-limit headers.
type xrpcError struct {
	Status  int
	Name    string
	Message string
	header  http.Header
}

func (e *xrpcError) Error() string {
	msg := fmt.Sprintf("%d %s", e.Status, http.StatusText(e.Status))
	if e.Name != "" {
		msg += ": " + e.Name
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// authExpired reports an answer that a fresh session may fix: 401, or the
// 400 ExpiredToken/InvalidToken a PDS answers for a stale access token.
func (e *xrpcError) authExpired() bool {
	return e.Status == http.StatusUnauthorized ||
		e.Status == http.StatusBadRequest && (e.Name == "ExpiredToken" || e.Name == "InvalidToken")
}

// wait is how long a 429 asks to wait: until ratelimit-reset (Unix seconds),
// else Retry-After, else a minute.
func (e *xrpcError) wait(now time.Time) time.Duration {
	if s, err := strconv.ParseInt(e.header.Get("Ratelimit-Reset"), 10, 64); err == nil {
		return max(time.Unix(s, 0).Sub(now), time.Second)
	}
	if s, err := strconv.Atoi(e.header.Get("Retry-After")); err == nil && s >= 0 {
		return max(time.Duration(s)*time.Second, time.Second)
	}
	if t, err := http.ParseTime(e.header.Get("Retry-After")); err == nil {
		return max(t.Sub(now), time.Second)
	}
	return time.Minute
}

// session is what createSession and refreshSession answer.
type session struct {
	AccessJwt  string `json:"accessJwt"`
	RefreshJwt string `json:"refreshJwt"`
	Handle     string `json:"handle"`
	DID        string `json:"did"`
}

// client is a small typed XRPC client for the few procedures the channel
// needs, holding one session that it refreshes on demand. Tokens never
// appear in its errors or logs.
type client struct {
	service    string
	http       *http.Client // tracks whether a failed request was written
	identifier string
	password   string

	mu   sync.Mutex
	sess *session
}

// request is one XRPC call.
type request struct {
	method      string // GET (query) or POST (procedure)
	nsid        string
	query       url.Values
	body        []byte // JSON, or raw bytes with contentType
	contentType string
	auth        bool
}

// do makes r once with token and decodes a 200 answer into out. It returns
// the answer's headers, and the httpcall.Call for classifying a failure.
func (c *client) do(ctx context.Context, r request, token string, out any) (http.Header, *httpcall.Call, error) {
	u := c.service + "/xrpc/" + r.nsid
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	ctx, call := httpcall.With(ctx)
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, call, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Crier (+https://github.com/crierhq/crier)")
	if r.body != nil {
		req.Header.Set("Content-Type", cmp.Or(r.contentType, "application/json"))
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, call, fmt.Errorf("%s: %w", r.nsid, redact(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e := &xrpcError{Status: resp.StatusCode, header: resp.Header}
		var eb struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb) == nil {
			e.Name, e.Message = eb.Error, eb.Message
		}
		return resp.Header, call, fmt.Errorf("%s: %w", r.nsid, e)
	}
	if out != nil {
		if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(out); err != nil {
			return resp.Header, call, fmt.Errorf("%s: decoding the answer: %w", r.nsid, err)
		}
	}
	return resp.Header, call, nil
}

// redact drops the request URL from a transport error: it never carries a
// token, but query strings (handles) do not belong in delivery errors either.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// call makes r with the session, signing in first when there is none, and
// once more with a refreshed session when the server says the token expired.
func (c *client) call(ctx context.Context, r request, out any) (http.Header, *httpcall.Call, error) {
	if !r.auth {
		return c.do(ctx, r, "", out)
	}
	sess, err := c.session(ctx)
	if err != nil {
		return nil, nil, err
	}
	h, call, err := c.do(ctx, r, sess.AccessJwt, out)
	var xe *xrpcError
	if err == nil || !errors.As(err, &xe) || !xe.authExpired() {
		return h, call, err
	}
	if sess, err = c.refresh(ctx, sess); err != nil {
		return nil, nil, err
	}
	return c.do(ctx, r, sess.AccessJwt, out)
}

// session returns the current session, signing in when there is none.
func (c *client) session(ctx context.Context) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		return c.sess, nil
	}
	return c.signIn(ctx)
}

// signIn is com.atproto.server.createSession; c.mu is held.
func (c *client) signIn(ctx context.Context) (*session, error) {
	body, _ := json.Marshal(map[string]string{"identifier": c.identifier, "password": c.password})
	var s session
	if _, _, err := c.do(ctx, request{method: http.MethodPost, nsid: "com.atproto.server.createSession", body: body}, "", &s); err != nil {
		return nil, classifySignIn(err)
	}
	c.sess = &s
	return &s, nil
}

// refresh replaces stale with a refreshed session (refreshSession), or a new
// one when the refresh token is no good either. Another delivery may have
// refreshed it meanwhile: then that session is used.
func (c *client) refresh(ctx context.Context, stale *session) (*session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil && c.sess != stale {
		return c.sess, nil
	}
	c.sess = nil
	var s session
	_, _, err := c.do(ctx, request{method: http.MethodPost, nsid: "com.atproto.server.refreshSession"}, stale.RefreshJwt, &s)
	if err == nil {
		c.sess = &s
		return &s, nil
	}
	var xe *xrpcError
	if errors.As(err, &xe) && (xe.authExpired() || xe.Status == http.StatusBadRequest) {
		return c.signIn(ctx)
	}
	return nil, channels.Temporary(fmt.Errorf("refreshing the Bluesky session: %w", err))
}

// classifySignIn explains a failed sign-in to an organiser.
func classifySignIn(err error) error {
	var xe *xrpcError
	if !errors.As(err, &xe) {
		return channels.Temporary(fmt.Errorf("signing in to Bluesky: %w", err))
	}
	switch {
	case xe.Status == http.StatusTooManyRequests:
		return channels.RateLimited(fmt.Errorf("signing in to Bluesky: %w", err), xe.wait(time.Now()))
	case xe.Name == "AuthFactorTokenRequired":
		return channels.Permanent(fmt.Errorf("signing in to Bluesky: the account asks for a code sent by e-mail; use an app password (Settings > Privacy and security > App passwords): %w", err))
	case xe.Name == "AccountTakedown" || xe.Status == http.StatusUnauthorized || xe.Status == http.StatusForbidden || xe.Status == http.StatusBadRequest:
		return channels.Refused(fmt.Errorf("signing in to Bluesky: check channels.bluesky.handle and the app password: %w", err))
	case xe.Status == http.StatusNotFound:
		return channels.Permanent(fmt.Errorf("signing in to Bluesky: no Bluesky server answers at this address: check channels.bluesky.service: %w", err))
	case xe.Status >= 400 && xe.Status < 500 && xe.Status != http.StatusRequestTimeout && xe.Status != http.StatusConflict && xe.Status != http.StatusTooEarly:
		// Any other refusal is as final as it is for a write (classify).
		return channels.Permanent(fmt.Errorf("signing in to Bluesky: %w", err))
	}
	return channels.Temporary(fmt.Errorf("signing in to Bluesky: %w", err))
}
