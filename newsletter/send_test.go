package newsletter

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/pem"
	"errors"
	"fmt"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

type fixture struct {
	db     *sql.DB
	subs   *subscribers.Store
	signer *subscribers.Signer
	sender *Sender
	mp     *mailpit.Server
}

func newFixture(t *testing.T, mp *mailpit.Server, dbPath string, mod func(*Config), opts ...Option) *fixture {
	t.Helper()
	return newLoggedFixture(t, mp, dbPath, slog.New(slog.NewTextHandler(io.Discard, nil)), mod, opts...)
}

// newLoggedFixture is newFixture with the sender logging to log.
func newLoggedFixture(t *testing.T, mp *mailpit.Server, dbPath string, log *slog.Logger, mod func(*Config), opts ...Option) *fixture {
	t.Helper()
	ctx := context.Background()
	if dbPath == "" {
		dbPath = filepath.Join(t.TempDir(), "crier.db")
	}
	driver := "sqlite"
	if strings.HasPrefix(dbPath, "postgres://") {
		driver = "postgres"
	}
	st, err := store.OpenDriver(ctx, driver, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	signer := subscribers.NewSigner([]byte("test key, 32 bytes long, really"))
	cfg := testConfig()
	cfg.SMTP = SMTP{Host: mp.SMTPHost, Port: mp.SMTPPort, TLS: "none"}
	cfg.Concurrency = 2
	if mod != nil {
		mod(&cfg)
	}
	opts = append([]Option{WithRetryBackoff(time.Millisecond)}, opts...)
	s, err := NewSender(ctx, cfg, channels.Env{Campaign: testCampaign, DB: st.DB(), Logger: log}, subs, signer, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: st.DB(), subs: subs, signer: signer, sender: s, mp: mp}
}

func (fx *fixture) add(t *testing.T, email, name string, st subscribers.Status) subscribers.Subscriber {
	t.Helper()
	sub, err := fx.subs.Add(context.Background(), subscribers.Subscriber{Email: email, Name: name, Status: st, ConsentSource: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

func (fx *fixture) send(t *testing.T, p post.Post) (channels.Receipt, error) {
	t.Helper()
	payload, err := fx.sender.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	return fx.sender.Send(context.Background(), channels.Delivery{PostID: p.ID, Channel: "email", Attempt: 1}, payload)
}

// inbox maps each recipient address to the Mailpit ids of their messages.
func inbox(t *testing.T, mp *mailpit.Server) map[string][]string {
	t.Helper()
	msgs, err := mp.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, m := range msgs {
		for _, to := range m.To {
			out[to.Address] = append(out[to.Address], m.ID)
		}
	}
	return out
}

// TestSendEndToEnd sends two posts to confirmed subscribers through a real
// Mailpit; one of them unsubscribes (one-click link) in between.
func TestSendEndToEnd(t *testing.T) { pgpeer.EachDriver(t, testSendEndToEnd) }

func testSendEndToEnd(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	anna := fx.add(t, "anna@example.org", "Anna Example", subscribers.Confirmed)
	ben := fx.add(t, "ben@example.org", "", subscribers.Confirmed)
	fx.add(t, "carl@example.org", "Carl", subscribers.Unconfirmed)
	dora := fx.add(t, "dora@example.org", "Dora", subscribers.Confirmed)

	first := samplePost()
	r, err := fx.send(t, first)
	if err != nil {
		t.Fatal(err)
	}
	if r.RemoteID != "post:md:vigil" {
		t.Errorf("receipt %+v", r)
	}
	got := inbox(t, mp)
	if len(got) != 3 || len(got["anna@example.org"]) != 1 || len(got["ben@example.org"]) != 1 || len(got["dora@example.org"]) != 1 || got["carl@example.org"] != nil {
		t.Fatalf("inbox after the first send: %v", got)
	}
	id := got["anna@example.org"][0]
	msg, err := mp.Message(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != first.Title || msg.From.Address != "news@camaca.org" || len(msg.ReplyTo) != 1 || msg.ReplyTo[0].Address != "team@camaca.org" {
		t.Errorf("message: %+v", msg)
	}
	if !strings.Contains(msg.Text, "Dear Anna Example,") || !strings.Contains(msg.HTML, "Dear Anna Example,") {
		t.Errorf("not personalised:\n%s", msg.Text)
	}
	if !strings.Contains(msg.HTML, "<strong>at 6pm</strong>") || strings.Contains(msg.HTML, "<script") {
		t.Error("HTML part is wrong")
	}
	hdr, err := mp.Headers(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	unsub := fx.signer.UnsubscribeURL(testCampaign.PublicURL, anna)
	for key, want := range map[string]string{
		"List-Unsubscribe":      "<" + unsub + ">, <mailto:team@camaca.org?subject=unsubscribe>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"List-Id":               `"CAMACA" <news.camaca.org>`,
		"Precedence":            "bulk",
		"Auto-Submitted":        "auto-generated",
		"Message-Id":            fmt.Sprintf("<%s>", messageID("post:md:vigil", fmt.Sprint(anna.ID), "camaca.org")),
	} {
		if got := strings.Join(hdr[key], ","); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}
	if hdr["Dkim-Signature"] != nil {
		t.Error("DKIM-Signature without DKIM configured")
	}
	// The visible link and the header link are the subscriber's own, signed.
	if !strings.Contains(msg.Text, unsub) {
		t.Errorf("text lacks the unsubscribe link %s", unsub)
	}
	u, _ := url.Parse(unsub)
	if err := fx.signer.Check(u.Query().Get("t"), subscribers.PurposeUnsubscribe, anna, time.Now()); err != nil {
		t.Errorf("unsubscribe token does not verify: %v", err)
	}
	// Ben has no name: no "Dear ,".
	benMsg, _ := mp.Message(ctx, got["ben@example.org"][0])
	if strings.Contains(benMsg.Text, "Dear") {
		t.Errorf("nameless greeting: %q", benMsg.Text)
	}

	// A retried delivery of the same post sends nothing more.
	if _, err := fx.send(t, first); err != nil {
		t.Fatal(err)
	}
	if n, _ := mp.Count(ctx); n != 3 {
		t.Fatalf("retry of a finished send sent again: %d messages", n)
	}

	// Dora leaves (what the one-click POST does); the next post skips her.
	if err := fx.subs.SetStatus(ctx, dora.ID, subscribers.Unsubscribed, "one-click"); err != nil {
		t.Fatal(err)
	}
	second := samplePost()
	second.ID, second.Title = "md:report", "Annual report"
	if _, err := fx.send(t, second); err != nil {
		t.Fatal(err)
	}
	got = inbox(t, mp)
	if len(got["dora@example.org"]) != 1 || len(got["anna@example.org"]) != 2 || len(got["ben@example.org"]) != 2 {
		t.Fatalf("inbox after the second send: %v", got)
	}
	_ = ben

	progress, err := SendProgress(ctx, fx.db)
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) != 2 {
		t.Fatalf("progress: %+v", progress)
	}
	for _, p := range progress {
		want := map[string]int{"post:md:vigil": 3, "post:md:report": 2}[p.SendID]
		if p.State != "done" || p.Total != want || p.Sent != want || p.Failed != 0 || p.Pending != 0 {
			t.Errorf("progress %+v", p)
		}
	}
}

// TestUnsubscribeMidSend: someone who leaves after the snapshot but before
// their turn gets nothing.
func TestUnsubscribeMidSend(t *testing.T) { pgpeer.EachDriver(t, testUnsubscribeMidSend) }

func testUnsubscribeMidSend(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	a := fx.add(t, "a@example.org", "A", subscribers.Confirmed)
	b := fx.add(t, "b@example.org", "B", subscribers.Confirmed)
	m := mustFormat(t, fx, samplePost())
	// Snapshot taken, then b leaves before anything is sent.
	if _, err := fx.sender.ledger.begin(ctx, m.SendID, "post", "md:vigil", m.Subject, m.source, subscribers.Selection{Preferences: []string{"each_post", "digest"}, General: true}); err != nil {
		t.Fatal(err)
	}
	fx.subs.SetStatus(ctx, b.ID, subscribers.Unsubscribed, "one-click")
	if _, err := fx.sender.run(ctx, m, "post", "md:vigil"); err != nil {
		t.Fatal(err)
	}
	got := inbox(t, mp)
	if len(got[a.Email]) != 1 || got[b.Email] != nil {
		t.Fatalf("inbox: %v", got)
	}
	ps, _ := SendProgress(ctx, fx.db)
	if ps[0].Skipped != 1 || ps[0].Sent != 1 {
		t.Errorf("progress %+v", ps[0])
	}
}

func mustFormat(t *testing.T, fx *fixture, p post.Post) *Message {
	t.Helper()
	payload, err := fx.sender.f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	return payload.Body.(*Message)
}

func TestDKIM(t *testing.T) { pgpeer.EachDriver(t, testDKIM) }

func testDKIM(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), func(c *Config) {
		c.DKIM = DKIM{Domain: "camaca.org", Selector: "crier", Key: secret.Secret(pemKey)}
	})
	fx.add(t, "a@example.org", "A", subscribers.Confirmed)
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	msgs, _ := mp.Messages(ctx)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	hdr, _ := mp.Headers(ctx, msgs[0].ID)
	sig := strings.Join(hdr["Dkim-Signature"], "")
	sig = strings.Join(strings.Fields(sig), "")
	if !strings.Contains(sig, "d=camaca.org") || !strings.Contains(sig, "s=crier") || !strings.Contains(sig, "a=ed25519-sha256") {
		t.Fatalf("DKIM-Signature: %q", sig)
	}
	for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "From", "Subject", "Message-ID"} {
		if !strings.Contains(sig, h) {
			t.Errorf("DKIM h= does not cover %s: %s", h, sig)
		}
	}
}

func TestDKIMConfigProblems(t *testing.T) {
	c := testConfig()
	c.DKIM = DKIM{Domain: "camaca.org"}
	probs := c.Validate()
	var fields []string
	for _, p := range probs {
		fields = append(fields, p.Field)
	}
	if got := strings.Join(fields, ","); got != "dkim.selector,dkim.key_file" {
		t.Errorf("problems: %v", probs)
	}
	c.DKIM = DKIM{Domain: "camaca.org", Selector: "s", Key: "not a key"}
	if _, err := c.dkimSigner(); err == nil || strings.Contains(err.Error(), "not a key") {
		t.Errorf("bad key: %v", err)
	}
}

// chaosFixture is a fixture on a Mailpit with n confirmed subscribers
// (s0@example.org...) that answers RCPT with code, with the probability in
// percent.
func chaosFixture(t *testing.T, n, code, probability int) (*fixture, *mailpit.Server) {
	t.Helper()
	mp := mailpit.Start(t, mailpit.Options{Chaos: true})
	fx := newFixture(t, mp, "", nil)
	for i := range n {
		fx.add(t, fmt.Sprintf("s%d@example.org", i), "", subscribers.Confirmed)
	}
	if err := mp.SetChaos(context.Background(), mailpit.Chaos{Recipient: &mailpit.Trigger{ErrorCode: code, Probability: probability}}); err != nil {
		t.Fatal(err)
	}
	return fx, mp
}

// TestChaos4xx: every RCPT is refused with 451 for a while; the send keeps
// its progress, reports a wait, and finishes once the server recovers.
func TestChaos4xx(t *testing.T) {
	ctx := context.Background()
	fx, mp := chaosFixture(t, 5, 451, 100)
	_, err := fx.send(t, samplePost())
	kind, wait := channels.Classify(err)
	if kind != channels.KindRateLimited || wait <= 0 {
		t.Fatalf("send under 451: %v (%s, %s)", err, kind, wait)
	}
	ps, _ := SendProgress(ctx, fx.db)
	if ps[0].Pending != 5 || ps[0].Sent != 0 {
		t.Fatalf("progress %+v", ps[0])
	}
	mp.SetChaos(ctx, mailpit.Chaos{})
	// The retry time has not come: nothing is claimable yet, so the clock
	// moves on.
	fx.sender.opts.now = func() time.Time { return time.Now().Add(time.Hour) }
	fx.sender.ledger.now = fx.sender.opts.now
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	got := inbox(t, mp)
	if len(got) != 5 {
		t.Fatalf("inbox: %v", got)
	}
	for a, ids := range got {
		if len(ids) != 1 {
			t.Errorf("%s got %d copies", a, len(ids))
		}
	}
}

// TestChaos5xx: a 550 for a recipient fails only that recipient, who is
// marked bounced; everyone else gets their copy.
func TestChaos5xx(t *testing.T) {
	ctx := context.Background()
	fx, mp := chaosFixture(t, 40, 550, 30)
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	got := inbox(t, mp)
	ps, _ := SendProgress(ctx, fx.db)
	p := ps[0]
	if p.Failed == 0 || p.Sent != len(got) || p.Sent+p.Failed != 40 {
		t.Fatalf("progress %+v, inbox %d", p, len(got))
	}
	counts, _ := fx.subs.CountByStatus(ctx)
	if counts[subscribers.Bounced] != p.Failed {
		t.Errorf("bounced %d, failed %d", counts[subscribers.Bounced], p.Failed)
	}
	var reason string
	fx.db.QueryRow(`SELECT last_error FROM email_recipients WHERE state = 'failed' LIMIT 1`).Scan(&reason)
	if !strings.Contains(reason, "550") {
		t.Errorf("failure reason %q", reason)
	}
	if len(p.Failures) == 0 || !strings.Contains(p.Failures[0].Reason, "550") || !strings.HasSuffix(p.Failures[0].Email, "@example.org") {
		t.Errorf("status failures %+v", p.Failures)
	}
}

// TestServerRefusingEveryoneBouncesNoOne: a relay that refuses every
// recipient (a login or relay mistake) stops the send with everyone kept
// for later, and marks no supporter bounced.
func TestServerRefusingEveryoneBouncesNoOne(t *testing.T) {
	ctx := context.Background()
	fx, mp := chaosFixture(t, 20, 550, 100)
	_, err := fx.send(t, samplePost())
	if k, _ := channels.Classify(err); err == nil || k != channels.KindPermanent || !strings.Contains(err.Error(), "in a row") {
		t.Fatalf("want a permanent 'refused in a row' error, got %v", err)
	}
	counts, _ := fx.subs.CountByStatus(ctx)
	if counts[subscribers.Bounced] != 0 || counts[subscribers.Confirmed] != 20 {
		t.Fatalf("subscribers %v: none may be bounced", counts)
	}
	ps, _ := SendProgress(ctx, fx.db)
	if ps[0].Failed != 0 || ps[0].Sent != 0 || ps[0].Pending != 20 {
		t.Fatalf("everyone must be kept for the resumed send: %+v", ps[0])
	}
	// Fixed: publishing again resumes and everyone gets one copy.
	mp.SetChaos(ctx, mailpit.Chaos{})
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if got := inbox(t, mp); len(got) != 20 {
		t.Fatalf("after the fix %d mails, want 20", len(got))
	}
}

func TestStoredRepliesLeaveOutTheAddress(t *testing.T) {
	got := withoutAddress("550 5.1.1 <Ada@Example.org>: mailbox unavailable; affected recipient(s): <ada@example.org>", "ada@example.org")
	if strings.Contains(strings.ToLower(got), "ada@example.org") {
		t.Fatalf("address kept: %q", got)
	}
}

// TestConnectionLost: the server is unreachable; the send pauses (a
// rate-limited error: River snoozes it without using an attempt) and keeps
// its progress.
func TestConnectionLost(t *testing.T) { pgpeer.EachDriver(t, testConnectionLost) }

func testConnectionLost(t *testing.T, driver string) {
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), func(c *Config) { c.SMTP.Port = 1 }, WithOutageLimit(50*time.Millisecond))
	fx.add(t, "a@example.org", "", subscribers.Confirmed)
	_, err := fx.send(t, samplePost())
	var ce *channels.Error
	if !errors.As(err, &ce) || ce.Kind != channels.KindRateLimited || ce.RetryAfter <= 0 {
		t.Fatalf("err = %v", err)
	}
	ps, _ := SendProgress(context.Background(), fx.db)
	if ps[0].Pending != 1 {
		t.Errorf("progress %+v", ps[0])
	}
}

