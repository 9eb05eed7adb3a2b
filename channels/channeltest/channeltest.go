// Package channeltest is the conformance suite every channel runs, as
// River's riverdrivertest is for its drivers: one Run checks what the
// delivery engine relies on of any channel, against the channel's own test
// peer. Format is pure and deterministic; a payload body survives its JSON
// (what preview --json and the outbox show); every remote error reaches the
// engine as the class it acts on (channels.Kind); an attempt whose answer was
// lost resumes without a duplicate; the network's limits hold at their edges.
//
// A channel supplies a Harness (its Provider, how to start its peer, its
// limits) and calls Run from a conformance_test.go. The suite builds the
// channel the way the daemon does, from a config.yaml section through the
// Provider, and puts its own HTTP layer between the sender and the peer
// (Network) to answer with an error, hang, or lose an answer after the peer
// acted; peers not reached over HTTP (SMTP) inject faults themselves.
package channeltest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// Harness is what a channel supplies to the suite.
type Harness struct {
	// Provider is the channel type under test.
	Provider channels.Provider
	// Start starts the channel's test peer (or a fake standing in for
	// it) once per Run, stopping it when t ends.
	Start func(t *testing.T) *Peer
	// Decode reads a payload body back from its JSON into the channel's
	// body type (DecodeJSON does it for most).
	Decode func(data []byte) (channels.Body, error)
	// HiddenState, when set, says why a body read back from its JSON is
	// not the whole body (the newsletter keeps what it re-renders per
	// recipient beside it); the suite then checks only that the JSON
	// itself round-trips.
	HiddenState string
	// Limits are the network's limits the formatter keeps to; NoLimits
	// says why there are none to check.
	Limits   []Limit
	NoLimits string
	// Image is the network's limit on a post's picture (nil: none).
	Image *ImageLimit
	// Expect replaces the classes the suite expects for a fault (by
	// Fault.Name), for a channel that documents another answer.
	Expect map[string]Expectation
	// LostAnswer, when set, says why this network cannot resume by
	// itself a send whose outcome is unknown: its retry may then stop for
	// a person (a permanent error, the post at most once on the peer).
	// The suite logs the reason with what happened.
	LostAnswer string
	// Messages returns the text of each message of a payload body, in
	// order, as the network measures it: how many the peer must hold
	// once it is delivered, and what Limits measure.
	Messages func(b channels.Body) []string
	// Corrections checks the sender's corrections and withdrawals
	// against the peer; without it NoCorrections says why they are not
	// checked (a fake without edits).
	Corrections   *Corrections
	NoCorrections string
}

// Peer is one running test peer.
type Peer struct {
	// Section is the channel's config.yaml section (the YAML under
	// channels.<type>:) pointing at the peer; every request of the sender
	// goes through the suite's Network, so a host the peer's Transport
	// redirects may stand in for its address.
	Section string
	// Transport reaches the peer (nil: http.DefaultTransport).
	Transport http.RoundTripper
	// Creates reports whether a request creates a message on the peer:
	// HTTP faults are injected into those only.
	Creates func(r *http.Request) bool
	// Inject, for a peer not reached over HTTP, makes the peer answer
	// sends as f says until undo is called, or says why it cannot.
	Inject func(t *testing.T, f Fault) (undo func(), why string)
	// Secrets are the credentials in Section: no error a sender returns
	// and no line it logs may hold one.
	Secrets []string
	// Env completes what the channel needs from the daemon (a database),
	// after the suite set the campaign, HTTP client, logger and folders.
	Env func(t *testing.T, env *channels.Env)
	// Reach, for a channel whose sender is a channels.ReachReader, makes
	// the peer register people's interactions with a delivered post's
	// parts (a second account favourites, members react) and returns the
	// total counters a read must then show: a counter the network does
	// not give stays the zero Count, "not available". Nil: the suite
	// checks only that failed reads are classified.
	Reach func(t *testing.T, parts []channels.Part) channels.Counters
	// Count is how many messages the peer holds in all (the account's
	// statuses or records, the channel's messages, the inbox's distinct
	// Message-IDs): the suite counts what each subtest adds, so a
	// duplicate of any part of a thread shows.
	Count func(t *testing.T) int
}

// Fault is a way the peer answers a request that creates a message.
type Fault struct {
	// Name identifies the fault in Expect and in failures ("401", "429",
	// "timeout").
	Name string
	// Status answers with this HTTP status without the peer acting.
	Status int
	// RetryAfter goes with a 429 (Retry-After header, retry_after body).
	RetryAfter time.Duration
	// Proxy makes the answer a proxy's (nginx, a CDN): an HTML page, no
	// JSON for the API client to read.
	Proxy bool
	// Every applies the fault to every request, not only to those that
	// create a message.
	Every bool
	// Timeout lets the peer act, then answers nothing until the
	// request's deadline: the sender cannot know whether it worked.
	Timeout bool
	// LoseAnswer lets the peer act, then drops the answer as a reset
	// connection does, once.
	LoseAnswer bool
	// Nth is the request that creates a message the fault starts at (0
	// or 1: the first); a LoseAnswer fault applies to it alone.
	Nth int
}

