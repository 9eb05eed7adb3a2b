package reach

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/migrate"
)

// The tables of reach: the history of reads, each (post, channel)'s
// schedule and latest good read, the replies kept for the post page, and
// the per-channel read budget shared by replicas.
var schema = []string{`
CREATE TABLE reach_status (
	post_id       TEXT NOT NULL,
	channel       TEXT NOT NULL,
	delivered_at  TIMESTAMP NOT NULL,
	-- next_step indexes reach.schedule; past its end the schedule is done.
	next_step     INTEGER NOT NULL DEFAULT 0,
	next_at       TIMESTAMP,
	last_read_at  TIMESTAMP,
	last_error    TEXT NOT NULL DEFAULT '',
	last_error_at TIMESTAMP,
	notes         TEXT NOT NULL DEFAULT '',
	-- The latest good read's counters; NULL is "not available", never 0.
	replies   BIGINT,
	reposts   BIGINT,
	likes     BIGINT,
	quotes    BIGINT,
	reactions BIGINT,
	extra     TEXT NOT NULL DEFAULT '',
	-- slot_at is the time reserved for the next read in its channel's
	-- hourly budget (reach_budget): its job is queued for then.
	slot_at   TIMESTAMP,
	PRIMARY KEY (post_id, channel)
);
CREATE INDEX reach_status_delivered ON reach_status (delivered_at);

CREATE TABLE reach_reads (
	post_id   TEXT NOT NULL,
	channel   TEXT NOT NULL,
	read_at   TIMESTAMP NOT NULL,
	-- step is the schedule step read, -1 for a refresh asked for by hand.
	step      INTEGER NOT NULL,
	replies   BIGINT,
	reposts   BIGINT,
	likes     BIGINT,
	quotes    BIGINT,
	reactions BIGINT,
	extra     TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (post_id, channel, read_at)
);

CREATE TABLE reach_replies (
	post_id  TEXT NOT NULL,
	channel  TEXT NOT NULL,
	url      TEXT NOT NULL,
	author   TEXT NOT NULL,
	at       TIMESTAMP NOT NULL,
	warning  TEXT NOT NULL DEFAULT '',
	excerpt  TEXT NOT NULL DEFAULT '',
	-- kept_at is when Crier first stored the reply: it is deleted
	-- reach.keep_replies after.
	kept_at  TIMESTAMP NOT NULL,
	PRIMARY KEY (post_id, channel, url)
);
CREATE INDEX reach_replies_kept ON reach_replies (kept_at);

-- Each channel's reads per hour, across replicas: a read is given a time
-- in the first hour from its due time that has room (at most
-- reach.reads_per_hour, spaced through the hour) when it is queued.
CREATE TABLE reach_budget (
	channel TEXT NOT NULL,
	hour    TIMESTAMP NOT NULL,
	used    INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (channel, hour)
);

-- How long a network that answered "too many requests" is left alone.
CREATE TABLE reach_pause (
	channel      TEXT PRIMARY KEY,
	paused_until TIMESTAMP NOT NULL
);
`}

// Prepare creates or migrates reach's tables in db.
func Prepare(ctx context.Context, db *sql.DB) error {
	return migrate.Up(ctx, db, "reach", schema)
}

// status is one (post, channel)'s row of reach_status.
type status struct {
	PostID, Channel string
	DeliveredAt     time.Time
	NextStep        int
	NextAt          time.Time
	LastRead        time.Time
	LastError       string
	LastErrorAt     time.Time
	Notes           []string
	Latest          channels.Counters
	Extra           []channels.NamedCount
	// Slot is the time reserved for this read in its channel's pace
	// (zero: none).
	Slot time.Time
}

const statusColumns = `post_id, channel, delivered_at, next_step, next_at, last_read_at, last_error, last_error_at, notes, replies, reposts, likes, quotes, reactions, extra, slot_at`

type scanner interface{ Scan(...any) error }

