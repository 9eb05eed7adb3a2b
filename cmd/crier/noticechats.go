package main

import (
	"context"
	"html"
	"net/http"

	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/matrixroom"
	"github.com/crierhq/crier/web/console"
)

// noticeChats are the organisers' chats of console.notify that notices
// are posted to besides mail: a Discord channel, a Matrix room.
func noticeChats(cfg config.ConsoleNotify, client *http.Client) []console.Chat {
	var chats []console.Chat
	if hook := cfg.DiscordWebhook.Reveal(); hook != "" {
		chats = append(chats, console.Chat{Name: "discord", Label: "the organisers' Discord channel",
			Post: console.DiscordPoster{Webhook: hook, Client: client}.Post})
	}
	if m := cfg.Matrix; m.Configured() {
		room := &matrixroom.Room{Homeserver: m.Homeserver, Room: m.Room, Token: m.AccessToken,
			Setting: "console.notify.matrix", Client: client}
		chats = append(chats, console.Chat{Name: "matrix", Label: "the organisers' Matrix room", Where: m.Room + " on " + m.Homeserver,
			Post: func(ctx context.Context, n console.ChatNotice) error {
				// The notice's sending ID is the transaction ID: the
				// homeserver keeps a retried job's post to one event.
				_, err := room.Send(ctx, n.ID, matrixNotice(n))
				return err
			}})
	}
	return chats
}

// matrixNotice is a notice as a Matrix message: its subject and the post's
// address, and as HTML the subject with a link to the post.
func matrixNotice(n console.ChatNotice) matrixroom.Message {
	return matrixroom.Message{
		Text: n.Subject + "\n" + n.URL,
		HTML: html.EscapeString(n.Subject) + `<br><a href="` + html.EscapeString(n.URL) + `">Open the post</a>`,
	}
}
