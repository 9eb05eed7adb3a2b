package discord

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
	"github.com/crierhq/crier/post"
)

type testLedger struct {
	mu    sync.Mutex
	parts []channels.Part
}

func (l *testLedger) Parts(context.Context) ([]channels.Part, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]channels.Part(nil), l.parts...), nil
}

func (l *testLedger) SavePart(_ context.Context, p channels.Part) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.parts = append(l.parts, p)
	return nil
}

const testRole = "123456789012345678"

func botConfig(channelID string) Config {
	return Config{Enabled: true, Token: secret.Secret(discordfake.Token), ChannelID: channelID, Crosspost: true, Mention: testRole, Colour: "#c0392b"}
}

func setup(t *testing.T, cfg Config) (*discordfake.Server, channels.Formatter, channels.Sender) {
	t.Helper()
	fake := discordfake.New(t)
	f, s, err := New(context.Background(), cfg, channels.Env{HTTPClient: fake.Client(), Campaign: channels.Campaign{Name: "Safe Passage", Website: "https://safepassage.example"}})
	if err != nil {
		t.Fatal(err)
	}
	return fake, f, s
}

func samplePost(id string) post.Post {
	return post.Post{
		ID: id, Title: "Call to Action on child trafficking", Link: "https://safepassage.example/news/" + id,
		Summary: "ICAT issued a **Call to Action**. Text from a feed tries @everyone and <@&999999999999999999>.",
		Tags:    []string{"trafficking", "UN"}, PublishAt: time.Date(2026, 11, 8, 9, 0, 0, 0, time.UTC),
	}
}

func send(t *testing.T, f channels.Formatter, s channels.Sender, p post.Post, d channels.Delivery) (channels.Receipt, error) {
	t.Helper()
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d.PostID, d.Channel = p.ID, Name
	return s.Send(ctx, d, pl)
}

func kindOf(err error) channels.Kind {
	k, _ := channels.Classify(err)
	return k
}

