// Package channels provides what every delivery channel implements: a pure
// formatter (Post to the exact payload the channel shows) and a sender (payload
// to a remote message), plus the error classes the delivery engine acts on.
//
// Each channel type lives in its own sub-package and registers a Provider
// (see Registry); a configured channel is a named instance of a type. The
// outbox sub-package is the sender used when a channel has no credentials.
package channels

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/contentfetch"
)

// Payload is what a formatter produced for one post on one channel.
type Payload struct {
	// Channel is the channel instance's name ("mastodon-leeds").
	Channel string `json:"channel"`
	// PostID is the post the payload was made from.
	PostID string `json:"post_id"`
	// Body is the exact request the sender will make, in the channel
	// type's own type (JSON-serialisable for preview and the outbox); the
	// channel's sender takes it back with BodyOf.
	Body Body `json:"body"`
	// Files are extra renderings written beside the JSON in the outbox, e.g.
	// "message.eml" and "message.html" for email.
	Files []File `json:"-"`
	// Warnings are non-fatal problems worth showing in preview and validate
	// (e.g. an image without alt text).
	Warnings []string `json:"warnings,omitempty"`
}

// BodyOf returns p's body as the sender's own type B. A body of another
// type (a payload routed to the wrong channel) is a Permanent error.
func BodyOf[B Body](p Payload) (B, error) {
	b, ok := p.Body.(B)
	if !ok {
		var want B
		return want, Permanent(fmt.Errorf("payload of %s for %s is %T, not the %T this channel sends", p.PostID, p.Channel, p.Body, want))
	}
	return b, nil
}

// File is a named rendering of a payload.
type File struct {
	Name string
	Data []byte
}

// Receipt is what the remote side answered for a sent payload.
type Receipt struct {
	RemoteID  string `json:"remote_id,omitempty"`
	RemoteURL string `json:"remote_url,omitempty"`
	// Notes say what went out differently from the payload, e.g. an image
	// that could not be fetched and was left out. The delivery is still a
	// success; the notes reach the log and `crier status`.
	Notes []string `json:"notes,omitempty"`
}

// Part is one remote object of a delivery (a toot in a thread, a message),
// recorded as soon as it is known so that a retry never sends it twice.
type Part struct {
	Index     int
	RemoteID  string
	RemoteURL string
}

// Delivery identifies one (post, channel) delivery attempt.
type Delivery struct {
	PostID  string
	Channel string
	// Attempt counts from 1.
	Attempt int
	// PreviousUnknown is true when an earlier attempt ended ambiguously
	// (timeout, connection reset after the request was written): the sender
	// must check the remote side before sending again.
	PreviousUnknown bool
	Ledger          Ledger
}

// IdempotencyKey is a stable key for one part of a delivery.
func (d Delivery) IdempotencyKey(part int) string {
	return fmt.Sprintf("crier-%s-%s-%d", d.PostID, d.Channel, part)
}

// LedgerParts returns d's ledger, or an in-memory one when d has none
// (one-off sends), and the parts earlier attempts recorded, by index. A
// ledger that cannot be read is a Temporary error.
func LedgerParts(ctx context.Context, d Delivery) (Ledger, map[int]Part, error) {
	ledger := d.Ledger
	if ledger == nil {
		ledger = &MemoryLedger{}
	}
	done, err := ledger.Parts(ctx)
	if err != nil {
		return nil, nil, Temporary(fmt.Errorf("reading the delivery ledger: %w", err))
	}
	parts := make(map[int]Part, len(done))
	for _, part := range done {
		parts[part.Index] = part
	}
	return ledger, parts, nil
}

// MemoryLedger is a Ledger in memory: it stands in when a delivery has
// none, and keeps what a correction by repost published, for its results.
type MemoryLedger struct{ Saved []Part }