func TestConfirmationMail(t *testing.T) { pgpeer.EachDriver(t, testConfirmationMail) }

func testConfirmationMail(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	sub := fx.add(t, "new@example.org", "Nia", subscribers.Unconfirmed)
	link := fx.signer.ConfirmURL(testCampaign.PublicURL, sub, time.Now())
	if err := fx.sender.SendConfirmation(ctx, sub, link); err != nil {
		t.Fatal(err)
	}
	msgs, _ := mp.Messages(ctx)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m, _ := mp.Message(ctx, msgs[0].ID)
	if !strings.Contains(m.Text, link) || !strings.Contains(m.HTML, strings.ReplaceAll(link, "&", "&amp;")) || !strings.Contains(m.Text, "Dear Nia") {
		t.Errorf("confirmation mail:\n%s", m.Text)
	}
}

// TestPause421: the server answers 421 to the first MAIL commands; the send
// pauses, reconnects and delivers everyone exactly once.
func TestPause421(t *testing.T) { pgpeer.EachDriver(t, testPause421) }

func testPause421(t *testing.T, driver string) {
	sk := startSink(t, true)
	sk.fail421.Store(3)
	mp := &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}
	fx := newFixture(t, mp, pgpeer.Target(t, driver), nil)
	for i := range 10 {
		fx.add(t, fmt.Sprintf("s%d@example.org", i), "", subscribers.Confirmed)
	}
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if n := sk.messages.Load(); n != 10 {
		t.Fatalf("%d messages arrived, want 10", n)
	}
	seen := map[string]int{}
	for len(sk.rcpts) > 0 {
		seen[<-sk.rcpts]++
	}
	for a, n := range seen {
		if n != 1 {
			t.Errorf("%s: %d RCPTs", a, n)
		}
	}
	if len(seen) != 10 {
		t.Errorf("recipients: %v", seen)
	}
}

