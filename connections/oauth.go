package connections

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/channels"
)

// oauth returns the instance and its type's OAuthConnector.
func (s *Service) oauth(instance string) (channels.Instance, channels.OAuthConnector, error) {
	inst, c, err := s.connector(instance)
	if err != nil {
		return inst, nil, err
	}
	oc, ok := c.(channels.OAuthConnector)
	if !ok {
		return inst, nil, fmt.Errorf("%s is connected with the form, not by signing in at a server", inst.Name)
	}
	return inst, oc, nil
}

// StartOAuth registers Crier on the server values name (once per server and
// redirect address), records a single-use state bound to actor with a PKCE
// verifier, and returns the server's authorisation address.
func (s *Service) StartOAuth(ctx context.Context, actor, instance string, values map[string]string, redirectURI string) (string, error) {
	inst, oc, err := s.oauth(instance)
	if err != nil {
		return "", err
	}
	if redirectURI == "" {
		return "", errors.New("connecting by signing in needs http.public_url, the address the server sends you back to")
	}
	trimmed := map[string]string{}
	for k, v := range values {
		trimmed[k] = strings.TrimSpace(v)
	}
	server, err := oc.OAuthServer(channels.Connection{Instance: inst.Name, Values: trimmed})
	if err != nil {
		s.audit(ctx, actor, inst.Name, accounts.Refused, plain(err))
		return "", err
	}
	app, err := s.app(ctx, oc, server, redirectURI)
	if err != nil {
		s.audit(ctx, actor, inst.Name, accounts.Refused, plain(err))
		return "", err
	}
	state, verifier, challenge := random(), "", ""
	if app.PKCE {
		verifier = random()
		sum := sha256.Sum256([]byte(verifier))
		challenge = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	if err := s.opts.Accounts.SaveState(ctx, state, accounts.OAuthState{Instance: inst.Name, Actor: actor,
		Server: server, RedirectURI: redirectURI, Verifier: verifier}); err != nil {
		return "", err
	}
	s.audit(ctx, actor, inst.Name, accounts.SignInStarted, "sent to "+server+" to sign in")
	return oc.AuthorizeURL(channels.OAuthApp(app), state, challenge), nil
}

// app returns Crier's app on server for redirectURI, registering it the
// first time.
func (s *Service) app(ctx context.Context, oc channels.OAuthConnector, server, redirectURI string) (accounts.OAuthApp, error) {
	app, ok, err := s.opts.Accounts.App(ctx, server, redirectURI)
	if err != nil || ok {
		return app, err
	}
	reg, err := oc.RegisterApp(ctx, s.opts.Env, server, redirectURI)
	if err != nil {
		return app, err
	}
	app = accounts.OAuthApp(reg)
	return app, s.opts.Accounts.SaveApp(ctx, app)
}

// FinishOAuth takes the state back (once; it must be actor's and younger
// than accounts.StateLifetime), exchanges code for a token, checks it and
// stores the connection.
func (s *Service) FinishOAuth(ctx context.Context, actor, state, code string) (string, string, error) {
	st, err := s.opts.Accounts.TakeState(ctx, state)
	if err != nil {
		return "", "", err
	}
	if st.Actor != actor {
		err := errors.New("this sign-in was started by another owner: start connecting again from the Channels page")
		s.audit(ctx, actor, st.Instance, accounts.Refused, err.Error())
		return st.Instance, "", err
	}
	display, err := s.finish(ctx, actor, st, code)
	if err != nil {
		s.audit(ctx, actor, st.Instance, accounts.Refused, plain(err))
		return st.Instance, "", err
	}
	return st.Instance, display, nil
}

func (s *Service) finish(ctx context.Context, actor string, st accounts.OAuthState, code string) (string, error) {
	inst, oc, err := s.oauth(st.Instance)
	if err != nil {
		return "", err
	}
	if code == "" {
		return "", errors.New("the server sent no authorisation code back: the sign-in was cancelled or refused there")
	}
	app, ok, err := s.opts.Accounts.App(ctx, st.Server, st.RedirectURI)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", errors.New("Crier's app on this server was forgotten meanwhile (the secret key was rotated): start connecting again")
	}
	values, display, err := oc.FinishOAuth(ctx, s.opts.Env, channels.OAuthApp(app), code, st.Verifier)
	if err != nil {
		return "", err
	}
	if _, err := inst.WithConnection(values); err != nil {
		return "", err
	}
	return display, s.store(ctx, actor, inst, oc.ConnectFields(), values, display)
}

// random is 32 random bytes in base64url: a state or a PKCE verifier (43
// characters, as RFC 7636 asks).
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
