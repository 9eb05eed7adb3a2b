package channels

// The channel contract: every interface a channel type implements, and every
// optional capability the core finds by type assertion, in one place. A
// channel package states which capabilities it has with compile-time
// assertions in its own contract.go (var _ channels.Mentioner =
// Provider{}), so a renamed method fails the build, not a feature.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/post"
)

// What every channel type implements.

// Provider is one channel type, as its package registers it: how it reads
// and checks its config section, and what a configured instance of it
// builds. The core (config, bot, cmd/crier, the Markdown source, preview,
// status, the console) knows channels only through providers; adding a
// channel type is a new package with a Provider and one line in cmd/crier's
// registry.
type Provider interface {
	// Type is the type's name in config.yaml: a section named after it, or
	// any section with type: <Type>.
	Type() string
	// Configure decodes and validates one instance's section (with
	// section.Decode and section.Problem, so every problem carries its
	// file and line). It returns the settings even when there are
	// problems, so that every problem is reported at once.
	Configure(section config.ChannelSection) (Settings, config.Problems)
}

// Settings is one configured instance of a channel type: what it needs to
// format and send.
type Settings interface {
	// Enabled is false when the section says enabled: false.
	Enabled() bool
	// Mode says whether it sends for real.
	Mode() Mode
	// HasCredentials reports whether it could send for real.
	HasCredentials() bool
	// Formatter builds the pure formatter: no network, no credentials
	// (preview, validate, the outbox).
	Formatter(c Campaign) (Formatter, error)
	// Connect builds the formatter and sender that send for real (a
	// formatter may use what the service answered, such as a character
	// budget).
	Connect(ctx context.Context, env Env) (Formatter, Sender, error)
	// Preview writes a payload of this channel for a person to read
	// (crier preview without --json).
	Preview(w io.Writer, p Payload)
}

// Formatter turns a post into a channel's payload. It is pure: no network, no
// clock, the same output for the same input. A post the channel cannot carry
// by design (no picture for Instagram, cards off) is a Skip error: the
// delivery ends skipped with the error's message as its note, not failed.
type Formatter interface {
	Format(p post.Post) (Payload, error)
}

// Sender delivers a payload. It honours ctx's deadline and classifies its
// errors with Temporary, Permanent, Ambiguous, RateLimited or Skip.
type Sender interface {
	Send(ctx context.Context, d Delivery, p Payload) (Receipt, error)
}

// Body is a channel type's payload body: the exact request its sender
// makes (a Mastodon thread's statuses, a Discord message, a newsletter).
type Body interface {
	// ChannelType names the channel type the body is for ("mastodon").
	ChannelType() string
}

// Ledger is the delivery's durable memory across attempts and restarts,
// which the engine hands a sender in each Delivery.
type Ledger interface {
	// Parts returns the parts earlier attempts recorded, by index.
	Parts(ctx context.Context) ([]Part, error)
	// SavePart records one part the moment the remote side confirmed it;
	// a part saved again at the same index replaces it (Instagram records
	// its media container, then the post it became).
	SavePart(ctx context.Context, part Part) error
}

// Optional capabilities of a Provider (the channel type).

// Mentioner lets a post's front matter ping a role on the channel
// (channels: <name>: mention:): Discord.
type Mentioner interface {
	CanMention() bool
}

// Single makes the registry refuse a second enabled instance of the type
// (the newsletter: one list of supporters, one set of pages).
type Single interface {
	Single() string // why, for the problem shown to the organiser
}

// Documented points organisers at the page of docs/ that explains the
// type's settings ("mastodon.md") when a delivery fails; without it they
// are pointed at configuration.md.
type Documented interface {
	DocsPage() string
}

// OutboxReasoner says in an organiser's words why an instance without
// credentials only saves posts locally ("no mail server configured");
// without it the console says "no <Type> account connected".
type OutboxReasoner interface {
	OutboxReason() string
}

// SendReporter gives a channel's sends a progress of their own beyond the
// delivery ledger (the newsletter's per-recipient counts), shown by crier
// status as newsletter_sends and on the console's post page. Its reports
// belong to the type's one instance: a reporting type is also Single.
type SendReporter interface {
	// SendReports lists the newest sends, newest first: all of them when
	// ref is "", else those of ref (a post's id) however old.
	SendReports(ctx context.Context, db *sql.DB, ref string) ([]SendReport, error)
}

// SendReport is one send's progress as a SendReporter tells it.
type SendReport struct {
	// ID names the send ("post:md:vigil").
	ID string
	// Ref is what was sent: the post's id, or a digest's.
	Ref                 string
	Sent, Failed, Total int
	// Warning tells organisers of a sending problem (a domain refusing
	// the mail as spam, complaints over the limit); "" when none.
	Warning string
	// Detail is the channel's own record of the send, as crier status
	// --json shows it.
	Detail any
}

