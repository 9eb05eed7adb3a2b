package telegram

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
	"github.com/crierhq/crier/contentfetch"
)

// Sender posts a payload's messages through the Bot API.
type Sender struct {
	cfg     Config
	api     *client
	content *contentfetch.Client // fetches photos from content URLs
	log     *slog.Logger
	loc     *time.Location // the campaign's, for quiet hours
	now     func() time.Time
}

// NewSender returns the real sender. env.HTTPClient carries every
// request; nothing is sent until the first Send.
func NewSender(cfg Config, env channels.Env) (*Sender, error) {
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, fmt.Errorf("telegram config: %s: %s", probs[0].Field, probs[0].Message)
	}
	if !cfg.HasCredentials() {
		return nil, errors.New("telegram: bot_token and chat_id are needed to send (set TELEGRAM_BOT_TOKEN and TELEGRAM_CHAT_ID, or use mode: outbox)")
	}
	log := env.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	_, tracked := httpcall.Client(env.HTTPClient, nil)
	return &Sender{
		cfg: cfg, content: env.ContentClient(), log: log, loc: env.Campaign.Location, now: time.Now,
		api: &client{base: cfg.api() + "/bot" + cfg.BotToken.Reveal() + "/", http: tracked, chat: cfg.ChatID,
			field: "channels." + cfg.instance() + ".bot_token (TELEGRAM_BOT_TOKEN)"},
	}, nil
}

// CannotReadBack makes the sender a channels.BlindSender.
func (s *Sender) CannotReadBack() string {
	return "the Bot API has no idempotency key and a bot cannot read the channel's history, so Crier cannot check whether Telegram posted it"
}

// sentMessage is the part of the Bot API's Message the sender reads.
type sentMessage struct {
	MessageID int64 `json:"message_id"`
	Chat      struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	} `json:"chat"`
}

// Send posts each message of the payload not yet in the ledger, the second
// as a reply to the first, recording each the moment Telegram answers. An
// attempt after an unknown outcome does not send: Telegram cannot be asked
// whether the first went out (the engine does not even call it; this is the
// guard for callers that do).
func (s *Sender) Send(ctx context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	body, err := channels.BodyOf[Messages](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	if len(body.Messages) == 0 {
		return channels.Receipt{}, channels.Permanent(errors.New("telegram payload has no messages"))
	}
	ledger, parts, err := channels.LedgerParts(ctx, d)
	if err != nil {
		return channels.Receipt{}, err
	}
	if len(parts) < len(body.Messages) && d.PreviousUnknown {
		return channels.Receipt{}, channels.Permanent(fmt.Errorf("unknown: check the channel: an earlier attempt may have posted this, and %s: look in %s, then press It went out or Send again on the post's page", s.CannotReadBack(), s.cfg.ChatID))
	}
	silent := s.cfg.quiet(s.now(), s.loc)
	var receipt channels.Receipt
	for i, m := range body.Messages {
		if part, ok := parts[i]; ok {
			if i == 0 {
				receipt.RemoteID, receipt.RemoteURL = part.RemoteID, part.RemoteURL
			}
			continue
		}
		replyTo := int64(0)
		if i > 0 {
			_, replyTo = splitID(receipt.RemoteID)
		}
		msg, notes, err := s.post(ctx, d, m, replyTo, silent)
		receipt.Notes = append(receipt.Notes, notes...)
		if err != nil {
			return receipt, err
		}
		part := channels.Part{Index: i, RemoteID: remoteID(msg.Chat.ID, msg.MessageID), RemoteURL: messageURL(msg)}
		if err := ledger.SavePart(ctx, part); err != nil {
			// Posted but not recorded: nobody can tell later.
			return receipt, channels.Ambiguous(fmt.Errorf("recording message %s: %w", part.RemoteID, err))
		}
		if i == 0 {
			receipt.RemoteID, receipt.RemoteURL = part.RemoteID, part.RemoteURL
		}
	}
	return receipt, nil
}

// post makes one sendMessage or sendPhoto call. A photo that cannot be
// had is left out with a note: its caption goes out as a text message.
func (s *Sender) post(ctx context.Context, d channels.Delivery, m Message, replyTo int64, silent bool) (sentMessage, []string, error) {
	params := map[string]any{"chat_id": s.cfg.ChatID, "parse_mode": m.ParseMode}
	if m.DisableNotification || silent {
		params["disable_notification"] = true
	}
	if replyTo != 0 {
		params["reply_parameters"] = map[string]any{"message_id": replyTo, "allow_sending_without_reply": true}
	}
	var up *file
	var notes []string
	method := m.Method
	if method == methodPhoto {
		data, ct, err := s.readPhoto(ctx, m.Photo)
		if err == nil {
			up = &file{param: "photo", name: photoName(m.Photo, ct), data: data}
			params["caption"] = m.Caption
			if m.HasSpoiler {
				params["has_spoiler"] = true
			}
		} else {
			note := fmt.Sprintf("photo left out: %s: %v", photoRef(m.Photo), err)
			s.log.Warn("telegram: posting without the photo", "post", d.PostID, "reason", note)
			notes = append(notes, note)
			method, m.Text = methodText, m.Caption
			m.LinkPreviewOptions = &LinkPreviewOptions{IsDisabled: true}
		}
	}
	if method == methodText {
		params["text"] = m.Text
		if m.LinkPreviewOptions != nil {
			params["link_preview_options"] = m.LinkPreviewOptions
		}
	}
	var msg sentMessage
	what := "posting the message"
	if method == methodPhoto {
		what = "posting the photo"
	}
	if err := s.api.call(ctx, method, params, up, &msg, true, what); err != nil {
		return msg, notes, err
	}
	if msg.MessageID == 0 {
		return msg, notes, channels.Ambiguous(fmt.Errorf("%s: Telegram's answer has no message_id", what))
	}
	return msg, notes, nil
}

// readPhoto reads a photo, at most maxPhoto bytes.
func (s *Sender) readPhoto(ctx context.Context, ph *Photo) ([]byte, string, error) {
	if ph == nil {
		return nil, "", errors.New("no photo")
	}
	return channels.ReadImage(ctx, s.content, ph.File, ph.URL, maxPhoto, "Telegram")
}

func photoRef(ph *Photo) string {
	if ph == nil {
		return "none"
	}
	if ph.File != "" {
		return ph.File
	}
	return ph.URL
}

// photoName is the upload's file name, with its type's extension.
func photoName(ph *Photo, contentType string) string {
	return channels.UploadName(photoRef(ph), contentType)
}

// remoteID names a message as chat:message (the numeric chat id, which a
// renamed @channel keeps).
func remoteID(chat, message int64) string {
	return strconv.FormatInt(chat, 10) + ":" + strconv.FormatInt(message, 10)
}

// splitID reads a remoteID back.
func splitID(id string) (chat, message int64) {
	c, m, ok := strings.Cut(id, ":")
	if !ok {
		return 0, 0
	}
	chat, _ = strconv.ParseInt(c, 10, 64)
	message, _ = strconv.ParseInt(m, 10, 64)
	return chat, message
}

// messageURL is the message's t.me link: public for a channel with a
// username, for members only for a private one (t.me/c/…), none in a group
// without one.
func messageURL(m sentMessage) string {
	id := strconv.FormatInt(m.MessageID, 10)
	switch {
	case m.Chat.Username != "":
		return "https://t.me/" + m.Chat.Username + "/" + id
	case m.Chat.ID <= -1000000000000:
		return "https://t.me/c/" + strings.TrimPrefix(strconv.FormatInt(m.Chat.ID, 10), "-100") + "/" + id
	}
	return ""
}
