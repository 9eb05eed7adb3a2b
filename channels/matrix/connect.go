package matrix

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/matrixroom"
)

// tokenHelp tells an owner how to get the bot account's access token.
const tokenHelp = "The bot account's access token: sign in as the bot in Element, open Settings > Help & About > Access Token and copy it " +
	"(then close that session by signing out in another way, not with Sign out, which would end the token). " +
	"Or leave it empty and give the account's user name and password: Crier signs in once and keeps only the token it gets."

// ConnectFields are what an owner fills in to connect a Matrix account.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "homeserver", Label: "Homeserver", Help: "The bot account's homeserver address, such as https://matrix.example.org."},
		{Name: "room", Label: "Room", Help: "The room to post in: its ID (!abc:example.org, in Element: Room settings > Advanced) or an alias (#news:example.org). Invite the bot to it first."},
		{Name: "access_token", Label: "Access token", Help: tokenHelp, Secret: true, Optional: true},
		{Name: "user", Label: "User name", Help: "Only without an access token: the bot's user name (@crier:example.org or crier).", Optional: true},
		{Name: "password", Label: "Password", Help: "Only without an access token: the bot's password, used once to sign in and not kept.", Secret: true, Optional: true},
	}
}

// CheckConnection signs in with user and password when no access token is
// given (the token it gets replaces user and password in c.Values, the
// caller's map, so only the token is stored), asks the homeserver who the token belongs to
// (/account/whoami), makes the account a member of the room, and checks
// that its power level lets it send messages. It returns "@bot:server in
// room".
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	v := func(k string) string { return strings.TrimSpace(c.Values[k]) }
	home, room := strings.TrimRight(v("homeserver"), "/"), v("room")
	switch {
	case home == "" || checkHomeserver(home) != "":
		return "", &channels.ConnectError{Field: "homeserver", Reason: "give the homeserver's address, such as https://matrix.example.org"}
	case !roomLike(room):
		return "", &channels.ConnectError{Field: "room", Reason: roomHelp}
	}
	api := &matrixroom.Client{Homeserver: home, Setting: "the connection", HTTP: env.HTTPClient}
	token := v("access_token")
	if token == "" {
		var err error
		if token, err = login(ctx, api, v("user"), v("password")); err != nil {
			return "", err
		}
		// Only the token is kept: the form's values are what is stored,
		// and the password and user name are no setting of the instance.
		c.Values["access_token"] = token
		delete(c.Values, "password")
		delete(c.Values, "user")
	}
	api.Token = secret.Secret(token)
	var who struct {
		UserID string `json:"user_id"`
	}
	if err := api.Call(ctx, http.MethodGet, "/_matrix/client/v3/account/whoami", nil, &who); err != nil {
		return "", connectError(err, "access_token", "the homeserver does not accept this access token: copy it again from the bot's session")
	}
	s := &Sender{api: api, rooms: map[string]string{}}
	roomID, err := s.join(ctx, room)
	if err != nil {
		return "", connectError(err, "room", "the bot cannot join this room: invite it first (or check the room's ID or alias)")
	}
	if err := canSend(ctx, api, roomID, who.UserID); err != nil {
		return "", err
	}
	return who.UserID + " in " + room, nil
}

// login signs in with a password and returns the access token.
func login(ctx context.Context, api *matrixroom.Client, user, password string) (string, error) {
	if user == "" || password == "" {
		return "", &channels.ConnectError{Field: "access_token", Reason: "give the bot's access token, or its user name and password. " + tokenHelp}
	}
	body := map[string]any{
		"type":                        "m.login.password",
		"identifier":                  map[string]string{"type": "m.id.user", "user": user},
		"password":                    password,
		"initial_device_display_name": "Crier",
	}
	var out struct {
		Token string `json:"access_token"`
	}
	if err := api.Call(ctx, http.MethodPost, "/_matrix/client/v3/login", body, &out); err != nil || out.Token == "" {
		return "", connectError(err, "password", "the homeserver refused this user name and password")
	}
	return out.Token, nil
}

// canSend checks the room's power levels let user send messages and
// redact its own.
func canSend(ctx context.Context, api *matrixroom.Client, roomID, user string) error {
	var pl struct {
		Users         map[string]int `json:"users"`
		UsersDefault  int            `json:"users_default"`
		Events        map[string]int `json:"events"`
		EventsDefault int            `json:"events_default"`
	}
	if err := api.Call(ctx, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/state/m.room.power_levels/", nil, &pl); err != nil {
		if matrixroom.ErrCode(err) == "M_NOT_FOUND" {
			return nil // no power levels: everyone may send
		}
		return connectError(err, "room", "Crier could not read the room's permissions")
	}
	have, ok := pl.Users[user]
	if !ok {
		have = pl.UsersDefault
	}
	need, ok := pl.Events["m.room.message"]
	if !ok {
		need = pl.EventsDefault
	}
	if have < need {
		return &channels.ConnectError{Field: "room", Reason: fmt.Sprintf("the bot may not send messages in this room (its power level is %d, sending needs %d): in Element open Room settings > Roles & Permissions and raise it", have, need)}
	}
	return nil
}

// connectError says what to fix after a refusal: the field's reason for a
// permanent refusal, a plain "try again" for an outage or a rate limit.
func connectError(err error, field, reason string) error {
	if err == nil {
		return &channels.ConnectError{Field: field, Reason: reason}
	}
	switch kind, _ := channels.Classify(err); kind {
	case channels.KindRateLimited:
		return &channels.ConnectError{Reason: "the homeserver asks Crier to slow down: try again in a minute"}
	case channels.KindPermanent:
		return &channels.ConnectError{Field: field, Reason: reason}
	}
	return &channels.ConnectError{Field: "homeserver", Reason: "Crier could not reach the homeserver, or it did not answer properly: check the address, or try again in a moment"}
}
