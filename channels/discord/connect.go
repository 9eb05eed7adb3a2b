package discord

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
)

// Discord's permission bits that posting needs.
const (
	permAdministrator      int64 = 1 << 3
	permViewChannel        int64 = 1 << 10
	permSendMessages       int64 = 1 << 11
	permEmbedLinks         int64 = 1 << 14
	permAttachFiles        int64 = 1 << 15
	permReadMessageHistory int64 = 1 << 16
)

// needed names each permission a bot needs in its channel, in Discord's
// words, in the order its settings list them.
var needed = []struct {
	bit  int64
	name string
}{
	{permViewChannel, "View Channel"}, {permSendMessages, "Send Messages"}, {permEmbedLinks, "Embed Links"},
	{permAttachFiles, "Attach Files"}, {permReadMessageHistory, "Read Message History"},
}

const botHelp = "In the Discord Developer Portal, open your application, then Bot, and Reset Token; invite the bot to the server " +
	"and give it View Channel, Send Messages, Embed Links, Attach Files and Read Message History in the channel."

// ConnectFields are a webhook's address, or a bot's token and channel.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "webhook_url", Label: "Webhook address", Secret: true, Optional: true,
			Help: "Simplest: in the channel's settings open Integrations, Webhooks, New Webhook, and Copy Webhook URL. Leave empty to use a bot instead."},
		{Name: "token", Label: "Bot token", Secret: true, Optional: true, Help: "Instead of a webhook (needed to crosspost announcements): " + botHelp},
		{Name: "channel_id", Label: "Channel ID", Optional: true,
			Help: "With a bot: turn on Developer Mode (User Settings, Advanced), right-click the channel and Copy Channel ID."},
	}
}

// CheckConnection fetches the webhook, or the bot's user, its channel and
// its permissions there, naming each permission it lacks.
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	hook, token, channel := strings.TrimSpace(c.Values["webhook_url"]), strings.TrimSpace(c.Values["token"]), strings.TrimSpace(c.Values["channel_id"])
	switch {
	case token != "" && channel == "":
		return "", &channels.ConnectError{Field: "channel_id", Reason: "a bot needs the ID of the channel to post in"}
	case token != "":
		if !snowflakePattern.MatchString(channel) {
			return "", &channels.ConnectError{Field: "channel_id", Reason: "a channel ID is 17 to 20 digits"}
		}
		return checkBot(ctx, env, token, channel)
	case hook != "":
		return checkWebhook(ctx, env, hook)
	}
	return "", &channels.ConnectError{Field: "webhook_url", Reason: "give a webhook address, or a bot token and a channel ID"}
}

// checkWebhook fetches the webhook with its token (GET /webhooks/{id}/{token}).
func checkWebhook(ctx context.Context, env channels.Env, hook string) (string, error) {
	u, err := url.Parse(hook)
	var m []string
	if err == nil && u.Scheme == "https" {
		m = webhookPath.FindStringSubmatch(u.Path)
	}
	if m == nil {
		return "", &channels.ConnectError{Field: "webhook_url", Reason: "must look like https://discord.com/api/webhooks/<id>/<token> (Copy Webhook URL gives it)"}
	}
	var w struct {
		Name string `json:"name"`
	}
	status, err := get(ctx, env, u.Scheme+"://"+u.Host+"/api/v10/webhooks/"+m[1]+"/"+m[2], "", &w)
	switch {
	case err != nil:
		return "", unreachable()
	case status == http.StatusUnauthorized:
		return "", &channels.ConnectError{Field: "webhook_url", Reason: "Discord refused this webhook's token: copy the webhook's address again"}
	case status == http.StatusNotFound:
		return "", &channels.ConnectError{Field: "webhook_url", Reason: "Discord knows no such webhook: it was deleted; make a new one"}
	case status != http.StatusOK:
		return "", answered(status)
	}
	return "webhook " + strconv.Quote(w.Name), nil
}