// fakeClock is a clock that only sleeping moves.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	slept time.Duration
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.t = c.t.Add(d)
		c.slept += d
	}
	return ctx.Err()
}
func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestRatePerSecond(t *testing.T) { pgpeer.EachDriver(t, testRatePerSecond) }

func testRatePerSecond(t *testing.T, driver string) {
	sk := startSink(t, false)
	clk := &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), func(c *Config) {
		c.Concurrency = 1
		c.RatePerSecond = 10
	}, WithClock(clk.now), WithSleep(clk.sleep))
	for i := range 5 {
		fx.add(t, fmt.Sprintf("s%d@example.org", i), "", subscribers.Confirmed)
	}
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if clk.slept != 400*time.Millisecond || sk.messages.Load() != 5 {
		t.Errorf("slept %s for 5 messages at 10/s (want 400ms); %d sent", clk.slept, sk.messages.Load())
	}
}

func TestRateCaps(t *testing.T) { pgpeer.EachDriver(t, testRateCaps) }

func testRateCaps(t *testing.T, driver string) {
	ctx := context.Background()
	sk := startSink(t, false)
	clk := &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), func(c *Config) {
		c.RatePerHour = 3
		c.RatePerDay = 4
	}, WithClock(clk.now), WithSleep(clk.sleep))
	for i := range 6 {
		fx.add(t, fmt.Sprintf("s%d@example.org", i), "", subscribers.Confirmed)
	}
	_, err := fx.send(t, samplePost())
	kind, wait := channels.Classify(err)
	if kind != channels.KindRateLimited || wait < time.Hour-time.Minute || wait > time.Hour+time.Minute || sk.messages.Load() != 3 {
		t.Fatalf("hourly cap: %v (%s, wait %s), %d sent", err, kind, wait, sk.messages.Load())
	}
	clk.advance(wait)
	_, err = fx.send(t, samplePost())
	kind, wait = channels.Classify(err)
	if kind != channels.KindRateLimited || sk.messages.Load() != 4 || wait < 22*time.Hour {
		t.Fatalf("daily cap: %v (%s, wait %s), %d sent", err, kind, wait, sk.messages.Load())
	}
	clk.advance(wait)
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if sk.messages.Load() != 6 {
		t.Errorf("%d sent", sk.messages.Load())
	}
	ps, _ := SendProgress(ctx, fx.db)
	if ps[0].Sent != 6 || ps[0].State != "done" {
		t.Errorf("progress %+v", ps[0])
	}
}

