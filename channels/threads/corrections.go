package threads

// Corrections and withdrawals. The Threads API cannot edit a post
// (developers.facebook.com/docs/threads/posts: there is no edit call), so
// a correction is, as on Bluesky, either a reply to the chain's last post
// saying what was corrected (likes and reposts stay; the default), or the
// chain deleted and posted again (they are lost). Deleting is
// DELETE /{media-id} (threads_delete permission; at most 100 deletes a day
// per account, docs/threads/posts/delete-posts). A correction reply found
// among the last post's replies is not posted twice; a post already gone
// is not an error when withdrawing.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/channels/plaintext"
)

// PlanCorrection says what a correction does on Threads.
func (s *Sender) PlanCorrection(_ context.Context, _ string, parts []channels.Part) (channels.CorrectionPlan, error) {
	return channels.PlanOf("Threads cannot edit a post: a reply to the chain says what was corrected (likes and reposts stay); or the chain is deleted and posted again (the new posts lose the old ones' likes, reposts and replies)",
		[]channels.CorrectionStyle{channels.CorrectByReply, channels.CorrectByRepost}, parts), nil
}

// Correct replies to the chain's last post with what was corrected
// (CorrectByReply, also the default), or deletes the chain and publishes
// the corrected payload (CorrectByRepost).
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	corrected, err := channels.BodyOf[Chain](p)
	if err != nil {
		return nil, err
	}
	parts, err := channels.SentParts(c.Parts)
	if err != nil {
		return nil, err
	}
	if c.Style == channels.CorrectByRepost {
		return s.repost(ctx, c, parts, p)
	}
	last := parts[len(parts)-1]
	reply := Part{Text: correctionText(c.Note, corrected), Link: s.changedLink(ctx, parts[0], corrected)}
	found, ok := channels.Part{}, false
	if c.Attempt > 1 {
		// An earlier attempt's answer may have been lost: find its reply.
		// The first attempt cannot have posted one, so it reads nothing
		// (nor needs threads_read_replies).
		rb := readBack{since: c.At.Add(-clockSkew), correction: true}
		if found, ok, err = s.findPosted(ctx, last.Index+1, reply, last.RemoteID, rb); gone(err) {
			return nil, s.noLonger(last)
		} else if err != nil {
			return nil, s.cannotCheck(err, true)
		}
	}
	if !ok {
		id, err := s.publish(ctx, reply, last.RemoteID, new([]string))
		switch {
		case gone(err):
			return nil, s.noLonger(last)
		case err != nil:
			return nil, err
		}
		found = channels.Part{RemoteID: id, RemoteURL: s.permalink(ctx, id)}
	}
	return []channels.PartResult{{Index: last.Index, Outcome: channels.OutcomeReplied, RemoteID: found.RemoteID, RemoteURL: found.RemoteURL}}, nil
}

// clockSkew is how far Threads' clock may be behind Crier's: a reply
// stamped earlier than the correction by more is an earlier correction's.
const clockSkew = time.Minute

func (s *Sender) noLonger(last channels.Part) error {
	return channels.Permanent(fmt.Errorf("post %d (%s) is no longer on Threads: it was deleted there, so there is nothing to reply to; post the correction anew", last.Index+1, last.RemoteID))
}

// changedLink is the corrected chain's link attachment when it is not
// the one the delivered chain's first post has ("" when it is, or there
// is none): the reply carries the corrected link. When the first post
// cannot be read the link is attached anyway.
func (s *Sender) changedLink(ctx context.Context, first channels.Part, corrected Chain) string {
	if len(corrected) == 0 || corrected[0].Link == "" {
		return ""
	}
	var m media
	err := s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: first.RemoteID, Params: url.Values{"fields": {"link_attachment_url"}}, What: "reading the post's link"}, &m)
	if err == nil && m.Link == corrected[0].Link {
		return ""
	}
	return corrected[0].Link
}

// correctionText is the reply: "Correction: " and the organiser's note, or
// the corrected chain's first post without one, within Threads' limit.
func correctionText(note string, corrected Chain) string {
	what := strings.TrimSpace(note)
	if what == "" && len(corrected) > 0 {
		what = corrected[0].Text
	}
	text := "Correction: " + what
	if Count(text) <= MaxText {
		return text
	}
	if at, ok := plaintext.Fit(rule{}, text, func(c plaintext.Cut) bool { return Count(plaintext.Kept(text, c, false)) <= MaxText }); ok {
		return plaintext.Kept(text, at, false)
	}
	return "Correction"
}

// repost publishes the corrected payload as a delivery of its own, then
// deletes the old chain (channels.Repost). Its ledger lasts one attempt,
// so a retry reads back every post the corrected chain lacks, passing
// over the old chain's.
func (s *Sender) repost(ctx context.Context, c channels.Correction, parts []channels.Part, p channels.Payload) ([]channels.PartResult, error) {
	publish := func(ctx context.Context) ([]channels.PartResult, error) {
		l := &channels.MemoryLedger{}
		d := channels.RepostDelivery(c, max(c.Attempt, 1), l)
		rb := readBack{all: c.Attempt > 1, not: map[string]bool{}, since: c.At.Add(-clockSkew), correction: true}
		for _, part := range parts {
			rb.not[part.RemoteID] = true
		}
		_, err := s.send(ctx, d, p, rb)
		return channels.Reposted(l), err
	}
	withdraw := func(ctx context.Context, old []channels.Part) ([]channels.PartResult, error) {
		return s.Withdraw(ctx, channels.Withdrawal{PostID: c.PostID, Channel: c.Channel, Parts: old})
	}
	return channels.Repost(ctx, parts, publish, withdraw)
}

// Withdraw deletes every post of the chain, the replies first. A post
// already gone is OutcomeGone: deleting twice is harmless.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	out := make([]channels.PartResult, len(parts))
	for i := len(parts) - 1; i >= 0; i-- {
		part := parts[i]
		out[i] = channels.PartResult{Index: part.Index, Outcome: channels.OutcomeDeleted, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}
		err := s.api.Do(ctx, graphapi.Call{Method: http.MethodDelete, Path: part.RemoteID, What: fmt.Sprintf("deleting post %d of %d", i+1, len(parts))}, nil)
		switch {
		case gone(err):
			out[i].Outcome = channels.OutcomeGone
		case graphapi.CodeOf(err) == 10 || (graphapi.CodeOf(err) >= 200 && graphapi.CodeOf(err) < 300):
			return out[i+1:], channels.Permanent(fmt.Errorf("%w: deleting needs the threads_delete permission: make a new token granting it (docs/meta.md), or delete the posts in the Threads app", err))
		case err != nil:
			return out[i+1:], err
		}
	}
	return out, nil
}

// gone reports the Graph API's answer to an id that does not exist (any
// more): code 100, subcode 33.
func gone(err error) bool {
	var e *graphapi.Error
	return errors.As(err, &e) && e.Code == 100 && e.Subcode == 33
}
