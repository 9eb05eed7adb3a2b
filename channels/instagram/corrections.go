package instagram

// Corrections and withdrawals (issue 23), as far as the Instagram Graph
// API allows. It cannot edit a published caption (POST /{ig-media-id}
// takes only comment_enabled), so a correction is a comment under the
// post saying what was corrected, and the caption itself is edited by
// hand in the Instagram app. Withdrawal deletes the post (DELETE
// /{ig-media-id}, in Meta's IGMedia spec); where Instagram refuses, the
// result says to delete it by hand in the app.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
)

// byHand says how to edit a caption in the Instagram app.
const byHand = "edit the caption by hand in the Instagram app (open the post, tap ⋯, then Edit)"

// PlanCorrection says what a correction does on Instagram.
func (s *Sender) PlanCorrection(ctx context.Context, postID string, parts []channels.Part) (channels.CorrectionPlan, error) {
	return channels.PlanOf("Instagram's API cannot change a caption: Crier comments under the post with what was corrected; "+byHand+" if the caption itself must change",
		[]channels.CorrectionStyle{channels.CorrectByReply}, parts), nil
}

// Correct comments under the post with the correction's note, once: a
// retry finds its own comment. An edit in place is refused in words.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	if c.Style != channels.CorrectByReply {
		return nil, channels.Permanent(errors.New("Instagram's API cannot change a published caption: " + byHand))
	}
	parts, err := channels.SentParts(c.Parts)
	if err != nil {
		return nil, err
	}
	part := parts[0]
	if ct, ok := parseContainer(part.RemoteID); ok {
		_, err := s.unpublished(ctx, ct, "comment the correction under it by hand")
		if err == nil {
			err = channels.Permanent(fmt.Errorf("this post was never published on Instagram (container %s): there is nothing to correct", ct.id))
		}
		return nil, err
	}
	text := correctionText(c)
	res := channels.PartResult{Index: part.Index, Outcome: channels.OutcomeReplied, RemoteURL: part.RemoteURL,
		Note: "the caption itself is unchanged: Instagram's API cannot edit it; " + byHand}
	var list struct {
		Data []struct {
			ID   string `json:"id"`
			Text string `json:"text"`
		} `json:"data"`
	}
	err = s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: part.RemoteID + "/comments", Params: url.Values{"fields": {"id,text"}, "limit": {"50"}},
		What: "reading the post's comments before adding the correction"}, &list)
	switch {
	case gone(err):
		return nil, channels.Permanent(fmt.Errorf("the post %s is no longer on Instagram (%w): it was deleted there, so there is nothing to correct", part.RemoteID, err))
	case err != nil:
		return nil, err
	}
	for _, cm := range list.Data {
		if fingerprint(cm.Text) == fingerprint(text) {
			res.RemoteID = cm.ID
			return []channels.PartResult{res}, nil
		}
	}
	var out struct {
		ID string `json:"id"`
	}
	err = s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: part.RemoteID + "/comments", Params: url.Values{"message": {text}}, Creates: true,
		What: "commenting the correction under the post"}, &out)
	if err != nil {
		return nil, err
	}
	res.RemoteID = out.ID
	return []channels.PartResult{res}, nil
}

// correctionText is the correction's comment.
func correctionText(c channels.Correction) string {
	note := strings.TrimSpace(c.Note)
	if note == "" {
		note = "this post was corrected"
	}
	if c.At.IsZero() {
		return "Correction: " + note
	}
	return "Correction (" + c.At.UTC().Format("2 January 2006") + "): " + note
}

// Withdraw deletes the post; one already gone is OutcomeGone. Where
// Instagram refuses the deletion, the error says to do it by hand.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	var out []channels.PartResult
	for _, part := range parts {
		res := channels.PartResult{Index: part.Index, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeDeleted}
		if c, ok := parseContainer(part.RemoteID); ok {
			status, err := s.unpublished(ctx, c, "delete it by hand in the Instagram app (open the post, tap ⋯, then Delete)")
			if err != nil {
				return out, err
			}
			res.Outcome, res.Note = channels.OutcomeGone, "it was never published on Instagram (its container is "+status+")"
			out = append(out, res)
			continue
		}
		err := s.api.Do(ctx, graphapi.Call{Method: http.MethodDelete, Path: part.RemoteID, What: "deleting the Instagram post"}, nil)
		switch {
		case gone(err):
			res.Outcome = channels.OutcomeGone
		case err != nil && isPermanent(err):
			return out, channels.Permanent(fmt.Errorf("Instagram would not let Crier delete the post (%w): delete it by hand in the Instagram app (open the post, tap ⋯, then Delete)", err))
		case err != nil:
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// unpublished asks a container the ledger still names (a post published
// whose record failed, or one an organiser said went out) what became of
// it, and returns its status when it was never published. Published, or
// no longer known, is an error saying to act by hand: Instagram names no
// container's post, and a caption may repeat, so Crier cannot tell which
// post is this one.
func (s *Sender) unpublished(ctx context.Context, c container, byHand string) (string, error) {
	status, _, err := s.status(ctx, c.id)
	switch {
	case gone(err):
		return "", channels.Permanent(fmt.Errorf("Instagram no longer knows this post's container %s (%w), so Crier cannot tell whether it was published: look at the account and, if the post is there, %s", c.id, err, byHand))
	case err != nil:
		return "", err
	case status == statusPublished:
		return "", channels.Permanent(fmt.Errorf("Instagram published this post (container %s), but Crier never learnt the post's id: %s", c.id, byHand))
	}
	return status, nil
}
