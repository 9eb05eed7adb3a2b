package accounts

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// liveTables is the second step: what lets every replica follow a
// connection without a restart (channel_accounts.stamp changes with each
// connect), the networks' refusals of stored or configured credentials,
// and Mastodon-style sign-ins (OAuth): the apps Crier registered per server
// and redirect address, and the sign-ins under way, each single use.
const liveTables = `
ALTER TABLE channel_accounts ADD COLUMN stamp TEXT NOT NULL DEFAULT '';
CREATE TABLE channel_account_rejections (
	instance TEXT PRIMARY KEY,
	at       TIMESTAMP NOT NULL,
	reason   TEXT NOT NULL
);
CREATE TABLE channel_oauth_apps (
	server        TEXT NOT NULL,
	redirect_uri  TEXT NOT NULL,
	client_id     TEXT NOT NULL,
	sealed_secret TEXT NOT NULL,
	pkce          BOOLEAN NOT NULL,
	created_at    TIMESTAMP NOT NULL,
	PRIMARY KEY (server, redirect_uri)
);
CREATE TABLE channel_oauth_states (
	state_hash      TEXT PRIMARY KEY,
	instance        TEXT NOT NULL,
	actor           TEXT NOT NULL,
	server          TEXT NOT NULL,
	redirect_uri    TEXT NOT NULL,
	sealed_verifier TEXT NOT NULL,
	created_at      TIMESTAMP NOT NULL
);`

// newStamp is a fresh random value marking one connect.
func newStamp() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Stamp identifies the instance's current connection: it changes with every
// connect and is "" when none is stored. One indexed read, cheap enough
// before every delivery, so that every replica follows a connect or
// disconnect made on any of them.
func (s *Store) Stamp(ctx context.Context, instance string) (string, error) {
	var stamp string
	err := s.db.QueryRowContext(ctx, `SELECT stamp FROM channel_accounts WHERE instance = $1`, instance).Scan(&stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading %s's connection: %w", instance, err)
	}
	if stamp == "" { // connected before stamps existed
		stamp = "connected"
	}
	return stamp, nil
}

// Rejection is the network's last refusal of an instance's credentials.
type Rejection struct {
	At     time.Time
	Reason string
}

// Reject records that the network refused the instance's credentials (a
// 401 or 403 on a delivery), reason in plain words without a secret; the
// Channels page shows "token rejected on DATE" until a connect, a
// disconnect or a delivery that gets through (ClearRejection).
func (s *Store) Reject(ctx context.Context, instance, reason string) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO channel_account_rejections (instance, at, reason) VALUES ($1, $2, $3)
		ON CONFLICT (instance) DO UPDATE SET at = excluded.at, reason = excluded.reason`, instance, s.now().UTC(), reason)
	if err != nil {
		return fmt.Errorf("recording that %s's credentials were refused: %w", instance, err)
	}
	return nil
}

// ClearRejection forgets a refusal: the credentials work again.
func (s *Store) ClearRejection(ctx context.Context, instance string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM channel_account_rejections WHERE instance = $1`, instance); err != nil {
		return fmt.Errorf("clearing %s's refusal: %w", instance, err)
	}
	return nil
}

// Rejections returns the recorded refusals by instance.
func (s *Store) Rejections(ctx context.Context) (map[string]Rejection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT instance, at, reason FROM channel_account_rejections`)
	if err != nil {
		return nil, fmt.Errorf("reading refused credentials: %w", err)
	}
	defer rows.Close()
	out := map[string]Rejection{}
	for rows.Next() {
		var instance string
		var r Rejection
		if err := rows.Scan(&instance, &r.At, &r.Reason); err != nil {
			return nil, fmt.Errorf("reading refused credentials: %w", err)
		}
		out[instance] = r
	}
	return out, rows.Err()
}