func TestSendAnnouncementPostsAndCrosspostsOnce(t *testing.T) {
	t.Parallel()
	fake, f, s := setup(t, botConfig(discordfake.AnnouncementChannelID))
	ledger := &testLedger{}
	p := samplePost("md:call")
	r, err := send(t, f, s, p, channels.Delivery{Attempt: 1, Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages(discordfake.AnnouncementChannelID)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.ID != r.RemoteID || !strings.HasSuffix(r.RemoteURL, "/"+discordfake.GuildID+"/"+discordfake.AnnouncementChannelID+"/"+m.ID) {
		t.Errorf("receipt %+v does not name message %s", r, m.ID)
	}
	if m.Crossposted != 1 {
		t.Errorf("crossposted %d times, want 1", m.Crossposted)
	}
	if len(m.Pinged) != 1 || m.Pinged[0] != testRole {
		t.Errorf("pinged %v, want only role %s", m.Pinged, testRole)
	}
	if m.Nonce != Nonce(channels.Delivery{PostID: p.ID, Channel: Name}.IdempotencyKey(0)) {
		t.Errorf("nonce %q is not derived from the idempotency key", m.Nonce)
	}
	// The body sent is exactly the preview's.
	pl, _ := f.Format(p)
	want, _ := json.Marshal(pl.Body)
	if string(m.Body) != string(want) {
		t.Errorf("sent body differs from the preview:\n got %s\nwant %s", m.Body, want)
	}
	if got := ledger.parts; len(got) != 2 || got[0].Index != partMessage || got[1].Index != partCrosspost {
		t.Errorf("ledger parts %+v, want message then crosspost", got)
	}
	// A further attempt (say the job ran twice) sends nothing.
	before := len(fake.Requests())
	if _, err := send(t, f, s, p, channels.Delivery{Attempt: 2, Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	if after := fake.Requests(); len(after) != before {
		t.Errorf("a finished delivery made %d more requests: %+v", len(after)-before, after[before:])
	}
}

func TestSendTextChannelDoesNotCrosspost(t *testing.T) {
	t.Parallel()
	fake, f, s := setup(t, botConfig(discordfake.TextChannelID))
	if _, err := send(t, f, s, samplePost("md:a"), channels.Delivery{Attempt: 1, Ledger: &testLedger{}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range fake.Requests() {
		if r.Operation == "crosspost_message" {
			t.Errorf("crossposted in a text channel")
		}
	}
}

func TestLostResponseThenRetrySendsOneMessageCrosspostedOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		fault           string
		previousUnknown bool
	}{
		{"message answer lost, retry checks the channel", "create_message", true},
		{"message answer lost, retry relies on the nonce", "create_message", false},
		{"crosspost answer lost", "crosspost_message", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, f, s := setup(t, botConfig(discordfake.AnnouncementChannelID))
			fake.Inject(discordfake.Fault{Operation: tc.fault, DropResponse: true})
			ledger := &testLedger{}
			p := samplePost("md:lost")
			_, err := send(t, f, s, p, channels.Delivery{Attempt: 1, Ledger: ledger})
			if err == nil {
				t.Fatal("a lost answer went unnoticed")
			}
			if tc.fault == "create_message" && kindOf(err) != channels.KindAmbiguous {
				t.Fatalf("lost message answer is %v (%v), want ambiguous", kindOf(err), err)
			}
			r, err := send(t, f, s, p, channels.Delivery{Attempt: 2, PreviousUnknown: tc.previousUnknown, Ledger: ledger})
			if err != nil {
				t.Fatal(err)
			}
			msgs := fake.Messages(discordfake.AnnouncementChannelID)
			if len(msgs) != 1 {
				t.Fatalf("%d messages after the retry, want 1", len(msgs))
			}
			if msgs[0].Crossposted != 1 || r.RemoteID != msgs[0].ID {
				t.Errorf("crossposted %d times, receipt %+v; want once, id %s", msgs[0].Crossposted, r, msgs[0].ID)
			}
		})
	}
}

func TestAmbiguousRetryAfterTheNonceWindowFindsTheMessage(t *testing.T) {
	t.Parallel()
	fake, f, s := setup(t, botConfig(discordfake.AnnouncementChannelID))
	now := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	fake.SetClock(func() time.Time { return now })
	fake.Inject(discordfake.Fault{Operation: "create_message", DropResponse: true})
	ledger := &testLedger{}
	p := samplePost("md:late")
	if _, err := send(t, f, s, p, channels.Delivery{Attempt: 1, Ledger: ledger}); kindOf(err) != channels.KindAmbiguous {
		t.Fatalf("got %v, want ambiguous", err)
	}
	later := now.Add(time.Hour) // Discord has forgotten the nonce
	fake.SetClock(func() time.Time { return later })
	if _, err := send(t, f, s, p, channels.Delivery{Attempt: 2, PreviousUnknown: true, Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Messages(discordfake.AnnouncementChannelID)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		fault  discordfake.Fault
		wait   time.Duration
		posted int
	}{
		{"route limit on the message", discordfake.Fault{Operation: "create_message", RetryAfter: 30.5}, 30500 * time.Millisecond, 0},
		{"global limit on the message", discordfake.Fault{Operation: "create_message", RetryAfter: 2, Global: true}, 2 * time.Second, 0},
		{"limit on the crosspost", discordfake.Fault{Operation: "crosspost_message", RetryAfter: 3600}, time.Hour, 1},
		{"limit on reading the channel", discordfake.Fault{Operation: "get_channel", RetryAfter: 5}, 5 * time.Second, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, f, s := setup(t, botConfig(discordfake.AnnouncementChannelID))
			fake.Inject(tc.fault)
			ledger := &testLedger{}
			p := samplePost("md:rl")
			_, err := send(t, f, s, p, channels.Delivery{Attempt: 1, Ledger: ledger})
			kind, wait := channels.Classify(err)
			if kind != channels.KindRateLimited || wait != tc.wait {
				t.Fatalf("got %v %v (%v), want rate-limited %v", kind, wait, err, tc.wait)
			}
			if n := len(fake.Messages(discordfake.AnnouncementChannelID)); n != tc.posted {
				t.Fatalf("%d messages while rate limited, want %d", n, tc.posted)
			}
			// Right away, the sender knows the bucket is empty and sends
			// nothing (a global 429 has no bucket headers to learn from).
			before := len(fake.Requests())
			if !tc.fault.Global {
				if _, err := send(t, f, s, p, channels.Delivery{Attempt: 2, Ledger: ledger}); kindOf(err) != channels.KindRateLimited {
					t.Fatalf("an immediate retry got %v, want rate-limited", err)
				}
				if after := fake.Requests(); len(after) != before {
					t.Errorf("an immediate retry made requests %+v", after[before:])
				}
			}
			// The engine retries after the wait; discordgo's buckets run
			// on the wall clock, so a fresh session stands for "later".
			_, later, err := New(context.Background(), botConfig(discordfake.AnnouncementChannelID), channels.Env{HTTPClient: fake.Client()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := send(t, f, later, p, channels.Delivery{Attempt: 3, Ledger: ledger}); err != nil {
				t.Fatal(err)
			}
			msgs := fake.Messages(discordfake.AnnouncementChannelID)
			if len(msgs) != 1 || msgs[0].Crossposted != 1 {
				t.Fatalf("after the retry: %d messages, crossposted %d; want 1 and 1", len(msgs), msgs[0].Crossposted)
			}
		})
	}
}

func TestEmptyBucketReturnsRateLimitedWithoutSending(t *testing.T) {
	t.Parallel()
	fake, f, s := setup(t, botConfig(discordfake.TextChannelID))
	fake.SetRouteLimit(1, time.Hour)
	if _, err := send(t, f, s, samplePost("md:one"), channels.Delivery{Attempt: 1, Ledger: &testLedger{}}); err != nil {
		t.Fatal(err)
	}
	before := len(fake.Requests())
	_, err := send(t, f, s, samplePost("md:two"), channels.Delivery{Attempt: 1, Ledger: &testLedger{}})
	kind, wait := channels.Classify(err)
	if kind != channels.KindRateLimited || wait < 59*time.Minute {
		t.Fatalf("got %v %v (%v), want rate-limited for about an hour", kind, wait, err)
	}
	if after := fake.Requests(); len(after) != before {
		t.Errorf("an empty bucket still sent %+v", after[before:])
	}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		cfg     Config
		fault   *discordfake.Fault
		kind    channels.Kind
		mention string
	}{
		{"wrong token", Config{Token: "wrong", ChannelID: discordfake.TextChannelID}, nil, channels.KindPermanent, "bot token"},
		{"forbidden channel", Config{Token: discordfake.Token, ChannelID: discordfake.ForbiddenChannelID}, nil, channels.KindPermanent, "Missing Permissions"},
		{"unknown channel", Config{Token: discordfake.Token, ChannelID: "900000000000000099"}, nil, channels.KindPermanent, "does not exist"},
		{"server error on the message", Config{Token: discordfake.Token, ChannelID: discordfake.TextChannelID}, &discordfake.Fault{Operation: "create_message", Status: 502, Message: "Bad Gateway"}, channels.KindAmbiguous, "502"},
		{"server error reading the channel", Config{Token: discordfake.Token, ChannelID: discordfake.TextChannelID}, &discordfake.Fault{Operation: "get_channel", Status: 500, Message: "Internal Server Error"}, channels.KindTemporary, "500"},
		{"missing permission to crosspost", Config{Token: discordfake.Token, ChannelID: discordfake.AnnouncementChannelID, Crosspost: true}, &discordfake.Fault{Operation: "crosspost_message", Status: 403, Code: 50013, Message: "Missing Permissions"}, channels.KindPermanent, "Send Messages"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, f, s := setup(t, tc.cfg)
			if tc.cfg.Token != discordfake.Token {
				fake.AllowRejections()
			}
			if tc.fault != nil {
				fake.Inject(*tc.fault)
			}
			_, err := send(t, f, s, samplePost("md:err"), channels.Delivery{Attempt: 1, Ledger: &testLedger{}})
			if kindOf(err) != tc.kind || !strings.Contains(err.Error(), tc.mention) {
				t.Fatalf("got %v: %v; want %v mentioning %q", kindOf(err), err, tc.kind, tc.mention)
			}
			// A refused token or permission (401, 403) is shown on the
			// Channels page.
			if refused := tc.name == "wrong token" || tc.name == "forbidden channel" || tc.name == "missing permission to crosspost"; channels.IsRefused(err) != refused {
				t.Errorf("refused credentials = %v, want %v", channels.IsRefused(err), refused)
			}
			if strings.Contains(err.Error(), discordfake.Token) || strings.Contains(err.Error(), "wrong") {
				t.Errorf("the error shows the token: %v", err)
			}
		})
	}
}

func TestUnreachableIsTemporary(t *testing.T) {
	t.Parallel()
	cfg := botConfig(discordfake.TextChannelID)
	fake := discordfake.New(t)
	client := fake.Client()
	_, s, err := New(context.Background(), cfg, channels.Env{HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	fake.Close()
	f := NewFormatter(cfg, channels.Campaign{})
	_, err = send(t, f, s, samplePost("md:down"), channels.Delivery{Attempt: 1})
	if kindOf(err) != channels.KindTemporary {
		t.Fatalf("got %v (%v), want temporary", kindOf(err), err)
	}
}

func TestWebhook(t *testing.T) {
	t.Parallel()
	fake := discordfake.New(t)
	cfg := Config{WebhookURL: secret.Secret(discordfake.WebhookURL(discordfake.WebhookID)), Mention: "everyone"}
	f, s, err := New(context.Background(), cfg, channels.Env{HTTPClient: fake.Client(), Campaign: channels.Campaign{Name: "Safe Passage"}})
	if err != nil {
		t.Fatal(err)
	}
	ledger := &testLedger{}
	r, err := send(t, f, s, samplePost("md:hook"), channels.Delivery{Attempt: 1, Ledger: ledger})
	if err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages(discordfake.TextChannelID)
	if len(msgs) != 1 || msgs[0].ID != r.RemoteID || msgs[0].WebhookID != discordfake.WebhookID {
		t.Fatalf("messages %+v, receipt %+v", msgs, r)
	}
	if len(msgs[0].Pinged) != 1 || msgs[0].Pinged[0] != "everyone" {
		t.Errorf("pinged %v, want everyone only", msgs[0].Pinged)
	}
	for _, req := range fake.Requests() {
		if req.Operation == "execute_webhook" && !strings.Contains(req.Path, "/webhooks/") {
			t.Errorf("unexpected path %s", req.Path)
		}
	}
	// An unknown outcome cannot be checked through a webhook: no blind resend.
	_, err = send(t, f, s, samplePost("md:hook2"), channels.Delivery{Attempt: 2, PreviousUnknown: true, Ledger: &testLedger{}})
	if kindOf(err) != channels.KindPermanent {
		t.Fatalf("got %v (%v), want permanent", kindOf(err), err)
	}
	if n := len(fake.Messages(discordfake.TextChannelID)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestWebhookErrorsHideTheToken(t *testing.T) {
	t.Parallel()
	fake := discordfake.New(t)
	const leaked = "secret-webhook-token-value"
	cfg := Config{WebhookURL: secret.Secret("https://discord.com/api/webhooks/" + discordfake.WebhookID + "/" + leaked)}
	f, s, err := New(context.Background(), cfg, channels.Env{HTTPClient: fake.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = send(t, f, s, samplePost("md:x"), channels.Delivery{Attempt: 1})
	if kindOf(err) != channels.KindPermanent || !strings.Contains(err.Error(), "webhook token") {
		t.Fatalf("got %v: %v", kindOf(err), err)
	}
	fake.Close()
	_, err = send(t, f, s, samplePost("md:y"), channels.Delivery{Attempt: 1})
	if err == nil {
		t.Fatal("no error from a closed server")
	}
	if strings.Contains(err.Error(), leaked) {
		t.Errorf("the error shows the webhook token: %v", err)
	}
}

func TestGlobalRateLimitHoldsEveryRoute(t *testing.T) {
	t.Parallel()
	fake, f, snd := setup(t, botConfig(discordfake.TextChannelID))
	s := snd.(*Sender)
	now := time.Date(2026, 11, 27, 4, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	fake.Inject(discordfake.Fault{Operation: "create_message", RetryAfter: 60, Global: true})
	if _, err := send(t, f, s, samplePost("md:g1"), channels.Delivery{Attempt: 1}); kindOf(err) != channels.KindRateLimited {
		t.Fatalf("got %v, want rate-limited", err)
	}
	before := len(fake.Requests())
	_, err := send(t, f, s, samplePost("md:g2"), channels.Delivery{Attempt: 1})
	if kind, wait := channels.Classify(err); kind != channels.KindRateLimited || wait != time.Minute {
		t.Fatalf("another post during the global limit got %v %v (%v)", kind, wait, err)
	}
	if after := fake.Requests(); len(after) != before {
		t.Errorf("requests during the global limit: %+v", after[before:])
	}
	later := now.Add(61 * time.Second)
	s.now = func() time.Time { return later }
	if _, err := send(t, f, s, samplePost("md:g2"), channels.Delivery{Attempt: 2}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Messages(discordfake.TextChannelID)); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
}

func TestTimeoutAfterWritingIsAmbiguous(t *testing.T) {
	t.Parallel()
	fake, f, s := setup(t, botConfig(discordfake.AnnouncementChannelID))
	ledger := &testLedger{}
	p := samplePost("md:slow")
	// Read the channel first, so the deadline can only pass on the message.
	if _, err := s.(*Sender).channelInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	fake.Inject(discordfake.Fault{Operation: "create_message", Hang: true})
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: ledger}, pl)
	if kindOf(err) != channels.KindAmbiguous {
		t.Fatalf("got %v (%v), want ambiguous", kindOf(err), err)
	}
	if _, err := send(t, f, s, p, channels.Delivery{Attempt: 2, PreviousUnknown: true, Ledger: ledger}); err != nil {
		t.Fatal(err)
	}
	msgs := fake.Messages(discordfake.AnnouncementChannelID)
	if len(msgs) != 1 || msgs[0].Crossposted != 1 {
		t.Fatalf("%d messages (crossposted %d), want one crossposted once", len(msgs), msgs[0].Crossposted)
	}
}
