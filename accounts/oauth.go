package accounts

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// OAuthApp is an app Crier registered on a server for one redirect address
// (Mastodon's POST /api/v1/apps), kept so that every connect to that server
// reuses it instead of registering a new one.
type OAuthApp struct {
	Server, RedirectURI string
	ClientID            string
	ClientSecret        string
	PKCE                bool
}

// appField seals a client secret for its server and redirect address.
func appField(server, redirect string) (string, string) { return "oauth-app:" + server, redirect }

// App returns the app registered on server for redirectURI; ok is false
// when there is none (or it was sealed with another key: register again).
func (s *Store) App(ctx context.Context, server, redirectURI string) (app OAuthApp, ok bool, err error) {
	var sealed string
	err = s.db.QueryRowContext(ctx, `SELECT client_id, sealed_secret, pkce FROM channel_oauth_apps WHERE server = $1 AND redirect_uri = $2`,
		server, redirectURI).Scan(&app.ClientID, &sealed, &app.PKCE)
	if errors.Is(err, sql.ErrNoRows) {
		return OAuthApp{}, false, nil
	}
	if err != nil {
		return OAuthApp{}, false, fmt.Errorf("reading the app registered on %s: %w", server, err)
	}
	inst, field := appField(server, redirectURI)
	if app.ClientSecret, err = s.key.open(inst, field, sealed); err != nil {
		return OAuthApp{}, false, nil
	}
	app.Server, app.RedirectURI = server, redirectURI
	return app, true, nil
}

// SaveApp keeps a registered app, replacing an earlier one for the same
// server and redirect address.
func (s *Store) SaveApp(ctx context.Context, app OAuthApp) error {
	inst, field := appField(app.Server, app.RedirectURI)
	sealed, err := s.key.seal(inst, field, app.ClientSecret)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO channel_oauth_apps (server, redirect_uri, client_id, sealed_secret, pkce, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (server, redirect_uri) DO UPDATE SET client_id = excluded.client_id, sealed_secret = excluded.sealed_secret,
			pkce = excluded.pkce, created_at = excluded.created_at`,
		app.Server, app.RedirectURI, app.ClientID, sealed, app.PKCE, s.now().UTC())
	if err != nil {
		return fmt.Errorf("keeping the app registered on %s: %w", app.Server, err)
	}
	return nil
}

// OAuthState is one sign-in under way: who started it for which instance,
// on which server, and the PKCE verifier to send with the code.
type OAuthState struct {
	Instance, Actor     string
	Server, RedirectURI string
	Verifier            string
	CreatedAt           time.Time
}

// StateLifetime is how long an owner has to sign in at the server and come
// back; an older state is refused.
const StateLifetime = 15 * time.Minute

// ErrStateUnknown refuses a state that was never issued, was used already
// or has expired.
var ErrStateUnknown = errors.New("this sign-in is unknown, was already used or is older than 15 minutes: start connecting again from the Channels page")

// hashState is how a state is kept: whoever reads the table cannot use it.
func hashState(state string) string {
	h := sha256.Sum256([]byte("crier-oauth-state\x00" + state))
	return hex.EncodeToString(h[:])
}

// SaveState records a sign-in under way, and forgets expired ones.
func (s *Store) SaveState(ctx context.Context, state string, st OAuthState) error {
	now := s.now().UTC()
	h := hashState(state)
	sealed, err := s.key.seal("oauth-state", h, st.Verifier)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM channel_oauth_states WHERE created_at < $1`, now.Add(-StateLifetime)); err != nil {
		return fmt.Errorf("forgetting expired sign-ins: %w", err)
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO channel_oauth_states (state_hash, instance, actor, server, redirect_uri, sealed_verifier, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, h, st.Instance, st.Actor, st.Server, st.RedirectURI, sealed, now)
	if err != nil {
		return fmt.Errorf("recording the sign-in to %s: %w", st.Instance, err)
	}
	return nil
}

// TakeState returns the sign-in state names and deletes it, so that it is
// used once at most, on whichever replica the owner comes back to. A state
// never issued, already taken or expired is ErrStateUnknown.
func (s *Store) TakeState(ctx context.Context, state string) (OAuthState, error) {
	h := hashState(state)
	var st OAuthState
	var sealed string
	err := s.db.QueryRowContext(ctx, `DELETE FROM channel_oauth_states WHERE state_hash = $1
		RETURNING instance, actor, server, redirect_uri, sealed_verifier, created_at`, h).
		Scan(&st.Instance, &st.Actor, &st.Server, &st.RedirectURI, &sealed, &st.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return OAuthState{}, ErrStateUnknown
	}
	if err != nil {
		return OAuthState{}, fmt.Errorf("reading the sign-in: %w", err)
	}
	if s.now().Sub(st.CreatedAt) > StateLifetime {
		return OAuthState{}, ErrStateUnknown
	}
	if st.Verifier, err = s.key.open("oauth-state", h, sealed); err != nil {
		return OAuthState{}, ErrStateUnknown
	}
	return st, nil
}
