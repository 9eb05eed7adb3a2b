package bluesky

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/httpcall"
)

// appPasswordHelp tells an organiser how to make an app password.
const appPasswordHelp = "Not your account's password: in the Bluesky app open Settings > Privacy and security > App passwords, " +
	"choose Add App Password, name it \"Crier\" and copy the password shown (four groups of four letters). " +
	"You can revoke it there at any time without changing your own password."

// ConnectFields are what an owner types to connect a Bluesky account.
func (Provider) ConnectFields() []channels.ConnectField {
	return []channels.ConnectField{
		{Name: "handle", Label: "Handle", Help: "The account's handle, such as campaign.bsky.social (or its e-mail address)."},
		{Name: "app_password", Label: "App password", Help: appPasswordHelp, Secret: true},
		{Name: "service", Label: "Server", Optional: true,
			Help: "Only if the account lives on its own server: that server's address. Leave empty for " + DefaultService + "."},
	}
}

// CheckConnection signs in with createSession, refuses the account's main
// password (a session whose scope is not an app password's), signs out
// again and returns the account as @handle.
func (Provider) CheckConnection(ctx context.Context, env channels.Env, c channels.Connection) (string, error) {
	cfg := Config{Handle: strings.TrimSpace(c.Values["handle"]), Service: strings.TrimSpace(c.Values["service"])}
	password := strings.TrimSpace(c.Values["app_password"])
	switch {
	case cfg.Handle == "":
		return "", &channels.ConnectError{Field: "handle", Reason: "give the account's handle, such as campaign.bsky.social"}
	case password == "":
		return "", &channels.ConnectError{Field: "app_password", Reason: "give an app password. " + appPasswordHelp}
	}
	for _, p := range cfg.Validate() {
		if strings.HasSuffix(p.Field, "service") || strings.HasSuffix(p.Field, "handle") {
			field := "handle"
			if strings.HasSuffix(p.Field, "service") {
				field = "service"
			}
			return "", &channels.ConnectError{Field: field, Reason: p.Message}
		}
	}
	_, tracked := httpcall.Client(env.HTTPClient, nil)
	cli := &client{service: cfg.ServiceURL(), http: tracked, identifier: strings.TrimPrefix(cfg.Handle, "@"), password: password}
	sess, err := cli.signIn(ctx)
	if err != nil {
		return "", connectError(err)
	}
	cli.signOut(ctx, sess)
	if scope := sessionScope(sess.AccessJwt); scope == "com.atproto.access" {
		return "", &channels.ConnectError{Field: "app_password", Reason: "this is the account's own password, which Crier does not keep. " + appPasswordHelp}
	}
	return "@" + sess.Handle, nil
}

// connectError says what to fix after a refused sign-in.
func connectError(err error) error {
	var xe *xrpcError
	if !errors.As(err, &xe) {
		return &channels.ConnectError{Field: "service", Reason: "Crier could not reach the Bluesky server: check the server's address, or try again in a moment"}
	}
	switch {
	case xe.Name == "AuthFactorTokenRequired":
		return &channels.ConnectError{Field: "app_password", Reason: "the account asks for a code sent by e-mail, which means this is not an app password. " + appPasswordHelp}
	case xe.Name == "AccountTakedown":
		return &channels.ConnectError{Field: "handle", Reason: "Bluesky has suspended this account"}
	case xe.Status == http.StatusUnauthorized || xe.Status == http.StatusBadRequest || xe.Status == http.StatusForbidden:
		return &channels.ConnectError{Field: "app_password", Reason: "Bluesky refused this handle and app password: check both (the handle without @, an app password that was not revoked)"}
	case xe.Status == http.StatusNotFound:
		return &channels.ConnectError{Field: "service", Reason: "no Bluesky server answers at this address"}
	case xe.Status == http.StatusTooManyRequests:
		return &channels.ConnectError{Reason: "Bluesky asks Crier to slow down: try again in a few minutes"}
	}
	return &channels.ConnectError{Reason: "the Bluesky server did not answer properly; try again in a moment"}
}

// signOut ends a session made only to check a connection
// (deleteSession); a failure leaves a session that expires by itself.
func (c *client) signOut(ctx context.Context, s *session) {
	_, _, _ = c.do(ctx, request{method: http.MethodPost, nsid: "com.atproto.server.deleteSession"}, s.RefreshJwt, nil)
}

// sessionScope reads the scope claim of an access token without checking
// its signature: it only tells an app password's session
// (com.atproto.appPass) from a main password's (com.atproto.access).
func sessionScope(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Scope string `json:"scope"`
	}
	if json.Unmarshal(raw, &claims) != nil {
		return ""
	}
	return claims.Scope
}
