package discordfake

import (
	"net/http"
	"strconv"
)

// Permission bits the fake's bot role may hold (Discord's values).
const (
	PermAdministrator      int64 = 1 << 3
	PermViewChannel        int64 = 1 << 10
	PermSendMessages       int64 = 1 << 11
	PermEmbedLinks         int64 = 1 << 14
	PermAttachFiles        int64 = 1 << 15
	PermReadMessageHistory int64 = 1 << 16
)

// BotRoleID is the role the fake's bot holds in the guild.
const BotRoleID = "900000000000000003"

// DefaultBotPermissions are what the bot's role has unless
// SetBotPermissions says otherwise: what Crier needs to post.
const DefaultBotPermissions = PermViewChannel | PermSendMessages | PermEmbedLinks | PermAttachFiles | PermReadMessageHistory

// SetBotPermissions sets the permissions of the bot's role (the @everyone
// role has none), for tests of a bot that may not post.
func (s *Server) SetBotPermissions(p int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.botPerms = p
	s.botPermsSet = true
}

// connectOps are the reads a connection check makes: the webhook by its
// token, the bot's membership and the guild's roles.
var connectOps = map[string]bool{"get_webhook_by_token": true, "get_guild_member": true, "list_guild_roles": true}

// actConnect answers connectOps. s.mu is held.
func (s *Server) actConnect(op string, params map[string]string) (int, any) {
	switch op {
	case "get_webhook_by_token":
		channel, ok := s.webhooks[params["webhook_id"]]
		if !ok {
			return errorAnswer(http.StatusNotFound, 10015, "Unknown Webhook")
		}
		if params["webhook_token"] != WebhookToken {
			return errorAnswer(http.StatusUnauthorized, 50027, "Invalid Webhook Token")
		}
		return http.StatusOK, map[string]any{"application_id": nil, "avatar": nil, "channel_id": channel, "guild_id": GuildID,
			"id": params["webhook_id"], "name": "Crier news", "type": 1}
	case "get_guild_member":
		if params["guild_id"] != GuildID || params["user_id"] != BotUserID {
			return errorAnswer(http.StatusNotFound, 10007, "Unknown Member")
		}
		return http.StatusOK, map[string]any{"avatar": nil, "banner": nil, "communication_disabled_until": nil, "flags": 0,
			"joined_at": "2025-01-01T00:00:00+00:00", "nick": nil, "pending": false, "premium_since": nil, "roles": []string{BotRoleID},
			"mute": false, "deaf": false, "user": map[string]any{"id": BotUserID, "username": "crier", "discriminator": "0", "avatar": nil,
				"public_flags": 0, "flags": 0, "global_name": nil, "primary_guild": nil, "bot": true}}
	case "list_guild_roles":
		if params["guild_id"] != GuildID {
			return errorAnswer(http.StatusNotFound, 10004, "Unknown Guild")
		}
		perms := DefaultBotPermissions
		if s.botPermsSet {
			perms = s.botPerms
		}
		role := func(id, name string, p int64, pos int) map[string]any {
			return map[string]any{"id": id, "name": name, "permissions": strconv.FormatInt(p, 10), "position": pos, "color": 0,
				"colors": map[string]any{"primary_color": 0, "secondary_color": nil, "tertiary_color": nil},
				"hoist":  false, "managed": false, "mentionable": false, "icon": nil, "unicode_emoji": nil, "flags": 0}
		}
		return http.StatusOK, []any{role(GuildID, "@everyone", 0, 0), role(BotRoleID, "Crier", perms, 1)}
	}
	return errorAnswer(http.StatusMethodNotAllowed, 0, "405: Method Not Allowed (not faked)")
}
