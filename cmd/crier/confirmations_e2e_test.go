package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// mailpitConfig is a config whose only channel is the newsletter, sending
// to mp, serving on addr; httpMore and emailMore are added to the http
// section (flow style) and the email section (block style, indented).
func mailpitConfig(addr string, mp *mailpit.Server, httpMore, emailMore string) string {
	if httpMore != "" {
		httpMore = ", " + httpMore
	}
	return fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q, public_url: "http://%s"%s}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email:
    mode: send
    smtp: {host: %q, port: %d, tls: none}
    from: "CAMACA <news@camaca.example>"
    list_id: news.camaca.example
    link_secret: ${TEST_LINK_SECRET}
%s`, addr, addr, httpMore, mp.SMTPHost, mp.SMTPPort, emailMore)
}

// TestConfirmationsSurviveAStop queues 50 confirmation mails while the SMTP
// server refuses them for now, stops the daemon as SIGTERM does, and starts
// it again with the server answering: every supporter gets their mail, once,
// on either database.
func TestConfirmationsSurviveAStop(t *testing.T) {
	t.Parallel()
	pgpeer.Each(t, testConfirmationsSurviveAStop)
}

func testConfirmationsSurviveAStop(t *testing.T, driver, target string) {
	mp := mailpit.Start(t, mailpit.Options{Chaos: true})
	ctx := context.Background()
	// 451: "try again later", for every mail of the first run.
	if err := mp.SetChaos(ctx, mailpit.Chaos{Sender: &mailpit.Trigger{ErrorCode: 451, Probability: 100}}); err != nil {
		t.Fatal(err)
	}
	b := setup(t, "")
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	// The test is the proxy in front: each sign-up comes from its own
	// address, as from 50 people, so the per-address limit lets them in.
	where := "path"
	if driver == "postgres" {
		where = "dsn"
	}
	b.write("config.yaml", mailpitConfig(addr, mp, "trusted_proxies: [127.0.0.1/32]", "")+
		fmt.Sprintf("store: {driver: %s, %s: %q}\n", driver, where, target))

	logs, stop := b.startStoppable(base+"/healthz", http.DefaultClient)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(get(t, browser, base+"/subscribe"))
	if csrf == nil {
		t.Fatal("no CSRF token in the form")
	}
	const n = 50
	address := func(i int) string { return fmt.Sprintf("supporter%02d@supporters.example", i) }
	for i := range n {
		form := url.Values{"csrf": {csrf[1]}, "email": {address(i)}, "consent": {"yes"}}
		req, _ := http.NewRequest("POST", base+"/subscribe", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i+1))
		resp, err := browser.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("subscribe %d: %v %v", i, err, resp)
		}
		resp.Body.Close()
	}
	stop()
	if got, err := mp.Count(ctx); err != nil || got != 0 {
		t.Fatalf("the SMTP server refused every mail of the first run, yet it holds %d (%v)", got, err)
	}

	if err := mp.SetChaos(ctx, mailpit.Chaos{}); err != nil {
		t.Fatal(err)
	}
	logs2, stop := b.startStoppable(base+"/healthz", http.DefaultClient)
	got := 0
	if !testnet.Poll(90*time.Second, func() bool { got, _ = mp.Count(ctx); return got >= n }) {
		t.Fatalf("%d of %d confirmation mails arrived after the restart\nfirst run:\n%s\nsecond run:\n%s", got, n, logs.String(), logs2.String())
	}
	stop()

	// Exactly once: one mail per supporter, and no confirmation job left
	// that could send another.
	all, err := mp.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, m := range all {
		for _, a := range m.To {
			per[strings.ToLower(a.Address)]++
		}
	}
	for i := range n {
		if per[address(i)] != 1 {
			t.Errorf("%s got %d confirmation mails, want 1", address(i), per[address(i)])
		}
	}
	if len(all) != n {
		t.Errorf("%d mails, want %d", len(all), n)
	}
	st, err := store.OpenDriver(ctx, driver, target)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var left int
	if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM river_job WHERE kind = 'confirmation_mail' AND state != 'completed'`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d confirmation jobs not completed", left)
	}
}
