package discordfake

// Editing and deleting messages (corrections and withdrawals): the bot's
// routes under /channels/{channel_id}/messages/{message_id} and the
// webhook's under /webhooks/{webhook_id}/{webhook_token}/messages/{message_id},
// answered as Discord does: 10008 Unknown Message for a message that is not
// there (or not the webhook's), 50005 for a bot editing another author's
// message, 204 for a deletion.

import (
	"encoding/json"
	"net/http"
)

// editOps are the operations this file answers (reading a message back is
// act's get_message and get_webhook_message).
var editOps = map[string]bool{
	"update_message": true, "delete_message": true,
	"update_webhook_message": true, "delete_webhook_message": true,
}

// actEdit answers an edit operation; s.mu is held.
func (s *Server) actEdit(op string, params map[string]string, body []byte) (int, any) {
	webhook := params["webhook_id"] != ""
	channel := params["channel_id"]
	if webhook {
		var ok bool
		if channel, ok = s.webhooks[params["webhook_id"]]; !ok {
			return errorAnswer(http.StatusNotFound, 10015, "Unknown Webhook")
		}
		if params["webhook_token"] != WebhookToken {
			return errorAnswer(http.StatusUnauthorized, 50027, "Invalid Webhook Token")
		}
	} else if _, ok := s.channels[channel]; !ok {
		return errorAnswer(http.StatusNotFound, 10003, "Unknown Channel")
	}
	i := s.find(channel, params["message_id"])
	// A webhook sees only its own messages.
	if i < 0 || webhook && s.messages[i].WebhookID != params["webhook_id"] {
		return errorAnswer(http.StatusNotFound, 10008, "Unknown Message")
	}
	m := s.messages[i]
	switch op {
	case "delete_message", "delete_webhook_message":
		s.messages = append(s.messages[:i], s.messages[i+1:]...)
		return http.StatusNoContent, nil
	}
	if !webhook && m.WebhookID != "" {
		return errorAnswer(http.StatusForbidden, 50005, "Cannot edit a message authored by another user")
	}
	var req struct {
		Content *string           `json:"content"`
		Embeds  *[]map[string]any `json:"embeds"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return errorAnswer(http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
	}
	// A field left out stays as it was; only those sent change.
	if req.Content != nil {
		m.Content = *req.Content
	}
	if req.Embeds != nil {
		m.Embeds = *req.Embeds
	}
	m.Edits++
	m.Edited = s.now()
	return http.StatusOK, s.answer(m, false)
}

// find returns the index of message id in channel, or -1.
func (s *Server) find(channel, id string) int {
	for i, m := range s.messages {
		if m.ID == id && m.ChannelID == channel {
			return i
		}
	}
	return -1
}
