// Package testnet provides what tests of network servers share: a free
// loopback port to start a server on, and waiting until something holds
// (a server answers, a mail arrives) instead of sleeping a fixed time.
package testnet

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// Port returns a loopback TCP port that was free a moment ago.
func Port() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// FreePort is Port for a test, which fails when there is none.
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := Port()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// FreeAddr is a free loopback address, host:port.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

// WaitFor polls cond every 50ms until it holds, and fails the test when it
// still does not after bound (which bounds a broken run only).
func WaitFor(t testing.TB, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	if !Poll(bound, cond) {
		t.Fatalf("%s: not within %s", what, bound)
	}
}

// Poll polls cond every 50ms until it holds (true) or bound passes (false).
func Poll(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
