package telegram

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
	"github.com/crierhq/crier/config/secret"
)

// ConnectFields are what an owner types to connect a Telegram channel.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "bot_token", Label: "Bot token", Secret: true,
			Help: "In Telegram, talk to @BotFather: /newbot makes a bot and shows its token (like 123456789:AAE…); /token shows it again for a bot you have."},
		{Name: "chat_id", Label: "Channel",
			Help: "The channel's @username (like @camaca_news), or for a private channel its numeric id (like -1001234567890). Add the bot to the channel as an administrator allowed to post, edit and delete messages first."},
		{Name: "api_url", Label: "Bot API server", Optional: true,
			Help: "Only for a self-hosted telegram-bot-api server: its address. Leave empty for " + DefaultAPI + "."},
	}
}

// chatMember is the part of the Bot API's ChatMember the check reads.
type chatMember struct {
	Status          string `json:"status"`
	CanPostMessages bool   `json:"can_post_messages"`
	CanEditMessages bool   `json:"can_edit_messages"`
	CanDelete       bool   `json:"can_delete_messages"`
	CanSendMessages *bool  `json:"can_send_messages"`
}

// CheckConnection asks Telegram who the bot is (getMe), which chat it is
// (getChat) and what the bot may do there (getChatMember), and refuses a
// bot that cannot post, naming the rights it lacks. It returns "@bot in
// Title".
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	cfg := Config{Name: c.Instance, BotToken: secret.Secret(strings.TrimSpace(c.Values["bot_token"])), ChatID: strings.TrimSpace(c.Values["chat_id"]),
		APIURL: strings.TrimSpace(c.Values["api_url"])}
	switch {
	case !cfg.BotToken.IsSet():
		return "", &channels.ConnectError{Field: "bot_token", Reason: "give the bot's token: @BotFather's /newbot makes one"}
	case cfg.ChatID == "":
		return "", &channels.ConnectError{Field: "chat_id", Reason: "give the channel's @username or numeric id"}
	}
	for _, p := range cfg.Validate() {
		return "", &channels.ConnectError{Field: p.Field, Reason: p.Message}
	}
	_, tracked := httpcall.Client(env.HTTPClient, nil)
	api := &client{base: cfg.api() + "/bot" + cfg.BotToken.Reveal() + "/", http: tracked, chat: cfg.ChatID, field: "the bot token"}
	var me struct {
		ID       int64  `json:"id"`
		Username string `json:"username"`
	}
	if err := api.call(ctx, "getMe", map[string]any{}, nil, &me, false, "checking the bot"); err != nil {
		return "", connectError(err, "bot_token")
	}
	var chat struct {
		Type, Title string
	}
	if err := api.call(ctx, "getChat", map[string]any{"chat_id": cfg.ChatID}, nil, &chat, false, "finding the channel"); err != nil {
		return "", connectError(err, "chat_id")
	}
	var m chatMember
	if err := api.call(ctx, "getChatMember", map[string]any{"chat_id": cfg.ChatID, "user_id": me.ID}, nil, &m, false, "reading the bot's rights"); err != nil {
		return "", connectError(err, "chat_id")
	}
	if missing := missingRights(chat.Type, m); missing != "" {
		return "", &channels.ConnectError{Field: "chat_id", Reason: fmt.Sprintf("@%s %s in %s: in the channel's settings open Administrators, add @%s and allow it to post, edit and delete messages", me.Username, missing, chat.Title, me.Username)}
	}
	return "@" + me.Username + " in " + chat.Title, nil
}

// missingRights says what the bot lacks to post, correct and withdraw in
// a chat of type typ, or "" when it has all of it.
func missingRights(typ string, m chatMember) string {
	if m.Status == "creator" {
		return ""
	}
	if typ == "channel" {
		if m.Status != "administrator" {
			return "is not an administrator of the channel (only administrators may post in one)"
		}
		var lack []string
		for _, r := range []struct {
			has  bool
			name string
		}{{m.CanPostMessages, "post messages"}, {m.CanEditMessages, "edit messages of others"}, {m.CanDelete, "delete messages of others"}} {
			if !r.has {
				lack = append(lack, r.name)
			}
		}
		if len(lack) > 0 {
			return "may not " + strings.Join(lack, ", ")
		}
		return ""
	}
	switch {
	case m.Status == "left" || m.Status == "kicked":
		return "is not a member of the group"
	case m.Status == "restricted" && m.CanSendMessages != nil && !*m.CanSendMessages:
		return "may not send messages in the group"
	}
	return ""
}

// connectError says which field to fix after a refused check.
func connectError(err error, field string) error {
	var e *apiError
	if !errors.As(err, &e) {
		return &channels.ConnectError{Reason: "Crier could not reach Telegram; try again in a moment"}
	}
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusNotFound:
		return &channels.ConnectError{Field: "bot_token", Reason: "Telegram does not know this bot token: copy it again from @BotFather (/token)"}
	case e.Status == http.StatusTooManyRequests:
		return &channels.ConnectError{Reason: "Telegram asks Crier to slow down: try again in a minute"}
	case e.Status == http.StatusBadRequest || e.Status == http.StatusForbidden:
		return &channels.ConnectError{Field: field, Reason: "Telegram cannot find this chat for the bot (" + e.Description + "): check the @username or id, and that the bot was added to the channel"}
	}
	return &channels.ConnectError{Reason: "Telegram did not answer properly (" + e.Error() + "); try again in a moment"}
}
