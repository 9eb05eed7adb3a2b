package matrix

import (
	"context"
	"fmt"
	"time"

	"github.com/crierhq/crier/channels"
)

// maxReactions bounds the reactions read per message.
const maxReactions = 500

// ReadReach counts the reactions (m.annotation) on each event the delivery
// sent and the replies in each room's thread of the post, as the
// homeserver's /relations returns them. Matrix has no reposts, likes or
// quotes: those stay "not available"; a reply outside the thread (a plain
// reply) is not counted.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	me, err := s.whoami(ctx)
	if err != nil {
		return channels.Reach{}, err
	}
	var out []channels.PartReach
	var replies []channels.Reply
	notes := []string{"a reply outside the post's thread is not counted"}
	for _, room := range byRoom(parts) {
		for k, p := range room {
			roomID, eventID := splitRemote(p.RemoteID)
			reactions, err := s.relations(ctx, roomID, eventID, "m.annotation", maxReactions)
			if err != nil {
				return channels.Reach{}, err
			}
			if len(reactions) == maxReactions {
				notes = append(notes, fmt.Sprintf("message %d: only the first %d reactions are counted", p.Index+1, maxReactions))
			}
			c := channels.Counters{Reactions: channels.CountOf(int64(len(reactions))), Replies: channels.CountOf(0)}
			if k == 0 {
				thread, err := s.relations(ctx, roomID, eventID, "m.thread", 200)
				if err != nil {
					return channels.Reach{}, err
				}
				n := int64(0)
				for _, e := range thread {
					if e.Sender == me || e.Type != "m.room.message" {
						continue // the post's own continuation
					}
					n++
					replies = append(replies, reply(roomID, e))
				}
				c.Replies = channels.CountOf(n)
			}
			out = append(out, channels.PartReach{Index: p.Index, RemoteID: p.RemoteID, Counters: c})
		}
	}
	return channels.NewReach(out, replies, opts.Limit(), notes...), nil
}

// reply is a thread reply as the post page shows it.
func reply(roomID string, e event) channels.Reply {
	text, _ := e.Content["formatted_body"].(string)
	if text == "" {
		text, _ = e.Content["body"].(string)
	}
	return channels.Reply{
		Author:  e.Sender,
		At:      time.UnixMilli(e.TS).UTC(),
		Excerpt: channels.Excerpt(text),
		URL:     permalink(roomID, e.ID),
	}
}
