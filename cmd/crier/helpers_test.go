package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
)

// bundle is a test's own Crier: a folder with its config file, and the
// environment that config reads. Nothing is read from the process's own
// environment, so tests with a bundle run in parallel.
type bundle struct {
	t *testing.T
	// dir is the test's folder; cfg is dir/config.yaml.
	dir, cfg string
	// env is what CRIER_CONFIG and ${VAR} in the config expand from.
	env map[string]string
}

// testLinkSecret is ${TEST_LINK_SECRET} in every bundle's environment.
const testLinkSecret = "0123456789abcdef0123456789abcdef"

// setup gives the test a folder of its own, with config (when not empty)
// written to config.yaml in it.
func setup(t *testing.T, config string) *bundle {
	t.Helper()
	dir := t.TempDir()
	b := &bundle{t: t, dir: dir, cfg: filepath.Join(dir, "config.yaml"), env: map[string]string{"TEST_LINK_SECRET": testLinkSecret}}
	if config != "" {
		b.write("config.yaml", config)
	}
	return b
}

// write writes a file below the bundle's folder, making its parents.
func (b *bundle) write(name, content string) string {
	b.t.Helper()
	path := filepath.Join(b.dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// lookupEnv is the bundle's environment as App.LookupEnv.
func (b *bundle) lookupEnv(key string) (string, bool) {
	v, ok := b.env[key]
	return v, ok
}

// crier runs one command line against the bundle's config.
func (b *bundle) crier(args ...string) (code int, stdout, stderr string) {
	b.t.Helper()
	return runCLI(b.t, b.lookupEnv, "", append([]string{"--config", b.cfg}, args...)...)
}

// crierInput is crier with stdin as standard input.
func (b *bundle) crierInput(stdin string, args ...string) (code int, stdout, stderr string) {
	b.t.Helper()
	return runCLI(b.t, b.lookupEnv, stdin, append([]string{"--config", b.cfg}, args...)...)
}

// runCLI runs one command line as main does, with env as the whole
// environment (nil: an empty one) and stdin as standard input, and returns
// its exit code and output.
func runCLI(t *testing.T, env func(string) (string, bool), stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if env == nil {
		env = func(string) (string, bool) { return "", false }
	}
	var out, errOut bytes.Buffer
	app := &App{LookupEnv: env, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, HTTPClient: &http.Client{Timeout: time.Minute}}
	code = runApp(context.Background(), app, args)
	return code, out.String(), errOut.String()
}

// setupShipped is setup on a copy of what ships (config.yaml, posts/,
// feeds/), so the test runs the README's commands on exactly that.
func setupShipped(t *testing.T) *bundle {
	t.Helper()
	b := setup(t, "")
	for _, p := range []string{"config.yaml", "posts", "feeds"} {
		copyTree(t, filepath.Join("..", "..", p), filepath.Join(b.dir, p))
	}
	return b
}

// app is an App on the bundle's environment.
func (b *bundle) app(stdout, stderr io.Writer, client *http.Client) *App {
	return &App{LookupEnv: b.lookupEnv, Stdout: stdout, Stderr: stderr, HTTPClient: client}
}

// startDaemon runs `crier run` on the bundle until the test ends, waits
// until healthURL answers, and returns the daemon's log; an exit other than
// 0 when it is stopped fails the test.
func (b *bundle) startDaemon(healthURL string, client *http.Client) *syncBuffer {
	b.t.Helper()
	logs, _ := b.startStoppable(healthURL, client)
	return logs
}

// startStoppable is startDaemon for a test that stops the daemon itself:
// stop is its graceful stop (what SIGTERM does), and returns once it has
// exited; the test's end calls it too when the test did not. With
// healthURL empty it does not wait.
func (b *bundle) startStoppable(healthURL string, client *http.Client, args ...string) (*syncBuffer, func()) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	done := make(chan int)
	go func() {
		done <- runApp(ctx, b.app(io.Discard, logs, client), append([]string{"--config", b.cfg}, append(args, "run")...))
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				b.t.Errorf("daemon exit %d\n%s", code, logs.String())
			}
		})
	}
	b.t.Cleanup(stop)
	if healthURL != "" {
		waitHTTP(b.t, healthURL)
	}
	return logs, stop
}

// runUntil runs `crier run` on the bundle until cond holds (or bound, which
// bounds a broken run only, passes), stops it and returns its log. The
// caller checks what it waited for.
func (b *bundle) runUntil(client *http.Client, bound time.Duration, cond func() bool) *syncBuffer {
	b.t.Helper()
	logs, stop := b.startStoppable("", client)
	testnet.Poll(bound, cond)
	stop()
	return logs
}

// waitHTTP waits until u answers.
func waitHTTP(t *testing.T, u string) {
	t.Helper()
	testnet.WaitFor(t, u+" answers", 30*time.Second, func() bool {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

// crierStatus is what `crier status --json` says, as far as tests read it.
type crierStatus struct {
	Posts []struct {
		ID, State  string
		Deliveries []struct{ Channel, State string }
	}
	NewsletterSends []sendCounts `json:"newsletter_sends"`
}

// sendCounts are a newsletter send's figures in `crier status --json`.
type sendCounts struct {
	Sent         int `json:"sent"`
	Delivered    int `json:"delivered"`
	Bounced      int `json:"bounced"`
	Unsubscribed int `json:"unsubscribed"`
}

// status runs `crier status --json` on the bundle; it is empty when the
// command fails (the daemon holds the database a moment).
func (b *bundle) status() crierStatus {
	var st crierStatus
	if code, out, _ := runCLI(b.t, b.lookupEnv, "", "--config", b.cfg, "status", "--json"); code == 0 {
		_ = json.Unmarshal([]byte(out), &st)
	}
	return st
}

// deliveries maps "post/channel" to each delivery's state.
func (s crierStatus) deliveries() map[string]string {
	states := map[string]string{}
	for _, p := range s.Posts {
		for _, d := range p.Deliveries {
			states[p.ID+"/"+d.Channel] = d.State
		}
	}
	return states
}

// sent counts the deliveries that are sent.
func (s crierStatus) sent() int {
	n := 0
	for _, state := range s.deliveries() {
		if state == "sent" {
			n++
		}
	}
	return n
}

// addUser adds a console user with crier users add, the password given on
// standard input.
func (b *bundle) addUser(email, role, password string) {
	b.t.Helper()
	if code, out, errOut := b.crierInput(password+"\n", "users", "add", email, "--role", role, "--password-stdin"); code != 0 {
		b.t.Fatalf("users add: %s %s", out, errOut)
	}
}

// main runs a command line as main does, on the bundle's environment.
func (b *bundle) main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runApp(ctx, b.app(stdout, stderr, &http.Client{Timeout: time.Minute}), args)
}

// setenv sets a variable of the bundle's environment.
func (b *bundle) setenv(key, value string) { b.env[key] = value }

// roundTripFunc is a function as an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
