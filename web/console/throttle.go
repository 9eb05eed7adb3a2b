package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// throttle slows password guessing without letting anyone lock an organiser
// out by failing on purpose (OWASP Authentication Cheat Sheet, "device
// cookies"). Failures within a window are counted per (account, client),
// per client, and per account from strangers; a browser that has signed in
// to the account before presents a signed device cookie and is counted on
// its own, so strangers' failures never block it. A device cookie that
// fails too often is a stranger's until the window has passed.
type throttle struct {
	mu        sync.Mutex
	now       func() time.Time
	pairs     failureCounts // account + client
	clients   failureCounts
	strangers failureCounts // account, failures without a device cookie
	devices   failureCounts // device cookie nonce
}

const (
	throttleWindow      = 15 * time.Minute
	maxPairFailures     = 5
	maxClientFailures   = 20
	maxStrangerFailures = 10
	maxDeviceFailures   = 5
)

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, pairs: failureCounts{max: maxPairFailures}, clients: failureCounts{max: maxClientFailures},
		strangers: failureCounts{max: maxStrangerFailures}, devices: failureCounts{max: maxDeviceFailures}}
}

// blocked says how long a sign-in to account from client, with the nonce
// of a valid device cookie for that account or "", must wait.
func (t *throttle) blocked(account, client, device string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if device != "" && t.devices.wait(now, device) == 0 {
		return 0
	}
	return max(t.pairs.wait(now, account+"\x00"+client), t.clients.wait(now, client), t.strangers.wait(now, account))
}

func (t *throttle) fail(account, client, device string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	if device != "" && t.devices.wait(now, device) == 0 {
		t.devices.add(now, device)
		return
	}
	t.pairs.add(now, account+"\x00"+client)
	t.clients.add(now, client)
	t.strangers.add(now, account)
}

// succeed forgets the failures of this browser; strangers' failures for
// the account stay counted.
func (t *throttle) succeed(account, client, device string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pairs.m, account+"\x00"+client)
	delete(t.devices.m, device)
}

// failureCounts counts failures per key within throttleWindow; max or more
// block the key until the window of its first failure has passed.
type failureCounts struct {
	max int
	m   map[string]*failures
}

type failures struct {
	n     int
	first time.Time
}

// maxKeys bounds each count's memory under a flood of made-up names.
const maxKeys = 100000

func (c *failureCounts) wait(now time.Time, key string) time.Duration {
	f := c.m[key]
	if f == nil {
		return 0
	}
	if now.Sub(f.first) >= throttleWindow {
		delete(c.m, key)
		return 0
	}
	if f.n >= c.max {
		return f.first.Add(throttleWindow).Sub(now)
	}
	return 0
}

func (c *failureCounts) add(now time.Time, key string) {
	if c.m == nil {
		c.m = map[string]*failures{}
	}
	f := c.m[key]
	if f == nil || now.Sub(f.first) >= throttleWindow {
		f = &failures{first: now}
		c.m[key] = f
	}
	f.n++
	if len(c.m) > maxKeys {
		// Forget the older half rather than grow.
		for k, f := range c.m {
			if now.Sub(f.first) > throttleWindow/2 {
				delete(c.m, k)
			}
		}
	}
}

// deviceCookie marks a browser that has signed in to an account: a random
// nonce and an HMAC of it with the account's address, so it names no
// address and cannot be made for another account.
const deviceCookie = "crier_device"

// deviceCookieAge is how long a browser stays known without signing in.
const deviceCookieAge = 365 * 24 * time.Hour

// deviceFor returns the nonce of r's device cookie when it was issued for
// account, else "".
func (c *Console) deviceFor(r *http.Request, account string) string {
	ck, err := r.Cookie(deviceCookie)
	if err != nil {
		return ""
	}
	nonce, mac, ok := strings.Cut(ck.Value, ".")
	if !ok || nonce == "" {
		return ""
	}
	key, err := c.opts.Users.deviceKey(r.Context())
	if err != nil {
		c.opts.Logger.Warn("console: reading the device-cookie key; treating the browser as new", "err", err)
		return ""
	}
	got, err := base64.RawURLEncoding.DecodeString(mac)
	if err != nil || !hmac.Equal(got, deviceMAC(key, nonce, account)) {
		return ""
	}
	return nonce
}

// setDevice gives the browser a fresh device cookie for account.
func (c *Console) setDevice(w http.ResponseWriter, r *http.Request, account string) {
	key, err := c.opts.Users.deviceKey(r.Context())
	if err != nil {
		c.opts.Logger.Warn("console: reading the device-cookie key; no device cookie given", "err", err)
		return
	}
	nonce := randomToken()
	c.setCookie(w, deviceCookie, nonce+"."+base64.RawURLEncoding.EncodeToString(deviceMAC(key, nonce, account)), int(deviceCookieAge/time.Second))
}

func deviceMAC(key []byte, nonce, account string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("crier device cookie\x00" + nonce + "\x00" + account))
	return m.Sum(nil)
}

// keysSchema holds the console's own secrets, shared by every replica.
var keysSchema = []string{`
CREATE TABLE console_keys (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
`}

// deviceKey returns the key device cookies are signed with, made by the
// first OpenUsers and kept in the database so that every replica, and the
// next run, accept the same cookies.
func (u *Users) deviceKey(ctx context.Context) ([]byte, error) {
	u.keyMu.Lock()
	defer u.keyMu.Unlock()
	if u.devKey != nil {
		return u.devKey, nil
	}
	fresh := make([]byte, 32)
	rand.Read(fresh)
	if _, err := u.db.ExecContext(ctx, `INSERT INTO console_keys (name, value) VALUES ('device', $1) ON CONFLICT (name) DO NOTHING`,
		base64.RawStdEncoding.EncodeToString(fresh)); err != nil {
		return nil, fmt.Errorf("storing the device-cookie key: %w", err)
	}
	var v string
	err := u.db.QueryRowContext(ctx, `SELECT value FROM console_keys WHERE name = 'device'`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = errors.New("the key vanished")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the device-cookie key: %w", err)
	}
	key, err := base64.RawStdEncoding.DecodeString(v)
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("the device-cookie key in console_keys is damaged: delete its row to make a new one")
	}
	u.devKey = key
	return key, nil
}
