package bounces

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Used webhook keys. A provider's one-time value (Mailgun's token, an SNS
// MessageId, a SendGrid request's signed content, a Postmark record id) is
// kept in the store for as long as a request carrying it would be accepted,
// so that a captured request is refused after a restart and by every
// replica, not only by the process that saw it first. Mailgun signs its
// token and timestamp but not the body: without this, a captured signature
// with a rewritten body could unsubscribe anyone once the process restarted.
//
// The webhook_tokens table is the bounces package's (see schema); a key is
// stored as a SHA-256, so the table holds nothing a provider sent.

// usedKeys claims and frees webhook keys in the store.
type usedKeys struct {
	db *sql.DB

	mu        sync.Mutex
	nextPrune time.Time
}

// pruneEvery is how often a process deletes expired keys.
const pruneEvery = time.Minute

// keyHash is how a key is stored: the provider's value hashed, the same
// length whatever was sent.
func keyHash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// claim records provider's key as used until until and reports whether
// this request may be processed: the key's first use, or the provider's
// retry (the same content) of a request that failed. Two replicas claiming
// at once: the insert is conditional, so exactly one of them sees true. A
// key whose row has expired (and not yet been pruned) may be claimed again.
func (u *usedKeys) claim(ctx context.Context, provider, key, content string, now, until time.Time) (bool, error) {
	if err := u.prune(ctx, now); err != nil {
		return false, err
	}
	res, err := u.db.ExecContext(ctx, `INSERT INTO webhook_tokens (provider, token, content, retry, expires_at) VALUES ($1, $2, $3, 0, $4)
		ON CONFLICT (provider, token) DO UPDATE SET content = excluded.content, retry = 0, expires_at = excluded.expires_at
		WHERE webhook_tokens.expires_at < $5 OR (webhook_tokens.retry = 1 AND webhook_tokens.content = excluded.content)`,
		provider, keyHash(key), keyHash(content), until.UTC(), now.UTC())
	if err != nil {
		return false, fmt.Errorf("recording the %s webhook's one-time key: %w", provider, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("recording the %s webhook's one-time key: %w", provider, err)
	}
	return n == 1, nil
}

// failed lets the provider's retry of a claimed request that could not be
// recorded claim its key again, with the same content only: a replay that
// rewrote the body stays refused.
func (u *usedKeys) failed(ctx context.Context, provider, key string) error {
	if _, err := u.db.ExecContext(ctx, `UPDATE webhook_tokens SET retry = 1 WHERE provider = $1 AND token = $2`, provider, keyHash(key)); err != nil {
		return fmt.Errorf("reopening the %s webhook's one-time key for a retry: %w", provider, err)
	}
	return nil
}

// prune deletes expired keys, at most once per pruneEvery in this process.
func (u *usedKeys) prune(ctx context.Context, now time.Time) error {
	u.mu.Lock()
	due := !now.Before(u.nextPrune)
	if due {
		u.nextPrune = now.Add(pruneEvery)
	}
	u.mu.Unlock()
	if !due {
		return nil
	}
	if _, err := u.db.ExecContext(ctx, `DELETE FROM webhook_tokens WHERE expires_at < $1`, now.UTC()); err != nil {
		return fmt.Errorf("deleting expired webhook keys: %w", err)
	}
	return nil
}
