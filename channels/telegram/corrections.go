package telegram

// Corrections and withdrawals (issue 23): each message is edited in place
// (editMessageText, or editMessageCaption for a photo) or deleted
// (deleteMessage). Telegram answers "message is not modified" to an edit
// that changes nothing, so a retry after a lost answer finds its own edit
// and makes no second one; a message already gone is not an error when
// withdrawing.

import (
	"context"
	"fmt"
	"strings"

	"github.com/crierhq/crier/channels"
)

// Telegram's descriptions of the refusals the corrections act on.
const (
	notModified   = "message is not modified"
	editNotFound  = "message to edit not found"
	noCaption     = "there is no caption in the message to edit"
	noText        = "there is no text in the message to edit"
	deleteMissing = "message to delete not found"
	cantDelete    = "message can't be deleted"
)

// Correct edits each message that went out into the corrected payload's.
// A corrected text that now fits in fewer messages deletes the reply left
// over; one that needs more is refused (a photo's caption cannot grow a
// reply after the fact).
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	body, err := channels.BodyOf[Messages](p)
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
	if len(body.Messages) > len(parts) {
		return nil, channels.Permanent(fmt.Errorf("the corrected text needs %d Telegram messages and %d went out: shorten it to fit, or withdraw the post and publish it again", len(body.Messages), len(parts)))
	}
	var out []channels.PartResult
	for i, part := range parts {
		res := channels.PartResult{Index: part.Index, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeEdited}
		if i >= len(body.Messages) {
			if res.Outcome, err = s.delete(ctx, part); err != nil {
				return out, err
			}
			res.Note = "the corrected text fits in the photo's caption: the reply is deleted"
			out = append(out, res)
			continue
		}
		m := body.Messages[i]
		res.Outcome, err = s.edit(ctx, part, m, m.Method == methodPhoto)
		if err != nil {
			return out, err
		}
		if m.Photo != nil {
			res.Note = "the photo stays as it went out"
		}
		out = append(out, res)
	}
	return out, nil
}

// edit changes one message's text (or a photo's caption); a message whose
// photo was left out when it was sent has text instead, and the other
// method is tried.
func (s *Sender) edit(ctx context.Context, part channels.Part, m Message, caption bool) (channels.Outcome, error) {
	chat, id := splitID(part.RemoteID)
	params := map[string]any{"chat_id": chat, "message_id": id, "parse_mode": m.ParseMode}
	method := "editMessageText"
	if caption {
		method, params["caption"] = "editMessageCaption", m.body()
	} else {
		params["text"] = m.body()
		if m.LinkPreviewOptions != nil && m.Method == methodText {
			params["link_preview_options"] = m.LinkPreviewOptions
		}
	}
	err := s.api.call(ctx, method, params, nil, nil, false, fmt.Sprintf("editing message %s", part.RemoteID))
	desc := strings.ToLower(descriptionOf(err))
	switch {
	case err == nil:
		return channels.OutcomeEdited, nil
	case strings.Contains(desc, notModified):
		return channels.OutcomeUnchanged, nil
	case strings.Contains(desc, noCaption) && caption, strings.Contains(desc, noText) && !caption:
		return s.edit(ctx, part, m, !caption)
	case strings.Contains(desc, editNotFound):
		return "", channels.Permanent(fmt.Errorf("message %s is no longer in Telegram (%w): it was deleted there, so there is nothing to correct", part.RemoteID, err))
	}
	return "", err
}

// Withdraw deletes every message the delivery sent; one already gone is
// OutcomeGone.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	var out []channels.PartResult
	for _, part := range parts {
		res := channels.PartResult{Index: part.Index, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL}
		if res.Outcome, err = s.delete(ctx, part); err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

// delete deletes one message. Telegram lets a bot delete a message only
// within 48 hours of its sending; past that it answers "message can't be
// deleted", which a person must act on.
func (s *Sender) delete(ctx context.Context, part channels.Part) (channels.Outcome, error) {
	chat, id := splitID(part.RemoteID)
	err := s.api.call(ctx, "deleteMessage", map[string]any{"chat_id": chat, "message_id": id}, nil, nil, false, fmt.Sprintf("deleting message %s", part.RemoteID))
	desc := strings.ToLower(descriptionOf(err))
	switch {
	case err == nil:
		return channels.OutcomeDeleted, nil
	case strings.Contains(desc, deleteMissing):
		return channels.OutcomeGone, nil
	case strings.Contains(desc, cantDelete):
		return "", channels.Permanent(fmt.Errorf("Telegram will not delete message %s (%w): a bot may delete a message only within 48 hours of sending it; an administrator of the channel can still delete it in the Telegram app", part.RemoteID, err))
	}
	return "", err
}
