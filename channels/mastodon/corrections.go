package mastodon

// Corrections and withdrawals (issue 23): a delivered thread is edited in
// place (PUT /api/v1/statuses/:id, each part) or deleted (DELETE). Both
// read the status first, so a retry after a lost answer neither makes a
// second edit revision nor fails on a status already gone.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/crierhq/crier/channels"
)

// remoteStatus is what the corrections read of a status.
type remoteStatus struct {
	ID          string `json:"id"`
	URL         string `json:"url"`
	Content     string `json:"content"`
	SpoilerText string `json:"spoiler_text"`
	Language    string `json:"language"`
	Sensitive   bool   `json:"sensitive"`
	Media       []struct {
		ID          string `json:"id"`
		Description string `json:"description"`
	} `json:"media_attachments"`
}

// Correct edits each status of the delivery into the corrected payload's,
// skipping those that already read as corrected. The corrected text must
// fit in as many statuses as went out: an edit cannot add to a thread.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	statuses, err := channels.BodyOf[Statuses](p)
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
	if len(statuses) != len(parts) {
		return nil, channels.Permanent(fmt.Errorf("the corrected post needs %d statuses but went out as %d: an edit cannot change a thread's length; shorten the correction, or withdraw and post it again", len(statuses), len(parts)))
	}
	var results []channels.PartResult
	for i, st := range statuses {
		r, err := s.correctStatus(ctx, i, len(parts), parts[i], st)
		if err != nil {
			return results, err
		}
		results = append(results, r)
	}
	return results, nil
}

// correctStatus edits one status unless it already reads as st.
func (s *Sender) correctStatus(ctx context.Context, i, n int, part channels.Part, st Status) (channels.PartResult, error) {
	what := fmt.Sprintf("correcting status %d of %d (id %s)", i+1, n, part.RemoteID)
	res := channels.PartResult{Index: i, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}
	var cur remoteStatus
	path := "/api/v1/statuses/" + url.PathEscape(part.RemoteID)
	if _, err := s.api(ctx, http.MethodGet, path, "", nil, &cur); err != nil {
		return res, s.refusal(what, err)
	}
	desc := ""
	if st.Media != nil {
		desc = st.Media.Description
	}
	if sameStatus(cur, st, desc) {
		res.Outcome = channels.OutcomeUnchanged
		return res, nil
	}
	edit := map[string]any{
		"status": st.Status, "spoiler_text": st.SpoilerText, "sensitive": st.Sensitive || st.SpoilerText != "",
	}
	if st.Language != "" {
		edit["language"] = st.Language
	}
	// An edit without media_ids drops the pictures: keep them, with the
	// corrected description. A changed picture is not uploaded again.
	if len(cur.Media) > 0 {
		ids := []string{}
		attrs := []map[string]string{}
		for _, m := range cur.Media {
			ids = append(ids, m.ID)
			if st.Media != nil {
				attrs = append(attrs, map[string]string{"id": m.ID, "description": desc})
			}
		}
		edit["media_ids"], edit["media_attributes"] = ids, attrs
		if st.Media != nil && st.Media.URL+st.Media.File != "" {
			res.Note = "the picture stays as it went out; only its description is corrected"
		}
	}
	body, err := json.Marshal(edit)
	if err != nil {
		return res, channels.Permanent(fmt.Errorf("%s: encoding the edit: %w", what, err))
	}
	var after remoteStatus
	_, err = s.api(ctx, http.MethodPut, path, "application/json", bytes.NewReader(body), &after)
	var hs *httpStatusError
	if errors.As(err, &hs) && hs.StatusCode == http.StatusUnprocessableEntity && strings.Contains(hs.Message, "not changed") {
		// GoToSocial refuses an edit to what the status already says.
		res.Outcome = channels.OutcomeUnchanged
		return res, nil
	}
	if err != nil {
		return res, s.refusal(what, err)
	}
	res.Outcome = channels.OutcomeEdited
	return res, nil
}

// sameStatus reports whether cur already reads as st: the same words and
// links, content warning, language and picture descriptions.
func sameStatus(cur remoteStatus, st Status, desc string) bool {
	want := fingerprintText(st.Status)
	words, links := fingerprintHTML(cur.Content)
	if words != want.words || !containsAll(links, want.links) || !containsAll(want.links, links) {
		return false
	}
	if strings.TrimSpace(cur.SpoilerText) != strings.TrimSpace(st.SpoilerText) {
		return false
	}
	if st.Language != "" && cur.Language != "" && cur.Language != st.Language {
		return false
	}
	for _, m := range cur.Media {
		if st.Media != nil && m.Description != desc {
			return false
		}
	}
	return true
}

// Withdraw deletes every status of the delivery, the replies first so that
// no part is left answering a deleted one. A status already gone is
// OutcomeGone.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	var results []channels.PartResult
	for i := len(parts) - 1; i >= 0; i-- {
		part := parts[i]
		res := channels.PartResult{Index: i, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeDeleted}
		var gone remoteStatus
		_, err := s.api(ctx, http.MethodDelete, "/api/v1/statuses/"+url.PathEscape(part.RemoteID), "", nil, &gone)
		var hs *httpStatusError
		switch {
		case errors.As(err, &hs) && hs.StatusCode == http.StatusNotFound:
			res.Outcome = channels.OutcomeGone
		case err != nil:
			slices.Reverse(results) // by index, as on success
			return results, s.refusal(fmt.Sprintf("deleting status %d of %d (id %s)", i+1, len(parts), part.RemoteID), err)
		}
		results = append(results, res)
	}
	slices.Reverse(results)
	return results, nil
}

// refusal classifies an error of a correction or withdrawal, in plain
// words where a person must act. Reading, editing to the same text and
// deleting are safe to repeat: nothing is Ambiguous.
func (s *Sender) refusal(what string, err error) error {
	var hs *httpStatusError
	if errors.As(err, &hs) {
		switch hs.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return channels.Permanent(fmt.Errorf("%s: the instance refuses the account (%w): was the account suspended or removed, or its token revoked? Change the post by hand, or connect the account again", what, err))
		case http.StatusNotFound:
			return channels.Permanent(fmt.Errorf("%s: the status is no longer on the instance (%w): it was deleted there, so there is nothing to correct", what, err))
		case http.StatusUnprocessableEntity:
			return channels.Permanent(fmt.Errorf("%s: the instance refuses the edit (%w): it may not allow editing this status any more (some servers limit edits in time or number); change it by hand", what, err))
		}
	}
	return s.classify(what, err, nil, false)
}

// PlanCorrection says what a correction does on Mastodon.
func (s *Sender) PlanCorrection(_ context.Context, _ string, parts []channels.Part) (channels.CorrectionPlan, error) {
	return channels.PlanOf("every post of the thread is edited in place (text, content warning, language, picture description); readers see \"edited\" and its history", nil, parts), nil
}
