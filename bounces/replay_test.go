package bounces_test

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bounces"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

// hooksOn serves every provider's webhooks from a processor on the
// database of driver at target.
func hooksOn(t *testing.T, driver, target string) *hooksBundle {
	t.Helper()
	p, b := setupOn(t, driver, target, bounces.Config{})
	ledgerTables(t, b.db.DB())
	return newHooksBundle(t, p, b)
}

// replica is another daemon on hb's database (a replica, or hb's daemon
// after a restart) that the same providers, with the same keys, call.
func (hb *hooksBundle) replica(t *testing.T, driver, target string) *hooksBundle {
	t.Helper()
	p, b := setupOn(t, driver, target, bounces.Config{})
	b.now = hb.now
	r := *hb
	r.bundle, r.fetched = b, nil
	r.mux = r.serve(t, p, b)
	return &r
}

const mailgunToken = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"

// TestWebhookReplayAfterRestart replays each provider's request to the
// daemon after it restarted. Mailgun signs its token and timestamp, not the
// body: the captured signature with a body rewritten to unsubscribe someone
// else must be refused. The signed providers' repeats change nothing.
func TestWebhookReplayAfterRestart(t *testing.T) { pgpeer.Each(t, testWebhookReplayAfterRestart) }

func testWebhookReplayAfterRestart(t *testing.T, driver, target string) {
	hb := hooksOn(t, driver, target)
	ann, bob := hb.confirmed(t, "ann@example.org"), hb.confirmed(t, "bob@example.org")
	cat, dan := hb.confirmed(t, "cat@example.org"), hb.confirmed(t, "dan@example.org")
	eve := hb.confirmed(t, "eve@example.org")
	mailgun := hb.mailgunBody(ann.Email, "failed", "permanent", "ev-1", mailgunToken, hb.now)
	ses := mustJSON(hb.sns(t, "Notification", "n-1", sesBounce(cat.Email, ""), 2, hb.now))
	sendgrid := []byte(`[{"email":"` + dan.Email + `","event":"bounce","type":"bounce","sg_event_id":"sg-1","status":"5.0.0"}]`)
	sgHeaders := hb.sendgridHeaders(t, sendgrid, hb.now)
	postmark := postmarkBounce(42, "HardBounce", eve.Email)
	pmAuth := http.Header{"Authorization": {"Basic cG9zdG1hcms6cG9zdG1hcmstd2ViaG9vay1wYXNzd29yZA=="}} // postmark:postmark-webhook-password
	for _, c := range []struct {
		path string
		body []byte
		h    http.Header
	}{{"/webhooks/mailgun", mailgun, nil}, {"/webhooks/ses", ses, nil}, {"/webhooks/sendgrid", sendgrid, sgHeaders}, {"/webhooks/postmark", postmark, pmAuth}} {
		if code, out := hb.post(t, c.path, c.body, c.h); code != 200 || !strings.Contains(out, `"bounced"`) {
			t.Fatalf("%s: %d %s", c.path, code, out)
		}
	}

	// The daemon stops; a new one starts on the same database a minute on.
	hb.db.Close()
	hb = hb.replica(t, driver, target)
	hb.now = hb.now.Add(time.Minute)
	rewritten := hb.mailgunBody(bob.Email, "unsubscribed", "", "ev-2", mailgunToken, hb.now.Add(-time.Minute))
	if string(rewritten[:strings.Index(string(rewritten), "}")]) != string(mailgun[:strings.Index(string(mailgun), "}")]) {
		t.Fatal("the replay does not carry the captured signature")
	}
	if code, out := hb.post(t, "/webhooks/mailgun", rewritten, nil); code != http.StatusUnauthorized {
		t.Errorf("the captured Mailgun signature with another body after a restart: %d %s, want 401", code, out)
	}
	for _, c := range []struct {
		path string
		body []byte
		h    http.Header
	}{{"/webhooks/ses", ses, nil}, {"/webhooks/sendgrid", sendgrid, sgHeaders}, {"/webhooks/postmark", postmark, pmAuth}} {
		if code, out := hb.post(t, c.path, c.body, c.h); code != 200 || !strings.Contains(out, `"duplicate"`) {
			t.Errorf("%s again after a restart: %d %s, want 200 duplicate", c.path, code, out)
		}
	}
	if s := hb.status(t, bob.ID); s != subscribers.Confirmed {
		t.Fatalf("bob is %s after the replay", s)
	}
}

