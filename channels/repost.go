package channels

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Repost corrects by posting anew (CorrectByRepost) in the order that
// cannot lose a post: publish puts the corrected posts up first, and only
// once they all are does withdraw delete old. A publish refused for good
// so leaves the old posts where they were (what it had put up part way is
// deleted again). When the old posts cannot be
// deleted for good the correction is still done (the corrected posts are
// up and become the delivery's), and the first result's note names what
// is left to delete by hand; a passing failure to delete is returned for
// the job to retry (publish finds its earlier posts again).
func Repost(ctx context.Context, old []Part, publish func(context.Context) ([]PartResult, error),
	withdraw func(context.Context, []Part) ([]PartResult, error)) ([]PartResult, error) {
	out, err := publish(ctx)
	if k, _ := Classify(err); err != nil && k == KindPermanent && len(out) > 0 {
		return takeBack(ctx, out, withdraw, err)
	}
	if err != nil {
		return out, err
	}
	deleted, err := withdraw(ctx, old)
	if err == nil || len(out) == 0 {
		return out, err
	}
	if k, _ := Classify(err); k != KindPermanent {
		return out, fmt.Errorf("the corrected post is up; deleting the old one: %w", err)
	}
	var left []string
	for _, p := range old {
		if !slices.ContainsFunc(deleted, func(r PartResult) bool { return r.RemoteID == p.RemoteID }) {
			left = append(left, fmt.Sprintf("%d (%s)", p.Index+1, orID(p)))
		}
	}
	out[0].Note = fmt.Sprintf("the corrected post is up, but the old one's part %s could not be deleted: %v", strings.Join(left, ", "), err)
	return out, nil
}

// takeBack deletes the corrected posts a publish refused for good part
// way had put up, so the old ones stand alone; those it cannot delete stay
// in the results as reposted (a withdrawal deletes them).
func takeBack(ctx context.Context, out []PartResult, withdraw func(context.Context, []Part) ([]PartResult, error), refused error) ([]PartResult, error) {
	var up []Part
	for _, r := range out {
		up = append(up, Part{Index: r.Index, RemoteID: r.RemoteID, RemoteURL: r.RemoteURL})
	}
	deleted, err := withdraw(ctx, up)
	for i := range out {
		if slices.ContainsFunc(deleted, func(d PartResult) bool { return d.RemoteID == out[i].RemoteID }) {
			out[i].Outcome = OutcomeDeleted
			out[i].Note = "taken back: the corrected post was refused part way, the old one stays"
		}
	}
	if err != nil {
		return out, fmt.Errorf("%w (the part of the corrected post already up could not be deleted: %v)", refused, err)
	}
	return out, refused
}

func orID(p Part) string {
	if p.RemoteURL != "" {
		return p.RemoteURL
	}
	return p.RemoteID
}

// RepostDelivery is the delivery a correction by repost sends the
// corrected post as: its own id per revision, its ledger l lasting one
// attempt.
func RepostDelivery(c Correction, attempt int, l *MemoryLedger) Delivery {
	return Delivery{PostID: c.PostID + "\x00r" + strconv.Itoa(c.Revision), Channel: c.Channel, Attempt: attempt, Ledger: l}
}

// Reposted is the results of the parts a repost's delivery saved.
func Reposted(l *MemoryLedger) []PartResult {
	var out []PartResult
	for _, part := range l.Saved {
		out = append(out, PartResult{Index: part.Index, Outcome: OutcomeReposted, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL})
	}
	return out
}
