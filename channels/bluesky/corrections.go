package bluesky

// Corrections and withdrawals (issue 23). Bluesky has no edit: a correction
// is a reply to the post saying what was corrected (likes and reposts
// stay), or the post deleted and posted again (they are lost), as the
// organiser chooses. The reply's record key is derived from the correction
// (post, instance, revision), so a retry after a lost answer finds it
// instead of replying twice; a deleted record is simply not found again.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/rivo/uniseg"

	"github.com/crierhq/crier/channels"
)

// CorrectionKey derives the record key of a correction's reply: a TID no
// delivery part can have, the same on every attempt of that revision.
func CorrectionKey(postID, channel string, revision int) string {
	return RecordKey(postID+"\x00correction\x00"+strconv.Itoa(revision), channel, 0)
}

// Correct replies to the delivered thread with what was corrected
// (CorrectByReply, also the default), or deletes it and posts the corrected
// payload again (CorrectByRepost) under record keys derived from the
// revision.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	corrected, err := channels.BodyOf[Parts](p)
	if err != nil {
		return nil, err
	}
	parts, err := channels.SentParts(c.Parts)
	if err != nil {
		return nil, err
	}
	sess, err := s.cli.session(ctx)
	if err != nil {
		return nil, err
	}
	if c.Style == channels.CorrectByRepost {
		return s.repost(ctx, c, parts, p)
	}
	return s.reply(ctx, c, sess.DID, parts, correctionText(c.Note, corrected))
}

// reply answers the thread's last post with text under the correction's
// derived key, unless an earlier attempt already did.
func (s *Sender) reply(ctx context.Context, c channels.Correction, did string, parts []channels.Part, text string) ([]channels.PartResult, error) {
	last := parts[len(parts)-1]
	rkey := CorrectionKey(c.PostID, c.Channel, c.Revision)
	result := func(w written) []channels.PartResult {
		return []channels.PartResult{{Index: last.Index, Outcome: channels.OutcomeReplied, RemoteID: w.URI, RemoteURL: webURL(did, rkeyOf(w.URI))}}
	}
	if w, found, err := s.getRecord(ctx, did, rkey); err != nil {
		return nil, s.refusal("checking for the correction an earlier attempt posted", err)
	} else if found {
		return result(w), nil
	}
	root, err := s.existing(ctx, did, parts[0])
	if err != nil {
		return nil, err
	}
	parent, err := s.existing(ctx, did, last)
	if err != nil {
		return nil, err
	}
	rec := Record{Type: Collection, Text: text, CreatedAt: s.now().UTC().Format("2006-01-02T15:04:05.000Z"),
		Reply: &Reply{Root: StrongRef(root), Parent: StrongRef(parent)}}
	w, _, err := s.createRecord(ctx, did, rkey, rec)
	if err != nil {
		// The answer may be lost, or this write refused because an
		// earlier one's was: the derived key says.
		existing, found, gerr := s.getRecord(ctx, did, rkey)
		if gerr != nil || !found {
			return nil, s.refusal("posting the correction reply", err)
		}
		w = existing
	}
	return result(w), nil
}

// existing reads a delivered post's strong reference, saying in plain
// words when it was deleted.
func (s *Sender) existing(ctx context.Context, did string, part channels.Part) (written, error) {
	w, found, err := s.getRecord(ctx, did, rkeyOf(part.RemoteID))
	if err != nil {
		return w, s.refusal("reading the post to correct", err)
	}
	if !found {
		return w, channels.Permanent(fmt.Errorf("post %d (%s) is no longer on Bluesky: it was deleted there, so there is nothing to reply to; post the correction anew", part.Index+1, part.RemoteID))
	}
	return w, nil
}

