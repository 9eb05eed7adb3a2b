// Package dendrite starts a real Matrix homeserver (Dendrite v0.13.8) for
// end-to-end tests: on a free 127.0.0.1 port, in a temporary folder with
// SQLite files, server name "localhost", registration closed; it makes
// users (with access tokens) and rooms, and reads a room's messages back as
// one of its members.
//
// The binaries (dendrite, generate-config, generate-keys, create-account)
// are found in the folder CRIER_DENDRITE names, else $CRIER_CACHE_DIR/dendrite,
// else ~/.cache/crier-tools/dendrite, where .ci/run builds them. Tests skip
// when they are absent, unless CRIER_REQUIRE_PEERS is set (CI), which makes
// their absence a failure.
package dendrite

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Version is the Dendrite release the tests run.
const Version = "v0.13.8"

// tools are the binaries the folder must hold.
var tools = []string{"dendrite", "generate-config", "generate-keys", "create-account"}

const install = "GOBIN=~/.cache/crier-tools/dendrite go install " +
	"github.com/matrix-org/dendrite/cmd/dendrite@" + Version + " " +
	"github.com/matrix-org/dendrite/cmd/generate-config@" + Version + " " +
	"github.com/matrix-org/dendrite/cmd/generate-keys@" + Version + " " +
	"github.com/matrix-org/dendrite/cmd/create-account@" + Version

// Dir returns the folder holding the four binaries, or "" when none does.
func Dir() string {
	var candidates []string
	if d := os.Getenv("CRIER_DENDRITE"); d != "" {
		candidates = append(candidates, d)
	}
	if d := os.Getenv("CRIER_CACHE_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "dendrite"))
	}
	if d, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(d, "crier-tools", "dendrite"))
	}
next:
	for _, d := range candidates {
		for _, tool := range tools {
			if fi, err := os.Stat(filepath.Join(d, tool)); err != nil || fi.IsDir() {
				continue next
			}
		}
		return d
	}
	return ""
}

// Options shape the server.
type Options struct {
	// RateLimit, when above zero, turns Dendrite's rate limit on: a user
	// may make that many requests before it answers 429 M_LIMIT_EXCEEDED
	// (with retry_after_ms) until CoolOff has passed.
	RateLimit int
	CoolOff   time.Duration
}

// Server is a running Dendrite.
type Server struct {
	// URL is the client-server API's base, http://127.0.0.1:PORT.
	URL    string
	bin    string
	dir    string // holds the config, whose paths are relative to it
	config string
	client *http.Client

	mu    sync.Mutex
	users int
}

// User is an account with an access token.
type User struct {
	// ID is the full Matrix ID, @name:localhost.
	ID    string
	Token string
}

// Start starts Dendrite for the test and stops it when the test ends; it
// skips the test when the binaries are absent (fails it when
// CRIER_REQUIRE_PEERS is set, as in CI).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Dir()
	if bin == "" {
		msg := "Dendrite not found (set CRIER_DENDRITE to a folder with dendrite, generate-config, generate-keys and create-account, or build them: " + install + ")"
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatal("CRIER_REQUIRE_PEERS is set but " + msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	s := &Server{bin: bin, dir: dir, config: filepath.Join(dir, "dendrite.yaml"), client: &http.Client{Timeout: 30 * time.Second}}
	if out, err := exec.Command(filepath.Join(bin, "generate-keys"), "--private-key", filepath.Join(dir, "matrix_key.pem")).CombinedOutput(); err != nil {
		t.Fatalf("dendrite generate-keys: %v\n%s", err, out)
	}
	cfg, err := exec.Command(filepath.Join(bin, "generate-config"), "-ci", "-dir", dir, "-server", "localhost").Output()
	if err != nil {
		t.Fatalf("dendrite generate-config: %v", err)
	}
	if err := os.WriteFile(s.config, adjust(cfg, opts), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	logPath := filepath.Join(dir, "dendrite.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "dendrite"), "-config", s.config, "-http-bind-address", "127.0.0.1:"+strconv.Itoa(port))
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dendrite: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		logf.Close()
	})
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if resp, err := s.client.Get(s.URL + "/_matrix/client/versions"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logPath)
			t.Fatalf("dendrite exited while starting:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("dendrite did not answer within a minute:\n%s", log)
		}
	}
}

