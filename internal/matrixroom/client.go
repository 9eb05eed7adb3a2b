package matrixroom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
	"github.com/crierhq/crier/config/secret"
)

// Client makes authenticated client-server API calls as one account: the
// Room's notices and the Matrix channel (channels/matrix) share it, so both
// classify a homeserver's answers alike and say the same fixes.
type Client struct {
	// Homeserver is the account's homeserver, https://matrix.example.org.
	Homeserver string
	// Token is the account's access token: sent in a header only, never
	// put in an error.
	Token secret.Secret
	// Setting names where the account is configured, for the fixes errors
	// suggest ("channels.matrix"); empty: "matrix".
	Setting string
	// HTTP makes the calls; nil means one with a 30-second timeout.
	HTTP *http.Client
}

// Event is a room event as the client-server API gives it, its content
// undecoded: messages, edits, reactions and redactions alike.
type Event struct {
	ID       string         `json:"event_id"`
	Type     string         `json:"type"`
	Sender   string         `json:"sender"`
	Content  map[string]any `json:"content"`
	Unsigned map[string]any `json:"unsigned"`
	TS       int64          `json:"origin_server_ts"`
}

// Redacted reports whether the event was redacted (its content emptied).
func (e Event) Redacted() bool {
	_, ok := e.Unsigned["redacted_because"]
	return ok
}

// Join makes the account a member of room, an ID (!abc:example.org) or an
// alias (#news:example.org), and returns the room's ID; joining a room the
// account is in changes nothing. An alias is looked up first: a homeserver
// answers an unknown alias there with a plain 404, where a join may fail
// vaguely.
func (c *Client) Join(ctx context.Context, room string) (string, error) {
	var out struct {
		RoomID string `json:"room_id"`
	}
	if strings.HasPrefix(room, "#") {
		if err := c.Call(ctx, http.MethodGet, "/_matrix/client/v3/directory/room/"+url.PathEscape(room), nil, &out); err != nil {
			return "", fmt.Errorf("looking up Matrix room %s: %w", room, err)
		}
	}
	if err := c.Call(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(room), struct{}{}, &out); err != nil {
		return "", fmt.Errorf("joining Matrix room %s: %w", room, err)
	}
	if out.RoomID == "" {
		return "", channels.Temporary(fmt.Errorf("joining Matrix room %s: the homeserver named no room ID", room))
	}
	return out.RoomID, nil
}

// maxAnswer bounds an answer read: one event is at most 64 KiB, and reads
// ask for a few dozen.
const maxAnswer = 4 << 20

// Request is one call. Body is sent as JSON unless Raw is set (an upload,
// of type ContentType).
type Request struct {
	Method, Path string
	Body         any
	Raw          []byte
	ContentType  string
	// Creates marks a call that creates something without a transaction
	// ID to make it safe to repeat: an answer lost after the request went
	// out is then Ambiguous, not Temporary.
	Creates bool
}

// Call sends one request with body as JSON (none when nil) and decodes a
// 2xx answer into out; a lost answer is Temporary (the caller's
// transaction ID makes a repeat the same event).
func (c *Client) Call(ctx context.Context, method, path string, body, out any) error {
	return c.Do(ctx, Request{Method: method, Path: path, Body: body}, out)
}

