package bounces_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/config/secret"
)

// selfSigned is a server certificate for 127.0.0.1 and the pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "imap test"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestReaderDialsEveryWay reads an empty mailbox over implicit TLS and
// STARTTLS from an in-memory IMAP server: the dial under the reader's
// context keeps both working.
func TestReaderDialsEveryWay(t *testing.T) {
	t.Parallel()
	cert, pool := selfSigned(t)
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}}
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("bounces", "secret")
	user.Create("INBOX", nil)
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:      imap.CapSet{imap.CapIMAP4rev1: {}},
		TLSConfig: serverTLS,
		Logger:    log.New(io.Discard, "", 0),
	})
	t.Cleanup(func() { srv.Close() })
	implicit, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(implicit)
	go srv.Serve(plain)

	p, _ := setup(t, bounces.Config{Address: bounceAddress})
	for mode, ln := range map[string]net.Listener{"tls": implicit, "starttls": plain} {
		cfg := bounces.IMAP{Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, TLS: mode, Username: "bounces", Password: secret.Secret("secret")}
		r := bounces.NewReader(cfg, p, nil)
		r.TLSConfig = &tls.Config{RootCAs: pool}
		if sum, err := r.Poll(context.Background()); err != nil || len(sum) != 0 {
			t.Errorf("%s: %v %v", mode, sum, err)
		}
		untrusted := bounces.NewReader(cfg, p, nil)
		if _, err := untrusted.Poll(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("%s: a certificate nobody vouches for was accepted: %v", mode, err)
		}
	}
}

// TestPollGivesUpWithItsContext: a server that accepts the connection and
// says nothing holds a read only until its context ends, not for the 30 s
// the handshake may take.
func TestPollGivesUpWithItsContext(t *testing.T) {
	t.Parallel()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	p, _ := setup(t, bounces.Config{Address: bounceAddress})
	for _, mode := range []string{"tls", "starttls", "none"} {
		r := bounces.NewReader(bounces.IMAP{Host: "127.0.0.1", Port: silent.Addr().(*net.TCPAddr).Port, TLS: mode, Username: "bounces", Password: secret.Secret("secret")}, p, nil)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { _, err := r.Poll(ctx); done <- err }()
		time.Sleep(50 * time.Millisecond) // let it connect; it gives up either way
		cancel()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: a poll that never logged in succeeded", mode)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the poll did not give up when its context ended", mode)
		}
	}
}
