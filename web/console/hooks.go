package console

// What the console asks of the daemon for issues 22 (Channels page), 23
// (correct and withdraw) and 24 (reach): interfaces the daemon implements
// (in cmd/crier or the owning packages) and tests fake. The console holds
// no network client and no table of these features: it shows and asks.

import (
	"context"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// ChannelAccounts connects, tests and disconnects channel instances from
// the owner-only Channels page (issue 22).
type ChannelAccounts interface {
	// Instances lists every configured channel instance, in config order.
	Instances(ctx context.Context) ([]ChannelInstance, error)
	// Connect checks values against the network (the type's Connector)
	// and, if accepted, stores them; display is the account as the network
	// names it. A refusal is a *channels.ConnectError naming the field.
	Connect(ctx context.Context, actor, instance string, values map[string]string) (display string, err error)
	// StartOAuth begins connecting an OAuth instance (Mastodon): values are
	// the form's (the server's address); redirectURI is the console's
	// callback under public_url. It returns where to send the browser.
	StartOAuth(ctx context.Context, actor, instance string, values map[string]string, redirectURI string) (authorizeURL string, err error)
	// FinishOAuth completes the flow StartOAuth began, identified by state,
	// exchanging code for a token and storing it.
	FinishOAuth(ctx context.Context, actor, state, code string) (instance, display string, err error)
	// Test checks the instance's current connection again (and for a
	// mail server sends a test mail to to); detail says what happened.
	Test(ctx context.Context, actor, instance, to string) (detail string, err error)
	// Disconnect removes a console connection; an instance configured on
	// the server is refused (accounts.ConfiguredOnServerError).
	Disconnect(ctx context.Context, actor, instance string) error
	// Audit is the newest limit audit events, newest first.
	Audit(ctx context.Context, limit int) ([]AccountEvent, error)
}

// ChannelInstance is one channel instance as the Channels page shows it.
type ChannelInstance struct {
	Name, Type string
	// Origin is accounts.Origin's text: "configured on the server",
	// "connected from the console" or "not connected".
	Origin string
	// Editable is false when configured on the server.
	Editable bool
	// Display is the connected account ("@campaign@instance"), "" if none.
	Display     string
	ConnectedBy string
	ConnectedAt time.Time
	// RejectedAt is when the network last refused the credentials (zero
	// when it has not), with its reason in plain words.
	RejectedAt     time.Time
	RejectedReason string
	// Can says what the channel can do, in plain words ("edit posts",
	// "withdraw posts", "read reach", "images with descriptions").
	Can []string
	// Fields are the connect form's; OAuth types ask only for the
	// server and then send the owner to it.
	Fields []channels.ConnectField
	OAuth  bool
	// Settings are the stored non-secret values; SecretsSet when each
	// secret was set (never the secret).
	Settings   map[string]string
	SecretsSet map[string]time.Time
	// TestSends says Test sends a mail to the owner (the newsletter).
	TestSends bool
	// Connectable is false for a type without a Connector.
	Connectable bool
}

// AccountEvent is one line of the accounts' audit trail.
type AccountEvent struct {
	At                              time.Time
	Actor, Instance, Action, Detail string
}

// Corrections corrects and withdraws published posts on every channel
// (issue 23), as durable jobs.
type Corrections interface {
	// Options says, per channel the post went out on, what a correction
	// or withdrawal would do there and what cannot be done ("Bluesky
	// cannot edit: a reply says what changed", "no id is known: change it
	// by hand").
	Options(ctx context.Context, postID string) ([]CorrectionChannel, error)
	// Correct queues the correction of postID to corrected on channels
	// (all it went out on when empty); with Pending it waits for an
	// editor's Approve instead. It returns the correction's revision.
	Correct(ctx context.Context, r CorrectionRequest) (revision int, err error)
	// Approve lets a pending correction go out.
	Approve(ctx context.Context, postID string, revision int, by string) error
	// Withdraw queues the withdrawal of postID from channels (all when
	// empty) and cancels what is still queued or scheduled for it.
	Withdraw(ctx context.Context, r WithdrawRequest) error
	// History lists the post's corrections and withdrawals, newest first,
	// each with its per-channel result.
	History(ctx context.Context, postID string) ([]CorrectionRecord, error)
	// Changed reports whether the post's source (a Markdown file, a feed
	// item) changed since it was published, and how it reads now.
	Changed(ctx context.Context, postID string) (changed bool, now post.Post, err error)
}

// CorrectionChannel is what correcting one channel would do.
type CorrectionChannel struct {
	Channel, Type string
	CanCorrect    bool
	CanWithdraw   bool
	// How says in plain words what happens there ("the toots are edited
	// in place", "a reply says what was corrected").
	How string
	// Styles are the correction styles the organiser may choose from
	// (Bluesky: reply, repost), first the default; empty when one.
	Styles []channels.CorrectionStyle
	// WithdrawHow says in plain words what withdrawing does there ("the
	// toots are deleted", "the newsletter is hidden from the archive with
	// your reason"); empty: the console says Crier deletes what it sent.
	WithdrawHow string
	// Refusal says why nothing can be done there, "" when something can.
	Refusal string
	// MailOptional: the newsletter may send a correction mail to the
	// original recipients (Recipients of them).
	MailOptional bool
	Recipients   int
}

// CorrectionRequest is one correction as an organiser confirmed it.
type CorrectionRequest struct {
	PostID    string
	Corrected post.Post
	Note      string // what was corrected, in the organiser's words
	Channels  []string
	// Styles picks a style per channel that offers several.
	Styles map[string]channels.CorrectionStyle
	// Mail sends the newsletter's correction mail to the original recipients.
	Mail    bool
	By      string
	Pending bool // needs an editor's approval first
}

// WithdrawRequest is one withdrawal as an organiser confirmed it.
type WithdrawRequest struct {
	PostID   string
	Channels []string
	Reason   string
	By       string
}

// CorrectionRecord is one correction or withdrawal in a post's history.
type CorrectionRecord struct {
	Kind     string // "correction" or "withdrawal"
	Revision int
	By       string
	At       time.Time
	Note     string // the correction's note or the withdrawal's reason
	// State: "awaiting approval", "queued", "done", "failed" (then per
	// channel what to do by hand).
	State   string
	Results []CorrectionResult
	// Corrected is the corrected post (corrections only; nil when not
	// kept), so that an editor reads what they approve.
	Corrected *post.Post
}

// CorrectionMailPreviewer is what a Corrections may also do: draw the
// newsletter's correction mail as its recipients would get it, so the
// organiser reads it before choosing to send it. Without it the console
// describes the mail in words.
type CorrectionMailPreviewer interface {
	CorrectionMail(ctx context.Context, r CorrectionRequest) (channels.PreviewCard, error)
}

// CorrectionResult is one channel's result of a correction or withdrawal.
type CorrectionResult struct {
	Channel string
	State   string // "queued", "done", "failed"
	Parts   []channels.PartResult
	// Error says what went wrong and what to do by hand.
	Error string
	// Note says what happened where Parts do not ("not sent yet: it goes
	// out corrected").
	Note string
}

// ReachSource is what the console shows of reach (issue 24).
type ReachSource interface {
	// Post is one post's reach per channel, with its history and replies.
	Post(ctx context.Context, postID string) ([]ChannelReach, error)
	// Period lists the posts delivered in [from, to) with their totals
	// per channel (the What worked page).
	Period(ctx context.Context, from, to time.Time) ([]PostReach, error)
	// Refresh reads the post's counters now instead of on the schedule.
	Refresh(ctx context.Context, postID string) error
}

// ChannelReach is one channel's reach of one post.
type ChannelReach struct {
	Channel, Type string
	// Latest is the last good read's counters; Extra are channel-specific
	// counts with their names (the newsletter's delivered, bounced,
	// clicks; the archive's page views).
	Latest channels.Counters
	Extra  []NamedCount
	// History is every good read, oldest first (the chart).
	History []ReachPoint
	// LastRead is the last good read (zero: none yet); LastError the last
	// failed read's reason, NextRead when the schedule reads next.
	LastRead, NextRead time.Time
	LastError          string
	Replies            []channels.Reply
	Notes              []string
}

// NamedCount is one channel-specific count.
type NamedCount struct {
	Name  string
	Count channels.Count
}

// ReachPoint is one read's counters at a time.
type ReachPoint struct {
	At       time.Time
	Counters channels.Counters
	Extra    []NamedCount
}

// PostReach is one post's totals for the What worked page.
type PostReach struct {
	PostID, Title, Source string
	Tags                  []string
	At                    time.Time
	Channels              []ChannelReach // History and Replies left empty
}
