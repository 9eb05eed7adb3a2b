// Package discord provides the Discord channel: a pure formatter that turns a
// post into one rich embed within all of Discord's limits, and a sender that
// posts it through a bot (with a nonce, crossposting announcement channels)
// or a webhook, without ever posting it twice.
package discord

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Name is the channel's name in config, overrides and payloads.
const Name = "discord"

// Discord's documented limits, counted in characters.
const (
	maxContent     = 2000
	maxTitle       = 256
	maxDescription = 4096
	maxFieldName   = 256
	maxFieldValue  = 1024
	maxFields      = 25
	maxFooter      = 2048
	maxAuthor      = 256
	maxEmbedTotal  = 6000
	maxURL         = 2048
	maxNonce       = 25
)

// Message is the JSON body of POST /channels/{id}/messages. The formatter
// fills every field; Nonce and EnforceNonce are what the bot sender sends
// (the webhook route has no nonce, so the webhook sender drops them).
type Message struct {
	Content         string          `json:"content,omitempty"`
	Embeds          []Embed         `json:"embeds"`
	AllowedMentions AllowedMentions `json:"allowed_mentions"`
	Nonce           string          `json:"nonce,omitempty"`
	EnforceNonce    bool            `json:"enforce_nonce,omitempty"`
	// Attachments describe the files uploaded with the message (a post's
	// local image, or any image behind a content warning as a spoiler).
	Attachments []Attachment `json:"attachments,omitempty"`
	// Uploads say where each attachment's file comes from, by index. They
	// are Crier's, never sent: the sender reads them and sends the files.
	Uploads []Upload `json:"uploads,omitempty"`
}

// Attachment is one entry of the message's attachments: the id is the
// index of its files[n] part; the description is the alt text.
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Description string `json:"description,omitempty"`
}

// Upload is where an attachment's file comes from: a post's local file,
// or a content URL the sender fetches through the guarded client.
type Upload struct {
	File string `json:"file,omitempty"`
	URL  string `json:"url,omitempty"`
}

// spoilerPrefix makes Discord show an attachment blurred until clicked.
const spoilerPrefix = "SPOILER_"

// maxUpload is Discord's upload limit per file for servers without boosts.
const maxUpload = 10 << 20

// Embed is one rich embed.
type Embed struct {
	Title       string       `json:"title,omitempty"`
	URL         string       `json:"url,omitempty"`
	Description string       `json:"description,omitempty"`
	Color       *int         `json:"color,omitempty"`
	Timestamp   string       `json:"timestamp,omitempty"`
	Author      *EmbedAuthor `json:"author,omitempty"`
	Footer      *EmbedFooter `json:"footer,omitempty"`
	Image       *EmbedImage  `json:"image,omitempty"`
	Fields      []EmbedField `json:"fields,omitempty"`
}

// EmbedAuthor is the line above the title.
type EmbedAuthor struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// EmbedFooter is the small line under the embed.
type EmbedFooter struct {
	Text string `json:"text"`
}

// EmbedImage is the large picture; Description is its alt text.
type EmbedImage struct {
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
}

// EmbedField is a name/value pair under the description.
type EmbedField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline,omitempty"`
}

// AllowedMentions says who may be pinged. Parse is always sent, empty unless
// the configured mention is @everyone/@here, so text can never ping anyone.
type AllowedMentions struct {
	Parse []string `json:"parse"`
	Roles []string `json:"roles,omitempty"`
}

// MarshalJSON writes parse as [] rather than null: null would let Discord
// fall back to its default of pinging everything the text mentions.
func (a AllowedMentions) MarshalJSON() ([]byte, error) {
	type plain AllowedMentions
	p := plain(a)
	if p.Parse == nil {
		p.Parse = []string{}
	}
	return json.Marshal(p)
}

// Nonce derives the message nonce from a delivery's idempotency key: the
// same key always gives the same nonce, within Discord's 25 characters.
func Nonce(idempotencyKey string) string {
	sum := sha256.Sum256([]byte(idempotencyKey))
	return "c" + hex.EncodeToString(sum[:])[:maxNonce-1]
}

// ChannelType makes Message a channels.Body.
func (Message) ChannelType() string { return Name }