func scanStatus(row scanner) (status, error) {
	var s status
	var next, last, errAt, slot sql.NullTime
	var notes, extra string
	var c counterColumns
	err := row.Scan(&s.PostID, &s.Channel, &s.DeliveredAt, &s.NextStep, &next, &last, &s.LastError, &errAt, &notes, &c[0], &c[1], &c[2], &c[3], &c[4], &extra, &slot)
	if err != nil {
		return s, err
	}
	s.NextAt, s.LastRead, s.LastErrorAt, s.Slot = next.Time, last.Time, errAt.Time, slot.Time
	s.Latest = c.counters()
	s.Extra = decodeExtra(extra)
	if notes != "" {
		_ = json.Unmarshal([]byte(notes), &s.Notes)
	}
	return s, nil
}

// counterColumns are the five counters as nullable columns, in the order
// replies, reposts, likes, quotes, reactions.
type counterColumns [5]sql.NullInt64

func columnsOf(c channels.Counters) counterColumns {
	var out counterColumns
	for i, n := range []channels.Count{c.Replies, c.Reposts, c.Likes, c.Quotes, c.Reactions} {
		out[i] = sql.NullInt64{Int64: n.N, Valid: n.Known}
	}
	return out
}

func (cc counterColumns) counters() channels.Counters {
	get := func(i int) channels.Count {
		if !cc[i].Valid {
			return channels.Count{}
		}
		return channels.CountOf(cc[i].Int64)
	}
	return channels.Counters{Replies: get(0), Reposts: get(1), Likes: get(2), Quotes: get(3), Reactions: get(4)}
}

// storedCount is a NamedCount as kept in the extra column: a missing N is
// "not available".
type storedCount struct {
	Name string `json:"name"`
	N    *int64 `json:"n,omitempty"`
}

