package newsletter

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/crierhq/crier/channels"
)

// TestClearTextOnlyToThisMachine: tls: none sends addresses, mail and the
// password unencrypted; it is refused for a host that is not this machine
// unless the config says allow_insecure: true.
func TestClearTextOnlyToThisMachine(t *testing.T) {
	for _, tc := range []struct {
		smtp SMTP
		ok   bool
	}{
		{SMTP{Host: "smtp.example.org", TLS: "none"}, false},
		{SMTP{Host: "10.0.0.5", TLS: "none"}, false},
		{SMTP{Host: "localhost.example.org", TLS: "none"}, false},
		{SMTP{Host: "smtp.example.org", TLS: "none", AllowInsecure: true}, true},
		{SMTP{Host: "localhost", TLS: "none"}, true},
		{SMTP{Host: "127.0.0.1", TLS: "none"}, true},
		{SMTP{Host: "127.1.2.3", TLS: "none"}, true},
		{SMTP{Host: "::1", TLS: "none"}, true},
		{SMTP{Host: "[::1]", TLS: "none"}, true},
		{SMTP{Host: "smtp.example.org", TLS: "starttls"}, true},
		{SMTP{Host: "smtp.example.org", TLS: "tls"}, true},
		{SMTP{Host: "smtp.example.org"}, true},
	} {
		cfg := testConfig()
		cfg.SMTP = tc.smtp
		var found bool
		for _, p := range cfg.Validate() {
			if p.Field == "smtp.tls" && strings.Contains(p.Message, "allow_insecure") {
				found = true
			}
		}
		if found == tc.ok {
			t.Errorf("%+v: refused = %v, want %v", tc.smtp, found, !tc.ok)
		}
		// Every path that sends builds its client here: refused there too.
		_, err := newClient(cfg, time.Second)
		if (err == nil) != tc.ok {
			t.Errorf("%+v: newClient error %v, want refused = %v", tc.smtp, err, !tc.ok)
		}
	}
}

// TestCertificatesAreVerified: with starttls, a server whose certificate
// does not verify gets nothing, not even the address of the recipient.
func TestCertificatesAreVerified(t *testing.T) {
	cert := selfSigned(t)
	var rcpts int
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &countingSession{rcpts: &rcpts}, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	cfg := testConfig()
	cfg.SMTP = SMTP{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, TLS: "starttls"}
	client, err := newClient(cfg, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f, err := newFormatter(cfg, testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	msg := f.newsletterMsg("hello", nil)
	msg.To("ada@example.org")
	msg.SetBodyString("text/plain", "hi")
	s := &Sender{client: client}
	start := time.Now()
	err = s.sendOne(context.Background(), msg)
	t.Logf("refused after %v: %v", time.Since(start), err)
	var ce *channels.Error
	if err == nil || !errors.As(err, &ce) {
		t.Fatalf("send to a server with a self-signed certificate: %v, want refused", err)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want a certificate error", err)
	}
	if rcpts != 0 {
		t.Fatalf("the server was told %d recipients", rcpts)
	}
}

type countingSession struct{ rcpts *int }

func (s *countingSession) Reset()                               {}
func (s *countingSession) Logout() error                        { return nil }
func (s *countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *countingSession) Rcpt(string, *smtp.RcptOptions) error { *s.rcpts++; return nil }
func (s *countingSession) Data(r io.Reader) error               { return nil }

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
