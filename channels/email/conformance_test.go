package email_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/subscribers"
)

// notSMTP is why a fault has no SMTP equivalent the suite can check.
const notSMTP = "SMTP has no such reply: a server refuses with 4xx (the 500 case) or 5xx (the 403 case)"

// TestConformance runs the channel conformance suite against a real Mailpit
// with one confirmed supporter, through the channel's Provider only (the
// newsletter engine behind it is the channel's own business).
func TestConformance(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, channeltest.Harness{
		Provider:    email.Provider{},
		Start:       startMailpit,
		Decode:      channeltest.DecodeJSON[*email.Message],
		HiddenState: "the sender re-renders each supporter's copy from the posts the message keeps beside its JSON",
		Messages:    func(channels.Body) []string { return []string{"one mail to the one supporter"} },
		NoLimits:    "a newsletter has no length limit; long subjects are folded, never cut",
		LostAnswer: "SMTP has no idempotency key: a message whose acceptance was lost with its connection is sent again " +
			"with the same Message-ID (at most one per connection), which receiving servers drop as a duplicate",
		Expect: map[string]channeltest.Expectation{
			"401": {Why: "the test Mailpit takes mail without SMTP AUTH; a refused login (535) is checked in channels/email's own tests"},
			"404": {Why: notSMTP}, "413": {Why: notSMTP}, "422": {Why: notSMTP},
			"429":     {Why: "SMTP has no Retry-After: a busy server answers 421 or 451, the 500 case"},
			"500":     {Kinds: []channels.Kind{channels.KindRateLimited}, Why: "a 4xx reply is per recipient: the send keeps its place in the ledger and continues later, using no attempt"},
			"timeout": {Why: "Mailpit cannot hold an answer; an SMTP outage is checked in channels/email's outage tests"},
		},
	})
}

func startMailpit(t *testing.T) *channeltest.Peer {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{Chaos: true})
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := subs.Add(ctx, subscribers.Subscriber{Email: "ada@example.org", Name: "Ada", Status: subscribers.Confirmed, ConsentSource: "test"}); err != nil {
		t.Fatal(err)
	}
	return &channeltest.Peer{
		Section: fmt.Sprintf("newsletter: each_post\nfrom: CAMACA <news@camaca.example>\nlink_secret: conformance-link-secret-32-bytes!\nsmtp:\n  host: %s\n  port: %d\n  tls: none\n",
			mp.SMTPHost, mp.SMTPPort),
		Env: func(t *testing.T, env *channels.Env) { env.DB = st.DB() },
		Inject: func(t *testing.T, f channeltest.Fault) (func(), string) {
			return inject(t, mp, f)
		},
		Count: func(t *testing.T) int {
			n, err := mp.Count(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return n
		},
	}
}

// inject refuses MAIL FROM with Mailpit's chaos triggers.
func inject(t *testing.T, mp *mailpit.Server, f channeltest.Fault) (func(), string) {
	code := map[string]int{"403": 550, "500": 451}[f.Name]
	switch {
	case f.LoseAnswer:
		return nil, "Mailpit can refuse a stage of the SMTP conversation but not drop its answer after accepting a message"
	case code == 0:
		return nil, notSMTP
	}
	ctx := context.Background()
	if err := mp.SetChaos(ctx, mailpit.Chaos{Sender: &mailpit.Trigger{ErrorCode: code, Probability: 100}}); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := mp.SetChaos(ctx, mailpit.Chaos{}); err != nil {
			t.Error(err)
		}
	}, ""
}
