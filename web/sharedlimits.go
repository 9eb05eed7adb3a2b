package web

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/crierhq/crier/migrate"
	"github.com/crierhq/crier/sqldb"
)

// Limits that must hold across replicas (several `crier run` on one
// PostgreSQL) are kept in the database: the subscribe form's per-client
// limit, the cap on confirmation mails and the failed-token throttle. A
// client that spreads its requests over the replicas behind a load balancer
// then meets one limit, not one per replica. They are kept there on SQLite
// too, where they also survive a restart.
var limitsSchema = []string{`
CREATE TABLE rate_buckets (
	name   TEXT NOT NULL,
	key    TEXT NOT NULL,
	tokens DOUBLE PRECISION NOT NULL,
	last   BIGINT NOT NULL,
	PRIMARY KEY (name, key)
);
CREATE TABLE rate_events (
	id   TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	at   BIGINT NOT NULL
);
CREATE INDEX rate_events_name_at ON rate_events (name, at);
`}

// sharedLimits creates the limits' tables in db.
func sharedLimits(ctx context.Context, db *sql.DB) error {
	return migrate.Up(ctx, db, "web", limitsSchema)
}

// bucketLimiter is a token bucket per client; in memory (limiter) or in
// the database (dbLimiter).
type bucketLimiter interface {
	allow(key string) (bool, time.Duration)
	// exhausted reports, without taking a token, how long until key has
	// one and whether it has none now; an error means the limit could not
	// be read, and the caller decides what that costs the request.
	exhausted(key string) (time.Duration, bool, error)
}

// capCounter is a cap on events in a sliding window; in memory
// (windowCounter) or in the database (dbWindow).
type capCounter interface {
	take() bool
	giveBack()
}

// dbLimiter is limiter with its buckets in the database, one row per
// (name, client). A database that fails refuses the request (the page that
// would follow needs the database anyway).
type dbLimiter struct {
	db   *sql.DB
	d    sqldb.Dialect
	name string
	rate RateLimit
	now  func() time.Time
	log  *slog.Logger

	mu        sync.Mutex
	lastSweep time.Time
}

func newDBLimiter(db *sql.DB, name string, rate RateLimit, now func() time.Time, log *slog.Logger) *dbLimiter {
	return &dbLimiter{db: db, d: sqldb.DialectOf(db), name: name, rate: rate, now: now, log: log}
}

// sweepEvery is how often each process deletes full buckets (a full bucket
// and no bucket are the same).
const sweepEvery = time.Minute

func (l *dbLimiter) allow(key string) (bool, time.Duration) {
	ok, wait, err := l.update(key, true)
	if err != nil {
		l.log.Error("rate limit: the database failed; refusing the request", "limit", l.name, "err", err)
		return false, time.Second
	}
	return ok, wait
}

func (l *dbLimiter) exhausted(key string) (time.Duration, bool, error) {
	ok, wait, err := l.update(key, false)
	if err != nil {
		return 0, false, fmt.Errorf("reading the %s limit: %w", l.name, err)
	}
	return wait, !ok, nil
}

// update refills key's bucket and, with take, takes a token; it reports
// whether there was one and how long until there will be.
func (l *dbLimiter) update(key string, take bool) (bool, time.Duration, error) {
	if l.rate.Burst <= 0 || l.rate.Every <= 0 {
		return true, 0, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := l.now()
	l.sweep(ctx, now)
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return false, 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO rate_buckets (name, key, tokens, last) VALUES ($1, $2, $3, $4) ON CONFLICT (name, key) DO NOTHING`,
		l.name, key, float64(l.rate.Burst), now.UnixNano()); err != nil {
		return false, 0, err
	}
	b := bucket{key: key}
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT tokens, last FROM rate_buckets WHERE name = $1 AND key = $2`+l.d.ForUpdate(), l.name, key).Scan(&b.tokens, &last); err != nil {
		return false, 0, err
	}
	b.last = time.Unix(0, last)
	b.refill(now, l.rate)
	ok := b.tokens >= 1
	if ok && take {
		b.tokens--
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rate_buckets SET tokens = $1, last = $2 WHERE name = $3 AND key = $4`,
		b.tokens, b.last.UnixNano(), l.name, key); err != nil {
		return false, 0, err
	}
	if err := tx.Commit(); err != nil {
		return false, 0, err
	}
	if ok {
		return true, 0, nil
	}
	return false, time.Duration((1 - b.tokens) * float64(l.rate.Every)), nil
}

// sweep deletes the buckets that have refilled completely.
func (l *dbLimiter) sweep(ctx context.Context, now time.Time) {
	l.mu.Lock()
	due := now.Sub(l.lastSweep) >= sweepEvery
	if due {
		l.lastSweep = now
	}
	l.mu.Unlock()
	if !due {
		return
	}
	full := now.Add(-time.Duration(l.rate.Burst) * l.rate.Every).UnixNano()
	if _, err := l.db.ExecContext(ctx, `DELETE FROM rate_buckets WHERE name = $1 AND last < $2`, l.name, full); err != nil {
		l.log.Warn("rate limit: deleting full buckets", "limit", l.name, "err", err)
	}
}

// dbWindow is windowCounter with its events in the database: at most max
// events named name in any window, across every process.
type dbWindow struct {
	db     *sql.DB
	d      sqldb.Dialect
	name   string
	max    int
	window time.Duration
	now    func() time.Time
	log    *slog.Logger
}

func newDBWindow(db *sql.DB, name string, max int, window time.Duration, now func() time.Time, log *slog.Logger) *dbWindow {
	return &dbWindow{db: db, d: sqldb.DialectOf(db), name: name, max: max, window: window, now: now, log: log}
}

func (c *dbWindow) take() bool {
	if c.max < 0 {
		return true
	}
	ok, err := c.tryTake()
	if err != nil {
		c.log.Error("rate cap: the database failed; counting the event as over the cap", "cap", c.name, "err", err)
		return false
	}
	return ok
}

func (c *dbWindow) tryTake() (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := c.now()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	// The cap's own bucket row is its lock: two replicas counting at once
	// take turns, so neither lets the max+1st event through.
	if _, err := tx.ExecContext(ctx, `INSERT INTO rate_buckets (name, key, tokens, last) VALUES ($1, '', 0, 0) ON CONFLICT (name, key) DO NOTHING`, c.name); err != nil {
		return false, err
	}
	var tokens float64
	if err := tx.QueryRowContext(ctx, `SELECT tokens FROM rate_buckets WHERE name = $1 AND key = ''`+c.d.ForUpdate(), c.name).Scan(&tokens); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM rate_events WHERE name = $1 AND at <= $2`, c.name, now.Add(-c.window).UnixNano()); err != nil {
		return false, err
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM rate_events WHERE name = $1`, c.name).Scan(&n); err != nil {
		return false, err
	}
	if n >= c.max {
		return false, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO rate_events (id, name, at) VALUES ($1, $2, $3)`, rand.Text(), c.name, now.UnixNano()); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

func (c *dbWindow) giveBack() {
	if c.max < 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.db.ExecContext(ctx, `DELETE FROM rate_events WHERE id = (SELECT id FROM rate_events WHERE name = $1 ORDER BY at DESC LIMIT 1)`, c.name); err != nil {
		c.log.Warn("rate cap: giving back an event", "cap", c.name, "err", err)
	}
}
