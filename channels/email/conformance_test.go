package email_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/channeltest"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/subscribers"
)

// linkSecret signs the newsletter's links.
const linkSecret = "conformance-link-secret-32-bytes!"

// notSMTP is why a fault has no SMTP equivalent the suite can check.
const notSMTP = "SMTP has no such reply: a server refuses with 4xx (the 500 case) or 5xx (the 403 case)"

// TestConformance runs the channel conformance suite against a real Mailpit
// with one confirmed supporter, through the channel's Provider only (the
// newsletter engine behind it is the channel's own business).
func TestConformance(t *testing.T) {
	t.Parallel()
	channeltest.Run(t, channeltest.Harness{
		Provider: email.Provider{},
		Start:    startMailpit,
		// Issue 23: the newsletter's corrections are not built yet.
		NoCorrections: "a sent mail cannot change: the newsletter corrects its archive copy and mails a correction through its send ledger, checked against Mailpit by newsletter.TestCorrectionMailGoesToTheOriginalRecipientsOnce",
		Decode:        channeltest.DecodeJSON[*email.Message],
		HiddenState:   "the sender re-renders each supporter's copy from the posts the message keeps beside its JSON",
		Messages:      func(channels.Body) []string { return []string{"one mail to the one supporter"} },
		NoLimits:      "a newsletter has no length limit; long subjects are folded, never cut",
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
	proxy := startLoser(t, fmt.Sprintf("%s:%d", mp.SMTPHost, mp.SMTPPort))
	return &channeltest.Peer{
		Section: fmt.Sprintf("newsletter: each_post\nfrom: CAMACA <news@camaca.example>\nlink_secret: %s\nsmtp:\n  host: 127.0.0.1\n  port: %d\n  tls: none\n",
			linkSecret, proxy.port()),
		Secrets: []string{linkSecret},
		Env:     func(t *testing.T, env *channels.Env) { env.DB = st.DB() },
		Inject: func(t *testing.T, f channeltest.Fault) (func(), string) {
			if f.LoseAnswer {
				proxy.armed.Store(true)
				return func() { proxy.armed.Store(false) }, ""
			}
			return inject(t, mp, f)
		},
		Count: func(t *testing.T) int { return messageIDs(t, mp) },
	}
}

// inject refuses MAIL FROM with Mailpit's chaos triggers.
func inject(t *testing.T, mp *mailpit.Server, f channeltest.Fault) (func(), string) {
	code := map[string]int{"403": 550, "500": 451}[f.Name]
	if code == 0 {
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

// messageIDs counts the distinct Message-IDs in Mailpit. SMTP has no
// idempotency key: a message whose acceptance was lost with its connection
// is sent again, with the same Message-ID (at most one per connection),
// and receiving servers drop the copy as a duplicate; so does this count.
func messageIDs(t *testing.T, mp *mailpit.Server) int {
	msgs, err := mp.Messages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.MessageID] = true
	}
	return len(ids)
}

// loser is a TCP proxy in front of an SMTP server that, when armed, lets the
// server accept one message and then cuts the connection instead of passing
// on the server's 250: the client cannot know the message went.
type loser struct {
	l      net.Listener
	target string
	armed  atomic.Bool
}

func startLoser(t *testing.T, target string) *loser {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &loser{l: l, target: target}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
	return p
}

func (p *loser) port() int { return p.l.Addr().(*net.TCPAddr).Port }

// pipe copies both ways; ends counts the messages the client finished
// (the "." ending DATA) whose reply has not come back yet.
func (p *loser) pipe(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	var ends atomic.Int64
	go func() {
		defer server.Close()
		r := bufio.NewReader(client)
		for {
			line, err := r.ReadBytes('\n')
			if string(line) == ".\r\n" {
				ends.Add(1)
			}
			if len(line) > 0 {
				if _, werr := server.Write(line); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	r := bufio.NewReader(server)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		final := len(line) > 3 && line[3] == ' '
		if final && ends.Load() > 0 {
			ends.Add(-1)
			if p.armed.CompareAndSwap(true, false) {
				return // the message is accepted; its answer is lost
			}
		}
		if _, err := client.Write(line); err != nil {
			return
		}
	}
}
