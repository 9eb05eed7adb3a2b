package matrix_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/post"
)

// A picture the homeserver refuses as too large (its media config said
// more) is left out with a note: its place is a text with the alt text,
// and the post goes out.
func TestAPictureRefusedAsTooLargeIsLeftOut(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var sent []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/_matrix/client/v3/join/"):
			w.Write([]byte(`{"room_id":"!r:example.org"}`))
		case r.URL.Path == "/_matrix/client/v1/media/config":
			w.Write([]byte(`{"m.upload.size":104857600}`))
		case r.URL.Path == "/_matrix/media/v3/upload":
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			w.Write([]byte(`{"errcode":"M_TOO_LARGE","error":"Upload request body too large"}`))
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/m.room.message/"):
			var c map[string]any
			json.NewDecoder(r.Body).Decode(&c)
			mu.Lock()
			sent = append(sent, c)
			mu.Unlock()
			w.Write([]byte(`{"event_id":"$e` + string(rune('0'+len(sent))) + `"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	cfg := matrix.Config{Enabled: true, Homeserver: srv.URL, AccessToken: secret.Secret("tok"), Room: "!r:example.org"}
	s, err := matrix.NewSender(cfg, channels.Env{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := matrix.NewFormatter(cfg, channels.Campaign{}).Format(post.Post{ID: "p", Title: "Vigil",
		Image: &post.Image{File: posterFile(t), Alt: "Candles"}})
	r, err := s.Send(context.Background(), channels.Delivery{PostID: "p", Channel: "matrix", Attempt: 1}, pl)
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 2 || sent[1]["msgtype"] != "m.text" || sent[1]["body"] != "[Image: Candles]" {
		t.Errorf("sent %v", sent)
	}
	if len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "refused it as too large") {
		t.Errorf("notes %q", r.Notes)
	}
}
