// Package gotosocial starts a real GoToSocial server (a Mastodon-API
// compatible server, v0.19.2) for end-to-end tests: on a free 127.0.0.1 port,
// in a temporary folder, with a confirmed user and an OAuth token obtained
// through the out-of-band code flow, and tears it all down afterwards.
//
// The binary is found through CRIER_GOTOSOCIAL, else
// $CRIER_CACHE_DIR/gotosocial, else ~/.cache/crier-tools/gotosocial (where
// .ci/build-gotosocial.sh puts it), with its web templates in
// gts-web/ beside it. Tests skip when it is absent, unless CRIER_REQUIRE_PEERS
// is set (CI), which makes its absence a failure.
package gotosocial

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/crierhq/crier/internal/testnet"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// ErrNoBinary is returned by Start when the GoToSocial binary is absent.
var ErrNoBinary = errors.New("gotosocial binary not found")

// Binary returns the path of the GoToSocial binary, or "" when it is absent.
func Binary() string {
	var candidates []string
	if p := os.Getenv("CRIER_GOTOSOCIAL"); p != "" {
		candidates = append(candidates, p)
	}
	if d := os.Getenv("CRIER_CACHE_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "gotosocial"))
	}
	if d, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(d, "crier-tools", "gotosocial"))
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// wazeroCache is where GoToSocial keeps its compiled WebAssembly ffmpeg, so
// that only the first start ever compiles it (15 s; later starts take 3 s).
func wazeroCache() string {
	if d := os.Getenv("CRIER_CACHE_DIR"); d != "" {
		return filepath.Join(d, "wazero")
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "crier-tools", "wazero")
	}
	return ""
}

// Options shape the server.
type Options struct {
	// MaxChars is statuses-max-chars (500 if zero).
	MaxChars int
	// Dir holds the database, media and logs (required).
	Dir string
}

// Server is a running GoToSocial.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL    string
	bin    string
	config string
	dir    string
	cmd    *exec.Cmd
	done   chan error
	log    string

	mu    sync.Mutex
	users int
}

// Start starts GoToSocial and waits until it answers.
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin := Binary()
	if bin == "" {
		return nil, ErrNoBinary
	}
	if opts.Dir == "" {
		return nil, errors.New("gotosocial: Options.Dir is required")
	}
	if opts.MaxChars == 0 {
		opts.MaxChars = 500
	}
	port, err := testnet.Port()
	if err != nil {
		return nil, err
	}
	web := filepath.Join(filepath.Dir(bin), "gts-web")
	s := &Server{
		URL: fmt.Sprintf("http://127.0.0.1:%d", port), bin: bin, dir: opts.Dir,
		config: filepath.Join(opts.Dir, "config.yaml"), log: filepath.Join(opts.Dir, "gotosocial.log"),
		done: make(chan error, 1),
	}
	cfg := fmt.Sprintf(`host: "127.0.0.1:%d"
protocol: "http"
bind-address: "127.0.0.1"
port: %d
db-type: "sqlite"
db-address: %q
storage-backend: "local"
storage-local-base-path: %q
web-template-base-dir: %q
web-asset-base-dir: %q
letsencrypt-enabled: false
advanced-rate-limit-requests: 0
log-level: "warn"
accounts-registration-open: false
`, port, port, filepath.Join(opts.Dir, "sqlite.db"), filepath.Join(opts.Dir, "storage"),
		filepath.Join(web, "template")+"/", filepath.Join(web, "assets")+"/")
	if err := os.WriteFile(s.config, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("writing gotosocial config: %w", err)
	}
	logFile, err := os.Create(s.log)
	if err != nil {
		return nil, fmt.Errorf("creating gotosocial log: %w", err)
	}
	s.cmd = exec.Command(bin, "--config-path", s.config, "server", "start")
	s.cmd.Env = append(os.Environ(), "GTS_STATUSES_MAX_CHARS="+strconv.Itoa(opts.MaxChars))
	if c := wazeroCache(); c != "" {
		os.MkdirAll(c, 0o755)
		s.cmd.Env = append(s.cmd.Env, "GTS_WAZERO_COMPILATION_CACHE="+c)
	}
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting gotosocial: %w", err)
	}
	go func() { s.done <- s.cmd.Wait(); logFile.Close() }()
	if err := s.waitReady(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/instance", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			s.done <- err
			return fmt.Errorf("gotosocial exited while starting (%v); log:\n%s", err, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("gotosocial did not answer within 3 minutes; log:\n%s", s.logTail())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Close stops the server (interrupt, then kill after 10 s).
func (s *Server) Close() error {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd = nil
	return nil
}

// admin runs a `gotosocial admin` command against the running server's
// database.
func (s *Server) admin(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"--config-path", s.config, "admin"}, args...)...)
	cmd.Env = os.Environ()
	if c := wazeroCache(); c != "" {
		cmd.Env = append(cmd.Env, "GTS_WAZERO_COMPILATION_CACHE="+c)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("gotosocial admin %s: %w\n%s", strings.Join(args[:2], " "), err, out)
	}
	return nil
}

