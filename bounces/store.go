package bounces

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"time"

	"github.com/crierhq/crier/internal/redact"
	"github.com/crierhq/crier/migrate"
)

// The feedback table: one row per bounce, complaint or mailed unsubscribe
// Crier acted on, keyed by where it came from so that the same report read
// twice (a webhook retried, a mailbox read again) counts once. Rows go with
// their subscriber when the subscriber is erased (the trigger), and their
// detail never holds an address.
var schema = []string{`
CREATE TABLE email_feedback (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	ref           TEXT NOT NULL,
	source        TEXT NOT NULL,
	kind          TEXT NOT NULL,
	subscriber_id INTEGER NOT NULL,
	send_id       TEXT NOT NULL DEFAULT '',
	detail        TEXT NOT NULL DEFAULT '',
	at            TIMESTAMP NOT NULL,
	UNIQUE (ref, subscriber_id)
);
CREATE INDEX email_feedback_send ON email_feedback (send_id, kind);
CREATE INDEX email_feedback_subscriber ON email_feedback (subscriber_id, kind, at);
CREATE TRIGGER email_feedback_erase AFTER DELETE ON subscribers
BEGIN
	DELETE FROM email_feedback WHERE subscriber_id = OLD.id;
END;
`}

// Feedback kinds, as stored.
const (
	FeedbackHard        = "hard_bounce"
	FeedbackSoft        = "soft_bounce"
	FeedbackComplaint   = "complaint"
	FeedbackUnsubscribe = "unsubscribe"
)

func upgrade(ctx context.Context, db *sql.DB) error {
	return migrate.Up(ctx, db, "bounces", schema)
}

var addressInText = regexp.MustCompile(`[^\s<>()\[\]"',;:]{1,64}@[A-Za-z0-9.-]{1,253}`)

// redact removes addresses from a server's reply before it is stored or
// logged (diagnostics usually quote the recipient).
func redactAddresses(s string) string {
	return addressInText.ReplaceAllString(redact.Addresses(clip(s, 300)), redact.Placeholder)
}

// record stores one piece of feedback and reports whether it is new.
func record(ctx context.Context, db *sql.DB, ref, source, kind string, subID int64, sendID, detail string, at time.Time) (bool, error) {
	res, err := db.ExecContext(ctx, `INSERT INTO email_feedback (ref, source, kind, subscriber_id, send_id, detail, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (ref, subscriber_id) DO NOTHING`,
		ref, source, kind, subID, sendID, redactAddresses(detail), at.UTC())
	if err != nil {
		return false, fmt.Errorf("recording %s of subscriber %d: %w", kind, subID, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// softCount counts subscriber id's soft bounces since t.
func softCount(ctx context.Context, db *sql.DB, id int64, since time.Time) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM email_feedback WHERE subscriber_id = $1 AND kind = $2 AND at > $3`,
		id, FeedbackSoft, since.UTC()).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting soft bounces of subscriber %d: %w", id, err)
	}
	return n, nil
}

// sendByHash finds the send whose SendHash is h ("" when none is).
func sendByHash(ctx context.Context, db *sql.DB, h string) (string, error) {
	if h == "" {
		return "", nil
	}
	rows, err := db.QueryContext(ctx, `SELECT id FROM email_sends ORDER BY created_at DESC`)
	if err != nil {
		return "", nil // no send was ever made
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		if SendHash(id) == h {
			return id, nil
		}
	}
	return "", rows.Err()
}

// Counts is what came back from one send.
type Counts struct {
	// Delivered is recipients the server accepted and who did not bounce.
	Delivered   int `json:"delivered"`
	Bounced     int `json:"bounced"`      // hard bounces
	SoftBounced int `json:"soft_bounced"` // soft bounces (not also hard)
	Complained  int `json:"complained"`
	// Unsubscribed is recipients who unsubscribed (link, one-click, mail)
	// after this send and before their next newsletter, complaints not
	// included.
	Unsubscribed int `json:"unsubscribed"`
	// ComplaintRate is Complained / Delivered.
	ComplaintRate float64 `json:"complaint_rate"`
	// Warning is set when the complaint rate passes ComplaintRateLimit.
	Warning string `json:"warning,omitempty"`
}

// ComplaintRateLimit is the spam complaint rate Gmail and Yahoo require
// bulk senders to stay under (0.3%).
const ComplaintRateLimit = 0.003

// SendCounts reads the feedback counts of one send, given how many of its
// recipients the server accepted. It works on a database where the bounce
// tables were never made (all zero but delivered).
func SendCounts(ctx context.Context, db *sql.DB, sendID string, sent int) (Counts, error) {
	c := Counts{Delivered: sent}
	var exists int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'email_feedback'`).Scan(&exists); err != nil {
		return c, fmt.Errorf("reading feedback of %s: %w", sendID, err)
	}
	if exists == 1 {
		err := db.QueryRowContext(ctx, `SELECT
			COUNT(DISTINCT CASE WHEN kind = 'hard_bounce' THEN subscriber_id END),
			COUNT(DISTINCT CASE WHEN kind = 'soft_bounce' AND subscriber_id NOT IN
				(SELECT subscriber_id FROM email_feedback WHERE send_id = $1 AND kind = 'hard_bounce') THEN subscriber_id END),
			COUNT(DISTINCT CASE WHEN kind = 'complaint' THEN subscriber_id END)
			FROM email_feedback WHERE send_id = $1`, sendID).Scan(&c.Bounced, &c.SoftBounced, &c.Complained)
		if err != nil {
			return c, fmt.Errorf("reading feedback of %s: %w", sendID, err)
		}
	}
	c.Delivered = max(0, sent-c.Bounced-c.SoftBounced)
	n, err := unsubscribedAfter(ctx, db, sendID)
	if err != nil {
		return c, err
	}
	c.Unsubscribed = n
	if c.Delivered > 0 {
		c.ComplaintRate = float64(c.Complained) / float64(c.Delivered)
	}
	if c.Complained > 0 && c.ComplaintRate > ComplaintRateLimit {
		c.Warning = fmt.Sprintf("spam complaint rate %.3f%% is above 0.3%%, the limit Gmail and Yahoo set for bulk senders: mail only people who asked for it, and make unsubscribing easy", c.ComplaintRate*100)
	}
	return c, nil
}

// unsubscribedAfter counts the send's recipients whose unsubscribe came
// after their copy of this send and before any later newsletter to them.
func unsubscribedAfter(ctx context.Context, db *sql.DB, sendID string) (int, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT r.subscriber_id) FROM email_recipients r
		JOIN consent_events e ON e.subscriber_id = r.subscriber_id AND e.event = 'unsubscribed' AND e.at >= r.sent_at
			AND e.source NOT LIKE 'complaint%'
		WHERE r.send_id = $1 AND r.state = 'sent'
		AND NOT EXISTS (SELECT 1 FROM email_recipients r2 WHERE r2.subscriber_id = r.subscriber_id
			AND r2.send_id != r.send_id AND r2.sent_at > r.sent_at AND r2.sent_at <= e.at)`, sendID).Scan(&n)
	if err != nil {
		var missing bool
		_ = db.QueryRowContext(ctx, `SELECT COUNT(*) = 0 FROM sqlite_master WHERE name = 'consent_events'`).Scan(&missing)
		if missing {
			return 0, nil
		}
		return 0, fmt.Errorf("counting unsubscribes after %s: %w", sendID, err)
	}
	return n, nil
}