// repost sends the corrected payload as a delivery of its own, keyed by
// the revision (its retries find what an earlier attempt wrote), then
// deletes the delivered thread (channels.Repost: a refused post leaves
// the old one up).
func (s *Sender) repost(ctx context.Context, c channels.Correction, parts []channels.Part, p channels.Payload) ([]channels.PartResult, error) {
	publish := func(ctx context.Context) ([]channels.PartResult, error) {
		l := &channels.MemoryLedger{}
		// Attempt 2: every part is looked up under its derived key first.
		d := channels.RepostDelivery(c, 2, l)
		_, err := s.Send(ctx, d, p)
		return channels.Reposted(l), err
	}
	withdraw := func(ctx context.Context, old []channels.Part) ([]channels.PartResult, error) {
		return s.Withdraw(ctx, channels.Withdrawal{PostID: c.PostID, Channel: c.Channel, Parts: old})
	}
	return channels.Repost(ctx, parts, publish, withdraw)
}

// correctionText is the reply: "Correction: " and the organiser's note, or
// the corrected post's first part without one, within a post's limits.
func correctionText(note string, corrected Parts) string {
	what := strings.TrimSpace(note)
	if what == "" && len(corrected) > 0 {
		what = corrected[0].Record.Text
	}
	text := "Correction: " + what
	if fits(text) {
		return text
	}
	var b strings.Builder
	g := uniseg.NewGraphemes(text)
	for n := 0; g.Next() && n < MaxGraphemes-1 && b.Len()+len(g.Str()) <= MaxBytes-len("…"); n++ {
		b.WriteString(g.Str())
	}
	return strings.TrimSpace(b.String()) + "…"
}

// Withdraw deletes every post of the delivery, the replies first. A post
// already gone is OutcomeGone: deleting twice is harmless.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	sess, err := s.cli.session(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]channels.PartResult, len(parts))
	for i := len(parts) - 1; i >= 0; i-- {
		part := parts[i]
		out[i] = channels.PartResult{Index: i, Outcome: channels.OutcomeDeleted, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}
		rkey := rkeyOf(part.RemoteID)
		_, found, err := s.getRecord(ctx, sess.DID, rkey)
		if err != nil {
			return out[i+1:], s.refusal(fmt.Sprintf("reading post %d of %d before deleting it", i+1, len(parts)), err)
		}
		if !found {
			out[i].Outcome = channels.OutcomeGone
			continue
		}
		if err := s.deleteRecord(ctx, sess.DID, rkey); err != nil {
			return out[i+1:], s.refusal(fmt.Sprintf("deleting post %d of %d", i+1, len(parts)), err)
		}
	}
	return out, nil
}

// deleteRecord is com.atproto.repo.deleteRecord; the PDS answers it
// alike whether the record was there or not.
func (s *Sender) deleteRecord(ctx context.Context, did, rkey string) error {
	body, err := json.Marshal(map[string]any{"repo": did, "collection": Collection, "rkey": rkey})
	if err != nil {
		return channels.Permanent(fmt.Errorf("encoding the deletion: %w", err))
	}
	_, call, err := s.cli.call(ctx, request{method: http.MethodPost, nsid: "com.atproto.repo.deleteRecord", body: body, auth: true}, nil)
	if err != nil {
		return classify("deleting the record", err, call, false)
	}
	return nil
}

// refusal classifies an error of a correction or withdrawal, in plain
// words where a person must act (a removed or suspended account).
func (s *Sender) refusal(what string, err error) error {
	var xe *xrpcError
	if errors.As(err, &xe) {
		switch xe.Name {
		case "AccountDeactivated", "AccountTakedown", "RepoDeactivated", "RepoTakendown", "RepoSuspended":
			return channels.Permanent(fmt.Errorf("%s: Bluesky refuses the account (%w): it was deactivated, suspended or removed; change the post by hand once it is back", what, err))
		}
	}
	return classify(what, err, nil, false)
}

// PlanCorrection says what a correction does on Bluesky.
func (s *Sender) PlanCorrection(_ context.Context, _ string, parts []channels.Part) (channels.CorrectionPlan, error) {
	return channels.PlanOf("Bluesky cannot edit: a reply to the post says what was corrected (likes and reposts stay); or delete and post again (the new post loses the old one's likes, reposts and replies)", []channels.CorrectionStyle{channels.CorrectByReply, channels.CorrectByRepost}, parts), nil
}