// adjust edits the generated config: registration closed (Dendrite will
// not start with open registration and no captcha), quiet logs, and the
// rate limit as asked.
func adjust(cfg []byte, opts Options) []byte {
	s := strings.Replace(string(cfg), "registration_disabled: false", "registration_disabled: true", 1)
	s = regexp.MustCompile(`(?m)^(\s+level:) trace$`).ReplaceAllString(s, "$1 warn")
	if opts.RateLimit > 0 {
		coolOff := max(opts.CoolOff, time.Millisecond)
		s = regexp.MustCompile(`(?m)^(  rate_limiting:\n    enabled:) false\n    threshold: \d+\n    cooloff_ms: \d+`).
			ReplaceAllString(s, fmt.Sprintf("$1 true\n    threshold: %d\n    cooloff_ms: %d", opts.RateLimit, coolOff.Milliseconds()))
	}
	return []byte(s)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var tokenLine = regexp.MustCompile(`AccessToken: ([^)\s]+)\)`)

// NewUser creates a uniquely named account (create-account, with the
// config's shared secret) and returns it with its access token.
func (s *Server) NewUser(t testing.TB) User {
	t.Helper()
	s.mu.Lock()
	s.users++
	name := fmt.Sprintf("user%d", s.users)
	s.mu.Unlock()
	cmd := exec.Command(filepath.Join(s.bin, "create-account"), "-config", s.config, "-url", s.URL, "-username", name, "-passwordstdin")
	cmd.Dir = s.dir
	cmd.Stdin = strings.NewReader(Password(name) + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("dendrite create-account %s: %v\n%s", name, err, out)
	}
	m := tokenLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("dendrite create-account %s printed no access token:\n%s", name, out)
	}
	return User{ID: "@" + name + ":localhost", Token: string(m[1])}
}

// CreateRoom makes a room owned by u: public (anyone may join) or private
// (invitation only), with the local alias #alias:localhost when alias is
// not empty. It returns the room's ID.
func (s *Server) CreateRoom(t testing.TB, u User, alias string, public bool) string {
	t.Helper()
	body := map[string]any{"preset": "private_chat"}
	if public {
		body["preset"] = "public_chat"
	}
	if alias != "" {
		body["room_alias_name"] = alias
	}
	var out struct {
		RoomID string `json:"room_id"`
	}
	s.call(t, u, http.MethodPost, "/_matrix/client/v3/createRoom", body, &out)
	return out.RoomID
}

// Join makes u a member of the room (an ID or an alias).
func (s *Server) Join(t testing.TB, u User, room string) {
	t.Helper()
	s.call(t, u, http.MethodPost, "/_matrix/client/v3/join/"+url.PathEscape(room), struct{}{}, nil)
}

// Event is one m.room.message in a room.
type Event struct {
	ID      string `json:"event_id"`
	Sender  string `json:"sender"`
	Content struct {
		MsgType       string `json:"msgtype"`
		Body          string `json:"body"`
		Format        string `json:"format"`
		FormattedBody string `json:"formatted_body"`
	} `json:"content"`
}