// Optional capabilities of a Settings (one configured instance).

// DigestOnly lets an instance take posts only through its periodic digest
// (the newsletter with newsletter: digest): publishing a post queues no
// delivery to it, and preview and publish say so.
type DigestOnly interface {
	DigestOnly() bool
	// DigestNote says so to an organiser (crier preview and publish).
	DigestNote() string
}

// CardPreviewer draws the instance's payloads in the console's previews as
// its readers will see them (a thread of toots with their counts, a Discord
// message with its embed, a newsletter in frames); without it the console
// shows the payload's fields as text.
type CardPreviewer interface {
	PreviewCard(p Payload) PreviewCard
}

// NewsletterSettings gives the instance supporters who subscribe on
// Crier's own pages (the email newsletter): the daemon mounts the subscribe
// pages with what it returns. sender is the instance's sender; it mails the
// confirmations when it can. N is what the pages take
// (*subscribers.Newsletter), a parameter so that channels imports nothing
// above it.
type NewsletterSettings[N any] interface {
	Newsletter(ctx context.Context, env Env, sender Sender) (N, error)
}

// TestSender lets organisers mail themselves one test copy of a post
// (crier newsletter test, the console's "Send me a test copy").
type TestSender interface {
	SendTest(ctx context.Context, c Campaign, p post.Post, to string) error
}

// AccountSender lets the console mail its accounts their password-reset and
// invitation links through the instance's mail server.
type AccountSender interface {
	SendAccountMail(ctx context.Context, c Campaign, to, subject, text string) error
}

// ConfirmationEraser lets an erasure (crier subscribers remove) also delete
// the copies of confirmation mails the instance kept in the outbox.
type ConfirmationEraser interface {
	EraseConfirmations(outboxDir string, id int64) error
}

// Optional capabilities of a Sender or Formatter (what a configured
// instance built).

// BlindSender is a Sender that cannot find out on its network whether an
// earlier attempt went out: no idempotency key, and no way to read back
// what it posted (Telegram's Bot API; Meta's APIs). The engine never
// retries such a delivery after an Ambiguous result or a lost attempt: it
// stops as "unknown: check the channel" until an organiser says it went
// out or asks to send it again (docs/telegram.md, "Exactly once").
type BlindSender interface {
	// CannotReadBack says why, in an organiser's words ("a Telegram bot
	// cannot read the channel's history").
	CannotReadBack() string
}

// Digester sends a periodic digest of several posts besides single posts
// (the newsletter). digestID is stable per digest run, so a retried run
// never sends twice.
type Digester interface {
	Digest(ctx context.Context, digestID string, posts []post.Post) (Receipt, error)
}

// DigestFormatter renders a digest of several posts (the newsletter): the
// daemon writes it to the outbox with it, and crier preview --digest shows
// one.
type DigestFormatter interface {
	FormatDigest(digestID string, posts []post.Post) (Payload, error)
}

// Reach: what a delivery reached and what people said back (issue 24).
// Types and helpers are in reach.go.

// ReachReader reads back the public counters of what a delivery sent and
// the replies it got, so organisers see what a post reached without opening
// every network and without anyone being tracked (a Sender capability: it
// holds the instance's client and credentials). A counter the network does
// not give stays "not available" (a zero Count), never 0. Its errors are
// classified like a Sender's; a rate limit is RateLimited with its wait.
type ReachReader interface {
	// ReadReach reads the counters of each part (the delivery's ledger
	// parts, as SavePart recorded them) and at most opts.MaxReplies
	// replies, newest first.
	ReadReach(ctx context.Context, parts []Part, opts ReachOptions) (Reach, error)
}

// Optional capability of a Provider: connecting an account from the
// console (issue 22, the accounts package stores what it accepts).

// Connector lets an owner connect an instance of the type from the
// console instead of the server's environment: the type says which fields
// it needs and checks a candidate connection against its network before
// Crier stores it, so a new network gets the Channels page for free.
type Connector interface {
	// ConnectFields lists what an owner fills in, in order.
	ConnectFields() []ConnectField
	// CheckConnection tries c against the network and returns the account
	// as the network names it ("@campaign@instance"), or an error in plain
	// words naming what to fix (a *ConnectError names the field).
	CheckConnection(ctx context.Context, env Env, c Connection) (display string, err error)
}