// User is an account on the server with a read/write token, and what it
// signs in with (for tests that drive the sign-in page themselves).
type User struct {
	Username string
	Token    string
	Email    string
	Password string
}

// CreateUser creates and confirms an account and obtains a token for it
// through the out-of-band OAuth code flow (GoToSocial refuses the password
// grant).
func (s *Server) CreateUser(ctx context.Context, username string) (User, error) {
	email := username + "@example.org"
	password := "Crier-e2e-" + username + "-correct-horse-battery-staple-7"
	if err := s.admin(ctx, "account", "create", "--username", username, "--email", email, "--password", password); err != nil {
		return User{}, err
	}
	if err := s.admin(ctx, "account", "confirm", "--username", username); err != nil {
		return User{}, err
	}
	token, err := s.token(ctx, email, password)
	if err != nil {
		return User{}, fmt.Errorf("getting a token for %s: %w", username, err)
	}
	return User{Username: username, Token: token, Email: email, Password: password}, nil
}

const oob = "urn:ietf:wg:oauth:2.0:oob"

func (s *Server) token(ctx context.Context, email, password string) (string, error) {
	follow := &http.Client{Timeout: 30 * time.Second}

	var app struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := postForm(ctx, follow, s.URL+"/api/v1/apps", url.Values{
		"client_name": {"crier-e2e"}, "redirect_uris": {oob}, "scopes": {"read write"},
	}, http.StatusOK, &app); err != nil {
		return "", fmt.Errorf("registering the app: %w", err)
	}
	q := url.Values{"client_id": {app.ClientID}, "redirect_uri": {oob}, "response_type": {"code"}, "scope": {"read write"}}
	loc, err := s.Authorize(ctx, User{Email: email, Password: password}, s.URL+"/oauth/authorize?"+q.Encode())
	if err != nil {
		return "", err
	}
	code := loc.Query().Get("code")
	if code == "" {
		return "", fmt.Errorf("authorizing: redirect to %s has no code", loc.Path)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := postForm(ctx, follow, s.URL+"/oauth/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "redirect_uri": {oob},
	}, http.StatusOK, &tok); err != nil {
		return "", fmt.Errorf("exchanging the code: %w", err)
	}
	if tok.AccessToken == "" {
		return "", errors.New("no access token in the answer")
	}
	return tok.AccessToken, nil
}

// Authorize does what a person does in a browser on the server's OAuth
// pages: opens authorizeURL, signs in as u, allows the app, and returns
// where the server then sends the browser (the app's redirect address with
// code and state, or with an error).
func (s *Server) Authorize(ctx context.Context, u User, authorizeURL string) (*url.URL, error) {
	jar, _ := cookiejar.New(nil)
	follow := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	noFollow := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, authorizeURL, nil)
	resp, err := follow.Do(req)
	if err != nil {
		return nil, fmt.Errorf("opening the authorize page: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("opening the authorize page: %s", resp.Status)
	}
	if err := postForm(ctx, follow, s.URL+"/auth/sign_in", url.Values{"username": {u.Email}, "password": {u.Password}}, http.StatusOK, nil); err != nil {
		return nil, fmt.Errorf("signing in: %w", err)
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/oauth/authorize", nil)
	resp, err = noFollow.Do(req)
	if err != nil {
		return nil, fmt.Errorf("authorizing: %w", err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		return nil, fmt.Errorf("authorizing: %s without a redirect", resp.Status)
	}
	return loc, nil
}

func postForm(ctx context.Context, c *http.Client, u string, form url.Values, want int, out any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: %s: %s", req.URL.Path, resp.Status, bytes.TrimSpace(body[:min(len(body), 300)]))
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("POST %s: %w", req.URL.Path, err)
		}
	}
	return nil
}

// NewUser creates a uniquely named user, failing the test on error.
func (s *Server) NewUser(t testing.TB) User {
	t.Helper()
	s.mu.Lock()
	s.users++
	name := fmt.Sprintf("crier%d", s.users)
	s.mu.Unlock()
	// Generous: each admin command starts GoToSocial, which is slow on a
	// busy machine.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	u, err := s.CreateUser(ctx, name)
	if err != nil {
		t.Fatalf("gotosocial: %v", err)
	}
	return u
}

// StartT starts a server for a test: it skips the test with a clear
// message when the binary is absent and stops the server when the test
// ends.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	if Binary() == "" {
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatal("CRIER_REQUIRE_PEERS is set but the GoToSocial binary was not found (CRIER_GOTOSOCIAL, $CRIER_CACHE_DIR/gotosocial, ~/.cache/crier-tools/gotosocial)")
		}
		t.Skip("GoToSocial binary not found (set CRIER_GOTOSOCIAL, or build it with .ci/build-gotosocial.sh ~/.cache/crier-tools/gotosocial); skipping end-to-end test")
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting gotosocial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