// Do sends r and decodes a 2xx answer into out (nil: the answer is not
// read); any other answer becomes a classified error.
func (c *Client) Do(ctx context.Context, r Request, out any) error {
	rd, ct := io.Reader(nil), "application/json"
	switch {
	case r.Raw != nil:
		rd, ct = bytes.NewReader(r.Raw), r.ContentType
	case r.Body != nil:
		b, err := json.Marshal(r.Body)
		if err != nil {
			return channels.Permanent(fmt.Errorf("encoding the request: %w", err))
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, strings.TrimRight(c.Homeserver, "/")+r.Path, rd)
	if err != nil {
		return channels.Permanent(fmt.Errorf("%s is not a homeserver address: set %s.homeserver to one such as https://matrix.example.org", c.Homeserver, c.setting()))
	}
	if c.Token.IsSet() {
		req.Header.Set("Authorization", "Bearer "+c.Token.Reveal())
	}
	req.Header.Set("Content-Type", ct)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	callCtx, call := httpcall.With(ctx)
	_, tracked := httpcall.Client(hc, nil)
	resp, err := tracked.Do(req.WithContext(callCtx))
	if err != nil {
		// The URL holds no secret; the error keeps its cause's chain.
		return httpcall.Failed(fmt.Errorf("reaching the homeserver %s: %w", c.Homeserver, errors.Unwrap(err)), call, r.Creates)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return httpcall.Failed(fmt.Errorf("reading the homeserver's answer: %w", err), call, r.Creates)
	}
	if resp.StatusCode/100 == 2 {
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return httpcall.Failed(fmt.Errorf("the homeserver's answer (status %d) is not JSON: %w", resp.StatusCode, err), call, r.Creates)
		}
		return nil
	}
	return c.refusal(resp, data)
}

// Error is a homeserver's refusal as it stated it, inside the classified
// error Do returns (errors.As finds it).
type Error struct {
	Status  int
	Code    string // errcode, "M_FORBIDDEN"
	Message string
}

func (e *Error) Error() string {
	said := fmt.Sprintf("status %d", e.Status)
	if e.Code != "" {
		said += " " + e.Code
	}
	if e.Message != "" {
		said += ": " + truncate(e.Message, 200)
	}
	return said
}

// ErrCode is the errcode of the refusal in err, or "".
func ErrCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// refusal turns a non-2xx answer into an error of the right class that
// says, for the refusals a person must fix, what to change.
func (c *Client) refusal(resp *http.Response, data []byte) error {
	var body struct {
		Code         string `json:"errcode"`
		Message      string `json:"error"`
		RetryAfterMS int64  `json:"retry_after_ms"`
	}
	_ = json.Unmarshal(data, &body)
	e := &Error{Status: resp.StatusCode, Code: body.Code, Message: body.Message}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || e.Code == "M_LIMIT_EXCEEDED":
		return channels.RateLimited(fmt.Errorf("the homeserver asks to wait (%w)", e), retryAfter(resp, body.RetryAfterMS))
	case resp.StatusCode/100 == 5:
		return channels.Temporary(fmt.Errorf("the homeserver failed (%w)", e))
	case resp.StatusCode == http.StatusUnauthorized || e.Code == "M_UNKNOWN_TOKEN" || e.Code == "M_MISSING_TOKEN":
		return channels.Refused(fmt.Errorf("the homeserver does not accept the access token (%w): put a current access token of the posting account in the environment variable that %s.access_token names (Element: Settings, Help & About, Access Token), then restart Crier", e, c.setting()))
	case e.Code == "M_NOT_FOUND" || resp.StatusCode == http.StatusNotFound:
		return channels.Permanent(fmt.Errorf("the homeserver knows no such room (%w): set %s.room to the room's ID (!abc:example.org, in the room's settings, Advanced) or an alias it publishes", e, c.setting()))
	case resp.StatusCode == http.StatusForbidden || e.Code == "M_FORBIDDEN":
		return channels.Refused(fmt.Errorf("the posting account may not join or post in the room (%w): invite the account to the room, and give it the right to send messages if the room restricts that", e))
	}
	return channels.Permanent(fmt.Errorf("the homeserver refused the request (%w)", e))
}

// retryAfter is the wait a rate limit asks for: retry_after_ms, else the
// Retry-After header, else a second.
func retryAfter(resp *http.Response, ms int64) time.Duration {
	if ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return time.Second
}

func (c *Client) setting() string {
	if c.Setting == "" {
		return "matrix"
	}
	return c.Setting
}
