package newsletter

import (
	"context"

	"github.com/crierhq/crier/channels"
)

// ReadReach reads what a newsletter send reached (channels.ReachReader):
// the counts its ledger and the feedback already keep (delivered, bounced,
// complaints, unsubscribes), the clicks through its counted links, in total
// and per link, and the views of its web version in the archive. The
// networks' counters (replies, likes, ...) are not a newsletter's: they
// stay "not available". Nothing here is about any one supporter.
func (s *Sender) ReadReach(ctx context.Context, parts []channels.Part, opts channels.ReachOptions) (channels.Reach, error) {
	if len(parts) == 0 || parts[0].RemoteID == "" {
		return channels.NewReach(nil, nil, opts.Limit(), errNoSend.Error()), nil
	}
	sendID := parts[0].RemoteID
	sends, err := progress(ctx, s.ledger.db, "id = $1", sendID)
	if err != nil {
		return channels.Reach{}, channels.Temporary(err)
	}
	if len(sends) == 0 {
		return channels.Reach{}, channels.Permanent(errNoSend)
	}
	p := sends[0]
	r := channels.NewReach(nil, nil, opts.Limit())
	r.Extra = []channels.NamedCount{
		{Name: "delivered", Count: channels.CountOf(int64(p.Delivered))},
		{Name: "bounced", Count: channels.CountOf(int64(p.Bounced))},
		{Name: "complaints", Count: channels.CountOf(int64(p.Complained))},
		{Name: "unsubscribes", Count: channels.CountOf(int64(p.Unsubscribed))},
	}
	views, err := s.archive.Views(ctx, sendID)
	if err != nil {
		return channels.Reach{}, channels.Temporary(err)
	}
	if !s.cfg.CountsClicks() {
		r.Extra = append(r.Extra, channels.NamedCount{Name: "clicks"})
		r.Notes = append(r.Notes, "clicks are not counted: channels.email.count_clicks is false")
	} else {
		links, err := Clicks(ctx, s.ledger.db, sendID)
		if err != nil {
			return channels.Reach{}, channels.Temporary(err)
		}
		var total int64
		for _, l := range links {
			total += l.Clicks
		}
		r.Extra = append(r.Extra, channels.NamedCount{Name: "clicks", Count: channels.CountOf(total)})
		for _, l := range links {
			r.Extra = append(r.Extra, channels.NamedCount{Name: "clicks " + l.URL, Count: channels.CountOf(l.Clicks)})
		}
	}
	r.Extra = append(r.Extra, channels.NamedCount{Name: "archive views", Count: channels.CountOf(views)})
	return r, nil
}