// TestWebhookReplayAcrossReplicas sends the captured Mailgun signature to two
// replicas at once, each time with another body: exactly one is accepted.
// The same signed SNS message to both is applied once.
func TestWebhookReplayAcrossReplicas(t *testing.T) {
	t.Parallel()
	target := pgpeer.DSN(t)
	one := hooksOn(t, "postgres", target)
	two := one.replica(t, "postgres", target)
	var subs []subscribers.Subscriber
	for i := range 8 {
		subs = append(subs, one.confirmed(t, "s"+strconv.Itoa(i)+"@example.org"))
	}
	codes := make([]int, len(subs))
	var wg sync.WaitGroup
	for i, s := range subs {
		replica := []*hooksBundle{one, two}[i%2]
		body := replica.mailgunBody(s.Email, "unsubscribed", "", "ev-"+strconv.Itoa(i), mailgunToken, one.now)
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = replica.post(t, "/webhooks/mailgun", body, nil)
		}()
	}
	wg.Wait()
	accepted, changed := 0, 0
	for i, s := range subs {
		if codes[i] == 200 {
			accepted++
		} else if codes[i] != http.StatusUnauthorized {
			t.Errorf("request %d: %d", i, codes[i])
		}
		if one.status(t, s.ID) != subscribers.Confirmed {
			changed++
		}
	}
	if accepted != 1 || changed != 1 {
		t.Fatalf("one Mailgun token to two replicas: %d accepted (%v), %d supporters changed; want 1 and 1", accepted, codes, changed)
	}

	cat := one.confirmed(t, "cat@example.org")
	msg := mustJSON(one.sns(t, "Notification", "n-1", sesBounce(cat.Email, ""), 2, one.now))
	outs := make([]string, 2)
	for i, r := range []*hooksBundle{one, two} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, outs[i] = r.post(t, "/webhooks/ses", msg, nil)
		}()
	}
	wg.Wait()
	if all := strings.Join(outs, "\n"); strings.Count(all, `"bounced"`) != 1 || strings.Count(all, `"duplicate"`) != 1 {
		t.Fatalf("one SNS message to two replicas:\n%s", all)
	}
}

// TestWebhookRetriedAfterFailure: a request whose event could not be
// recorded (500) is retried by the provider, and the retry is processed,
// not refused as a replay of itself; its token with another body is not.
func TestWebhookRetriedAfterFailure(t *testing.T) {
	pgpeer.EachDriver(t, testWebhookRetriedAfterFailure)
}

func testWebhookRetriedAfterFailure(t *testing.T, driver string) {
	hb := hooksOn(t, driver, pgpeer.Target(t, driver))
	ann := hb.confirmed(t, "ann@example.org")
	body := hb.mailgunBody(ann.Email, "failed", "permanent", "ev-1", mailgunToken, hb.now)
	db := hb.db.DB()
	if _, err := db.Exec(`ALTER TABLE email_feedback RENAME TO email_feedback_away`); err != nil {
		t.Fatal(err)
	}
	if code, out := hb.post(t, "/webhooks/mailgun", body, nil); code != http.StatusInternalServerError {
		t.Fatalf("with the feedback table away: %d %s, want 500", code, out)
	}
	if _, err := db.Exec(`ALTER TABLE email_feedback_away RENAME TO email_feedback`); err != nil {
		t.Fatal(err)
	}
	bob := hb.confirmed(t, "bob@example.org")
	if code, out := hb.post(t, "/webhooks/mailgun", hb.mailgunBody(bob.Email, "unsubscribed", "", "ev-2", mailgunToken, hb.now), nil); code != http.StatusUnauthorized {
		t.Fatalf("the failed request's token with another body: %d %s, want 401", code, out)
	}
	if code, out := hb.post(t, "/webhooks/mailgun", body, nil); code != 200 || !strings.Contains(out, `"bounced"`) {
		t.Fatalf("Mailgun's retry: %d %s, want 200 bounced", code, out)
	}
	if code, _ := hb.post(t, "/webhooks/mailgun", body, nil); code != http.StatusUnauthorized {
		t.Fatalf("the retry again: %d, want 401", code)
	}
}

// TestWebhookKeysPruned: used keys are deleted once no request carrying
// them would be accepted.
func TestWebhookKeysPruned(t *testing.T) { pgpeer.EachDriver(t, testWebhookKeysPruned) }

func testWebhookKeysPruned(t *testing.T, driver string) {
	hb := hooksOn(t, driver, pgpeer.Target(t, driver))
	ann, bob := hb.confirmed(t, "ann@example.org"), hb.confirmed(t, "bob@example.org")
	for path, body := range map[string][]byte{
		"/webhooks/mailgun": hb.mailgunBody(ann.Email, "failed", "permanent", "ev-1", mailgunToken, hb.now),
		"/webhooks/ses":     mustJSON(hb.sns(t, "Notification", "n-1", sesBounce(bob.Email, ""), 2, hb.now)),
	} {
		if code, out := hb.post(t, path, body, nil); code != 200 {
			t.Fatalf("%s: %d %s", path, code, out)
		}
	}
	count := func() (n int) {
		t.Helper()
		if err := hb.db.DB().QueryRow(`SELECT COUNT(*) FROM webhook_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d keys kept, want 2", n)
	}
	hb.now = hb.now.Add(3 * time.Hour)
	cat := hb.confirmed(t, "cat@example.org")
	if code, out := hb.post(t, "/webhooks/mailgun", hb.mailgunBody(cat.Email, "failed", "permanent", "ev-3", "token-3-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", hb.now), nil); code != 200 {
		t.Fatalf("a later webhook: %d %s", code, out)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d keys kept three hours on, want 1 (the new one)", n)
	}
}