// checkBot checks the token (GET /users/@me), that the bot sees the channel,
// and its permissions there.
func checkBot(ctx context.Context, env channels.Env, token, channelID string) (string, error) {
	auth := "Bot " + token
	var me struct {
		ID, Username string
	}
	status, err := get(ctx, env, apiBase+"users/@me", auth, &me)
	switch {
	case err != nil:
		return "", unreachable()
	case status == http.StatusUnauthorized:
		return "", &channels.ConnectError{Field: "token", Reason: "Discord refused this bot token: " + botHelp}
	case status != http.StatusOK:
		return "", answered(status)
	}
	var ch struct {
		Name       string `json:"name"`
		GuildID    string `json:"guild_id"`
		Overwrites []struct {
			ID          string `json:"id"`
			Type        int    `json:"type"`
			Allow, Deny string
		} `json:"permission_overwrites"`
	}
	status, err = get(ctx, env, apiBase+"channels/"+channelID, auth, &ch)
	switch {
	case err != nil:
		return "", unreachable()
	case status == http.StatusForbidden:
		return "", &channels.ConnectError{Field: "channel_id", Reason: "the bot cannot see this channel: give it View Channel there"}
	case status == http.StatusNotFound:
		return "", &channels.ConnectError{Field: "channel_id", Reason: "no channel has this ID, or the bot is not in its server: invite it, then try again"}
	case status != http.StatusOK:
		return "", answered(status)
	}
	display := "#" + ch.Name + " (bot " + me.Username + ")"
	if ch.GuildID == "" {
		return display, nil
	}
	perms, err := botPermissions(ctx, env, auth, ch.GuildID, me.ID)
	if err != nil {
		return "", err
	}
	for _, o := range ch.Overwrites { // @everyone, then roles, then the bot itself
		if o.ID == ch.GuildID {
			perms = overwrite(perms, o.Allow, o.Deny)
		}
	}
	for _, o := range ch.Overwrites {
		if o.Type == 0 && o.ID != ch.GuildID && perms&permAdministrator == 0 {
			perms = overwrite(perms, o.Allow, o.Deny)
		}
	}
	for _, o := range ch.Overwrites {
		if o.Type == 1 && o.ID == me.ID {
			perms = overwrite(perms, o.Allow, o.Deny)
		}
	}
	if perms&permAdministrator != 0 {
		return display, nil
	}
	var missing []string
	for _, n := range needed {
		if perms&n.bit == 0 {
			missing = append(missing, n.name)
		}
	}
	if len(missing) > 0 {
		return "", &channels.ConnectError{Field: "channel_id", Reason: fmt.Sprintf("the bot may not post in #%s: give it %s there (Edit Channel, Permissions)", ch.Name, joinWords(missing))}
	}
	return display, nil
}

// botPermissions is the bot's permissions in the guild: @everyone's and
// its roles'.
func botPermissions(ctx context.Context, env channels.Env, auth, guild, bot string) (int64, error) {
	var member struct {
		Roles []string `json:"roles"`
	}
	if status, err := get(ctx, env, apiBase+"guilds/"+guild+"/members/"+bot, auth, &member); err != nil || status != http.StatusOK {
		return 0, &channels.ConnectError{Reason: "Discord did not say which roles the bot has in the server; try again in a moment"}
	}
	var roles []struct {
		ID          string `json:"id"`
		Permissions string `json:"permissions"`
	}
	if status, err := get(ctx, env, apiBase+"guilds/"+guild+"/roles", auth, &roles); err != nil || status != http.StatusOK {
		return 0, &channels.ConnectError{Reason: "Discord did not list the server's roles; try again in a moment"}
	}
	var perms int64
	for _, r := range roles {
		if r.ID == guild || containsString(member.Roles, r.ID) {
			p, _ := strconv.ParseInt(r.Permissions, 10, 64)
			perms |= p
		}
	}
	return perms, nil
}

func overwrite(perms int64, allow, deny string) int64 {
	a, _ := strconv.ParseInt(allow, 10, 64)
	d, _ := strconv.ParseInt(deny, 10, 64)
	return perms&^d | a
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// joinWords lists names as "A, B and C".
func joinWords(names []string) string {
	if len(names) == 1 {
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// apiBase is Discord's REST API.
const apiBase = "https://discord.com/api/v10/"

// get reads one JSON answer of a check; status is the answer's.
func get(ctx context.Context, env channels.Env, u, auth string, out any) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	req.Header.Set("User-Agent", "DiscordBot (https://github.com/crierhq/crier, 1)")
	hc, _ := httpcall.Client(env.HTTPClient, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, errors.New("unreachable") // the error may quote the webhook's address
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp.StatusCode, err
	}
	return resp.StatusCode, json.Unmarshal(data, out)
}

func unreachable() error {
	return &channels.ConnectError{Reason: "Crier could not reach Discord; try again in a moment"}
}

func answered(status int) error {
	if status == http.StatusTooManyRequests {
		return &channels.ConnectError{Reason: "Discord asks Crier to slow down: try again in a minute"}
	}
	return &channels.ConnectError{Reason: fmt.Sprintf("Discord answered %d %s; try again in a moment", status, http.StatusText(status))}
}
