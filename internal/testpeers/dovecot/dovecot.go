// Package dovecot starts a real Dovecot IMAP server for end-to-end tests:
// on a free 127.0.0.1 port, with a throwaway mailbox in a temporary folder,
// plain IMAP and one user. Tests skip when Dovecot is not installed (Debian
// package dovecot-imapd) and fail instead when CRIER_REQUIRE_PEERS is set.
//
// The binary is found through CRIER_DOVECOT, else PATH, else
// /usr/sbin/dovecot. Dovecot drops privileges to its own users, so the
// tests run it as root (as CI does).
package dovecot

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"

	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Binary returns the dovecot binary, or "" when it is absent.
func Binary() string {
	if p := os.Getenv("CRIER_DOVECOT"); p != "" {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if p, err := exec.LookPath("dovecot"); err == nil {
		return p
	}
	if fi, err := os.Stat("/usr/sbin/dovecot"); err == nil && !fi.IsDir() {
		return "/usr/sbin/dovecot"
	}
	return ""
}

// Server is a running Dovecot with one user and an empty INBOX.
type Server struct {
	Host     string
	Port     int // plain IMAP (STARTTLS offered too)
	User     string
	Password string
	// TLSPort is IMAP over TLS (imaps), with a certificate for 127.0.0.1
	// that CA signed.
	TLSPort int
	CA      *x509.CertPool
}

const config = `base_dir = DIR/run
state_dir = DIR/state
log_path = DIR/log
protocols = imap
first_valid_uid = 100
listen = 127.0.0.1
ssl = yes
ssl_cert = <DIR/cert.pem
ssl_key = <DIR/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:DIR/home/%u/Maildir
service imap-login {
  inet_listener imap {
    port = PORT
  }
  inet_listener imaps {
    port = TLSPORT
    ssl = yes
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN DIR/passwd
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=DIR/home/%u
}
`

func skip(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
		t.Fatal("CRIER_REQUIRE_PEERS is set but " + msg)
	}
	t.Skip(msg)
}

// Start starts Dovecot for the test and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := Binary()
	if bin == "" {
		skip(t, "dovecot not found: install the Debian package dovecot-imapd (apt-get install dovecot-imapd) or set CRIER_DOVECOT")
	}
	if os.Getuid() != 0 {
		skip(t, "the Dovecot tests run Dovecot as root (it switches to its dovecot user); run them as root, as CI does")
	}
	dv, err := user.Lookup("dovecot")
	if err != nil {
		skip(t, "the dovecot user is missing: reinstall the Debian package dovecot-imapd")
	}
	// Dovecot's processes run as its own users and must reach the folder:
	// not t.TempDir, whose parents only the test's user can enter.
	dir, err := os.MkdirTemp("", "crier-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	port, tlsPort := testnet.FreePort(t), testnet.FreePort(t)
	s := &Server{Host: "127.0.0.1", Port: port, TLSPort: tlsPort, User: "bounces", Password: "bounce-box-password"}
	conf := strings.NewReplacer("DIR", dir, "TLSPORT", strconv.Itoa(tlsPort), "PORT", strconv.Itoa(port)).Replace(config)
	certPEM, keyPEM, pool, err := certificate()
	if err != nil {
		t.Fatal(err)
	}
	s.CA = pool
	uid, _ := strconv.Atoi(dv.Uid)
	gid, _ := strconv.Atoi(dv.Gid)
	for _, step := range []error{
		os.Chmod(dir, 0o755),
		os.WriteFile(filepath.Join(dir, "dovecot.conf"), []byte(conf), 0o644),
		os.WriteFile(filepath.Join(dir, "passwd"), []byte(s.User+":{PLAIN}"+s.Password+"\n"), 0o644),
		os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o644),
		os.WriteFile(filepath.Join(dir, "key.pem"), keyPEM, 0o600),
		os.MkdirAll(filepath.Join(dir, "home"), 0o755),
		os.Chown(filepath.Join(dir, "home"), uid, gid),
	} {
		if step != nil {
			t.Fatalf("preparing dovecot: %v", step)
		}
	}
	cmd := exec.Command(bin, "-F", "-c", filepath.Join(dir, "dovecot.conf"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting dovecot: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("dovecot did not start: %v\n%s\n%s", err, out.String(), log)
		}
		time.Sleep(30 * time.Millisecond)
	}
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Client logs in as the user (closed when the test ends).
func (s *Server) Client(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		t.Fatalf("connecting to dovecot: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(s.User, s.Password).Wait(); err != nil {
		t.Fatalf("logging in to dovecot: %v", err)
	}
	return c
}

// Append delivers raw into the user's INBOX, unread.
func (s *Server) Append(t testing.TB, raw []byte) {
	t.Helper()
	c := s.Client(t)
	cmd := c.Append("INBOX", int64(len(raw)), nil)
	if _, err := cmd.Write(raw); err != nil {
		t.Fatalf("appending: %v", err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatalf("appending: %v", err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("appending: %v", err)
	}
	c.Logout().Wait()
}

// Message is one message in INBOX as the test sees it.
type Message struct {
	UID     imap.UID
	Flags   []imap.Flag
	Subject string
}

// Has reports whether the message carries flag.
func (m Message) Has(flag imap.Flag) bool {
	for _, f := range m.Flags {
		if strings.EqualFold(string(f), string(flag)) {
			return true
		}
	}
	return false
}

// Inbox lists INBOX with each message's flags.
func (s *Server) Inbox(t testing.TB) []Message {
	t.Helper()
	c := s.Client(t)
	mb, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatalf("selecting INBOX: %v", err)
	}
	if mb.NumMessages == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.SeqSetNum(seqRange(mb.NumMessages)...), &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatalf("fetching INBOX: %v", err)
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = Message{UID: m.UID, Flags: m.Flags, Subject: m.Envelope.Subject}
	}
	c.Logout().Wait()
	return out
}

func seqRange(n uint32) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i + 1)
	}
	return out
}

// certificate makes a throwaway CA-less certificate for 127.0.0.1 and the
// pool that trusts it.
func certificate() (certPEM, keyPEM []byte, pool *x509.CertPool, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), pool, nil
}