// Faults are the answers the suite checks the classification of, with the
// classes the engine needs: a refusal the sender cannot fix is permanent, a
// rate limit waits what the server asked, a server error is retried, and a
// request that may have been acted on is ambiguous (checked before sending
// again).
var Faults = []struct {
	Fault  Fault
	Expect Expectation
}{
	{Fault{Name: "401", Status: http.StatusUnauthorized}, Expect(channels.KindPermanent)},
	{Fault{Name: "403", Status: http.StatusForbidden}, Expect(channels.KindPermanent)},
	{Fault{Name: "404", Status: http.StatusNotFound}, Expect(channels.KindPermanent)},
	{Fault{Name: "413", Status: http.StatusRequestEntityTooLarge}, Expect(channels.KindPermanent)},
	{Fault{Name: "422", Status: http.StatusUnprocessableEntity}, Expect(channels.KindPermanent)},
	{Fault{Name: "429", Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second}, Expectation{Kinds: []channels.Kind{channels.KindRateLimited}, Wait: 7 * time.Second}},
	{Fault{Name: "429 from a proxy", Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second, Proxy: true}, Expectation{Kinds: []channels.Kind{channels.KindRateLimited}, Wait: 7 * time.Second}},
	{Fault{Name: "500", Status: http.StatusInternalServerError}, Expect(channels.KindTemporary, channels.KindAmbiguous)},
	{Fault{Name: "502 from a proxy", Status: http.StatusBadGateway, Proxy: true}, Expect(channels.KindTemporary, channels.KindAmbiguous)},
	{Fault{Name: "timeout", Timeout: true}, Expect(channels.KindAmbiguous)},
}

// Expectation is what the engine must be told of a fault.
type Expectation struct {
	// Kinds are the classes allowed.
	Kinds []channels.Kind
	// Wait, for a rate limit, is the wait the server asked for; the
	// sender's may be up to two seconds longer (rounding up).
	Wait time.Duration
	// Why is the channel's reason for an expectation of its own, or, with
	// no Kinds, for not checking the fault at all (its network has no
	// such answer).
	Why string
}

// Expect is an Expectation of one of kinds.
func Expect(kinds ...channels.Kind) Expectation { return Expectation{Kinds: kinds} }

// Over is what a channel does with text one unit over a limit.
type Over int

const (
	// Shorten keeps one message within the limit.
	Shorten Over = iota
	// Split makes several messages (a thread), each within the limit.
	Split
	// Refuse makes Format fail with an error naming the limit.
	Refuse
)

func (o Over) String() string {
	return [...]string{"shortened", "split", "refused"}[o]
}

// Limit is one of a network's limits on a message.
type Limit struct {
	// Name says what is limited ("status characters").
	Name string
	// Max is the limit, in Count's units.
	Max int
	// Unit is one unit of filler text, chosen to tell counting rules
	// apart (a grapheme of two code points where the network counts
	// graphemes). Where it counts more than one (an emoji of 25 bytes
	// against a byte limit), the edge is within one unit of Max.
	Unit string
	// Fill puts filler into the part of the post the limit applies to.
	Fill func(p post.Post, filler string) post.Post
	// Count measures a message's text as the network does.
	Count func(text string) int
	// Messages, when set, returns the limited text of each message
	// instead of Harness.Messages (an embed's title).
	Messages func(b channels.Body) []string
	// Over is what the channel documents for one unit over.
	Over Over
}

// ImageLimit is the largest picture file a network takes with a post.
type ImageLimit struct {
	// Max is the largest file, in bytes.
	Max int64
	// Resized is true when a picture over Max goes out smaller
	// (recompressed); otherwise the post goes out without it, and a
	// receipt note says why.
	Resized bool
}

// DecodeJSON is a Harness.Decode for a body type B read with encoding/json.
func DecodeJSON[B channels.Body](data []byte) (channels.Body, error) {
	var b B
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, err
	}
	return b, nil
}

// conn is one channel instance the suite built, with its network.
type conn struct {
	f   channels.Formatter
	s   channels.Sender
	net *Network
}

// env is one Run's peer and what subtests share.
type env struct {
	h    Harness
	peer *Peer
	typ  string
	mu   sync.Mutex
	n    int
}

// Run runs the conformance suite against h's peer. Subtests run in order:
// they share one peer, and a peer's faults (SMTP chaos) may be its own.
func Run(t *testing.T, h Harness) {
	t.Helper()
	e := &env{h: h, typ: h.Provider.Type()}
	e.peer = h.Start(t)
	t.Run("FormatIsPure", e.formatIsPure)
	t.Run("BodyRoundTrips", e.bodyRoundTrips)
	t.Run("ErrorClasses", e.errorClasses)
	t.Run("LostAnswerResumes", e.lostAnswerResumes)
	t.Run("ThreadResumes", e.threadResumes)
	t.Run("SentIsNotSentAgain", e.sentIsNotSentAgain)
	t.Run("Limits", e.limits)
	t.Run("Reach", e.reach)
	t.Run("Corrections", e.corrections)
}

