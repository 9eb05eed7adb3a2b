package matrixroom

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/dendrite"
)

// A message reaches the room, as a second member reads it, once per
// transaction ID: a repeated Send (a retried job) is the first event.
func TestSendReachesTheRoomOncePerTransaction(t *testing.T) {
	t.Parallel()
	hs := dendrite.Start(t, dendrite.Options{})
	poster, reader := hs.NewUser(t), hs.NewUser(t)
	roomID := hs.CreateRoom(t, reader, "organisers", true)
	room := &Room{Homeserver: hs.URL, Room: "#organisers:localhost", Token: secret.Secret(poster.Token)}
	ctx := context.Background()
	msg := Message{Text: "\"Vigil\" was submitted\nhttp://crier.test/posts/1", HTML: `"Vigil" was submitted<br><a href="http://crier.test/posts/1">Open the post</a>`}

	first, err := room.Send(ctx, "crier-notice-1", msg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := room.Send(ctx, "crier-notice-1", msg)
	if err != nil || again != first {
		t.Errorf("the same transaction again: %q, %v; want the first event %q", again, err, first)
	}
	got := hs.Messages(t, reader, roomID)
	if len(got) != 1 {
		t.Fatalf("the room holds %d messages, want 1: %+v", len(got), got)
	}
	e := got[0]
	if e.ID != first || e.Sender != poster.ID || e.Content.MsgType != "m.text" || e.Content.Body != msg.Text ||
		e.Content.Format != "org.matrix.custom.html" || e.Content.FormattedBody != msg.HTML {
		t.Errorf("the room holds %+v", e)
	}
	if _, err := room.Send(ctx, "crier-notice-2", Message{Text: "plain"}); err != nil {
		t.Fatal(err)
	}
	if got := hs.Messages(t, reader, roomID); len(got) != 2 || got[1].Content.Body != "plain" || got[1].Content.FormattedBody != "" {
		t.Errorf("after a second transaction the room holds %+v", got)
	}
}

// Refusals a person must fix are permanent and say what to change, never
// with the token in them.
func TestRefusalsSayWhatToChange(t *testing.T) {
	t.Parallel()
	hs := dendrite.Start(t, dendrite.Options{})
	poster, owner := hs.NewUser(t), hs.NewUser(t)
	hs.CreateRoom(t, owner, "public", true)
	private := hs.CreateRoom(t, owner, "private", false)
	for _, tc := range []struct {
		name, room, token, want string
	}{
		{"bad token", "#public:localhost", "syt_not_a_real_token", "the homeserver does not accept the access token (status 401 M_UNKNOWN_TOKEN: Unknown token): put a current access token of the posting account in the environment variable that console.notify.matrix.access_token names"},
		{"unknown alias", "#nowhere:localhost", poster.Token, "the homeserver knows no such room (status 404 M_NOT_FOUND"},
		{"unknown room ID", "!nowhere:localhost", poster.Token, "set console.notify.matrix.room to the room's ID"},
		{"private room, not invited", private, poster.Token, "the posting account may not join or post in the room (status 403 M_FORBIDDEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			room := &Room{Homeserver: hs.URL, Room: tc.room, Token: secret.Secret(tc.token), Setting: "console.notify.matrix"}
			_, err := room.Send(context.Background(), "t1", Message{Text: "hello"})
			if kind, _ := channels.Classify(err); kind != channels.KindPermanent || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %s: %v\nwant permanent: %s", kind, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), tc.token) {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
}

// A homeserver's rate limit is a wait of the time it asks for (Dendrite
// limits joins, not sends: each new Room joins once).
func TestRateLimitIsAWait(t *testing.T) {
	t.Parallel()
	hs := dendrite.Start(t, dendrite.Options{RateLimit: 1, CoolOff: 30 * time.Second})
	poster, reader := hs.NewUser(t), hs.NewUser(t)
	roomID := hs.CreateRoom(t, reader, "", true)
	if _, err := (&Room{Homeserver: hs.URL, Room: roomID, Token: secret.Secret(poster.Token)}).Send(context.Background(), "t1", Message{Text: "hello"}); err != nil {
		t.Fatal(err)
	}
	_, err := (&Room{Homeserver: hs.URL, Room: roomID, Token: secret.Secret(poster.Token)}).Send(context.Background(), "t2", Message{Text: "hello"})
	kind, wait := channels.Classify(err)
	if kind != channels.KindRateLimited || wait != 30*time.Second || !strings.Contains(err.Error(), "M_LIMIT_EXCEEDED") {
		t.Errorf("got %s after %v: %v; want rate limited for the server's 30s", kind, wait, err)
	}
}

// A homeserver's failure, or no answer, is worth trying again.
func TestOutagesAreTemporary(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/join/") {
			w.Write([]byte(`{"room_id":"!r:example.org"}`))
			return
		}
		w.WriteHeader(http.StatusBadGateway)
	}))
	room := &Room{Homeserver: srv.URL, Room: "!r:example.org", Token: "secret-token"}
	_, err := room.Send(context.Background(), "t1", Message{Text: "hello"})
	if kind, _ := channels.Classify(err); kind != channels.KindTemporary || !strings.Contains(err.Error(), "status 502") {
		t.Errorf("a 502: %s %v", kind, err)
	}
	srv.Close()
	_, err = room.Send(context.Background(), "t1", Message{Text: "hello"})
	var classified *channels.Error
	if kind, _ := channels.Classify(err); kind != channels.KindTemporary || !errors.As(err, &classified) || strings.Contains(err.Error(), "secret-token") {
		t.Errorf("no server: %s %v", kind, err)
	}
}
