package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestStopWaitsForTheBounceReader stops the daemon while its bounce mailbox
// reader is stuck on a server that accepted the connection and says
// nothing: the daemon returns only after the reader has hung up and ended.
func TestStopWaitsForTheBounceReader(t *testing.T) {
	t.Parallel()
	mp := mailpit.Start(t, mailpit.Options{})
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()

	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	addr := testnet.FreeAddr(t)
	cfg := b.cfg
	os.WriteFile(cfg, []byte(mailpitConfig(addr, mp, "", fmt.Sprintf(`    bounces:
      address: bounces@camaca.example
      imap: {host: 127.0.0.1, port: %d, tls: tls, username: bounces, password: secret, poll: 10s}
`, silent.Addr().(*net.TCPAddr).Port))), 0o644)

	logs, stop := b.startStoppable("http://"+addr+"/healthz", http.DefaultClient)
	var conn net.Conn
	select {
	case conn = <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("the bounce reader never connected")
	}
	defer conn.Close()
	stop()

	// The reader hung up before the daemon returned: the server reads the
	// end of the connection at once (the reader itself would have waited
	// for its 30 s handshake timeout).
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the bounce reader still held its connection after the daemon returned\n%s", logs.String())
	}
	all := logs.String()
	if i, j := strings.Index(all, "bounce mailbox reader stopped"), strings.Index(all, "crier stopped"); i < 0 || j < 0 || i > j {
		t.Errorf("the daemon must log the reader's end before its own:\n%s", all)
	}
}
