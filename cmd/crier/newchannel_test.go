package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/post"
)

// TestANewChannelTypeNeedsNoEditOutsideItsPackage is the proof that the
// channel contract is closed: a channel type that exists only in this file
// (pigeon post: a note tied to three pigeons' legs) is registered beside
// the real ones, and with no edit anywhere else it is configured, shown
// by crier preview and preview --json, delivered by the daemon, listed by
// crier status with its own send progress, and drawn by the console's
// post page from its own card, with its delivery, link and progress.
func TestANewChannelTypeNeedsNoEditOutsideItsPackage(t *testing.T) {
	t.Parallel()
	loft := &pigeonLoft{}
	reg := channels.NewRegistry(append(providerList(), pigeonProvider{loft})...)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b := setup(t, fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  pigeon-leeds: {type: pigeon, loft: leeds}
`, addr, base))
	dir := b.dir
	b.write("posts/vigil.md", "---\ntitle: Vigil on Friday\nlink: https://camaca.example/vigil\n---\nBring a candle.\n")
	stdin := ""
	run := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		app := &App{LookupEnv: b.lookupEnv, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, Registry: reg}
		if code := runApp(context.Background(), app, append([]string{"--config", b.cfg}, args...)); code != 0 {
			t.Fatalf("crier %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String(), errOut.String()
	}

	// crier preview: the exact payload, and the channel's own text.
	out, _ := run("preview", "--json", filepath.Join(dir, "posts", "vigil.md"))
	var pv struct {
		Channels map[string]pigeonNote `json:"channels"`
	}
	if err := json.Unmarshal([]byte(out), &pv); err != nil {
		t.Fatalf("preview --json: %v\n%s", err, out)
	}
	if n := pv.Channels["pigeon-leeds"]; n.Note != "Vigil on Friday https://camaca.example/vigil" || n.Pigeons != 3 {
		t.Fatalf("preview --json: the pigeon's payload is %+v\n%s", n, out)
	}
	if out, _ := run("preview", filepath.Join(dir, "posts", "vigil.md")); !strings.Contains(out, "== pigeon-leeds ==") || !strings.Contains(out, "note: Vigil on Friday") {
		t.Fatalf("preview does not show the pigeon's note:\n%s", out)
	}

	// The daemon delivers it through the pigeon's own sender.
	const editor = "ed.editor@camaca.example"
	stdin = "editor's long passphrase\n"
	run("users", "add", editor, "--role", "editor", "--password-stdin")
	stdin = ""
	ctx, cancel := context.WithCancel(context.Background())
	logs, done := &syncBuffer{}, make(chan int)
	go func() {
		done <- runApp(ctx, &App{LookupEnv: b.lookupEnv, Stdout: io.Discard, Stderr: logs, HTTPClient: http.DefaultClient, Registry: reg}, []string{"--config", b.cfg, "run"})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d\n%s", code, logs.String())
		}
	})
	testnet.WaitFor(t, "the pigeon's flight", 30*time.Second, func() bool { return len(loft.flights()) == 1 })

	// crier status: the delivery, where it went, and the send's progress.
	var st struct {
		Posts []struct {
			ID         string
			Deliveries []struct {
				Channel, State string
				RemoteURL      string `json:"remote_url"`
			}
		}
		Sends []pigeonFlight `json:"newsletter_sends"`
	}
	testnet.WaitFor(t, "the delivery recorded as sent", 30*time.Second, func() bool {
		out, _ := run("status", "--json")
		st.Posts = nil
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		return len(st.Posts) == 1 && len(st.Posts[0].Deliveries) == 1 && st.Posts[0].Deliveries[0].State == "sent"
	})
	id, d := st.Posts[0].ID, st.Posts[0].Deliveries[0]
	if d.Channel != "pigeon-leeds" || d.RemoteURL != "https://leeds.loft.example/flights/1" || len(st.Sends) != 1 || st.Sends[0].Post != id {
		t.Fatalf("status --json: delivery %+v, sends %+v", d, st.Sends)
	}
	if out, _ := run("status"); !strings.Contains(out, "pigeon-leeds") || !strings.Contains(out, "WARNING flight:"+id+": one pigeon came back") {
		t.Fatalf("status does not list the pigeon's delivery and flight:\n%s", out)
	}

	// The console's post page: the pigeon's own card, its delivery with
	// its link and its progress.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	token := regexp.MustCompile(`name="login_token" value="([^"]+)"`).FindStringSubmatch(get(t, browser, base+"/login"))
	if token == nil {
		t.Fatal("no login token on the sign-in page")
	}
	postForm(t, browser, base+"/login", url.Values{"login_token": {token[1]}, "email": {editor}, "password": {"editor's long passphrase"}})
	page := get(t, browser, base+"/posts/"+url.PathEscape(id))
	for _, want := range []string{
		`<article class="preview preview-pigeon" aria-label="Pigeon-leeds preview">`,
		`<p class="toot-text">Vigil on Friday https://camaca.example/vigil</p>`,
		`<p class="count">44 / 60</p>`,
		`<li class="delivery" id="delivery-pigeon-leeds">`,
		`href="https://leeds.loft.example/flights/1"`,
		`2 / 3 sent`,
		`<strong>Sending problem:</strong> one pigeon came back`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the post page lacks %s:\n%s", want, page)
		}
	}
}