// TestDeadline: an attempt whose deadline comes before the end stops
// taking recipients, keeps its progress and asks to be resumed.
func TestDeadline(t *testing.T) { pgpeer.EachDriver(t, testDeadline) }

func testDeadline(t *testing.T, driver string) {
	sk := startSink(t, false)
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), nil)
	for i := range 20 {
		fx.add(t, fmt.Sprintf("s%d@example.org", i), "", subscribers.Confirmed)
	}
	payload, _ := fx.sender.f.Format(samplePost())
	// A deadline already within the stopping margin, on a context that has
	// not ended yet: nothing new is started.
	ctx := pastDeadline{context.Background()}
	_, err := fx.sender.Send(ctx, channels.Delivery{PostID: "md:vigil", Channel: "email", Attempt: 1}, payload)
	if kind, _ := channels.Classify(err); kind != channels.KindRateLimited || sk.messages.Load() != 0 {
		t.Fatalf("expired deadline: %v, %d sent", err, sk.messages.Load())
	}
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if sk.messages.Load() != 20 {
		t.Errorf("%d sent", sk.messages.Load())
	}
}

type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Second), true }

func TestDigestSend(t *testing.T) { pgpeer.EachDriver(t, testDigestSend) }

func testDigestSend(t *testing.T, driver string) {
	ctx := context.Background()
	sk := startSink(t, true)
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), nil)
	fx.add(t, "a@example.org", "A", subscribers.Confirmed)
	fx.add(t, "b@example.org", "B", subscribers.Confirmed)
	a, b := samplePost(), samplePost()
	b.ID, b.Title = "md:report", "Annual report"
	var dg channels.Digester = fx.sender
	for range 2 { // a retried digest run sends nothing more
		r, err := dg.Digest(ctx, "digest-20261120T090000Z", []post.Post{a, b})
		if err != nil {
			t.Fatal(err)
		}
		if r.RemoteID != "digest:digest-20261120T090000Z" {
			t.Errorf("receipt %+v", r)
		}
	}
	if n := sk.messages.Load(); n != 2 {
		t.Errorf("%d digest messages, want 2", n)
	}
}

