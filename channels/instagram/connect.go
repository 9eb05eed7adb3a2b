package instagram

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/graphapi"
	"github.com/crierhq/crier/config/secret"
)

// needed are the permissions the Page token must carry to find the
// account and publish (Meta's content publishing requirements); wanted
// are those reach and corrections use, whose absence is only noted.
var (
	needed = []string{"instagram_basic", "instagram_content_publish", "pages_show_list", "pages_read_engagement"}
	wanted = []string{"instagram_manage_insights", "instagram_manage_comments"}
)

// ConnectFields are what an owner types to connect an Instagram account.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "user_id", Label: "Instagram account id",
			Help: "The professional account's numeric id (like 17841400008460056), not its @name: docs/meta.md shows how to read it in Meta's Graph API Explorer."},
		{Name: "page_token", Label: "Page access token", Secret: true,
			Help: "The long-lived token of the Facebook Page the account is linked to (the Facebook channel's token will do), with instagram_basic and instagram_content_publish: docs/meta.md."},
		{Name: "api_url", Label: "Graph API server", Optional: true,
			Help: "Leave empty for " + graphapi.DefaultBase + "."},
	}
}

// CheckConnection asks Instagram for the account (GET
// /{ig-user-id}?fields=username,name) and the token's permissions
// (debug_token), refusing in words a wrong id, a refused token or a
// missing permission, and a daemon that cannot serve pictures. It
// returns the account as @username.
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	cfg := Config{Name: c.Instance, UserID: strings.TrimSpace(c.Values["user_id"]), PageToken: secret.Secret(strings.TrimSpace(c.Values["page_token"])),
		APIURL: strings.TrimSpace(c.Values["api_url"])}
	switch {
	case cfg.UserID == "":
		return "", &channels.ConnectError{Field: "user_id", Reason: "give the Instagram account's numeric id (docs/meta.md)"}
	case !cfg.PageToken.IsSet():
		return "", &channels.ConnectError{Field: "page_token", Reason: "give the access token of the Page the account is linked to (docs/meta.md)"}
	}
	for _, p := range cfg.Validate() {
		return "", &channels.ConnectError{Field: p.Field, Reason: p.Message}
	}
	// As NewSender: without a public address Instagram can fetch nothing,
	// so the channel would not start.
	if env.Images == nil {
		return "", &channels.ConnectError{Reason: "Instagram fetches every picture from a public https address, and this daemon serves none: set http.public_url (docs/meta.md, \"Instagram\")"}
	}
	if err := env.Images.Check(); err != nil {
		return "", &channels.ConnectError{Reason: "Instagram fetches every picture from Crier's public address, and it cannot: " + err.Error()}
	}
	api := cfg.client(env)
	var user struct {
		Username string `json:"username"`
	}
	if err := api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: cfg.UserID, Params: url.Values{"fields": {"username,name"}}, What: "finding the Instagram account"}, &user); err != nil {
		return "", connectRefusal(err)
	}
	display := "@" + user.Username
	var dbg struct {
		Data struct {
			Scopes []string `json:"scopes"`
		} `json:"data"`
	}
	if err := api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: "debug_token", Params: url.Values{"input_token": {cfg.PageToken.Reveal()}}, What: "reading the token's permissions"}, &dbg); err != nil {
		// The account answered; Meta may keep debug_token to the app's
		// developers: the first post will tell.
		return display + " (permissions not checked: look at the token in Meta's Access Token Debugger)", nil
	}
	if missing := lacking(dbg.Data.Scopes, needed); len(missing) > 0 {
		return "", &channels.ConnectError{Field: "page_token", Reason: "the token lacks " + strings.Join(missing, ", ") + ": make a new Page token granting them (docs/meta.md)"}
	}
	if missing := lacking(dbg.Data.Scopes, wanted); len(missing) > 0 {
		display += " (without " + strings.Join(missing, ", ") + ": no shares or correction comments)"
	}
	return display, nil
}

func lacking(have, want []string) []string {
	var out []string
	for _, p := range want {
		if !slices.Contains(have, p) {
			out = append(out, p)
		}
	}
	return out
}

// connectRefusal says which field to fix after the account was refused.
func connectRefusal(err error) error {
	var e *graphapi.Error
	if !errors.As(err, &e) {
		if k, _ := channels.Classify(err); k == channels.KindRateLimited {
			return &channels.ConnectError{Reason: "Instagram asks Crier to slow down: try again later"}
		}
		return &channels.ConnectError{Reason: "Crier could not reach Instagram; try again in a moment"}
	}
	switch {
	case e.Code == 190 || e.Code == 102:
		return &channels.ConnectError{Field: "page_token", Reason: "Meta does not accept this token (" + e.Message + "): make a new long-lived Page token (docs/meta.md)"}
	case e.Code == 100:
		return &channels.ConnectError{Field: "user_id", Reason: "Instagram knows no professional account with this id for this token (" + e.Message + "): check the id, and that the account is linked to the token's Page (docs/meta.md)"}
	case e.Code == 10 || (e.Code >= 200 && e.Code < 300):
		return &channels.ConnectError{Field: "page_token", Reason: "the token may not read the account (" + e.Message + "): grant " + strings.Join(needed, ", ")}
	}
	return &channels.ConnectError{Field: "user_id", Reason: "Instagram refused it: " + e.Error()}
}
