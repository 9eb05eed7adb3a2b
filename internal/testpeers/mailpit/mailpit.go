// Package mailpit starts a real Mailpit (an SMTP server with a REST API) for
// end-to-end tests: on free 127.0.0.1 ports, in a temporary folder, and
// reads what arrived through its API. Tests skip when the binary is absent.
//
// The binary is found through CRIER_MAILPIT, else PATH, else
// /root/go/bin/mailpit (`go install github.com/axllent/mailpit@v1.33.1`).
package mailpit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/crierhq/crier/internal/testnet"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Binary returns the path of the mailpit binary, or "" when it is absent.
func Binary() string {
	if p := os.Getenv("CRIER_MAILPIT"); p != "" {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	for _, p := range []string{"/root/go/bin/mailpit", filepath.Join(os.Getenv("HOME"), "go", "bin", "mailpit")} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// Server is a running Mailpit.
type Server struct {
	// URL is the API and web UI base, http://127.0.0.1:PORT.
	URL string
	// SMTPHost and SMTPPort are where it accepts mail (no TLS, any auth).
	SMTPHost string
	SMTPPort int
	client   *http.Client
}

// Options shape the server.
type Options struct {
	// Chaos enables --enable-chaos, for SetChaos.
	Chaos bool
	// Users, when set, are the only SMTP logins accepted (user name to
	// password); without, any login is.
	Users map[string]string
}

// Start starts Mailpit for the test and stops it when the test ends; it
// skips the test when the binary is absent (fails it when CRIER_REQUIRE_PEERS
// is set, as in CI).
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		const msg = "mailpit not found (set CRIER_MAILPIT, put it on PATH, or `go install github.com/axllent/mailpit@v1.33.1`)"
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatal("CRIER_REQUIRE_PEERS is set but " + msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	httpPort, smtpPort := testnet.FreePort(t), testnet.FreePort(t)
	args := []string{
		"--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--smtp", "127.0.0.1:" + strconv.Itoa(smtpPort),
		"--database", filepath.Join(dir, "mailpit.db"),
		"--max", "0",
		"--disable-version-check", "--smtp-disable-rdns", "--smtp-auth-allow-insecure",
	}
	if len(opts.Users) == 0 {
		args = append(args, "--smtp-auth-accept-any")
	} else {
		var lines []string
		for u, p := range opts.Users {
			lines = append(lines, u+":"+p)
		}
		file := filepath.Join(dir, "smtp-users")
		if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--smtp-auth-file", file)
	}
	if opts.Chaos {
		args = append(args, "--enable-chaos")
	}
	logf, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mailpit: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(httpPort), SMTPHost: "127.0.0.1", SMTPPort: smtpPort,
		client: &http.Client{Timeout: 30 * time.Second}}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := s.client.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "mailpit.log"))
			t.Fatalf("mailpit did not become ready: %v\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// Address is a mail address as the API reports it.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Summary is one message in a listing.
type Summary struct {
	ID        string    `json:"ID"`
	MessageID string    `json:"MessageID"`
	From      Address   `json:"From"`
	To        []Address `json:"To"`
	Subject   string    `json:"Subject"`
}

// Message is one message in full.
type Message struct {
	ID        string    `json:"ID"`
	MessageID string    `json:"MessageID"`
	From      Address   `json:"From"`
	To        []Address `json:"To"`
	ReplyTo   []Address `json:"ReplyTo"`
	Subject   string    `json:"Subject"`
	Text      string    `json:"Text"`
	HTML      string    `json:"HTML"`
	// Inline are the parts shown inside the HTML (cid: images);
	// Attachments the others.
	Inline      []Part `json:"Inline"`
	Attachments []Part `json:"Attachments"`
}

// Part is an inline part or attachment of a message.
type Part struct {
	PartID      string `json:"PartID"`
	FileName    string `json:"FileName"`
	ContentType string `json:"ContentType"`
	ContentID   string `json:"ContentID"`
	Size        int    `json:"Size"`
}

func (s *Server) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit GET %s: %s: %s", path, resp.Status, body)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("mailpit GET %s: decoding: %w", path, err)
	}
	return nil
}

// Count is how many messages Mailpit holds.
func (s *Server) Count(ctx context.Context) (int, error) {
	var r struct {
		Total int `json:"total"`
	}
	err := s.getJSON(ctx, "/api/v1/messages?limit=1", &r)
	return r.Total, err
}

// Messages lists every message, newest first.
func (s *Server) Messages(ctx context.Context) ([]Summary, error) {
	var all []Summary
	for start := 0; ; start += 1000 {
		var r struct {
			Total    int       `json:"total"`
			Messages []Summary `json:"messages"`
		}
		if err := s.getJSON(ctx, "/api/v1/messages?limit=1000&start="+strconv.Itoa(start), &r); err != nil {
			return nil, err
		}
		all = append(all, r.Messages...)
		if len(r.Messages) < 1000 {
			return all, nil
		}
	}
}

// Search lists messages matching a Mailpit search query (e.g. "to:a@b.c").
func (s *Server) Search(ctx context.Context, query string) ([]Summary, error) {
	var r struct {
		Messages []Summary `json:"messages"`
	}
	err := s.getJSON(ctx, "/api/v1/search?limit=1000&query="+url.QueryEscape(query), &r)
	return r.Messages, err
}

// Message returns one message with its text and HTML parts.
func (s *Server) Message(ctx context.Context, id string) (Message, error) {
	var m Message
	err := s.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id), &m)
	return m, err
}

// Headers returns one message's headers.
func (s *Server) Headers(ctx context.Context, id string) (map[string][]string, error) {
	var h map[string][]string
	err := s.getJSON(ctx, "/api/v1/message/"+url.PathEscape(id)+"/headers", &h)
	return h, err
}

// Raw returns one message's source.
func (s *Server) Raw(ctx context.Context, id string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/message/"+url.PathEscape(id)+"/raw", nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailpit raw %s: %w", id, err)
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// PartData returns the decoded bytes of one part of a message.
func (s *Server) PartData(ctx context.Context, id, partID string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/message/"+url.PathEscape(id)+"/part/"+url.PathEscape(partID), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailpit part %s/%s: %w", id, partID, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit part %s/%s: %s", id, partID, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// DeleteAll removes every message.
func (s *Server) DeleteAll(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, s.URL+"/api/v1/messages", nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit delete: %w", err)
	}
	resp.Body.Close()
	return nil
}

// Trigger is one Mailpit chaos trigger: ErrorCode is returned with the
// given Probability (0-100) at that SMTP stage.
type Trigger struct {
	ErrorCode   int `json:"ErrorCode"`
	Probability int `json:"Probability"`
}

// Chaos sets the triggers of each SMTP stage (nil: off).
type Chaos struct {
	Sender         *Trigger `json:"Sender,omitempty"`
	Recipient      *Trigger `json:"Recipient,omitempty"`
	Authentication *Trigger `json:"Authentication,omitempty"`
}

// SetChaos replaces the chaos triggers (the server must run with Chaos).
func (s *Server) SetChaos(ctx context.Context, c Chaos) error {
	off := &Trigger{ErrorCode: 451, Probability: 0}
	if c.Sender == nil {
		c.Sender = off
	}
	if c.Recipient == nil {
		c.Recipient = off
	}
	if c.Authentication == nil {
		c.Authentication = off
	}
	body, _ := json.Marshal(c)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.URL+"/api/v1/chaos", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("mailpit chaos: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("mailpit chaos: %s: %s", resp.Status, b)
	}
	return nil
}