// ConnectField is one field of a Connector's form.
type ConnectField struct {
	// Name is the field's key in Connection.Values and in the store, and
	// its key path in the type's config section ("app_password",
	// "smtp.host"): a stored connection is the section with these values
	// set (Instance.WithConnection), so the type's own Configure reads it.
	Name string
	// Label and Help are shown on the form, in plain words; Help says
	// where to find or how to make the value.
	Label, Help string
	// Secret fields are stored encrypted and never shown again after
	// saving (only "set on DATE").
	Secret bool
	// Optional fields may be left empty.
	Optional bool
}

// Connection is a candidate connection for one instance: the values of its
// ConnectFields by Name.
type Connection struct {
	Instance string
	Values   map[string]string
}

// ConnectError is a candidate connection refused: Field names the field to
// fix ("" when it is not one field), Reason says how in plain words.
type ConnectError struct {
	Field, Reason string
}

func (e *ConnectError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// OAuthConnector is a Connector whose account is connected by sending the
// owner to the network's own sign-in page (OAuth 2 with the authorization
// code), so that nobody copies a token by hand: Mastodon. Its
// ConnectFields are what the owner types before going there (the server);
// Crier keeps the registered app, the state and the PKCE verifier.
type OAuthConnector interface {
	Connector
	// OAuthServer is the server c names, in one canonical form: Crier
	// keeps one registered app per server and redirect address.
	OAuthServer(c Connection) (string, error)
	// RegisterApp registers Crier as an app on server for redirectURI,
	// asking only for the scopes Crier uses.
	RegisterApp(ctx context.Context, env Env, server, redirectURI string) (OAuthApp, error)
	// AuthorizeURL is where to send the owner's browser: the server's
	// authorisation page for app with state, and the PKCE S256 challenge
	// when challenge is not "".
	AuthorizeURL(app OAuthApp, state, challenge string) string
	// FinishOAuth exchanges the code the server sent back (with the PKCE
	// verifier, "" when none), checks the token and returns the values to
	// store (by ConnectField name or config key: "instance", "token") and
	// the account as the network names it ("@campaign@instance").
	FinishOAuth(ctx context.Context, env Env, app OAuthApp, code, verifier string) (values map[string]string, display string, err error)
}

// OAuthApp is Crier registered as an app on one server.
type OAuthApp struct {
	Server, RedirectURI string
	ClientID            string
	ClientSecret        string
	// PKCE is true when the server takes a PKCE S256 challenge.
	PKCE bool
}

// Secrets lists which of a connection's values are secret: the
// ConnectFields marked so, and for an OAuth connection the values it stored
// beyond its fields (the token).
func Secrets(fields []ConnectField, values map[string]string) map[string]bool {
	out := map[string]bool{}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.Name] = true
		if f.Secret {
			out[f.Name] = true
		}
	}
	for k := range values {
		if !known[k] {
			out[k] = true
		}
	}
	return out
}

// Corrections and withdrawals (issue 23): optional capabilities of a Sender.
//
// They act on what a delivery already sent, named by the parts its ledger
// holds, and are built to run as durable jobs keyed by (post, instance,
// revision): an operation retried after a lost answer finds its own work on
// the network and does not repeat it (no second edit revision, no second
// correction reply), and a part already gone is not an error. Errors come
// classified as Send's do (Temporary, Permanent, Ambiguous, RateLimited);
// a refusal a person must act on (a time limit, a removed account) says so
// in plain words.

// CorrectionStyle is how a correction reaches a network that cannot edit.
type CorrectionStyle string

const (
	// CorrectInPlace edits each part where the network can (Mastodon,
	// Discord); where it cannot (Bluesky) it is CorrectByReply.
	CorrectInPlace CorrectionStyle = ""
	// CorrectByReply answers the post with what was corrected, keeping
	// its likes and reposts (Bluesky's default).
	CorrectByReply CorrectionStyle = "reply"
	// CorrectByRepost deletes the post and posts the corrected one anew:
	// likes, reposts and replies to the old post are lost.
	CorrectByRepost CorrectionStyle = "repost"
)

// Correction is one correction of one delivery: the parts it went out as,
// and the revision that makes retries of the same correction one operation.
type Correction struct {
	PostID  string
	Channel string
	// Revision numbers the post's corrections from 1; a retry carries the
	// same revision, a later correction the next one.
	Revision int
	// Attempt numbers this correction's attempts from 1: a later attempt
	// may follow one whose outcome is unknown, so a sender without
	// idempotency keys reads back what an earlier one may have posted.
	Attempt int
	// Parts are what the delivery's ledger holds, by index.
	Parts []Part
	// Note says what was corrected, in the organiser's words ("the vigil
	// starts at 8, not 7"): a reply says it; an edit does not show it.
	Note  string
	Style CorrectionStyle
	// Mail asks the newsletter to mail the correction to the supporters
	// who received the original (opt-in per correction); other channels
	// ignore it.
	Mail bool
	// At is when the correction was made ("Corrected on DATE").
	At time.Time
}

