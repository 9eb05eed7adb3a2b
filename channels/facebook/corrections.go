package facebook

// Corrections and withdrawals (issue 23): the post's message is edited in
// place (POST /{post-id} with message) and the post deleted (DELETE
// /{post-id}). An edit first reads the message back, so a retry after a
// lost answer finds its own edit and makes no second one; a post already
// gone is not an error when withdrawing.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
)

// Graph API's answer to an id that does not exist (any more): code 100,
// subcode 33.
const subcodeNoObject = 33

func gone(err error) bool {
	var e *graphapi.Error
	return errors.As(err, &e) && e.Code == 100 && e.Subcode == subcodeNoObject
}

// PlanCorrection says what a correction does on Facebook.
func (s *Sender) PlanCorrection(ctx context.Context, postID string, parts []channels.Part) (channels.CorrectionPlan, error) {
	return channels.PlanOf("the post's text is edited in place on the Page (its photo and link card stay as they went out)", nil, parts), nil
}

// Correct edits the post's message into the corrected payload's.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	body, err := channels.BodyOf[Post](p)
	if err != nil {
		return nil, err
	}
	if err := c.EditsInPlace(Name); err != nil {
		return nil, err
	}
	parts, err := channels.SentParts(c.Parts)
	if err != nil {
		return nil, err
	}
	part := parts[0]
	res := channels.PartResult{Index: part.Index, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeEdited}
	var cur pagePost
	err = s.api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: part.RemoteID, Params: url.Values{"fields": {"id,message"}}, What: "reading the post before correcting it"}, &cur)
	switch {
	case gone(err):
		return nil, channels.Permanent(fmt.Errorf("post %s is no longer on the Page (%w): it was deleted there, so there is nothing to correct", part.RemoteID, err))
	case err != nil:
		return nil, err
	case fingerprint(cur.Message) == fingerprint(body.Message):
		res.Outcome = channels.OutcomeUnchanged
		return []channels.PartResult{res}, nil
	}
	err = s.api.Do(ctx, graphapi.Call{Method: http.MethodPost, Path: part.RemoteID, Params: url.Values{"message": {body.Message}}, What: "correcting the post"}, nil)
	if err != nil {
		return nil, err
	}
	if body.Photo != nil || body.Link != "" {
		res.Note = "only the text changed: the photo and the link card stay as they went out"
	}
	return []channels.PartResult{res}, nil
}

// Withdraw deletes the post; one already gone is OutcomeGone.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	var out []channels.PartResult
	for _, part := range parts {
		res := channels.PartResult{Index: part.Index, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeDeleted}
		err := s.api.Do(ctx, graphapi.Call{Method: http.MethodDelete, Path: part.RemoteID, What: "deleting the post"}, nil)
		switch {
		case gone(err):
			res.Outcome = channels.OutcomeGone
		case err != nil:
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}
