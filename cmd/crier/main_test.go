package main

import (
	"bytes"
	"context"
	"encoding/json"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/web"
)

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe to read while the daemon writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestRunOnShippedConfigFillsTheOutbox runs the shipped config as is, and
// again with store.driver: postgres.
func TestRunOnShippedConfigFillsTheOutbox(t *testing.T) {
	t.Parallel()
	for _, d := range pgpeer.Drivers {
		t.Run(d.Name, func(t *testing.T) { t.Parallel(); testRunOnShippedConfig(t, d.Name) })
	}
}

// usePostgres points the config in dir at a fresh PostgreSQL database.
func usePostgres(t *testing.T, dir string) { pointAt(t, dir, pgpeer.DSN(t)) }

func testRunOnShippedConfig(t *testing.T, driver string) {
	b := setupShipped(t)
	dir := b.dir
	if driver == "postgres" {
		usePostgres(t, dir)
	}
	addr := testnet.FreeAddr(t)
	b.setenv("CRIER_LISTEN", addr)
	cfg := b.cfg

	logs, stop := b.startStoppable("", nil)

	// The shipped posts that are due (not drafts, not scheduled for 2031)
	// and the newest feed item must reach all three channels' outboxes.
	outbox := filepath.Join(dir, "data", "outbox")
	var missing []string
	testnet.Poll(60*time.Second, func() bool { missing = missingOutboxFiles(t, outbox); return len(missing) == 0 })
	if len(missing) == 0 {
		checkEndpoint(t, "http://"+addr+"/healthz", 200, "ok")
		checkEndpoint(t, "http://"+addr+"/metrics", 200, `crier_deliveries_total{channel="email",outcome="sent"}`)
	}
	stop()
	if len(missing) > 0 {
		t.Fatalf("outbox is missing deliveries: %v\nlogs:\n%s", missing, logs.String())
	}
	if !strings.Contains(logs.String(), "crier users add you@example.org --role owner") {
		t.Errorf("with no console user, crier run should print the command that creates the first owner:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "rendering deliveries to the local outbox") {
		t.Errorf("the daemon should log that channels render to the outbox:\n%s", logs.String())
	}

	// crier status shows every delivery as rendered to the outbox: nothing
	// was sent to anyone.
	var out bytes.Buffer
	if code := b.main(context.Background(), []string{"--config", cfg, "status", "--json"}, &out, io.Discard); code != 0 {
		t.Fatalf("status exit %d", code)
	}
	var st struct {
		Posts []struct {
			ID         string
			State      string
			Deliveries []struct{ Channel, State string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out.String())
	}
	rendered := 0
	for _, p := range st.Posts {
		for _, d := range p.Deliveries {
			switch d.State {
			case "rendered":
				rendered++
			case "sent":
				t.Errorf("%s to %s rendered to the outbox is shown as sent", p.ID, d.Channel)
			}
		}
	}
	if rendered < 3 {
		t.Errorf("status shows %d rendered deliveries:\n%s", rendered, out.String())
	}
	out.Reset()
	b.main(context.Background(), []string{"--config", cfg, "status"}, &out, io.Discard)
	if !strings.Contains(out.String(), "rendered to outbox") || strings.Contains(out.String(), " sent ") {
		t.Errorf("status text must say rendered to outbox, never sent:\n%s", out.String())
	}
}

func checkEndpoint(t *testing.T, url string, status int, contains string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(body), contains) {
		t.Errorf("GET %s: %d, want %d containing %q:\n%.2000s", url, resp.StatusCode, status, contains, body)
	}
}

// missingOutboxFiles lists channels without at least two payloads (the due
// Markdown posts and the newest feed item).
func missingOutboxFiles(t *testing.T, outbox string) []string {
	var missing []string
	for _, ch := range []string{"mastodon", "discord", "email"} {
		jsons, _ := filepath.Glob(filepath.Join(outbox, ch, "*.json"))
		if len(jsons) < 2 {
			missing = append(missing, ch)
		}
	}
	emls, _ := filepath.Glob(filepath.Join(outbox, "email", "*.eml"))
	if len(emls) == 0 {
		missing = append(missing, "email .eml")
	}
	return missing
}

func TestValidateShippedConfig(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	var out bytes.Buffer
	code := b.main(context.Background(), []string{"--config", "../../config.yaml", "validate"}, &out, &out)
	if code != 0 {
		t.Fatalf("validate on the shipped config exit %d:\n%s", code, out.String())
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	cfg := b.cfg
	os.WriteFile(cfg, []byte("schedules:\n  publish_due: \"every minute\"\nchannels:\n  email:\n    smtp:\n      tls: yes-please\n  fax:\n    enabled: true\n"), 0o644)
	var out bytes.Buffer
	code := b.main(context.Background(), []string{"--config", cfg, "validate"}, &out, &out)
	if code == 0 {
		t.Fatal("validate accepted a broken config")
	}
	for _, want := range []string{"config.yaml:2: schedules.publish_due", "config.yaml:6: channels.email.smtp.tls", "config.yaml:7: channels.fax: unknown key"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	for _, c := range commands() {
		var out bytes.Buffer
		code := b.main(context.Background(), []string{"--config", "../../config.yaml", c.name, "--help"}, &out, &out)
		if code != 0 || !strings.Contains(out.String(), "Usage: crier "+c.name) {
			t.Errorf("%s --help: exit %d\n%s", c.name, code, out.String())
		}
	}
	var out bytes.Buffer
	if code := b.main(context.Background(), []string{"--help"}, &out, &out); code != 0 || !strings.Contains(out.String(), "Commands:") {
		t.Errorf("crier --help: exit %d\n%s", code, out.String())
	}
}

func TestPreviewJSONShowsEveryChannelsExactPayload(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	var out, errOut bytes.Buffer
	code := b.main(context.Background(), []string{"--config", "../../config.yaml", "preview", "--json", "../../posts/2023-11-08-icat-call-to-action.md"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		PostID   string `json:"post_id"`
		Channels struct {
			Mastodon []struct {
				Status      string `json:"status"`
				SpoilerText string `json:"spoiler_text"`
			} `json:"mastodon"`
			Discord struct {
				Embeds          []map[string]any `json:"embeds"`
				AllowedMentions map[string]any   `json:"allowed_mentions"`
			} `json:"discord"`
			Email struct{ Subject, Text, HTML string } `json:"email"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	c := got.Channels
	if len(c.Mastodon) == 0 || !strings.Contains(c.Mastodon[0].Status, "https://camaca.example/news/icat-call-to-action") || c.Mastodon[0].SpoilerText == "" {
		t.Errorf("mastodon payload: %+v", c.Mastodon)
	}
	if len(c.Discord.Embeds) != 1 || c.Discord.AllowedMentions == nil {
		t.Errorf("discord payload: %+v", c.Discord)
	}
	if c.Email.Subject == "" || c.Email.Text == "" || !strings.Contains(c.Email.HTML, "<html") {
		t.Errorf("email payload: subject %q, %d bytes text, %d bytes html", c.Email.Subject, len(c.Email.Text), len(c.Email.HTML))
	}

	// A feed: one entry per item.
	out.Reset()
	code = b.main(context.Background(), []string{"--config", "../../config.yaml", "preview", "--json", "--feed", "../../feeds/campaign-site.xml"}, &out, &errOut)
	var items []map[string]any
	if code != 0 || json.Unmarshal(out.Bytes(), &items) != nil || len(items) < 2 {
		t.Fatalf("preview --feed: exit %d, %d items\n%s%s", code, len(items), out.String(), errOut.String())
	}

	// A broken post file names the file and line and exits non-zero.
	bad := filepath.Join(t.TempDir(), "bad.md")
	os.WriteFile(bad, []byte("---\ntitle: x\ncolour: red\n---\nbody\n"), 0o644)
	errOut.Reset()
	if code := b.main(context.Background(), []string{"--config", "../../config.yaml", "preview", bad}, io.Discard, &errOut); code == 0 || !strings.Contains(errOut.String(), "bad.md:3") {
		t.Errorf("broken post: exit %d, %s", code, errOut.String())
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestPublishQueuesOnlyTheNamedChannels(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	cfg := b.cfg
	post := filepath.Join(dir, "posts", "2031-01-01-full-sentence-campaign.md")
	var out, errOut bytes.Buffer
	if code := b.main(context.Background(), []string{"--config", cfg, "publish", post, "--channel", "mastodon"}, &out, &errOut); code != 0 {
		t.Fatalf("publish exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "queued for mastodon") {
		t.Errorf("publish output: %s", out.String())
	}
	out.Reset()
	b.main(context.Background(), []string{"--config", cfg, "status", "--json"}, &out, io.Discard)
	var st struct {
		Posts []struct {
			ID         string
			Deliveries []struct{ Channel, State string }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || len(st.Posts) != 1 {
		t.Fatalf("status: %v\n%s", err, out.String())
	}
	if d := st.Posts[0].Deliveries; len(d) != 1 || d[0].Channel != "mastodon" || d[0].State != "pending" {
		t.Fatalf("want one pending mastodon delivery, got %+v", d)
	}
	errOut.Reset()
	if code := b.main(context.Background(), []string{"--config", cfg, "publish", post, "--channel", "fax"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), `channel "fax" is not enabled`) {
		t.Errorf("unknown channel: exit %d, %s", code, errOut.String())
	}
}

func TestSecretsStayOutOfLogsAndOutbox(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	const secretValue = "sekrit-token-4242-0123456789abcdef"
	for _, k := range []string{"MASTODON_TOKEN", "DISCORD_BOT_TOKEN", "SMTP_PASSWORD", "CRIER_ADMIN_TOKEN", "CRIER_METRICS_TOKEN", "CRIER_LINK_SECRET"} {
		b.setenv(k, secretValue)
	}
	b.setenv("DISCORD_CHANNEL_ID", "900000000000000010")
	b.setenv("CRIER_LISTEN", testnet.FreeAddr(t))
	cfg := b.cfg
	data, _ := os.ReadFile(cfg)
	// Every channel is forced to the outbox while holding credentials.
	os.WriteFile(cfg, []byte(strings.ReplaceAll(string(data), "mode: auto", "mode: outbox")), 0o644)

	logs, stop := b.startStoppable("", nil, "--log-level", "debug")
	outbox := filepath.Join(dir, "data", "outbox")
	testnet.Poll(60*time.Second, func() bool { return len(missingOutboxFiles(t, outbox)) == 0 })
	stop()
	if m := missingOutboxFiles(t, outbox); len(m) > 0 {
		t.Fatalf("the daemon did not fill the outbox (%v):\n%s", m, logs.String())
	}
	if strings.Contains(logs.String(), secretValue) {
		t.Errorf("a secret reached the logs")
	}
	filepath.Walk(outbox, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(secretValue)) {
				t.Errorf("a secret reached the outbox in %s", path)
			}
		}
		return nil
	})
	var out bytes.Buffer
	b.main(context.Background(), []string{"--config", cfg, "status", "--json"}, &out, &out)
	if strings.Contains(out.String(), secretValue) {
		t.Errorf("a secret reached crier status")
	}
}

func TestAdminStatusNeedsTheToken(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	cfg := b.cfg
	post := filepath.Join(dir, "posts", "2031-01-01-full-sentence-campaign.md")
	if code := b.main(context.Background(), []string{"--config", cfg, "publish", post}, io.Discard, io.Discard); code != 0 {
		t.Fatal("publish failed")
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := web.New(web.Options{AdminToken: "organiser-token-0123456789abcdef0123"})
	srv.HandleAdmin("GET /admin/status", statusHandler(providers(), st, markdown.Reader{}))
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"Bearer organiser-token-0123456789abcdef0123", 200}} {
		req := httptest.NewRequest("GET", "/admin/status", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%q: %d, want %d", tc.auth, rec.Code, tc.want)
		}
		if tc.want == 200 && !strings.Contains(rec.Body.String(), `"md:full-sentence-campaign-launch"`) {
			t.Errorf("status body: %s", rec.Body.String())
		}
	}
}

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

// TestShippedConfigIsValid loads config.yaml with every channel type this
// binary knows, as crier run does.
func TestShippedConfigIsValid(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, insts, err := providers().Parse("../../config.yaml", data, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("shipped config.yaml must load with no environment: %v", err)
	}
	if len(insts) != len(providers().Types()) {
		t.Fatalf("want one channel of every type in the shipped config, got %d", len(insts))
	}
	for _, i := range insts {
		if i.Settings.HasCredentials() || !i.UsesOutbox() || i.Name != i.Type {
			t.Errorf("%s: with no environment no channel should have credentials (they must render to the outbox)", i.Name)
		}
	}
	if cfg.Schedules.MaxLateness != 6*time.Hour || cfg.Sources.Feeds[0].PublishNewest != 1 {
		t.Errorf("values not decoded: %+v", cfg.Schedules)
	}
	// Issue 9: the sample feed is an example, the newsletter choice is
	// explicit, and times are the campaign's.
	if !cfg.Sources.Feeds[0].Example {
		t.Error("the shipped sample feed must be marked example: true")
	}
	var mail email.Config
	for _, sec := range cfg.Channels {
		if sec.Name == "email" {
			sec.Decode(&mail)
		}
	}
	if mail.Newsletter == "" {
		t.Error("the shipped config must choose channels.email.newsletter")
	}
	if cfg.Location().String() != "Europe/London" {
		t.Errorf("campaign.timezone read as %s", cfg.Location())
	}
}