func encodeExtra(extra []channels.NamedCount) string {
	if len(extra) == 0 {
		return ""
	}
	out := make([]storedCount, len(extra))
	for i, e := range extra {
		out[i].Name = e.Name
		if e.Count.Known {
			n := e.Count.N
			out[i].N = &n
		}
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func decodeExtra(s string) []channels.NamedCount {
	if s == "" {
		return nil
	}
	var in []storedCount
	if json.Unmarshal([]byte(s), &in) != nil {
		return nil
	}
	out := make([]channels.NamedCount, len(in))
	for i, e := range in {
		out[i] = channels.NamedCount{Name: e.Name, Count: channels.CountPtr(e.N)}
	}
	return out
}

func nullTime(t time.Time) sql.NullTime {
	return sql.NullTime{Time: t.UTC(), Valid: !t.IsZero()}
}

// schedule records a delivery's first read at next (the first step);
// a (post, channel) already scheduled is left as it is.
func (e *Engine) schedule(ctx context.Context, postID, channel string, deliveredAt, next time.Time) (bool, error) {
	res, err := e.db.ExecContext(ctx, `INSERT INTO reach_status (post_id, channel, delivered_at, next_step, next_at)
		VALUES ($1, $2, $3, 0, $4) ON CONFLICT (post_id, channel) DO NOTHING`, postID, channel, deliveredAt.UTC(), next.UTC())
	if err != nil {
		return false, fmt.Errorf("scheduling the reach of %s on %s: %w", postID, channel, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// status reads one (post, channel)'s row; ok is false when there is none.
func (e *Engine) status(ctx context.Context, postID, channel string) (status, bool, error) {
	s, err := scanStatus(e.db.QueryRowContext(ctx, `SELECT `+statusColumns+` FROM reach_status WHERE post_id = $1 AND channel = $2`, postID, channel))
	if errors.Is(err, sql.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("reading the reach of %s on %s: %w", postID, channel, err)
	}
	return s, true, nil
}

// statuses reads the rows matching where, with args.
func (e *Engine) statuses(ctx context.Context, where string, args ...any) ([]status, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT `+statusColumns+` FROM reach_status WHERE `+where+` ORDER BY delivered_at, post_id, channel`, args...)
	if err != nil {
		return nil, fmt.Errorf("reading reach: %w", err)
	}
	defer rows.Close()
	var out []status
	for rows.Next() {
		s, err := scanStatus(rows)
		if err != nil {
			return nil, fmt.Errorf("reading reach: %w", err)
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// scheduleMove is where a read moves its schedule: the next step and when
// it is due. A refresh passes nil: it reads outside the schedule, and a
// step read meanwhile must not be written back over.
type scheduleMove struct {
	Step int
	At   time.Time
}

// scheduleSet is the SET clause and arguments (numbered from n) that move
// the schedule; none for a nil move.
func scheduleSet(m *scheduleMove, n int) (string, []any) {
	if m == nil {
		return "", nil
	}
	return fmt.Sprintf(", next_step = $%d, next_at = $%d, slot_at = NULL", n, n+1), []any{m.Step, nullTime(m.At)}
}

// saveRead records a good read: its history row, the latest counters, the
// replies (new ones kept from now) and, for a schedule step, the next one.
func (e *Engine) saveRead(ctx context.Context, s status, step int, r channels.Reach, at time.Time, next *scheduleMove) error {
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("recording the reach of %s on %s: %w", s.PostID, s.Channel, err)
	}
	defer tx.Rollback()
	c, extra := columnsOf(r.Total), encodeExtra(r.Extra)
	notes := ""
	if len(r.Notes) > 0 {
		b, _ := json.Marshal(r.Notes)
		notes = string(b)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO reach_reads (post_id, channel, read_at, step, replies, reposts, likes, quotes, reactions, extra)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (post_id, channel, read_at) DO NOTHING`,
		s.PostID, s.Channel, at.UTC(), step, c[0], c[1], c[2], c[3], c[4], extra); err != nil {
		return fmt.Errorf("recording the reach of %s on %s: %w", s.PostID, s.Channel, err)
	}
	set, moveArgs := scheduleSet(next, 11)
	if _, err := tx.ExecContext(ctx, `UPDATE reach_status SET last_read_at = $3, last_error = '', last_error_at = NULL, notes = $4,
		replies = $5, reposts = $6, likes = $7, quotes = $8, reactions = $9, extra = $10`+set+`
		WHERE post_id = $1 AND channel = $2`,
		append([]any{s.PostID, s.Channel, at.UTC(), notes, c[0], c[1], c[2], c[3], c[4], extra}, moveArgs...)...); err != nil {
		return fmt.Errorf("recording the reach of %s on %s: %w", s.PostID, s.Channel, err)
	}
	for _, rp := range r.Replies {
		if rp.URL == "" {
			continue // nothing to link to, nothing to key it by
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO reach_replies (post_id, channel, url, author, at, warning, excerpt, kept_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (post_id, channel, url) DO UPDATE SET warning = excluded.warning, excerpt = excluded.excerpt`,
			s.PostID, s.Channel, rp.URL, rp.Author, rp.At.UTC(), rp.Warning, rp.Excerpt, at.UTC()); err != nil {
			return fmt.Errorf("keeping the replies to %s on %s: %w", s.PostID, s.Channel, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recording the reach of %s on %s: %w", s.PostID, s.Channel, err)
	}
	return nil
}

// saveFailure records a failed read: the last good one stays; next moves
// the schedule on (nil, a refresh: it stays as it is).
func (e *Engine) saveFailure(ctx context.Context, postID, channel, reason string, at time.Time, next *scheduleMove) error {
	set, moveArgs := scheduleSet(next, 5)
	if _, err := e.db.ExecContext(ctx, `UPDATE reach_status SET last_error = $3, last_error_at = $4`+set+`
		WHERE post_id = $1 AND channel = $2`, append([]any{postID, channel, reason, at.UTC()}, moveArgs...)...); err != nil {
		return fmt.Errorf("recording a failed read of %s on %s: %w", postID, channel, err)
	}
	return nil
}

// history is every good read of one (post, channel), oldest first.
func (e *Engine) history(ctx context.Context, postID, channel string) ([]point, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT read_at, replies, reposts, likes, quotes, reactions, extra FROM reach_reads
		WHERE post_id = $1 AND channel = $2 ORDER BY read_at`, postID, channel)
	if err != nil {
		return nil, fmt.Errorf("reading the reach history of %s on %s: %w", postID, channel, err)
	}
	defer rows.Close()
	var out []point
	for rows.Next() {
		var p point
		var c counterColumns
		var extra string
		if err := rows.Scan(&p.At, &c[0], &c[1], &c[2], &c[3], &c[4], &extra); err != nil {
			return nil, fmt.Errorf("reading the reach history of %s on %s: %w", postID, channel, err)
		}
		p.Counters, p.Extra = c.counters(), decodeExtra(extra)
		out = append(out, p)
	}
	return out, rows.Err()
}

// point is one good read.
type point struct {
	At       time.Time
	Counters channels.Counters
	Extra    []channels.NamedCount
}

// replies are the kept replies to one (post, channel), newest first.
func (e *Engine) replies(ctx context.Context, postID, channel string, limit int) ([]channels.Reply, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT author, at, warning, excerpt, url FROM reach_replies
		WHERE post_id = $1 AND channel = $2 AND kept_at > $3 ORDER BY at DESC, url LIMIT $4`, postID, channel, e.now().Add(-e.opts.KeepReplies).UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("reading the replies to %s on %s: %w", postID, channel, err)
	}
	defer rows.Close()
	var out []channels.Reply
	for rows.Next() {
		var r channels.Reply
		if err := rows.Scan(&r.Author, &r.At, &r.Warning, &r.Excerpt, &r.URL); err != nil {
			return nil, fmt.Errorf("reading the replies to %s on %s: %w", postID, channel, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PurgeReplies deletes the replies kept longer than reach.keep_replies and
// returns how many went.
func (e *Engine) PurgeReplies(ctx context.Context) (int64, error) {
	res, err := e.db.ExecContext(ctx, `DELETE FROM reach_replies WHERE kept_at <= $1`, e.now().Add(-e.opts.KeepReplies).UTC())
	if err != nil {
		return 0, fmt.Errorf("deleting replies older than %s: %w", e.opts.KeepReplies, err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// reserve gives a read due at due a time in its channel's budget: in the
// first hour from due's with room (at most reads_per_hour reads an hour,
// across replicas), at its share of that hour, never before due. Reads are
// given their time when they are queued, so that a thousand reads due at
// once are queued for a thousand different times, and none waits in a
// queue or wakes to be told to wait.
func (e *Engine) reserve(ctx context.Context, channel string, due time.Time) (time.Time, error) {
	from := due.UTC()
	if now := e.now().UTC(); now.After(from) {
		from = now // a read overdue (after a restart) is spread from now on
	}
	interval := time.Hour / time.Duration(e.opts.ReadsPerHour)
	for hour := from.Truncate(time.Hour); ; hour = hour.Add(time.Hour) {
		if err := e.openHour(ctx, channel, hour); err != nil {
			return time.Time{}, err
		}
		// The hour's times before from are gone: they count as used.
		gone := 0
		if from.After(hour) {
			gone = int((from.Sub(hour) + interval - 1) / interval)
		}
		// One statement: two replicas cannot both take the hour's last.
		var used int
		err := e.db.QueryRowContext(ctx, `UPDATE reach_budget SET used = (CASE WHEN used < $4 THEN $4 ELSE used END) + 1
			WHERE channel = $1 AND hour = $2 AND (CASE WHEN used < $4 THEN $4 ELSE used END) < $3 RETURNING used`,
			channel, hour, e.opts.ReadsPerHour, gone).Scan(&used)
		if errors.Is(err, sql.ErrNoRows) {
			continue // the hour is full
		}
		if err != nil {
			return time.Time{}, fmt.Errorf("reserving a read of %s: %w", channel, err)
		}
		slot := hour.Add(time.Duration(used-1) * interval).Truncate(time.Microsecond)
		if slot.Before(from) {
			slot = from.Truncate(time.Microsecond)
		}
		return slot, nil
	}
}

// openHour makes channel's budget row for hour, if there is none yet.
func (e *Engine) openHour(ctx context.Context, channel string, hour time.Time) error {
	if _, err := e.db.ExecContext(ctx, `INSERT INTO reach_budget (channel, hour, used) VALUES ($1, $2, 0)
		ON CONFLICT (channel, hour) DO NOTHING`, channel, hour); err != nil {
		return fmt.Errorf("counting the reads of %s: %w", channel, err)
	}
	return nil
}

// takeBudget takes one read of channel's budget in now's hour, reporting
// false when the hour's reads_per_hour are all taken (by reads reserved
// for the schedule or by refreshes).
func (e *Engine) takeBudget(ctx context.Context, channel string, now time.Time) (bool, error) {
	hour := now.UTC().Truncate(time.Hour)
	if err := e.openHour(ctx, channel, hour); err != nil {
		return false, err
	}
	res, err := e.db.ExecContext(ctx, `UPDATE reach_budget SET used = used + 1 WHERE channel = $1 AND hour = $2 AND used < $3`,
		channel, hour, e.opts.ReadsPerHour)
	if err != nil {
		return false, fmt.Errorf("counting a read of %s: %w", channel, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// setSlot records the time reserved for a read.
func (e *Engine) setSlot(ctx context.Context, postID, channel string, slot time.Time) error {
	if _, err := e.db.ExecContext(ctx, `UPDATE reach_status SET slot_at = $3 WHERE post_id = $1 AND channel = $2`, postID, channel, nullTime(slot)); err != nil {
		return fmt.Errorf("reserving a read of %s on %s: %w", postID, channel, err)
	}
	return nil
}

// pausedUntil is until when channel is left alone (zero: it is not).
func (e *Engine) pausedUntil(ctx context.Context, channel string) (time.Time, error) {
	var t time.Time
	err := e.db.QueryRowContext(ctx, `SELECT paused_until FROM reach_pause WHERE channel = $1`, channel).Scan(&t)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, fmt.Errorf("reading whether %s asked to wait: %w", channel, err)
	}
	return t, nil
}

// purgeBudget deletes the budget of hours long past.
func (e *Engine) purgeBudget(ctx context.Context, before time.Time) error {
	if _, err := e.db.ExecContext(ctx, `DELETE FROM reach_budget WHERE hour < $1`, before.UTC()); err != nil {
		return fmt.Errorf("deleting past read budgets: %w", err)
	}
	return nil
}

// pause leaves channel alone until until (the network said how long).
func (e *Engine) pause(ctx context.Context, channel string, until time.Time) error {
	if _, err := e.db.ExecContext(ctx, `INSERT INTO reach_pause (channel, paused_until) VALUES ($1, $2)
		ON CONFLICT (channel) DO UPDATE SET paused_until = excluded.paused_until`, channel, until.UTC().Truncate(time.Microsecond)); err != nil {
		return fmt.Errorf("pausing reads of %s: %w", channel, err)
	}
	return nil
}

// channelTotals sums the latest counters of every post per channel, for
// Prometheus: only known counters add up, and a counter no post has is
// left out.
func (e *Engine) channelTotals(ctx context.Context) (map[string]map[string]int64, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT channel, SUM(replies), SUM(reposts), SUM(likes), SUM(quotes), SUM(reactions) FROM reach_status GROUP BY channel`)
	if err != nil {
		return nil, fmt.Errorf("adding up reach: %w", err)
	}
	defer rows.Close()
	out := map[string]map[string]int64{}
	for rows.Next() {
		var ch string
		var c counterColumns
		if err := rows.Scan(&ch, &c[0], &c[1], &c[2], &c[3], &c[4]); err != nil {
			return nil, fmt.Errorf("adding up reach: %w", err)
		}
		m := map[string]int64{}
		for i, name := range counterNames {
			if c[i].Valid {
				m[name] = c[i].Int64
			}
		}
		out[ch] = m
	}
	return out, rows.Err()
}

// counterNames name the five counters, in counterColumns' order.
var counterNames = []string{"replies", "reposts", "likes", "quotes", "reactions"}