// Messages returns the room's last 100 m.room.message events, oldest
// first, read as u (a member).
func (s *Server) Messages(t testing.TB, u User, roomID string) []Event {
	t.Helper()
	// Wait until the sync API has caught up with every send before now
	// (see Events): a send answered is not yet readable.
	s.Events(t, u, roomID)
	var out struct {
		Chunk []struct {
			Type string `json:"type"`
			Event
		} `json:"chunk"`
	}
	s.call(t, u, http.MethodGet, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/messages?dir=b&limit=100", nil, &out)
	var events []Event
	for i := len(out.Chunk) - 1; i >= 0; i-- {
		if out.Chunk[i].Type == "m.room.message" {
			events = append(events, out.Chunk[i].Event)
		}
	}
	return events
}

// call makes one client-server API request as u, failing the test unless
// it answers 200.
func (s *Server) call(t testing.TB, u User, method, path string, body, out any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if u.Token != "" {
		req.Header.Set("Authorization", "Bearer "+u.Token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("dendrite %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("dendrite %s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("dendrite %s %s: %v", method, path, err)
		}
	}
}

// RawEvent is any event of a room as a member reads it, its content
// undecoded: edits, reactions, redactions and images included.
// (It mirrors matrixroom.Event, which it cannot import: matrixroom's own
// tests start this server.)
type RawEvent struct {
	ID       string         `json:"event_id"`
	Type     string         `json:"type"`
	Sender   string         `json:"sender"`
	Content  map[string]any `json:"content"`
	Unsigned map[string]any `json:"unsigned"`
}

// Redacted reports whether the event was redacted (its content emptied).
func (e RawEvent) Redacted() bool {
	_, ok := e.Unsigned["redacted_because"]
	return ok
}

// Events returns all the room's events of every type, oldest first,
// read as u (a member).
func (s *Server) Events(t testing.TB, u User, roomID string) []RawEvent {
	t.Helper()
	// Dendrite's sync API, which answers /messages, learns of events from
	// the room server a moment after a send has answered; it learns of
	// them in order, so once a marker sent now shows, every event and
	// redaction sent before it does too.
	marker := s.Send(t, u, roomID, markerType, map[string]any{})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		all, seen := s.events(t, u, roomID), false
		events := all[:0:0]
		for _, e := range all {
			seen = seen || e.ID == marker
			if e.Type != markerType {
				events = append(events, e)
			}
		}
		if seen {
			return events
		}
		if time.Now().After(deadline) {
			t.Fatalf("dendrite: room %s did not show a marker event within 30 seconds", roomID)
		}
	}
}

// markerType is the type of the events Events sends to know the room is
// read whole; Events leaves them out.
const markerType = "org.crierhq.test.marker"

func (s *Server) events(t testing.TB, u User, roomID string) []RawEvent {
	t.Helper()
	var events []RawEvent
	from := ""
	for page := 0; page < 100; page++ {
		var out struct {
			Chunk []RawEvent `json:"chunk"`
			End   string     `json:"end"`
		}
		path := "/_matrix/client/v3/rooms/" + url.PathEscape(roomID) + "/messages?dir=b&limit=50"
		if from != "" {
			path += "&from=" + url.QueryEscape(from)
		}
		s.call(t, u, http.MethodGet, path, nil, &out)
		for _, e := range out.Chunk {
			events = append([]RawEvent{e}, events...)
		}
		if len(out.Chunk) == 0 || out.End == "" || out.End == from {
			break
		}
		from = out.End
	}
	return events
}

// CreateRoomWith makes a room owned by u from a createRoom request body
// (a preset, power_level_content_override) and returns its ID.
func (s *Server) CreateRoomWith(t testing.TB, u User, body map[string]any) string {
	t.Helper()
	var out struct {
		RoomID string `json:"room_id"`
	}
	s.call(t, u, http.MethodPost, "/_matrix/client/v3/createRoom", body, &out)
	return out.RoomID
}

// Login signs u in again with its password: a second access token (a
// second device) of the same account.
func (s *Server) Login(t testing.TB, u User) User {
	t.Helper()
	name := strings.TrimPrefix(strings.SplitN(u.ID, ":", 2)[0], "@")
	var out struct {
		Token string `json:"access_token"`
	}
	body := map[string]any{"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": name}, "password": Password(name)}
	s.call(t, User{}, http.MethodPost, "/_matrix/client/v3/login", body, &out)
	return User{ID: u.ID, Token: out.Token}
}

// Send sends an event of type typ with content to the room as u (a
// member: a reaction, a reply) and returns its ID.
func (s *Server) Send(t testing.TB, u User, roomID, typ string, content any) string {
	t.Helper()
	s.mu.Lock()
	s.users++ // a counter unique per server serves as the transaction ID
	txn := fmt.Sprintf("test-%d", s.users)
	s.mu.Unlock()
	var out struct {
		EventID string `json:"event_id"`
	}
	s.call(t, u, http.MethodPut, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/send/"+url.PathEscape(typ)+"/"+txn, content, &out)
	return out.EventID
}

// Invite invites who to the room as u.
func (s *Server) Invite(t testing.TB, u User, roomID, who string) {
	t.Helper()
	s.call(t, u, http.MethodPost, "/_matrix/client/v3/rooms/"+url.PathEscape(roomID)+"/invite", map[string]string{"user_id": who}, nil)
}

// Password is the password NewUser gave the account named name ("user3"),
// for tests that log in.
func Password(name string) string { return "Crier-e2e-" + name + "-correct-horse" }