func TestOutboxMailer(t *testing.T) {
	dir := t.TempDir()
	m := NewOutboxMailer(testConfig(), testCampaign, dir)
	sub := subscribers.Subscriber{ID: 7, Email: "new@example.org", Name: "Nia"}
	if err := m.SendConfirmation(context.Background(), sub, "https://news.camaca.org/confirm?t=c.7.1.x"); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "email", "confirmations", "*-subscriber-7.eml"))
	if len(files) != 1 {
		t.Fatalf("outbox: %v", files)
	}
	data, _ := os.ReadFile(files[0])
	if !strings.Contains(string(data), "To: \"Nia\" <new@example.org>") || !strings.Contains(string(data), "confirm?t=3Dc.7.1.x") {
		t.Errorf("confirmation mail:\n%s", data)
	}
}

func TestSendProgressWithoutTables(t *testing.T) {
	pgpeer.EachDriver(t, testSendProgressWithoutTables)
}

func testSendProgressWithoutTables(t *testing.T, driver string) {
	st, err := store.OpenDriver(context.Background(), driver, pgpeer.Target(t, driver))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ps, err := SendProgress(context.Background(), st.DB())
	if err != nil || len(ps) != 0 {
		t.Errorf("SendProgress on a fresh store: %v, %v", ps, err)
	}
}

