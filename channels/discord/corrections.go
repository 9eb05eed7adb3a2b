package discord

// Corrections and withdrawals (issue 23): the delivered message is edited
// in place (PATCH, by the bot or through the webhook that posted it) or
// deleted. An announcement that was crossposted is updated or removed in
// the following servers by Discord itself. Each operation reads the message
// first, so a retry after a lost answer edits nothing twice, and a message
// already gone (10008 Unknown Message) is not an error.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/bwmarrin/discordgo"

	"github.com/crierhq/crier/channels"
)

// codeUnknownMessage is Discord's error for a message that is not there.
const codeUnknownMessage = 10008

// Correct edits the delivered message into the corrected payload's, unless
// it already reads so. Pictures stay as they went out.
func (s *Sender) Correct(ctx context.Context, c channels.Correction, p channels.Payload) ([]channels.PartResult, error) {
	msg, err := channels.BodyOf[Message](p)
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
	part := parts[partMessage]
	res := channels.PartResult{Index: partMessage, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeEdited}
	target, bucket := s.messageURL(part.RemoteID)
	body, err := s.request(ctx, http.MethodGet, target, bucket+"/get", nil, false, "reading the message to correct")
	if err != nil {
		return nil, s.refusal(err)
	}
	var cur discordgo.Message
	if err := json.Unmarshal(body, &cur); err != nil {
		return nil, channels.Temporary(fmt.Errorf("reading the message to correct: %w", err))
	}
	if sameMessage(&cur, msg) {
		res.Outcome = channels.OutcomeUnchanged
		return []channels.PartResult{res}, nil
	}
	// Content is always sent, so that a correction may empty it; leaving
	// out attachments keeps the files the message has.
	edit := map[string]any{"content": msg.Content, "embeds": msg.Embeds, "allowed_mentions": msg.AllowedMentions}
	if _, err := s.request(ctx, http.MethodPatch, target, bucket+"/edit", edit, false, "editing the message"); err != nil {
		return nil, s.refusal(err)
	}
	if len(msg.Uploads) > 0 {
		res.Note = "the picture stays as it went out"
	}
	if len(parts) > partCrosspost {
		res.Note = strings.TrimPrefix(res.Note+"; following servers see the edit too", "; ")
	}
	return []channels.PartResult{res}, nil
}

// Withdraw deletes the delivered message (and so its crossposts); a
// message already gone is OutcomeGone.
func (s *Sender) Withdraw(ctx context.Context, w channels.Withdrawal) ([]channels.PartResult, error) {
	parts, err := channels.SentParts(w.Parts)
	if err != nil {
		return nil, err
	}
	part := parts[partMessage]
	res := channels.PartResult{Index: partMessage, RemoteID: part.RemoteID, RemoteURL: part.RemoteURL, Outcome: channels.OutcomeDeleted}
	target, bucket := s.messageURL(part.RemoteID)
	_, err = s.request(ctx, http.MethodDelete, target, bucket+"/delete", nil, false, "deleting the message")
	switch {
	case discordCode(err) == codeUnknownMessage:
		res.Outcome = channels.OutcomeGone
	case err != nil:
		return nil, s.refusal(err)
	}
	return []channels.PartResult{res}, nil
}

// messageURL is where the message with id is read, edited and deleted: the
// bot's channel route, or the webhook's own (a webhook may change only the
// messages it posted), and the prefix of its rate-limit buckets (Discord
// keeps one per route: reading, editing, deleting).
func (s *Sender) messageURL(id string) (target, bucket string) {
	if s.webhookURL != "" {
		return strings.TrimSuffix(s.webhookURL, "?wait=true") + "/messages/" + url.PathEscape(id), "webhooks/" + s.webhookID + "/messages"
	}
	return s.api + "channels/" + s.cfg.ChannelID + "/messages/" + url.PathEscape(id), "channels/" + s.cfg.ChannelID + "/messages"
}

// refusal says in plain words what a person must do about a refusal only
// an edit or deletion meets.
func (s *Sender) refusal(err error) error {
	var e *apiError
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case codeUnknownMessage:
		return channels.Permanent(fmt.Errorf("the message is no longer in Discord (%w): it was deleted there, so there is nothing to correct", e))
	case 50005:
		return channels.Permanent(fmt.Errorf("Discord lets only the message's author change it (%w): a message posted through a webhook is corrected through that webhook; change it by hand", e))
	}
	return err
}

// sameMessage reports whether a posted message already reads as msg: the
// same content and, embed by embed, the same title, link, text and fields.
func sameMessage(m *discordgo.Message, msg Message) bool {
	if m.Content != msg.Content || len(m.Embeds) != len(msg.Embeds) {
		return false
	}
	for i, want := range msg.Embeds {
		got := m.Embeds[i]
		if got.Title != want.Title || got.URL != want.URL || got.Description != want.Description || len(got.Fields) != len(want.Fields) {
			return false
		}
		for j, f := range want.Fields {
			if got.Fields[j].Name != f.Name || got.Fields[j].Value != f.Value {
				return false
			}
		}
	}
	return true
}

// PlanCorrection says what a correction does on Discord.
func (s *Sender) PlanCorrection(_ context.Context, _ string, parts []channels.Part) (channels.CorrectionPlan, error) {
	return channels.PlanOf("the message is edited in place (text and embed; pictures stay); readers see \"(edited)\", and a crossposted announcement changes in the following servers too", nil, parts), nil
}
