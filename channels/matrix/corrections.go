package matrix

// Corrections and withdrawals (issue 23): each text message a delivery sent
// is edited in place with an m.replace event carrying m.new_content, each
// event is withdrawn by a redaction. Both read the event first, so a retry
// after a lost answer edits nothing twice, and an event already redacted is
// OutcomeGone.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/matrixroom"
)

// Correct edits each sent message into the corrected payload's, unless it
// already reads so. A picture stays; only its description changes.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	body, err := channels.BodyOf[Body](p)
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
	var out []channels.PartResult
	for _, room := range byRoom(parts) {
		if len(room) != len(body.Messages) {
			return out, channels.Permanent(fmt.Errorf("the corrected post makes %d messages where %d went out: an edit cannot add or remove messages, so withdraw the post and publish it again", len(body.Messages), len(room)))
		}
		for k, part := range room {
			res, err := s.correctPart(ctx, c, part, body.Messages[k])
			if err != nil {
				return out, err
			}
			out = append(out, res)
		}
	}
	return out, nil
}

// correctPart edits one event into m.
func (s *Sender) correctPart(ctx context.Context, c channels.Correction, part channels.Part, m Message) (channels.PartResult, error) {
	res := channels.PartResult{Index: part.Index, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeEdited}
	roomID, eventID := splitRemote(part.RemoteID)
	cur, gone, err := s.current(ctx, roomID, eventID)
	switch {
	case err != nil:
		return res, err
	case gone:
		return res, channels.Permanent(fmt.Errorf("message %d is no longer in the room (it was removed there), so there is nothing to correct", part.Index+1))
	}
	want := map[string]any{"msgtype": m.MsgType, "body": m.Body}
	if m.Format != "" {
		want["format"], want["formatted_body"] = m.Format, m.FormattedBody
	}
	if cur["msgtype"] == "m.image" || m.MsgType == "m.image" {
		// The picture stays as it went out: only its alt text (the body)
		// is edited, on the event's own content.
		want = map[string]any{}
		for k, v := range cur {
			want[k] = v
		}
		want["body"] = m.Body
		if cur["msgtype"] != "m.image" {
			want["body"] = "[Image: " + m.Body + "]" // the picture was left out at send
		}
		delete(want, txnKey)
		delete(want, "m.relates_to") // an edit keeps the event's relation
		res.Note = "the picture stays; only its description changed"
	}
	if cur["body"] == want["body"] && cur["formatted_body"] == want["formatted_body"] {
		res.Outcome, res.Note = channels.OutcomeUnchanged, ""
		return res, nil
	}
	edit := map[string]any{
		"m.new_content": want,
		"m.relates_to":  map[string]string{"rel_type": "m.replace", "event_id": eventID},
		// What a client without edits shows: the new text, starred.
		"msgtype": want["msgtype"], "body": "* " + fmt.Sprint(want["body"]),
	}
	if m.Format != "" && m.MsgType != "m.image" {
		edit["format"], edit["formatted_body"] = m.Format, "* "+m.FormattedBody
	}
	txn := TxnID(c.Key(part.Index))
	edit[txnKey] = txn
	if _, err := s.put(ctx, roomID, "m.room.message", txn, edit); err != nil {
		return res, fmt.Errorf("editing message %d: %w", part.Index+1, err)
	}
	return res, nil
}

// current is an event's content as readers see it now: its latest edit's
// m.new_content by the account, else its own; gone when it was redacted or
// is not there.
func (s *Sender) current(ctx context.Context, roomID, eventID string) (content map[string]any, gone bool, err error) {
	var e event
	err = s.api.Call(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/event/"+url.PathEscape(eventID), nil, &e)
	if matrixroom.ErrCode(err) == "M_NOT_FOUND" {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("reading message %s: %w", eventID, err)
	}
	if e.Redacted() || e.Content["msgtype"] == nil {
		return nil, true, nil
	}
	edits, err := s.relations(ctx, roomID, eventID, "m.replace", 50)
	if err != nil {
		return nil, false, err
	}
	content = e.Content
	var latest int64
	for _, ed := range edits {
		if nc, ok := ed.Content["m.new_content"].(map[string]any); ok && ed.Sender == e.Sender && ed.TS >= latest {
			content, latest = nc, ed.TS
		}
	}
	return content, false, nil
}

// relations returns at most max events related to an event by relType,
// newest first.
func (s *Sender) relations(ctx context.Context, roomID, eventID, relType string, max int) ([]event, error) {
	var all []event
	from := ""
	for len(all) < max {
		var out struct {
			Chunk     []event `json:"chunk"`
			NextBatch string  `json:"next_batch"`
		}
		path := fmt.Sprintf("/_matrix/client/v1/rooms/%s/relations/%s/%s?limit=%d", url.PathEscape(roomID), url.PathEscape(eventID), relType, min(max-len(all), 100))
		if from != "" {
			path += "&from=" + url.QueryEscape(from)
		}
		if err := s.api.Call(ctx, http.MethodGet, path, nil, &out); err != nil {
			return nil, fmt.Errorf("reading the %s relations of %s: %w", relType, eventID, err)
		}
		all = append(all, out.Chunk...)
		if out.NextBatch == "" || len(out.Chunk) == 0 {
			break
		}
		from = out.NextBatch
	}
	return all, nil
}

// Withdraw redacts every event the delivery sent; an event already
// redacted or gone is OutcomeGone. The organiser's reason is not sent: a
// redaction's reason is shown to the room.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	var out []channels.PartResult
	for _, part := range parts {
		res := channels.PartResult{Index: part.Index, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeDeleted}
		roomID, eventID := splitRemote(part.RemoteID)
		if _, gone, err := s.current(ctx, roomID, eventID); err != nil {
			return out, err
		} else if gone {
			res.Outcome = channels.OutcomeGone
			out = append(out, res)
			continue
		}
		txn := TxnID(fmt.Sprintf("crier-withdraw-%s-%s-%d", w.PostID, w.Channel, part.Index))
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/redact/" + url.PathEscape(eventID) + "/" + txn
		if err := s.api.Do(ctx, matrixroom.Request{Method: http.MethodPut, Path: path, Body: map[string]any{}}, nil); err != nil {
			return out, fmt.Errorf("removing message %d: %w", part.Index+1, s.redactRefusal(err))
		}
		out = append(out, res)
	}
	return out, nil
}

// redactRefusal says what to do when the room refuses a redaction.
func (s *Sender) redactRefusal(err error) error {
	if matrixroom.ErrCode(err) == "M_FORBIDDEN" {
		return channels.Permanent(fmt.Errorf("the room does not let the account remove messages (%w): give it the power level to redact its own messages, or remove them by hand", err))
	}
	return err
}

// byRoom groups a delivery's parts by room, each in index order: the k-th
// part of a room is the payload's k-th message.
func byRoom(parts []channels.Part) [][]channels.Part {
	var order []string
	groups := map[string][]channels.Part{}
	for _, p := range parts {
		room, _ := splitRemote(p.RemoteID)
		if _, ok := groups[room]; !ok {
			order = append(order, room)
		}
		groups[room] = append(groups[room], p)
	}
	out := make([][]channels.Part, 0, len(order))
	for _, r := range order {
		out = append(out, groups[r])
	}
	return out
}