func (m *MemoryLedger) Parts(context.Context) ([]Part, error) { return m.Saved, nil }
func (m *MemoryLedger) SavePart(_ context.Context, p Part) error {
	m.Saved = append(m.Saved, p)
	return nil
}

// Channel is a configured channel: its name, formatter and sender.
type Channel struct {
	Name      string
	Formatter Formatter
	Sender    Sender
	// Outbox is true when Sender writes to the local outbox instead of the
	// real service (no credentials).
	Outbox bool
	// DigestOnly is true when posts reach this channel only through its
	// digest (the newsletter with newsletter: digest): publishing a post
	// queues no delivery to it.
	DigestOnly bool
}

// Kind classifies a send error for the delivery engine.
type Kind int

const (
	// KindTemporary errors are retried with backoff (5xx, network errors).
	KindTemporary Kind = iota
	// KindPermanent errors park the delivery as failed (401, 403, 422).
	KindPermanent
	// KindAmbiguous errors may or may not have delivered; the retry checks
	// the remote side first.
	KindAmbiguous
	// KindRateLimited errors are retried after RetryAfter without counting
	// as a failure.
	KindRateLimited
)

func (k Kind) String() string {
	switch k {
	case KindPermanent:
		return "permanent"
	case KindAmbiguous:
		return "ambiguous"
	case KindRateLimited:
		return "rate-limited"
	default:
		return "temporary"
	}
}

// Error is a classified send error.
type Error struct {
	Kind       Kind
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Temporary marks err as worth retrying with backoff.
func Temporary(err error) error { return &Error{Kind: KindTemporary, Err: err} }

// Permanent marks err as not worth retrying.
func Permanent(err error) error { return &Error{Kind: KindPermanent, Err: err} }

// Ambiguous marks err as a send whose outcome is unknown.
func Ambiguous(err error) error { return &Error{Kind: KindAmbiguous, Err: err} }

// RateLimited marks err as a refusal to be retried after the given wait.
func RateLimited(err error, after time.Duration) error {
	return &Error{Kind: KindRateLimited, RetryAfter: after, Err: err}
}

// Refused marks err as the network refusing the instance's credentials (a
// 401 or 403, an SMTP 535): a Permanent error that the daemon also records
// for the Channels page ("token rejected on DATE") until the credentials
// work again or are replaced.
func Refused(err error) error { return &Error{Kind: KindPermanent, Err: refusedError{err}} }

// IsRefused reports whether err says the network refused the credentials.
func IsRefused(err error) bool {
	var r refusedError
	return errors.As(err, &r)
}

type refusedError struct{ err error }

func (r refusedError) Error() string { return r.err.Error() }
func (r refusedError) Unwrap() error { return r.err }

// Skip marks err as the channel declining this post for a reason that is
// nobody's fault and nothing to retry (an Instagram post without a picture
// when title cards are off): the engine records the delivery as skipped,
// with err's message as the note an organiser reads, and does not count it
// as a failure. Formatters and senders may return it; it is Permanent to
// code that only classifies.
func Skip(err error) error { return &Error{Kind: KindPermanent, Err: skipError{err}} }

// IsSkip reports whether err is a Skip.
func IsSkip(err error) bool {
	var s skipError
	return errors.As(err, &s)
}

type skipError struct{ err error }

func (s skipError) Error() string { return s.err.Error() }
func (s skipError) Unwrap() error { return s.err }

// Unverifiable marks err, an Ambiguous outcome, as one the sender could not
// check although its network can usually be read back (Meta's APIs, when
// reading the account's recent posts failed for good): the engine then
// stops the delivery for an organiser ("unknown: check the channel", It
// went out / Send again) instead of retrying, as for a BlindSender.
func Unverifiable(err error) error { return &Error{Kind: KindAmbiguous, Err: unverifiableError{err}} }

// IsUnverifiable reports whether err is an Unverifiable outcome.
func IsUnverifiable(err error) bool {
	var u unverifiableError
	return errors.As(err, &u)
}

type unverifiableError struct{ err error }

func (u unverifiableError) Error() string { return u.err.Error() }
func (u unverifiableError) Unwrap() error { return u.err }

// Classify returns err's kind and wait. Unclassified errors are temporary.
func Classify(err error) (Kind, time.Duration) {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind, e.RetryAfter
	}
	return KindTemporary, 0
}