// campaign is the campaign every run uses.
var campaign = channels.Campaign{Name: "CAMACA", Website: "https://camaca.example", Language: "en", PublicURL: "https://crier.camaca.example"}

// sample returns a post of its own for one subtest: its title tells its
// messages from every other subtest's on the shared peer.
func (e *env) sample(t *testing.T, what string) post.Post {
	e.mu.Lock()
	e.n++
	n := e.n
	e.mu.Unlock()
	id := fmt.Sprintf("conformance-%d-%s", n, strings.ToLower(strings.NewReplacer(" ", "-", "/", "-").Replace(what)))
	p := post.Post{
		ID:        id,
		Title:     fmt.Sprintf("Conformance %d: %s", n, what),
		Link:      "https://camaca.example/news/" + id,
		Summary:   "Volunteers met at the town hall to plan the vigil.",
		Body:      "Volunteers met at the town hall to plan the vigil. Bring a candle and a friend.\n\nWe start at seven.",
		Tags:      []string{"vigil"},
		Language:  "en",
		PublishAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		Source:    post.Source{Kind: "markdown", Name: id + ".md"},
	}
	return p
}

// connect builds the channel as the daemon does: its section through the
// Provider, then Settings.Connect with an env whose HTTP goes through a new
// Network.
func (e *env) connect(t *testing.T) conn {
	t.Helper()
	return e.connectWith(t, nil)
}

// connectWith is connect with f injected from the first request on.
func (e *env) connectWith(t *testing.T, f *Fault) conn {
	t.Helper()
	return e.connectPicking(t, e.peer.Creates, f)
}

// connectPicking is connectWith with faults applied to the requests picked.
func (e *env) connectPicking(t *testing.T, picked func(*http.Request) bool, f *Fault) conn {
	t.Helper()
	set := e.settings(t)
	n := NewNetwork(e.peer.Transport, picked)
	if f != nil {
		n.Inject(*f)
	}
	env := channels.Env{
		Campaign:   campaign,
		HTTPClient: &http.Client{Transport: n, Timeout: time.Minute},
		Logger:     slog.New(slog.NewTextHandler(newLogWriter(t, e.peer.Secrets), &slog.HandlerOptions{Level: slog.LevelDebug})),
		DataDir:    t.TempDir(),
	}
	env.OutboxDir = env.DataDir + "/outbox"
	if e.peer.Env != nil {
		e.peer.Env(t, &env)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fm, s, err := set.Connect(ctx, env)
	if err != nil {
		t.Fatalf("%s: Connect: %v", e.typ, err)
	}
	return conn{f: fm, s: s, net: n}
}

// settings configures the channel from its section, as config.yaml would.
func (e *env) settings(t *testing.T) channels.Settings {
	t.Helper()
	src := fmt.Sprintf("campaign:\n  name: %s\n  website: %s\n  language: en\nchannels:\n  %s:\n%s",
		campaign.Name, campaign.Website, e.typ, indent(e.peer.Section, "    "))
	_, insts, err := channels.NewRegistry(e.h.Provider).Parse("conformance.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("%s: the harness's section does not configure:\n%s\n%v", e.typ, src, err)
	}
	for _, in := range insts {
		if in.Name == e.typ {
			return in.Settings
		}
	}
	t.Fatalf("%s: no instance configured from:\n%s", e.typ, src)
	return nil
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// logWriter sends what a channel logs to the test log, failing the test
// when a line holds one of the peer's secrets; lines after the test ended
// (a channel's background work) are dropped.
type logWriter struct {
	t       *testing.T
	secrets []string
	mu      sync.Mutex
	done    bool
}

func newLogWriter(t *testing.T, secrets []string) *logWriter {
	w := &logWriter{t: t, secrets: secrets}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return w
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(b), nil
	}
	line := strings.TrimRight(string(b), "\n")
	if i := leaked(line, w.secrets); i > 0 {
		w.t.Errorf("the channel logged secret %d of the peer's", i)
		for _, s := range w.secrets {
			line = strings.ReplaceAll(line, s, "[secret]")
		}
	}
	w.t.Log(line)
	return len(b), nil
}

// leaked returns which of secrets (from 1) text holds, or 0.
func leaked(text string, secrets []string) int {
	for i, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			return i + 1
		}
	}
	return 0
}

// ledger is a delivery's memory across the attempts of one subtest.
type ledger struct {
	mu    sync.Mutex
	parts []channels.Part
}

func (l *ledger) Parts(context.Context) ([]channels.Part, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]channels.Part(nil), l.parts...), nil
}

// SavePart records p, replacing a part of the same index as the store's
// ledger does (a sender may record a step before the part is final).
func (l *ledger) SavePart(_ context.Context, p channels.Part) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.parts {
		if l.parts[i].Index == p.Index {
			l.parts[i] = p
			return nil
		}
	}
	l.parts = append(l.parts, p)
	return nil
}