// pigeonProvider is a channel type that exists only in this test.
type pigeonProvider struct{ loft *pigeonLoft }

func (pigeonProvider) Type() string { return "pigeon" }

func (p pigeonProvider) Configure(s config.ChannelSection) (channels.Settings, config.Problems) {
	cfg := pigeonConfig{Enabled: true}
	probs := s.Decode(&cfg)
	return pigeonSettings{cfg: cfg, name: s.Name, loft: p.loft}, probs
}

// The pigeons fly from one loft: one instance at most, whose flights are
// reported as sends of their own.
func (pigeonProvider) Single() string   { return "there is one loft" }
func (pigeonProvider) DocsPage() string { return "pigeon.md" }

func (p pigeonProvider) SendReports(_ context.Context, _ *sql.DB, ref string) ([]channels.SendReport, error) {
	var out []channels.SendReport
	for _, f := range p.loft.flights() {
		if ref != "" && f.Post != ref {
			continue
		}
		out = append(out, channels.SendReport{ID: "flight:" + f.Post, Ref: f.Post, Sent: 2, Failed: 1, Total: 3, Warning: "one pigeon came back", Detail: f})
	}
	return out, nil
}

type pigeonConfig struct {
	Enabled bool          `yaml:"enabled"`
	Mode    channels.Mode `yaml:"mode"`
	Loft    string        `yaml:"loft"`
}

type pigeonSettings struct {
	cfg  pigeonConfig
	name string
	loft *pigeonLoft
}

func (s pigeonSettings) Enabled() bool        { return s.cfg.Enabled }
func (s pigeonSettings) Mode() channels.Mode  { return s.cfg.Mode }
func (s pigeonSettings) HasCredentials() bool { return s.cfg.Loft != "" }
func (s pigeonSettings) Formatter(channels.Campaign) (channels.Formatter, error) {
	return pigeonFormatter{s.name}, nil
}
func (s pigeonSettings) Connect(context.Context, channels.Env) (channels.Formatter, channels.Sender, error) {
	return pigeonFormatter{s.name}, pigeonSender{s.loft, s.cfg.Loft}, nil
}
func (s pigeonSettings) Preview(w io.Writer, p channels.Payload) {
	channels.PreviewFields(w, p.Body, "   ")
}

// pigeonLegRoom is how many characters a note may have.
const pigeonLegRoom = 60

// PreviewCard shows the note as it is tied to the leg, counted against the
// room there is.
func (s pigeonSettings) PreviewCard(p channels.Payload) channels.PreviewCard {
	n, _ := channels.BodyOf[pigeonNote](p)
	return channels.PreviewCard{Messages: []channels.PreviewMessage{{Style: channels.StylePost, Text: channels.PlainText(n.Note),
		Count: utf8.RuneCountInString(n.Note), Limit: pigeonLegRoom}}}
}

// pigeonNote is the pigeon's payload body.
type pigeonNote struct {
	Note    string `json:"note"`
	Pigeons int    `json:"pigeons"`
}

func (pigeonNote) ChannelType() string { return "pigeon" }

type pigeonFormatter struct{ channel string }

func (f pigeonFormatter) Format(p post.Post) (channels.Payload, error) {
	return channels.Payload{Channel: f.channel, PostID: p.ID, Body: pigeonNote{Note: p.Title + " " + p.Link, Pigeons: 3}}, nil
}

// pigeonLoft records the flights, as the remote side would.
type pigeonLoft struct {
	mu   sync.Mutex
	sent []pigeonFlight
}

type pigeonFlight struct {
	Post string `json:"post"`
	Note string `json:"note"`
}

func (l *pigeonLoft) flights() []pigeonFlight {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]pigeonFlight(nil), l.sent...)
}

type pigeonSender struct {
	loft *pigeonLoft
	name string
}

func (s pigeonSender) Send(_ context.Context, d channels.Delivery, p channels.Payload) (channels.Receipt, error) {
	n, err := channels.BodyOf[pigeonNote](p)
	if err != nil {
		return channels.Receipt{}, err
	}
	s.loft.mu.Lock()
	defer s.loft.mu.Unlock()
	s.loft.sent = append(s.loft.sent, pigeonFlight{Post: d.PostID, Note: n.Note})
	return channels.Receipt{RemoteID: fmt.Sprint(len(s.loft.sent)), RemoteURL: fmt.Sprintf("https://%s.loft.example/flights/%d", s.name, len(s.loft.sent))}, nil
}
