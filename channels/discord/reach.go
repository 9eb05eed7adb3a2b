package discord

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/crierhq/crier/channels"
)

// ReadReach reads the reactions on the delivery's message (GET the message,
// through the bot's channel or the webhook that posted it). Discord gives
// no count of replies, boosts or views: those stay "not available", and
// replies in the channel are members' messages, not read back.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	var out []channels.PartReach
	for _, p := range parts {
		if p.Index != partMessage {
			continue // the crosspost part names the same message
		}
		var msg struct {
			Reactions []struct {
				Count int64 `json:"count"`
			} `json:"reactions"`
		}
		u, bucket := s.messageURL(p.RemoteID)
		body, err := s.request(ctx, http.MethodGet, u, bucket+"/get", nil, false, "reading the reactions on message "+p.RemoteID)
		if err != nil {
			return channels.Reach{}, err
		}
		if err := json.Unmarshal(body, &msg); err != nil {
			return channels.Reach{}, channels.Temporary(fmt.Errorf("reading the reactions on message %s: %w", p.RemoteID, err))
		}
		var n int64 // no reactions field means none: Discord leaves it out
		for _, r := range msg.Reactions {
			n += r.Count
		}
		out = append(out, channels.PartReach{Index: p.Index, RemoteID: p.RemoteID, Counters: channels.Counters{Reactions: channels.CountOf(n)}})
	}
	return channels.NewReach(out, nil, opts.Limit()), nil
}
