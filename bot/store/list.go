package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/crierhq/crier/sqldb"
)

// Status is what a post's state and, once published, its deliveries say
// about it, as the console's lists show it: a PostState, or for a published
// post one of the four below.
type Status string

const (
	// StatusFailed: a delivery failed for good.
	StatusFailed Status = "failed"
	// StatusSending: a delivery is still under way, none failed.
	StatusSending Status = "sending"
	// StatusSent: every delivery left the machine (or the post had none).
	StatusSent Status = "sent"
	// StatusLocal: every delivery was only saved to the outbox folder.
	StatusLocal Status = "local"
)

// statusSQL computes Status from a post p and its deliveries.
const statusSQL = `CASE WHEN p.state = 'published' THEN CASE
		WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = p.id AND d.state = 'failed') THEN 'failed'
		WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = p.id AND d.state NOT IN ('sent', 'skipped')) THEN 'sending'
		WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = p.id)
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = p.id AND NOT d.outbox) THEN 'local'
		ELSE 'sent' END
	ELSE p.state END`

// statusWhere selects the posts of each published Status with conditions
// the indexes serve. The unary + keeps SQLite from driving the query from
// the delivery list (thousands of row reads to sort): it scans the covering
// posts_updated index newest first and stops at a page, checking each id
// against the list built once.
var statusWhere = map[Status]string{
	StatusFailed: `p.state = 'published' AND +p.id IN (SELECT post_id FROM deliveries WHERE state = 'failed')`,
	StatusSending: `p.state = 'published' AND +p.id IN (SELECT post_id FROM deliveries WHERE state IN ('pending', 'sending', 'unknown'))
		AND +p.id NOT IN (SELECT post_id FROM deliveries WHERE state = 'failed')`,
	StatusSent: `p.state = 'published' AND +p.id NOT IN (SELECT post_id FROM deliveries WHERE state NOT IN ('sent', 'skipped'))
		AND (+p.id IN (SELECT post_id FROM deliveries WHERE NOT outbox) OR +p.id NOT IN (SELECT post_id FROM deliveries))`,
	StatusLocal: `p.state = 'published' AND +p.id NOT IN (SELECT post_id FROM deliveries WHERE state NOT IN ('sent', 'skipped'))
		AND +p.id IN (SELECT post_id FROM deliveries) AND +p.id NOT IN (SELECT post_id FROM deliveries WHERE NOT outbox)`,
}

// where is statusWhere's condition for s in dialect d (a PostState is
// compared as it is).
func (s Status) where(d sqldb.Dialect, arg func(any) string) string {
	cond, ok := statusWhere[s]
	if !ok {
		return "p.state = " + arg(string(s))
	}
	if d == sqldb.Postgres {
		// The unary + is a hint for SQLite's planner only; PostgreSQL has
		// no + on text.
		cond = strings.ReplaceAll(cond, "+p.id", "p.id")
	}
	return cond
}

// PostQuery selects one page of the posts list, newest change first. Feed
// items only recorded as seen (the back catalogue) are never listed.
type PostQuery struct {
	Status Status // "" for any
	Source string // the source kind ("console", "feed"); "" for any
	// Search keeps the posts whose title or text contains it,
	// case-insensitively; "" keeps all.
	Search string
	// Only, when not nil, keeps only these ids; Except leaves these out.
	// They carry what other packages know of posts (the console's review
	// queue) without their tables joining this one's.
	Only, Except  []string
	Offset, Limit int
}

// ListedPost is one row of the posts list.
type ListedPost struct {
	ID, Title, SourceKind, SourceName string
	Status                            Status
	PublishAt, UpdatedAt              time.Time
	Deliveries                        []ListedDelivery
}

// ListedDelivery is one channel's delivery state in the posts list.
type ListedDelivery struct {
	Channel string
	State   DeliveryState
	Outbox  bool
}