// Key is a stable key for one part of the correction (idempotency keys,
// derived record keys).
func (c Correction) Key(part int) string {
	return fmt.Sprintf("crier-%s-%s-r%d-%d", c.PostID, c.Channel, c.Revision, part)
}

// EditsInPlace refuses, as a Permanent error, a style that is for networks
// without edits: network (a type's name) edits in place.
func (c Correction) EditsInPlace(network string) error {
	if c.Style == CorrectInPlace {
		return nil
	}
	return Permanent(fmt.Errorf("%s corrects by editing in place; a correction by %s is for networks that cannot edit", network, c.Style))
}

// Outcome says what an operation did to one part.
type Outcome string

const (
	OutcomeEdited    Outcome = "edited"    // changed in place
	OutcomeUnchanged Outcome = "unchanged" // already as corrected (an earlier attempt's edit)
	OutcomeReplied   Outcome = "replied"   // a correction reply was posted (or found)
	OutcomeReposted  Outcome = "reposted"  // posted anew: RemoteID is the new part's
	OutcomeDeleted   Outcome = "deleted"
	OutcomeGone      Outcome = "gone" // already deleted, by us or by someone else
)

// PartResult is what an operation did to one part of a delivery.
type PartResult struct {
	// Index is the delivery part's; a reply or a new post names its own
	// remote object in RemoteID and RemoteURL.
	Index     int
	Outcome   Outcome
	RemoteID  string
	RemoteURL string
	// Note tells the organiser something about this part ("the picture
	// stays; only its description changed").
	Note string
}

// Corrector corrects what a delivery sent with the corrected post's payload
// (formatted by the instance's formatter): Mastodon and Discord edit in
// place, Bluesky replies or deletes and posts again. It returns what it did
// per part, also with an error for the parts done before it.
type Corrector interface {
	Correct(ctx context.Context, c Correction, p Payload) ([]PartResult, error)
}

// Withdrawal deletes what one delivery sent.
type Withdrawal struct {
	PostID  string
	Channel string
	Parts   []Part
	// Reason is the organiser's, for the history (networks do not show it).
	Reason string
}

// Withdrawer deletes what a delivery sent, every part; a part already gone
// is OutcomeGone, not an error, so withdrawing twice is harmless.
type Withdrawer interface {
	Withdraw(ctx context.Context, w Withdrawal) ([]PartResult, error)
}

// SentParts returns a delivery's parts by index for a correction or
// withdrawal, refusing in plain words a ledger with a gap or without a
// remote id (a post sent to the outbox, or before Crier kept ids): there is
// then nothing the network can be asked to change.
func SentParts(parts []Part) ([]Part, error) {
	if len(parts) == 0 {
		return nil, Permanent(errors.New("no message of this post is known on the network (it went to the outbox, or was sent before Crier kept ids): change it by hand"))
	}
	out := slices.Clone(parts)
	slices.SortFunc(out, func(a, b Part) int { return a.Index - b.Index })
	for i, p := range out {
		if p.Index != i || p.RemoteID == "" {
			return nil, Permanent(fmt.Errorf("part %d of this post has no known id on the network: change it by hand", i+1))
		}
	}
	return out, nil
}

// CorrectionPlan says what correcting one delivery would do on its network,
// in plain words, before the organiser confirms.
type CorrectionPlan struct {
	// How says what happens there ("the toots are edited in place").
	How string
	// Styles are the styles the organiser may choose from, the default
	// first; empty when there is one way.
	Styles []CorrectionStyle
	// Refusal says why nothing can be done there and what to do by hand;
	// "" when something can.
	Refusal string
	// MailOptional: a correction mail to the original recipients may be
	// sent (Recipients of them).
	MailOptional bool
	Recipients   int
}

// CorrectionPlanner tells, before a correction, what it would do to what
// a delivery sent (parts, from its ledger): a Sender capability of every
// Corrector, so the console can say it per channel.
type CorrectionPlanner interface {
	PlanCorrection(ctx context.Context, postID string, parts []Part) (CorrectionPlan, error)
}

// PlanOf is the plan of a network acting on the parts a delivery sent:
// how, unless no remote id is known for them (SentParts's refusal).
func PlanOf(how string, styles []CorrectionStyle, parts []Part) CorrectionPlan {
	if _, err := SentParts(parts); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			err = ce.Err
		}
		return CorrectionPlan{Refusal: err.Error()}
	}
	return CorrectionPlan{How: how, Styles: styles}
}
