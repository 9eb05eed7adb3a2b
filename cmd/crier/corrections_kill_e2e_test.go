package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
)

// killChildEnv names the config a child daemon of
// TestCorrectionSurvivesKill9 runs.
const killChildEnv = "CRIER_TEST_KILL_CHILD_CONFIG"

// actingProxy forwards to a server; while armed, a request that changes
// something (pick) is forwarded, its answer withheld, and acted closed: the
// network has done the work, the daemon never hears of it.
type actingProxy struct {
	*httptest.Server
	mu    sync.Mutex
	armed bool
	acted chan struct{}
}

func newActingProxy(t *testing.T, target string, pick func(*http.Request) bool) *actingProxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &actingProxy{acted: make(chan struct{})}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		lose := p.armed && pick(r)
		if lose {
			p.armed = false
		}
		p.mu.Unlock()
		if !lose {
			rp.ServeHTTP(w, r)
			return
		}
		rp.ServeHTTP(httptest.NewRecorder(), r)
		close(p.acted)
		<-r.Context().Done() // until the daemon is killed
	}))
	t.Cleanup(p.Server.Close)
	return p
}

func (p *actingProxy) arm() {
	p.mu.Lock()
	p.armed = true
	p.mu.Unlock()
}

// TestCorrectionSurvivesKill9 corrects a post on GoToSocial and a Bluesky
// PDS, and kills the daemon (SIGKILL, a child process) right after each
// network acted on the correction and before the daemon heard back. The
// restarted daemon finishes the correction: the toot has one edit in its
// history, the Bluesky post one correction reply.
func TestCorrectionSurvivesKill9(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user := gts.NewUser(t)
	pds := blueskypds.Start(t)
	acct := pds.NewAccount(t)
	mproxy := newActingProxy(t, gts.URL, func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/api/v1/statuses/")
	})
	bproxy := newActingProxy(t, pds.URL, func(r *http.Request) bool {
		return r.URL.Path == "/xrpc/com.atproto.repo.createRecord"
	})

	b := setup(t, "")
	vigil := func(hour string) {
		b.write("posts/vigil.md", "---\ntitle: The vigil starts at "+hour+"\nlink: https://camaca.example/news/vigil\n---\nBring a candle.\n")
	}
	vigil("seven")
	b.setenv("TEST_MASTODON_TOKEN", user.Token)
	b.setenv("TEST_BLUESKY_PASSWORD", acct.AppPassword)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 5s}
channels:
  email: {enabled: false}
  discord: {enabled: false}
  mastodon: {mode: send, instance: %q, token: "${TEST_MASTODON_TOKEN}"}
  bluesky: {enabled: true, mode: send, service: %q, handle: %q, app_password: "${TEST_BLUESKY_PASSWORD}"}
`, testnet.FreeAddr(t), mproxy.URL, bproxy.URL, acct.Handle))

	var logs bytes.Buffer
	child := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCorrectionKillChild$")
		cmd.Env = append(os.Environ(), killChildEnv+"="+b.cfg, "TEST_MASTODON_TOKEN="+user.Token, "TEST_BLUESKY_PASSWORD="+acct.AppPassword)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	runUntil := func(what string, bound time.Duration, cond func() bool) {
		t.Helper()
		cmd := child()
		ok := testnet.Poll(bound, cond)
		cmd.Process.Kill()
		cmd.Wait()
		if !ok {
			t.Fatalf("%s: status %v\nlogs:\n%s", what, b.status().deliveries(), logs.String())
		}
	}
	runUntil("published", time.Minute, func() bool { return b.status().sent() == 2 })

	vigil("eight")
	if code, out, errOut := b.crier("correct", "md:vigil", "--note", "eight, not seven", "--yes"); code != 0 {
		t.Fatalf("crier correct: exit %d\n%s%s", code, out, errOut)
	}
	// One kill per network, each right after it acted.
	for _, p := range []*actingProxy{mproxy, bproxy} {
		p.arm()
		cmd := child()
		select {
		case <-p.acted:
		case <-time.After(time.Minute):
			cmd.Process.Kill()
			t.Fatalf("the correction never reached %s\nlogs:\n%s", p.URL, logs.String())
		}
		cmd.Process.Kill() // SIGKILL: nothing recorded, the job left running
		cmd.Wait()
	}
	// River rescues the jobs the dead processes left running.
	runUntil("corrected after the kills", 3*time.Minute, b.settled("md:vigil", 1))
	_, cs := b.corrections("md:vigil")
	if cs[0].State != store.CorrectionDone {
		t.Fatalf("correction: %+v", cs[0].Results)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	tootID := gomastodon.ID(partOf(t, cs[0], "mastodon").RemoteID)
	hist, err := reader.GetStatusHistory(ctx, tootID)
	if err != nil {
		t.Fatal(err)
	}
	var revs []string
	for _, h := range hist {
		revs = append(revs, h.Content)
	}
	if len(hist) != 2 || !strings.Contains(strings.Join(revs, "\n"), "eight") {
		t.Errorf("the toot's revisions %q; want the post and exactly one edit", revs)
	}
	replies := 0
	for _, r := range readPosts(t, pds, acct.DID) {
		if r.Reply != nil {
			replies++
		}
	}
	if replies != 1 {
		t.Errorf("%d correction replies on Bluesky, want exactly 1", replies)
	}
}

// TestCorrectionKillChild is the daemon TestCorrectionSurvivesKill9 kills.
func TestCorrectionKillChild(t *testing.T) {
	cfg := os.Getenv(killChildEnv)
	if cfg == "" {
		t.Skip("the child daemon of TestCorrectionSurvivesKill9")
	}
	app := &App{LookupEnv: os.LookupEnv, Stdout: os.Stdout, Stderr: os.Stderr, HTTPClient: &http.Client{Timeout: 30 * time.Second}}
	runApp(context.Background(), app, []string{"--config", cfg, "run"})
}
