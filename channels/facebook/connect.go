package facebook

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

// needed are the permissions the Page token must carry: to find the
// Page, post, edit and delete, and read reactions.
var needed = []string{"pages_show_list", "pages_manage_posts", "pages_read_engagement"}

// ConnectFields are what an owner types to connect a Facebook Page.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "page_id", Label: "Page id",
			Help: "The Page's numeric id: on the Page, open About, then Page transparency (like 104857600012345)."},
		{Name: "page_token", Label: "Page access token", Secret: true,
			Help: "A long-lived Page access token with pages_show_list, pages_manage_posts and pages_read_engagement: docs/meta.md shows how to make one in Meta's Graph API Explorer."},
		{Name: "api_url", Label: "Graph API server", Optional: true,
			Help: "Leave empty for " + graphapi.DefaultBase + "."},
	}
}

// CheckConnection asks Facebook for the Page's name (GET
// /{page-id}?fields=name) and the token's permissions (debug_token), and
// refuses a token that lacks one Crier needs, naming it. It returns the
// Page's name.
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	cfg := Config{Name: c.Instance, PageID: strings.TrimSpace(c.Values["page_id"]), PageToken: secret.Secret(strings.TrimSpace(c.Values["page_token"])),
		APIURL: strings.TrimSpace(c.Values["api_url"])}
	switch {
	case cfg.PageID == "":
		return "", &channels.ConnectError{Field: "page_id", Reason: "give the Page's numeric id (About, Page transparency)"}
	case !cfg.PageToken.IsSet():
		return "", &channels.ConnectError{Field: "page_token", Reason: "give a Page access token (docs/meta.md)"}
	}
	for _, p := range cfg.Validate() {
		return "", &channels.ConnectError{Field: p.Field, Reason: p.Message}
	}
	api := cfg.client(env)
	var page struct {
		Name string `json:"name"`
	}
	if err := api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: cfg.PageID, Params: url.Values{"fields": {"name"}}, What: "finding the Page"}, &page); err != nil {
		return "", connectError(err, "page_id")
	}
	var dbg struct {
		Data struct {
			Valid     bool     `json:"is_valid"`
			ProfileID string   `json:"profile_id"`
			Scopes    []string `json:"scopes"`
		} `json:"data"`
	}
	if err := api.Do(ctx, graphapi.Call{Method: http.MethodGet, Path: "debug_token", Params: url.Values{"input_token": {cfg.PageToken.Reveal()}}, What: "reading the token's permissions"}, &dbg); err != nil {
		if code := graphapi.CodeOf(err); code == 0 || code == 190 || code == 102 {
			return "", connectError(err, "page_token")
		}
		// The Page answered, but Meta would not say what the token may
		// do (debug_token wants a developer's token for some apps): the
		// first post will tell; say so rather than refuse a good token.
		return page.Name + " (permissions not checked: look at the token in Meta's Access Token Debugger)", nil
	}
	if dbg.Data.ProfileID != "" && dbg.Data.ProfileID != cfg.PageID {
		return "", &channels.ConnectError{Field: "page_token", Reason: "this token is for another Page or a person, not for " + page.Name + ": make a Page token for this Page (docs/meta.md)"}
	}
	var missing []string
	for _, p := range needed {
		if !contains(dbg.Data.Scopes, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return "", &channels.ConnectError{Field: "page_token", Reason: "the token lacks " + strings.Join(missing, ", ") + ": make a new Page token granting them (docs/meta.md)"}
	}
	return page.Name, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// connectError says which field to fix after a refused check.
func connectError(err error, field string) error {
	var e *graphapi.Error
	if !errors.As(err, &e) {
		if k, _ := channels.Classify(err); k == channels.KindRateLimited {
			return &channels.ConnectError{Reason: "Facebook asks Crier to slow down: try again later"}
		}
		return &channels.ConnectError{Reason: "Crier could not reach Facebook; try again in a moment"}
	}
	switch {
	case e.Code == 190 || e.Code == 102:
		return &channels.ConnectError{Field: "page_token", Reason: "Facebook does not accept this token (" + e.Message + "): make a new long-lived Page token (docs/meta.md)"}
	case e.Code == 100 && field == "page_id":
		return &channels.ConnectError{Field: "page_id", Reason: "Facebook cannot find this Page for the token (" + e.Message + "): check the id"}
	case e.Code == 10 || (e.Code >= 200 && e.Code < 300):
		return &channels.ConnectError{Field: "page_token", Reason: "the token may not do this (" + e.Message + "): grant " + strings.Join(needed, ", ")}
	}
	return &channels.ConnectError{Field: field, Reason: "Facebook refused it: " + e.Error()}
}
