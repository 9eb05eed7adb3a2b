// Package telegram provides the Telegram channel: a pure formatter that
// turns a post into Bot API requests in HTML parse mode within Telegram's
// limits (4,096 characters of text, 1,024 of a photo's caption, counted as
// Telegram does after entity parsing), and a sender that makes them through
// a bot that is an administrator of a channel (or a member of a group).
//
// The Bot API has no idempotency key and a bot cannot read a channel's
// history, so a send whose answer was lost cannot be checked: the sender is
// a channels.BlindSender, and such a delivery waits for an organiser ("It
// went out" / "Send again") instead of being retried blindly.
package telegram

// Name is the channel's type in config, overrides and payloads.
const Name = "telegram"

// Telegram's documented limits (https://core.telegram.org/bots/api), in
// UTF-16 code units of the text after entity parsing.
const (
	maxText    = 4096
	maxCaption = 1024
	// maxPhoto is the largest photo a bot uploads (10 MB); Telegram takes
	// only 5 MB by URL, so Crier always uploads.
	maxPhoto = 10 << 20
)

// The Bot API methods the sender uses to post.
const (
	methodText  = "sendMessage"
	methodPhoto = "sendPhoto"
)

// Messages is a payload body: the requests the sender makes, in order. The
// first is a text message or a photo with its caption; a second, when the
// text did not fit in the caption, is the rest of the text as a reply to
// the photo.
type Messages struct {
	Messages []Message `json:"messages"`
}

// ChannelType makes Messages a channels.Body.
func (Messages) ChannelType() string { return Name }

// Message is one sendMessage or sendPhoto request without chat_id and
// reply_parameters, which the sender adds (the chat is the instance's, and
// a reply names a message only known once the first is sent).
type Message struct {
	Method string `json:"method"`
	// Text is sendMessage's text, Caption sendPhoto's, both in HTML.
	Text      string `json:"text,omitempty"`
	Caption   string `json:"caption,omitempty"`
	ParseMode string `json:"parse_mode"`
	// HasSpoiler blurs the photo until tapped (a content warning).
	HasSpoiler          bool                `json:"has_spoiler,omitempty"`
	LinkPreviewOptions  *LinkPreviewOptions `json:"link_preview_options,omitempty"`
	DisableNotification bool                `json:"disable_notification,omitempty"`
	// Photo says where the photo comes from: Crier's, never sent as such:
	// the sender uploads the file as the photo parameter.
	Photo *Photo `json:"photo,omitempty"`
}

// Photo is the picture of a sendPhoto: a post's local file or a content
// URL the sender fetches through the guarded client. Alt is kept for the
// preview only: Telegram has no alt text for photos.
type Photo struct {
	File string `json:"file,omitempty"`
	URL  string `json:"url,omitempty"`
	Alt  string `json:"alt,omitempty"`
}

// LinkPreviewOptions is the Bot API's LinkPreviewOptions object.
type LinkPreviewOptions struct {
	IsDisabled       bool   `json:"is_disabled,omitempty"`
	URL              string `json:"url,omitempty"`
	PreferLargeMedia bool   `json:"prefer_large_media,omitempty"`
}

// body is the message's text, whichever parameter carries it.
func (m Message) body() string {
	if m.Method == methodPhoto {
		return m.Caption
	}
	return m.Text
}
