package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	"github.com/crierhq/crier/internal/testpeers/mastodonfake"
	"github.com/crierhq/crier/post"
)

// TestShippedExamplesAreNeverSentForReal is issue 9's first-day run: the
// shipped config, posts and sample feed, a fresh data folder, and real
// credentials (a spec-checking Mastodon fake, and Mailpit with a confirmed
// supporter when it is installed). Nothing shipped as an example may reach
// them; crier run says where the organiser's own posts and feeds go; the
// scheduled sample shows its time with its zone in status.
func TestShippedExamplesAreNeverSentForReal(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	b.setenv("CRIER_LISTEN", testnet.FreeAddr(t))
	cfg := b.cfg
	masto := mastodonfake.New(t, mastodonfake.Options{})
	b.setenv("MASTODON_INSTANCE", masto.URL)
	b.setenv("MASTODON_TOKEN", masto.Token())

	var mp *mailpit.Server
	if mailpit.Binary() != "" || os.Getenv("CRIER_REQUIRE_PEERS") != "" {
		mp = mailpit.Start(t, mailpit.Options{})
		// The shipped config with the organiser's SMTP server filled in.
		data, _ := os.ReadFile(cfg)
		src := strings.Replace(string(data), "port: 587", fmt.Sprintf("port: %d", mp.SMTPPort), 1)
		src = strings.Replace(src, "tls: starttls", "tls: none", 1)
		os.WriteFile(cfg, []byte(src), 0o644)
		b.setenv("SMTP_HOST", mp.SMTPHost)
		members := filepath.Join(dir, "members.csv")
		os.WriteFile(members, []byte("email,name,consent_at\nann@example.org,Ann,2024-05-01\n"), 0o644)
		var out, errOut syncBuffer
		if code := b.main(context.Background(), []string{"--config", cfg, "subscribers", "import", members}, &out, &errOut); code != 0 {
			t.Fatalf("import: %d %s%s", code, out.String(), errOut.String())
		}
	} else {
		t.Log("mailpit not installed: checking Mastodon only (CRIER_REQUIRE_PEERS=1 makes this fail)")
	}

	logs, stop := b.startStoppable("", &http.Client{Timeout: 30 * time.Second})
	// Wait until the folder was scanned and the sample feed polled: every
	// sample is then recorded (the draft as a draft, the others as
	// examples).
	var states map[string]string
	testnet.Poll(60*time.Second, func() bool {
		states = postStates(b.status())
		return states["feed"] == "example" && states["md:2023-11-08-icat-call-to-action"] == "example"
	})
	// Give any wrongly queued delivery the time to reach the fakes.
	time.Sleep(2 * time.Second)
	stop()
	if states["feed"] != "example" || states["md:2023-11-08-icat-call-to-action"] != "example" {
		t.Fatalf("samples not held back as examples: %v\nlogs:\n%s", states, logs.String())
	}
	for k, v := range states {
		if strings.HasSuffix(k, " delivery") {
			t.Errorf("%s: an example was queued for %s", k, v)
		}
	}
	if n := len(masto.Statuses()); n != 0 {
		t.Errorf("the Mastodon account received %d example toot(s)", n)
	}
	if mp != nil {
		if n, err := mp.Count(context.Background()); err != nil || n != 0 {
			t.Errorf("Mailpit received %d example newsletter(s) (%v)", n, err)
		}
	}
	if !strings.Contains(logs.String(), "examples are never sent for real") || !strings.Contains(logs.String(), "write your own posts in") {
		t.Errorf("crier run should say where the organiser's own posts and feeds go:\n%s", logs.String())
	}

	var out syncBuffer
	if code := b.main(context.Background(), []string{"--config", cfg, "status"}, &out, io.Discard); code != 0 {
		t.Fatalf("status exit %d", code)
	}
	if !strings.Contains(out.String(), "2031-01-01 09:00 GMT") || !strings.Contains(out.String(), "example") {
		t.Errorf("status should show the sample's time with its zone and its example state:\n%s", out.String())
	}
}

// postStates maps post ids to their states, with "feed" the state of the
// (only) published-or-held feed item.
func postStates(st crierStatus) map[string]string {
	states := map[string]string{}
	for _, p := range st.Posts {
		states[p.ID] = p.State
		for _, d := range p.Deliveries {
			states[p.ID+" delivery"] += d.Channel + " "
		}
		if strings.HasPrefix(p.ID, "feed:") {
			states["feed"] = p.State
		}
	}
	return states
}

