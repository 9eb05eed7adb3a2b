// Package matrixroom posts messages to one Matrix room as one account,
// through the client-server API (the console's notices to organisers,
// console.notify.matrix). It is small on purpose: no sync, no encryption,
// just join once and send. A send carries a transaction ID chosen by the
// caller, so a retried send (a River job tried again) is the same event:
// the homeserver answers a repeated transaction ID with the first event.
//
// Its errors carry the channels error classes, so a caller can tell a
// refusal that needs a person (a bad token, no right to post: Permanent)
// from a wait (RateLimited, with the homeserver's retry_after_ms) and an
// outage (Temporary), and each permanent error says what to change.
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
	"sync"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
)

// Room is one room posted to as one account. Set the exported fields before
// the first Send; its methods are safe for concurrent use.
type Room struct {
	// Homeserver is the account's homeserver, https://matrix.example.org.
	Homeserver string
	// Room is the room's ID (!abc:example.org) or alias (#news:example.org).
	Room string
	// Token is the account's access token; it is sent in a header only,
	// never put in an error, and never prints.
	Token secret.Secret
	// Setting names where the three are configured, for the fixes errors
	// suggest ("console.notify.matrix"); empty: "matrix".
	Setting string
	// Client makes the calls; nil means one with a 30-second timeout.
	Client *http.Client

	mu     sync.Mutex
	roomID string // known once joined
}

// Message is one message: a plain body, and the same as HTML for clients
// that show formatting (empty: plain only).
type Message struct {
	Text string
	HTML string
}

// Send posts msg as an m.room.message of type m.text (people's "all
// messages" notification setting covers it, where m.notice is muted), once
// per txn: a Send repeating an earlier txn of the same token returns the
// first event. It joins the room first, once per Room (a public room, or
// one the account was invited to); the returned string is the event's ID.
func (r *Room) Send(ctx context.Context, txn string, msg Message) (string, error) {
	if txn == "" {
		return "", errors.New("matrixroom: Send needs a transaction ID")
	}
	id, err := r.join(ctx)
	if err != nil {
		return "", err
	}
	content := map[string]string{"msgtype": "m.text", "body": msg.Text}
	if msg.HTML != "" {
		content["format"], content["formatted_body"] = "org.matrix.custom.html", msg.HTML
	}
	var out struct {
		EventID string `json:"event_id"`
	}
	path := "/_matrix/client/v3/rooms/" + url.PathEscape(id) + "/send/m.room.message/" + url.PathEscape(txn)
	if err := r.call(ctx, http.MethodPut, path, content, &out); err != nil {
		if kind, _ := channels.Classify(err); kind == channels.KindPermanent {
			r.forget() // joined again next time: the account may have been removed, then invited back
		}
		return "", fmt.Errorf("posting to Matrix room %s: %w", r.Room, err)
	}
	return out.EventID, nil
}

// join makes the account a member of the room (a no-op when it is one) and
// learns the room's ID. An alias is looked up first: a homeserver answers
// an unknown alias there with a plain 404, where a join may fail vaguely.
func (r *Room) join(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.roomID != "" {
		return r.roomID, nil
	}
	var out struct {
		RoomID string `json:"room_id"`
	}
	if strings.HasPrefix(r.Room, "#") {
		if err := r.call(ctx, http.MethodGet, "/_matrix/client/v3/directory/room/"+url.PathEscape(r.Room), nil, &out); err != nil {
			return "", fmt.Errorf("looking up Matrix room %s: %w", r.Room, err)
		}
	}
	if err := r.call(ctx, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(r.Room), struct{}{}, &out); err != nil {
		return "", fmt.Errorf("joining Matrix room %s: %w", r.Room, err)
	}
	if out.RoomID == "" {
		return "", channels.Temporary(fmt.Errorf("joining Matrix room %s: the homeserver named no room ID", r.Room))
	}
	r.roomID = out.RoomID
	return r.roomID, nil
}

func (r *Room) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roomID = ""
}

// call sends one authenticated request, with body as JSON unless it is
// nil, and decodes a 2xx answer into out; any other answer becomes a
// classified error (refusal).
func (r *Room) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.Homeserver, "/")+path, rd)
	if err != nil {
		return channels.Permanent(fmt.Errorf("%s is not a homeserver address: set %s.homeserver to one such as https://matrix.example.org", r.Homeserver, r.setting()))
	}
	req.Header.Set("Authorization", "Bearer "+r.Token.Reveal())
	req.Header.Set("Content-Type", "application/json")
	client := r.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		// A send is safe to repeat (its transaction ID), so an answer
		// lost on the way is only worth trying again.
		return channels.Temporary(fmt.Errorf("reaching the homeserver %s: %w", r.Homeserver, errors.Unwrap(err)))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return channels.Temporary(fmt.Errorf("reading the homeserver's answer: %w", err))
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(data, out); err != nil {
			return channels.Temporary(fmt.Errorf("the homeserver's answer (status %d) is not JSON: %w", resp.StatusCode, err))
		}
		return nil
	}
	return r.refusal(resp, data)
}

// refusal turns a non-2xx answer into an error of the right class that
// says, for the refusals a person must fix, what to change.
func (r *Room) refusal(resp *http.Response, data []byte) error {
	var e struct {
		Code         string `json:"errcode"`
		Message      string `json:"error"`
		RetryAfterMS int64  `json:"retry_after_ms"`
	}
	_ = json.Unmarshal(data, &e)
	said := fmt.Sprintf("status %d", resp.StatusCode)
	if e.Code != "" {
		said += " " + e.Code
	}
	if e.Message != "" {
		said += ": " + truncate(e.Message, 200)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || e.Code == "M_LIMIT_EXCEEDED":
		return channels.RateLimited(fmt.Errorf("the homeserver asks to wait (%s)", said), retryAfter(resp, e.RetryAfterMS))
	case resp.StatusCode/100 == 5:
		return channels.Temporary(fmt.Errorf("the homeserver failed (%s)", said))
	case resp.StatusCode == http.StatusUnauthorized || e.Code == "M_UNKNOWN_TOKEN" || e.Code == "M_MISSING_TOKEN":
		return channels.Permanent(fmt.Errorf("the homeserver does not accept the access token (%s): put a current access token of the posting account in the environment variable that %s.access_token names (Element: Settings, Help & About, Access Token), then restart Crier", said, r.setting()))
	case e.Code == "M_NOT_FOUND" || resp.StatusCode == http.StatusNotFound:
		return channels.Permanent(fmt.Errorf("the homeserver knows no such room (%s): set %s.room to the room's ID (!abc:example.org, in the room's settings, Advanced) or an alias it publishes", said, r.setting()))
	case resp.StatusCode == http.StatusForbidden || e.Code == "M_FORBIDDEN":
		return channels.Permanent(fmt.Errorf("the posting account may not join or post in the room (%s): invite the account to the room, and give it the right to send messages if the room restricts that", said))
	}
	return channels.Permanent(fmt.Errorf("the homeserver refused the request (%s)", said))
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

func (r *Room) setting() string {
	if r.Setting == "" {
		return "matrix"
	}
	return r.Setting
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