func TestMetrics(t *testing.T) { pgpeer.EachDriver(t, testMetrics) }

func testMetrics(t *testing.T, driver string) {
	sk := startSink(t, false)
	reg := prometheus.NewRegistry()
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), nil, WithRegisterer(reg))
	fx.add(t, "a@example.org", "A", subscribers.Confirmed)
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetName() + "=" + l.GetValue()
			}
			if m.Counter != nil {
				got[key] = m.Counter.GetValue()
			} else if m.Gauge != nil {
				got[key] = m.Gauge.GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"crier_newsletter_messages_total,outcome=sent":                         1,
		"crier_newsletter_send_recipients,send_id=post:md:vigil,state=sent":    1,
		"crier_newsletter_send_recipients,send_id=post:md:vigil,state=total":   1,
		"crier_newsletter_send_recipients,send_id=post:md:vigil,state=pending": 0,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
}

func TestNewRefusesWithoutPublicURL(t *testing.T) {
	st, _ := store.Open(context.Background(), filepath.Join(t.TempDir(), "crier.db"))
	defer st.Close()
	subs, _ := subscribers.Open(context.Background(), st.DB())
	_, _, err := New(context.Background(), testConfig(), channels.Env{Campaign: channels.Campaign{Name: "X"}, DB: st.DB()}, subs, subscribers.NewSigner([]byte("k")))
	if err == nil || !strings.Contains(err.Error(), "public_url") {
		t.Errorf("err = %v", err)
	}
}