// TestPreviewDigest shows the digest the next run would send: the posts
// published since the last digest, as JSON, as HTML and for a person, with
// the window in the campaign's time zone.
func TestPreviewDigest(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	cfg := b.cfg
	run := func(args ...string) (int, string) {
		var out, errOut syncBuffer
		code := b.main(context.Background(), append([]string{"--config", cfg, "preview", "--digest"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := run(); code != 0 || !strings.Contains(out, "the digest would send nothing") {
		t.Fatalf("empty window: exit %d\n%s", code, out)
	}
	// With --json the answer is JSON even when there is nothing to send.
	var stdout syncBuffer
	code := b.main(context.Background(), []string{"--config", cfg, "preview", "--digest", "--json"}, &stdout, io.Discard)
	var empty struct {
		Posts    *int
		Message  string
		DigestID string `json:"digest_id"`
	}
	if err := json.Unmarshal([]byte(stdout.String()), &empty); code != 0 || err != nil || empty.Posts == nil || *empty.Posts != 0 || !strings.Contains(empty.Message, "would send nothing") || empty.DigestID == "" {
		t.Fatalf("empty window, --json: exit %d, %v, %+v\n%s", code, err, empty, stdout.String())
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, title := range []string{"Vigil on Saturday", "Our 4 point plan"} {
		p := post.Post{ID: fmt.Sprintf("md:p%d", i), Title: title, Body: "Join us.", Link: "https://camaca.example/news/p", Source: post.Source{Kind: "markdown"}}
		if err := st.SavePost(context.Background(), p, store.PostPublished, now.Add(time.Duration(i-5)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	code, out := run("--json")
	var got struct {
		Posts int
		Email struct{ Subject, HTML string }
	}
	if err := json.Unmarshal([]byte(out), &got); code != 0 || err != nil || got.Posts != 2 || got.Email.Subject != "CAMACA news: Vigil on Saturday and 1 more" {
		t.Fatalf("--json: exit %d, %v, %+v\n%s", code, err, got, out)
	}
	html := filepath.Join(t.TempDir(), "digest.html")
	if code, out := run("--html", html); code != 0 || !strings.Contains(out, "Newsletter digest: posts published from") || !strings.Contains(out, "Our 4 point plan") {
		t.Fatalf("human: exit %d\n%s", code, out)
	}
	if b, err := os.ReadFile(html); err != nil || !strings.Contains(string(b), "Our 4 point plan") {
		t.Fatalf("--html wrote %d bytes: %v", len(b), err)
	}
	// Times are the campaign's (Europe/London: GMT or BST).
	if _, out := run(); !strings.Contains(out, " GMT") && !strings.Contains(out, " BST") {
		t.Errorf("the window should be shown in the campaign's zone:\n%s", out)
	}
}

// TestCommandsShowCampaignTimes: validate and preview show publish_at as
// Crier reads it, in campaign.timezone with the zone's name; validate names
// examples once a channel sends for real; a bad zone is a problem with its
// line.
func TestCommandsShowCampaignTimes(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	cfg := b.cfg
	run := func(args ...string) (int, string) {
		var out, errOut syncBuffer
		code := b.main(context.Background(), append([]string{"--config", cfg}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	scheduled := filepath.Join(dir, "posts", "2031-01-01-full-sentence-campaign.md")
	if code, out := run("validate"); code != 0 || !strings.Contains(out, "2031-01-01-full-sentence-campaign.md: publish_at is 2031-01-01 09:00 GMT") || strings.Contains(out, "example: true") {
		t.Errorf("validate: exit %d\n%s", code, out)
	}
	if code, out := run("preview", scheduled); code != 0 || !strings.Contains(out, "when: 2031-01-01 09:00 GMT") || !strings.Contains(out, "example: true") {
		t.Errorf("preview: exit %d\n%s", code, out)
	}
	b.setenv("MASTODON_INSTANCE", "https://social.example")
	b.setenv("MASTODON_TOKEN", "token")
	if _, out := run("validate"); !strings.Contains(out, "2023-11-08-icat-call-to-action.md: example: true: only ever rendered to the outbox") || !strings.Contains(out, "sources.feeds[0] (campaign-site): example: true") {
		t.Errorf("validate with credentials should name the examples:\n%s", out)
	}
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, []byte(strings.Replace(string(data), "timezone: Europe/London", "timezone: Europe/Lodnon", 1)), 0o644)
	line := 0
	for i, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, "timezone: Europe/London") {
			line = i + 1
		}
	}
	if code, out := run("validate"); code == 0 || !strings.Contains(out, fmt.Sprintf("config.yaml:%d: campaign.timezone: unknown time zone \"Europe/Lodnon\"", line)) {
		t.Errorf("bad zone: exit %d\n%s", code, out)
	}
}
