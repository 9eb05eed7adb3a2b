package matrix_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/internal/testpeers/dendrite"
	"github.com/crierhq/crier/post"
)

// TestConformance runs the channel conformance suite against a real
// Dendrite: the bot posts to a room by its alias, a reader reads it.
func TestConformance(t *testing.T) {
	t.Parallel()
	var r *room // set by Start, before any subtest reads
	channeltest.Run(t, channeltest.Harness{
		Provider: matrix.Provider{},
		Start: func(t *testing.T) *channeltest.Peer {
			r = newRoom(t)
			return &channeltest.Peer{
				Section: fmt.Sprintf("enabled: true\nhomeserver: %s\naccess_token: %s\nroom: \"#news:localhost\"\n", r.hs.URL, r.bot.Token),
				Secrets: []string{r.bot.Token},
				Creates: isSend,
				Count:   func(t *testing.T) int { return len(r.posted(t)) },
				// Members react and answer in the thread; Matrix counts
				// nothing else.
				Reach: func(t *testing.T, parts []channels.Part) channels.Counters {
					_, id := split(parts[0].RemoteID)
					r.react(t, id, "🕯️")
					r.react(t, id, "👍")
					r.replyInThread(t, id, "I will be there")
					r.hs.Events(t, r.reader, r.id) // until /relations shows them too
					return channels.Counters{Reactions: channels.CountOf(2), Replies: channels.CountOf(1)}
				},
			}
		},
		Corrections: &channeltest.Corrections{
			Changes: isSend,
			Read: func(t *testing.T, id string) (string, bool) {
				_, ev := split(id)
				return r.reads(t, ev)
			},
			Revisions: func(t *testing.T, id string) int {
				_, ev := split(id)
				return 1 + len(r.edits(t, ev))
			},
		},
		Decode:   channeltest.DecodeJSON[matrix.Body],
		Messages: texts,
		// Dendrite's default upload limit (media_api.max_file_size_bytes);
		// a larger picture is left out with a note.
		Image: &channeltest.ImageLimit{Max: 10 << 20},
		Limits: []channeltest.Limit{{
			// What the suite fills is behind the content warning it sets,
			// so the HTML is what carries it.
			Name: "formatted_body bytes", Max: matrix.MaxHTMLBytes, Unit: "é", Over: channeltest.Split,
			Fill: func(p post.Post, filler string) post.Post {
				p.Summary, p.Body = filler, ""
				return p
			},
			Count: matrix.EncodedLen,
		}},
	})
}

// isSend picks the requests that create an event.
func isSend(r *http.Request) bool {
	return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/m.room.message/")
}

// texts is each message's text as a reader sees it: the HTML, else the
// plain body.
func texts(b channels.Body) []string {
	var out []string
	for _, m := range b.(matrix.Body).Messages {
		if m.FormattedBody != "" {
			out = append(out, m.FormattedBody)
		} else {
			out = append(out, m.Body)
		}
	}
	return out
}

func split(remoteID string) (roomID, eventID string) {
	i := strings.Index(remoteID, "/$")
	return remoteID[:i], remoteID[i+1:]
}

// room is a Dendrite with a bot, a reader, and a public room #news the
// reader made.
type room struct {
	hs          *dendrite.Server
	bot, reader dendrite.User
	id          string
}

func newRoom(t *testing.T) *room {
	hs := dendrite.Start(t, dendrite.Options{})
	r := &room{hs: hs, bot: hs.NewUser(t), reader: hs.NewUser(t)}
	r.id = hs.CreateRoom(t, r.reader, "news", true)
	return r
}

// posted is the bot's messages the room shows (edits and redacted ones
// aside), as the reader reads them.
func (r *room) posted(t *testing.T) []dendrite.RawEvent {
	var out []dendrite.RawEvent
	for _, e := range r.hs.Events(t, r.reader, r.id) {
		if e.Type == "m.room.message" && e.Sender == r.bot.ID && !e.Redacted() && relType(e) != "m.replace" {
			out = append(out, e)
		}
	}
	return out
}

func relType(e dendrite.RawEvent) string {
	rel, _ := e.Content["m.relates_to"].(map[string]any)
	s, _ := rel["rel_type"].(string)
	return s
}

func relatesTo(e dendrite.RawEvent) string {
	rel, _ := e.Content["m.relates_to"].(map[string]any)
	s, _ := rel["event_id"].(string)
	return s
}

// edits are the bot's m.replace events of id, oldest first.
func (r *room) edits(t *testing.T, id string) []dendrite.RawEvent {
	var out []dendrite.RawEvent
	for _, e := range r.hs.Events(t, r.reader, r.id) {
		if e.Sender == r.bot.ID && relType(e) == "m.replace" && relatesTo(e) == id && !e.Redacted() {
			out = append(out, e)
		}
	}
	return out
}

// reads is the text the reader sees for event id now (its latest edit),
// and false when it is gone.
func (r *room) reads(t *testing.T, id string) (string, bool) {
	for _, e := range r.hs.Events(t, r.reader, r.id) {
		if e.ID != id {
			continue
		}
		if e.Redacted() || e.Content["body"] == nil {
			return "", false
		}
		content := e.Content
		if eds := r.edits(t, id); len(eds) > 0 {
			content, _ = eds[len(eds)-1].Content["m.new_content"].(map[string]any)
		}
		return fmt.Sprint(content["body"]) + "\n" + fmt.Sprint(content["formatted_body"]), true
	}
	return "", false
}

func (r *room) react(t *testing.T, id, key string) {
	r.hs.Send(t, r.reader, r.id, "m.reaction", map[string]any{"m.relates_to": map[string]any{"rel_type": "m.annotation", "event_id": id, "key": key}})
}

func (r *room) replyInThread(t *testing.T, id, text string) {
	r.hs.Send(t, r.reader, r.id, "m.room.message", map[string]any{"msgtype": "m.text", "body": text,
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": id}})
}
