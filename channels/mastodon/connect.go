package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
)

// Scopes are the only permissions Crier asks a Mastodon server for: to
// name the account, read its posts back (reach, finding a post after a lost
// answer), post, edit and delete its posts, and upload their images.
const Scopes = "read:accounts read:statuses write:statuses write:media"

// appName is how the server shows Crier on the sign-in page and in the
// account's list of authorised apps.
const appName = "Crier"

// connectTimeout bounds each call of a connect.
const connectTimeout = 30 * time.Second

// ConnectFields is the server's address: the owner signs in there, so no
// token is typed (OAuthConnector).
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{{Name: "instance", Label: "Server",
		Help: "The address of the Mastodon server the campaign's account is on, such as https://mastodon.social. " +
			"Crier sends you there to sign in as the campaign's account and allow Crier to post; no password or token is typed here."}}
}

// OAuthServer is the server's address as https://host (http only for this
// machine, as tests and local servers use), without a path.
func (Provider) OAuthServer(c channels.Connection) (string, error) {
	raw := strings.TrimSpace(c.Values["instance"])
	if raw == "" {
		return "", &channels.ConnectError{Field: "instance", Reason: "give the server's address, such as https://mastodon.social"}
	}
	if !strings.Contains(raw, "://") {
		raw = "https://" + strings.TrimPrefix(raw, "@")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return "", &channels.ConnectError{Field: "instance", Reason: "this is not a server's address: write it as https://mastodon.social"}
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), nil
}

// RegisterApp registers Crier on the server (POST /api/v1/apps) with
// Scopes and the redirect address, and asks the server's OAuth metadata
// whether it takes PKCE S256. A server without the metadata (GoToSocial,
// Mastodon before 4.3) is sent the challenge anyway: those that support
// PKCE enforce it, the others ignore parameters they do not know, as OAuth
// requires of them.
func (Provider) RegisterApp(ctx context.Context, env channels.Env, server, redirectURI string) (channels.OAuthApp, error) {
	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	form := url.Values{"client_name": {appName}, "redirect_uris": {redirectURI}, "scopes": {Scopes}}
	if err := connectCall(ctx, env, http.MethodPost, server+"/api/v1/apps", form, "", &app); err != nil {
		return channels.OAuthApp{}, connectError("registering Crier on "+server, err)
	}
	if app.ClientID == "" || app.ClientSecret == "" {
		return channels.OAuthApp{}, &channels.ConnectError{Field: "instance", Reason: server + " did not register Crier as an app: is it a Mastodon server?"}
	}
	return channels.OAuthApp{Server: server, RedirectURI: redirectURI, ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		PKCE: offersPKCE(ctx, env, server)}, nil
}

// offersPKCE reads the server's OAuth metadata (RFC 8414): false only when
// it lists challenge methods without S256.
func offersPKCE(ctx context.Context, env channels.Env, server string) bool {
	var meta struct {
		Methods []string `json:"code_challenge_methods_supported"`
	}
	if err := connectCall(ctx, env, http.MethodGet, server+"/.well-known/oauth-authorization-server", nil, "", &meta); err != nil {
		return true
	}
	return meta.Methods == nil || slices.Contains(meta.Methods, "S256")
}

// AuthorizeURL is the server's authorisation page for Crier's app.
func (Provider) AuthorizeURL(app channels.OAuthApp, state, challenge string) string {
	q := url.Values{"client_id": {app.ClientID}, "redirect_uri": {app.RedirectURI}, "response_type": {"code"},
		"scope": {Scopes}, "state": {state}}
	if challenge != "" {
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
	}
	return app.Server + "/oauth/authorize?" + q.Encode()
}

// FinishOAuth exchanges the code for a token (POST /oauth/token, with the
// PKCE verifier), checks it with verify_credentials and returns the server
// and token to store, and the account as @name@server.
func (Provider) FinishOAuth(ctx context.Context, env channels.Env, app channels.OAuthApp, code, verifier string) (map[string]string, string, error) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "redirect_uri": {app.RedirectURI}, "scope": {Scopes}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := connectCall(ctx, env, http.MethodPost, app.Server+"/oauth/token", form, "", &tok); err != nil {
		return nil, "", connectError("exchanging the sign-in for a token", err)
	}
	if tok.AccessToken == "" {
		return nil, "", &channels.ConnectError{Reason: app.Server + " gave no token for this sign-in: start connecting again"}
	}
	display, err := whoAmI(ctx, env, app.Server, tok.AccessToken)
	if err != nil {
		return nil, "", err
	}
	return map[string]string{"instance": app.Server, "token": tok.AccessToken}, display, nil
}

// CheckConnection checks a stored connection (the server and its token)
// with verify_credentials; a connection without a token is made by
// signing in (StartOAuth), not with the form.
func (p Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	server, err := p.OAuthServer(c)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(c.Values["token"])
	if token == "" {
		return "", &channels.ConnectError{Field: "instance", Reason: "Crier connects to Mastodon by sending you to the server to sign in: use Connect"}
	}
	return whoAmI(ctx, env, server, token)
}

// whoAmI names the token's account as @name@server.
func whoAmI(ctx context.Context, env channels.Env, server, token string) (string, error) {
	var acct struct {
		Username string `json:"username"`
	}
	if err := connectCall(ctx, env, http.MethodGet, server+"/api/v1/accounts/verify_credentials", nil, token, &acct); err != nil {
		return "", connectError("checking the account", err)
	}
	if acct.Username == "" {
		return "", &channels.ConnectError{Field: "instance", Reason: server + " did not name the account: is it a Mastodon server?"}
	}
	u, _ := url.Parse(server)
	return "@" + acct.Username + "@" + u.Host, nil
}

// statusError is an answer other than 200.
type statusError struct {
	status int
	body   string
}

func (e *statusError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, http.StatusText(e.status), e.body) }

// connectCall makes one request of a connect (a form when form is not nil, a
// bearer token when token is not "") and decodes a 200's JSON into out.
func connectCall(ctx context.Context, env channels.Env, method, u string, form url.Values, token string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "Crier (+https://github.com/crierhq/crier)")
	hc, _ := httpcall.Client(env.HTTPClient, nil)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(data, &e)
		msg := strings.TrimSpace(e.Error + " " + e.Description)
		if msg == "" {
			msg = "no explanation"
		}
		return &statusError{status: resp.StatusCode, body: msg}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the answer is not the JSON a Mastodon server gives: %w", err)
	}
	return nil
}

// connectError says what to fix after a failed call of a connect.
func connectError(what string, err error) error {
	var se *statusError
	if !errors.As(err, &se) {
		return &channels.ConnectError{Field: "instance", Reason: what + ": Crier could not reach the server (check its address, or try again in a moment)"}
	}
	switch {
	case se.status == http.StatusUnauthorized || se.status == http.StatusForbidden:
		return &channels.ConnectError{Reason: what + ": the server refused (" + se.body + "): connect again and allow Crier on the server's page"}
	case se.status == http.StatusNotFound:
		return &channels.ConnectError{Field: "instance", Reason: what + ": no Mastodon server answers at this address"}
	case se.status == http.StatusTooManyRequests:
		return &channels.ConnectError{Reason: what + ": the server asks Crier to slow down: try again in a few minutes"}
	case se.status >= 400 && se.status < 500:
		return &channels.ConnectError{Reason: what + ": the server refused (" + se.body + "): start connecting again"}
	}
	return &channels.ConnectError{Reason: what + ": the server did not answer properly; try again in a moment"}
}
