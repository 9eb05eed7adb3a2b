package testnet

import (
	"net"
	"strconv"
	"testing"
	"time"
)

func TestFreeAddrCanBeListenedOn(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", FreeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if p := FreePort(t); p <= 0 || p > 65535 {
		t.Fatalf("port %s", strconv.Itoa(p))
	}
}

func TestPoll(t *testing.T) {
	t.Parallel()
	n := 0
	if !Poll(time.Minute, func() bool { n++; return n == 3 }) || n != 3 {
		t.Fatalf("Poll stopped after %d calls", n)
	}
	if Poll(10*time.Millisecond, func() bool { return false }) {
		t.Fatal("Poll held for a condition that never holds")
	}
}
