package threads

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/config/secret"
)

// ConnectFields are what an owner types to connect a Threads account.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "user_id", Label: "Threads user id",
			Help: "The account's numeric id (not its @name): docs/meta.md shows how to read it from GET /me in Meta's Graph API Explorer."},
		{Name: "token", Label: "Threads access token", Secret: true,
			Help: "A long-lived Threads token with threads_basic, threads_content_publish, threads_manage_replies, threads_read_replies, threads_manage_insights and threads_delete (docs/meta.md). It lasts 60 days; refresh it before then."},
		{Name: "api_url", Label: "Threads API server", Optional: true,
			Help: "Leave empty for " + graphapi.ThreadsBase + "."},
	}
}

// CheckConnection asks Threads who the token is for (GET
// /me?fields=id,username) and refuses a token for another account than
// user_id, saying so. It returns the account as "@username". The Threads
// API has no call that lists a token's permissions: a missing one is named
// by the first send that needs it.
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	cfg := Config{Name: c.Instance, UserID: strings.TrimSpace(c.Values["user_id"]), Token: secret.Secret(strings.TrimSpace(c.Values["token"])),
		APIURL: strings.TrimSpace(c.Values["api_url"])}
	switch {
	case cfg.UserID == "":
		return "", &channels.ConnectError{Field: "user_id", Reason: "give the Threads account's numeric id (docs/meta.md)"}
	case !cfg.Token.IsSet():
		return "", &channels.ConnectError{Field: "token", Reason: "give a Threads access token (docs/meta.md)"}
	}
	for _, p := range cfg.Validate() {
		return "", &channels.ConnectError{Field: p.Field, Reason: p.Message}
	}
	var me struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	}
	if err := cfg.client(env).Do(ctx, graphapi.Call{Method: http.MethodGet, Path: "me", Params: url.Values{"fields": {"id,username"}}, What: "asking Threads whose token this is"}, &me); err != nil {
		return "", connectError(err)
	}
	if me.ID != cfg.UserID {
		return "", &channels.ConnectError{Field: "user_id", Reason: "this token is for @" + me.Username + " (user id " + me.ID + "), not for user id " + cfg.UserID + ": use that id, or a token of the account you mean"}
	}
	display := "@" + me.Username
	if env.Images == nil || env.Images.Check() != nil {
		display += " (posts go out without pictures: Threads fetches a picture from a public https address, and this Crier has none; set http.public_url)"
	}
	return display, nil
}

// connectError says which field to fix after a refused check.
func connectError(err error) error {
	var e *graphapi.Error
	if !errors.As(err, &e) {
		switch k, _ := channels.Classify(err); k {
		case channels.KindRateLimited:
			return &channels.ConnectError{Reason: "Threads asks Crier to slow down: try again later"}
		case channels.KindPermanent:
			return &channels.ConnectError{Field: "token", Reason: "Threads refused the token: " + err.Error()}
		}
		return &channels.ConnectError{Reason: "Crier could not reach Threads; try again in a moment"}
	}
	switch {
	case e.Code == 190 || e.Code == 102:
		return &channels.ConnectError{Field: "token", Reason: "Threads does not accept this token (" + e.Message + "): make a new long-lived Threads token (docs/meta.md)"}
	case e.Code == 10 || (e.Code >= 200 && e.Code < 300):
		return &channels.ConnectError{Field: "token", Reason: "the token may not read the account (" + e.Message + "): grant threads_basic"}
	}
	return &channels.ConnectError{Field: "token", Reason: "Threads refused it: " + e.Error()}
}