// ListPosts reads one page of posts; more reports whether another follows.
func (s *Store) ListPosts(ctx context.Context, q PostQuery) (rows []ListedPost, more bool, err error) {
	d := s.Dialect()
	where := []string{"p.state NOT IN ('seen')"}
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q.Search != "" {
		p := arg(sqldb.Contains(strings.ToLower(q.Search)))
		where = append(where, fmt.Sprintf(`(LOWER(p.title) LIKE %[1]s %[2]s OR LOWER(COALESCE(%[3]s, '')) LIKE %[1]s %[2]s)`,
			p, sqldb.LikeEscape, d.JSONText("p.data", "body")))
	}
	if q.Source != "" {
		where = append(where, "p.source_kind = "+arg(q.Source))
	}
	if q.Status != "" {
		where = append(where, q.Status.where(d, arg))
	}
	if q.Only != nil {
		where = append(where, "p.id IN "+idSet(d, arg(idJSON(q.Only))))
	}
	if len(q.Except) > 0 {
		where = append(where, "p.id NOT IN "+idSet(d, arg(idJSON(q.Except))))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	lim, off := arg(limit+1), arg(q.Offset)
	// The page of ids comes from the covering index on (updated_at, id,
	// state, source_kind); only the rows shown are read in full.
	query := fmt.Sprintf(`SELECT p.id, p.title, p.source_kind, p.source_name, %s, p.publish_at, p.updated_at,
		(SELECT %s FROM deliveries d WHERE d.post_id = p.id)
		FROM (SELECT p.id FROM posts p WHERE %s ORDER BY p.updated_at DESC, p.id DESC LIMIT %s OFFSET %s) AS page
		JOIN posts p ON p.id = page.id
		ORDER BY p.updated_at DESC, p.id DESC`, statusSQL,
		d.Pick(`group_concat(`+deliveryMark+`, ' ')`, `string_agg(`+deliveryMark+`, ' ')`),
		strings.Join(where, " AND "), lim, off)
	res, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, false, fmt.Errorf("listing posts: %w", err)
	}
	defer res.Close()
	for res.Next() {
		var x ListedPost
		var dels sql.NullString
		if err := res.Scan(&x.ID, &x.Title, &x.SourceKind, &x.SourceName, &x.Status, &x.PublishAt, &x.UpdatedAt, &dels); err != nil {
			return nil, false, fmt.Errorf("listing posts: %w", err)
		}
		x.Deliveries = parseMarks(dels.String)
		rows = append(rows, x)
	}
	if more = len(rows) > limit; more {
		rows = rows[:limit]
	}
	return rows, more, res.Err()
}

// deliveryMark is one delivery as "channel:state[:local]" in the list's
// aggregate (one query for the page, not one per row).
const deliveryMark = `d.channel || ':' || d.state || CASE WHEN d.outbox THEN ':local' ELSE '' END`

func parseMarks(s string) []ListedDelivery {
	var out []ListedDelivery
	for _, f := range strings.Fields(s) {
		parts := strings.Split(f, ":")
		if len(parts) < 2 {
			continue
		}
		out = append(out, ListedDelivery{Channel: parts[0], State: DeliveryState(parts[1]), Outbox: len(parts) > 2})
	}
	return out
}

// idSet is a subquery of the post ids in the JSON array param.
func idSet(d sqldb.Dialect, param string) string {
	return d.Pick(`(SELECT value FROM json_each(`+param+`))`, `(SELECT jsonb_array_elements_text(`+param+`::jsonb))`)
}

func idJSON(ids []string) string {
	if ids == nil {
		ids = []string{}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// PostStatus is one post's Status.
func (s *Store) PostStatus(ctx context.Context, id string) (Status, error) {
	var st Status
	err := s.db.QueryRowContext(ctx, `SELECT `+statusSQL+` FROM posts p WHERE p.id = $1`, id).Scan(&st)
	if err == sql.ErrNoRows {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("reading the state of post %s: %w", id, err)
	}
	return st, nil
}

// CountStatus counts the published posts in one of the published
// Statuses (failed, sending, sent, local).
func (s *Store) CountStatus(ctx context.Context, st Status) (int, error) {
	var n int
	var args []any
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM posts p WHERE `+st.where(s.Dialect(), arg), args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting %s posts: %w", st, err)
	}
	return n, nil
}

// DatedPost is a scheduled or published post on the calendar.
type DatedPost struct {
	ID, Title, SourceKind string
	State                 PostState
	PublishAt             time.Time
	// Local is set for a published post whose deliveries were all only
	// saved to the outbox folder.
	Local bool
}

// Dated reads the scheduled and published posts of every source with
// publish_at in [start, end), in time order, at most limit.
func (s *Store) Dated(ctx context.Context, start, end time.Time, limit int) ([]DatedPost, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, title, source_kind, state, publish_at,
		CASE WHEN state = 'published' AND EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = posts.id)
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.post_id = posts.id AND NOT d.outbox) THEN 1 ELSE 0 END
		FROM posts WHERE state IN ('scheduled', 'published') AND publish_at >= $1 AND publish_at < $2 ORDER BY publish_at, id LIMIT $3`,
		start.UTC(), end.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("reading the posts between %s and %s: %w", start.Format(time.DateOnly), end.Format(time.DateOnly), err)
	}
	defer rows.Close()
	var out []DatedPost
	for rows.Next() {
		var e DatedPost
		var local int
		if err := rows.Scan(&e.ID, &e.Title, &e.SourceKind, &e.State, &e.PublishAt, &local); err != nil {
			return nil, fmt.Errorf("reading the calendar's posts: %w", err)
		}
		e.Local = local == 1
		out = append(out, e)
	}
	return out, rows.Err()
}