// TestUnsubscribeWhileWaitingForTheRate: someone who leaves while their
// message waits for the rate limit gets nothing.
func TestUnsubscribeWhileWaitingForTheRate(t *testing.T) {
	pgpeer.EachDriver(t, testUnsubscribeWhileWaitingForTheRate)
}

func testUnsubscribeWhileWaitingForTheRate(t *testing.T, driver string) {
	sk := startSink(t, false)
	clk := &fakeClock{t: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)}
	var fx *fixture
	var leaver subscribers.Subscriber
	sleep := func(ctx context.Context, d time.Duration) error {
		// Once the first message is out, the second supporter's message
		// waits for the rate, and they click one-click unsubscribe.
		if sk.messages.Load() >= 1 {
			if err := fx.subs.SetStatus(context.Background(), leaver.ID, subscribers.Unsubscribed, "one-click"); err != nil {
				t.Error(err)
			}
		}
		return clk.sleep(ctx, d)
	}
	fx = newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), func(c *Config) {
		c.Concurrency = 1
		c.RatePerSecond = 0.5
	}, WithClock(clk.now), WithSleep(sleep))
	fx.add(t, "first@example.org", "", subscribers.Confirmed)
	leaver = fx.add(t, "leaver@example.org", "", subscribers.Confirmed)
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if n := sk.messages.Load(); n != 1 {
		t.Fatalf("%d messages: the supporter who left while waiting must get nothing", n)
	}
}

// TestReusedMailCarriesNothingOver: one connection reuses one mail for every
// recipient; each copy has only its own recipient, Message-ID, name and
// signed links.
func TestReusedMailCarriesNothingOver(t *testing.T) {
	pgpeer.EachDriver(t, testReusedMailCarriesNothingOver)
}

func testReusedMailCarriesNothingOver(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), func(c *Config) { c.Concurrency = 1 })
	subs := []subscribers.Subscriber{
		fx.add(t, "ann@example.org", "Ann Alpha", subscribers.Confirmed),
		fx.add(t, "bob@example.org", "", subscribers.Confirmed),
		fx.add(t, "cy@example.org", "Cy Gamma", subscribers.Confirmed),
		fx.add(t, "di@example.org", "Zoë <Delta>", subscribers.Confirmed),
	}
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	got := inbox(t, mp)
	for _, sub := range subs {
		ids := got[sub.Email]
		if len(ids) != 1 {
			t.Fatalf("%s got %d messages", sub.Email, len(ids))
		}
		msg, err := mp.Message(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		hdr, err := mp.Headers(ctx, ids[0])
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.To) != 1 || msg.To[0].Address != sub.Email {
			t.Errorf("%s: To %+v", sub.Email, msg.To)
		}
		if want := fmt.Sprintf("<%s>", messageID("post:md:vigil", fmt.Sprint(sub.ID), "camaca.org")); strings.Join(hdr["Message-Id"], ",") != want {
			t.Errorf("%s: Message-ID %v, want %s", sub.Email, hdr["Message-Id"], want)
		}
		own := fx.signer.UnsubscribeURL(testCampaign.PublicURL, sub)
		if !strings.HasPrefix(strings.Join(hdr["List-Unsubscribe"], ","), "<"+own+">") || !strings.Contains(msg.Text, own) {
			t.Errorf("%s: List-Unsubscribe %v or the text lacks their own link %s", sub.Email, hdr["List-Unsubscribe"], own)
		}
		if sub.Name != "" && !strings.Contains(msg.Text, "Dear "+sub.Name+",") {
			t.Errorf("%s: text does not greet %q:\n%s", sub.Email, sub.Name, msg.Text)
		}
		for _, other := range subs {
			if other.ID == sub.ID {
				continue
			}
			if other.Name != "" && strings.Contains(msg.Text+msg.HTML, other.Name) {
				t.Errorf("%s: the mail names %q", sub.Email, other.Name)
			}
			if strings.Contains(msg.Text+msg.HTML, fx.signer.UnsubscribeURL(testCampaign.PublicURL, other)) {
				t.Errorf("%s: the mail has %s's unsubscribe link", sub.Email, other.Email)
			}
		}
	}
}
