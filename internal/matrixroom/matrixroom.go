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
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

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

// api is the account's client, with the Room's settings.
func (r *Room) api() *Client {
	return &Client{Homeserver: r.Homeserver, Token: r.Token, Setting: r.Setting, HTTP: r.Client}
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
	if err := r.api().Call(ctx, http.MethodPut, path, content, &out); err != nil {
		if kind, _ := channels.Classify(err); kind == channels.KindPermanent {
			r.forget() // joined again next time: the account may have been removed, then invited back
		}
		return "", fmt.Errorf("posting to Matrix room %s: %w", r.Room, err)
	}
	return out.EventID, nil
}

// join makes the account a member of the room once per Room and learns
// the room's ID.
func (r *Room) join(ctx context.Context) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.roomID != "" {
		return r.roomID, nil
	}
	id, err := r.api().Join(ctx, r.Room)
	if err != nil {
		return "", err
	}
	r.roomID = id
	return id, nil
}

func (r *Room) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.roomID = ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