// ConfigProblem is a problem in one channel's config section, with Field the
// YAML key path within the section (e.g. "token" or "hashtags[2]").
type ConfigProblem struct {
	Field   string
	Message string
}

// SelfChecking is a channel type's config that checks itself.
type SelfChecking interface{ Validate() []ConfigProblem }

// DecodeSection reads a channel's section into cfg (its defaults already
// set) and adds cfg's own checks as problems at the section's lines: how
// every type's Configure begins.
func DecodeSection[C SelfChecking](s config.ChannelSection, cfg *C) config.Problems {
	probs := s.Decode(cfg)
	for _, p := range (*cfg).Validate() {
		probs = append(probs, s.Problem(p.Field, "%s", p.Message))
	}
	return probs
}

// MarshalIndent renders a payload body the way preview --json and the outbox
// show it: indented, with HTML left readable (not \u003c-escaped).
func MarshalIndent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encoding payload as JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// Mode says whether a channel sends for real.
type Mode string

const (
	// ModeAuto sends when the channel has credentials, else writes the outbox.
	ModeAuto Mode = "auto"
	// ModeOutbox always writes the outbox.
	ModeOutbox Mode = "outbox"
	// ModeSend always sends; missing credentials are a config error.
	ModeSend Mode = "send"
)

// Valid reports whether m is a known mode ("" counts as auto).
func (m Mode) Valid() bool {
	switch m {
	case "", ModeAuto, ModeOutbox, ModeSend:
		return true
	}
	return false
}

// UsesOutbox decides between the real sender and the outbox.
func (m Mode) UsesOutbox(hasCredentials bool) bool {
	switch m {
	case ModeOutbox:
		return true
	case ModeSend:
		return false
	default:
		return !hasCredentials
	}
}

// Campaign is what channels need to know about the organisation.
type Campaign struct {
	Name     string
	Website  string
	Language string
	// PublicURL is where Crier's own pages are reachable (newsletter links).
	PublicURL string
	// Location is campaign.timezone, for times shown to readers (the
	// dates in a digest); nil means UTC.
	Location *time.Location
	// Colours are campaign.colours, for what Crier draws (title cards).
	Colours config.Colours
}

// Env is what a real sender may use from the daemon.
type Env struct {
	Campaign Campaign
	// DB is the store's database, for channels that keep their own tables
	// (the newsletter's per-recipient send ledger).
	DB *sql.DB
	// HTTPClient is used for every request to the channel's own service
	// (tests point it at local fakes).
	HTTPClient *http.Client
	// Content fetches every URL that came from a post's content (its
	// image): it refuses non-public addresses. Nil means a client with the
	// secure defaults and no allow-list.
	Content *contentfetch.Client
	Logger  *slog.Logger
	// DataDir is the daemon's data folder.
	DataDir string
	// OutboxDir is the outbox's folder (DataDir/outbox).
	OutboxDir string
	// Registerer takes a channel's own metrics; nil means none.
	Registerer prometheus.Registerer
	// Images serves pictures under http.public_url for networks that
	// fetch them from a URL (nil: none can be served, such a channel says
	// so when it connects).
	Images PublicImages
	// Background is the daemon's lifetime, set only in `crier run`: a
	// channel may work in the background until it ends (the newsletter
	// helps with sends other replicas started). Nil in one-off commands.
	Background context.Context
}

// ContentClient returns e.Content, or a guarded client with the defaults.
func (e Env) ContentClient() *contentfetch.Client {
	if e.Content != nil {
		return e.Content
	}
	return contentfetch.New(contentfetch.Options{})
}
