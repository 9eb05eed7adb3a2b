package newsletter

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	gomail "github.com/wneessen/go-mail"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

// testDKIMSigner is a signer for camaca.org with a fresh key of that kind
// ("ed25519" or "rsa"), and the DNS lookup of its public key.
func testDKIMSigner(t testing.TB, kind string) (*dkimSigner, func(string) ([]string, error)) {
	t.Helper()
	var key crypto.Signer
	var pub []byte
	switch kind {
	case "rsa":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key = k
		pub, _ = x509.MarshalPKIXPublicKey(&k.PublicKey)
	default:
		p, k, _ := ed25519.GenerateKey(rand.Reader)
		key, pub = k, p
	}
	dk, err := newDKIMSigner("camaca.org", "crier", key)
	if err != nil {
		t.Fatal(err)
	}
	txt := "v=DKIM1; k=" + kind + "; p=" + base64.StdEncoding.EncodeToString(pub)
	return dk, func(domain string) ([]string, error) {
		if domain != "crier._domainkey.camaca.org" {
			return nil, fmt.Errorf("no TXT record for %s", domain)
		}
		return []string{txt}, nil
	}
}

// verifyDKIM checks a mail's one signature with go-msgauth's verifier.
func verifyDKIM(mail []byte, lookup func(string) ([]string, error)) error {
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(mail), &dkim.VerifyOptions{LookupTXT: lookup})
	if err != nil {
		return err
	}
	if len(vs) != 1 {
		return fmt.Errorf("%d signatures", len(vs))
	}
	if vs[0].Err != nil {
		return vs[0].Err
	}
	if vs[0].Domain != "camaca.org" {
		return fmt.Errorf("signed for %q", vs[0].Domain)
	}
	return nil
}

// TestDKIMSignatureIsChecked: the verifier the tests use rejects a signed
// mail with a byte changed in its body, in a signed header or in the
// signature (so a test that sees signatures verify sees real ones).
func TestDKIMSignatureIsChecked(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"ed25519", "rsa"} {
		dk, lookup := testDKIMSigner(t, kind)
		mail := []byte("From: a@camaca.org\r\nTo: b@example.org\r\nSubject: hi\r\nList-Unsubscribe: <https://camaca.org/u?t=1>\r\n\r\nHello  there \r\n\r\n")
		sig, err := dk.signMail(mail)
		if err != nil {
			t.Fatal(err)
		}
		signed := append(sig, mail...)
		if err := verifyDKIM(signed, lookup); err != nil {
			t.Fatalf("%s: %v\n%s", kind, err, signed)
		}
		for _, change := range []struct{ what, from, to string }{
			{"body", "Hello", "Hallo"},
			{"signed header", "u?t=1", "u?t=2"},
			{"signature", "; b=", "; b=A"},
		} {
			bad := bytes.Replace(signed, []byte(change.from), []byte(change.to), 1)
			if bytes.Equal(bad, signed) {
				t.Fatalf("%s: nothing changed", change.what)
			}
			if err := verifyDKIM(bad, lookup); err == nil {
				t.Errorf("%s: a mail with its %s changed verified", kind, change.what)
			}
		}
		// A header added above the signed one (a second Subject or
		// List-Unsubscribe, which a mail program may show instead) breaks
		// the signature: each signed field is signed twice over
		// (RFC 6376 8.15).
		for _, added := range []string{"Subject: Your account is suspended\r\n", "List-Unsubscribe: <https://evil.example/u>\r\n", "From: bank@evil.example\r\n"} {
			if err := verifyDKIM(append([]byte(added), signed...), lookup); err == nil {
				t.Errorf("%s: a mail with %q added verified", kind, strings.TrimSpace(added))
			}
		}
		// Canonicalisation: white space runs and trailing empty lines
		// do not count.
		relaxed := bytes.Replace(signed, []byte("Hello  there \r\n\r\n"), []byte("Hello there\r\n"), 1)
		if err := verifyDKIM(relaxed, lookup); err != nil {
			t.Errorf("%s: relaxed body: %v", kind, err)
		}
	}
}

// TestRelaxedBodyMatchesVerifier: the streaming canonicaliser, fed in
// random chunks, some of them canonicalised once (as the send's parts
// are), hashes what go-msgauth's verifier hashes, for bodies of white
// space, empty lines and text.
func TestRelaxedBodyMatchesVerifier(t *testing.T) {
	t.Parallel()
	dk, lookup := testDKIMSigner(t, "ed25519")
	rng := mrand.New(mrand.NewPCG(27, 3))
	tokens := []string{"a", "b", " ", "\t", "\r\n", "=", "  "}
	header := []byte("From: a@camaca.org\r\nTo: b@example.org\r\n")
	for i := range 3000 {
		var body strings.Builder
		for range rng.IntN(40) {
			body.WriteString(tokens[rng.IntN(len(tokens))])
		}
		in := []byte(body.String())
		var c relaxedBody
		c.reset()
		for rest := in; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(12))
			if rng.IntN(2) == 0 {
				c.writeCanon(rest[:k], canonOf(rest[:k]))
			} else {
				_, _ = c.Write(rest[:k])
			}
			rest = rest[k:]
		}
		sig, err := dk.sign(header, c.sum())
		if err != nil {
			t.Fatal(err)
		}
		mail := append(append(append(sig, header...), "\r\n"...), in...)
		if err := verifyDKIM(mail, lookup); err != nil {
			t.Fatalf("case %d, body %q: %v", i, in, err)
		}
	}
}

// TestDKIMSignedSendVerifies: a send's mails (spliced and signed per
// recipient) and a confirmation mail, as the SMTP server received them,
// carry signatures that verify. go-mail's signer, used before, folded its
// h= list inside a header name, and no signature of Crier's verified.
func TestDKIMSignedSendVerifies(t *testing.T) { pgpeer.EachDriver(t, testDKIMSignedSendVerifies) }

func testDKIMSignedSendVerifies(t *testing.T, driver string) {
	ctx := context.Background()
	mp := mailpit.Start(t, mailpit.Options{})
	dk, lookup := testDKIMSigner(t, "rsa")
	der, err := x509.MarshalPKCS8PrivateKey(dk.key)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	fx := newFixture(t, mp, pgpeer.Target(t, driver), func(c *Config) {
		c.DKIM = DKIM{Domain: "camaca.org", Selector: "crier", Key: secret.Secret(pemKey)}
	})
	fx.add(t, "a@example.org", "Ann", subscribers.Confirmed)
	fx.add(t, "zoe@example.org", "Zoë Ångström", subscribers.Confirmed)
	fx.add(t, "noname@example.org", "", subscribers.Confirmed)
	if _, err := fx.send(t, samplePost()); err != nil {
		t.Fatal(err)
	}
	if err := fx.sender.SendConfirmation(ctx, subscribers.Subscriber{ID: 99, Email: "new@example.org", Name: "New"}, "https://news.camaca.org/confirm?t=c.99.1.x"); err != nil {
		t.Fatal(err)
	}
	msgs, err := mp.Messages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 4 {
		t.Fatalf("%d messages, want 3 newsletters and a confirmation", len(msgs))
	}
	for _, m := range msgs {
		raw, err := mp.Raw(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyDKIM(raw, lookup); err != nil {
			t.Errorf("%s: %v", m.Subject, err)
		}
	}
}

// splicing is a sender's spliced mail for a post with body (the sample's
// when empty), in English, signed when key is "rsa" or "ed25519".
type splicing struct {
	s  *Sender
	m  *Message
	pz *personaliser
	sp *splicedMail
}

func newSplicing(t testing.TB, body, key string) *splicing {
	t.Helper()
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	p := samplePost()
	if body != "" {
		p.Body = body
	}
	payload, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	signer := subscribers.NewSigner([]byte("test key, 32 bytes long, really"))
	probe := signer.UnsubscribeURL(testCampaign.PublicURL, subscribers.Subscriber{ID: 1234567, Email: "probe@example.org"})
	var dk *dkimSigner
	if key != "none" {
		dk, _ = testDKIMSigner(t, key)
	}
	msg := f.newsletterMsg(m.Subject, m.inline)
	return &splicing{s: &Sender{f: f, signer: signer, env: channels.Env{Campaign: testCampaign}, dkim: dk, opts: options{now: time.Now}},
		m: m, pz: f.newPersonaliser(m, probe, "en"), sp: newSplicedMail(msg, m.inline, dk)}
}

// personal makes sp the mail to r.
func (x *splicing) personal(t testing.TB, r recipient) io.WriterTo {
	out, err := x.s.personal(x.m, x.pz, r, x.sp.msg.(*gomail.Msg), x.sp)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkSplicedMail is what composing one supporter's copy of the
// benchmark article costs, spliced, unsigned and signed (issue 27: DKIM's
// cost on its own):
//
//	CRIER_EMAIL_BENCH_ARTICLE=$PWD/newsletter/testdata/bench-article.md go test ./newsletter -run '^$' -bench SplicedMail
func BenchmarkSplicedMail(b *testing.B) {
	var body string
	if article := os.Getenv("CRIER_EMAIL_BENCH_ARTICLE"); article != "" {
		b2, err := os.ReadFile(article)
		if err != nil {
			b.Fatal(err)
		}
		body = string(b2)
	}
	for _, key := range []string{"none", "rsa", "ed25519"} {
		b.Run(key, func(b *testing.B) {
			x := newSplicing(b, body, key)
			var size int64
			b.ResetTimer()
			for i := range b.N {
				out := x.personal(b, recipient{id: int64(i + 1), email: "supporter" + strconv.Itoa(i) + "@example.org", name: "Supporter " + strconv.Itoa(i), language: "en"})
				n, err := out.WriteTo(io.Discard)
				if err != nil {
					b.Fatal(err)
				}
				size = n
			}
			b.ReportMetric(float64(size), "bytes/mail")
		})
	}
}

// TestSplicedMailWritesItsDataInRuns: a spliced mail, signed or not, goes
// to the connection through the stuffer, and only its last bytes through
// the connection's DATA writer (which writes a call per byte). A signed
// mail went through the DATA writer whole.
func TestSplicedMailWritesItsDataInRuns(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"none", "ed25519"} {
		x := newSplicing(t, "", key)
		x.personal(t, recipient{id: 1, email: "ann@example.org", name: "Ann"})
		var wire bytes.Buffer
		bw := bufio.NewWriter(&wire)
		dot := &countingWriter{w: textproto.NewWriter(bw).DotWriter()}
		if err := x.sp.writeData(bw, dot); err != nil {
			t.Fatal(err)
		}
		if dot.n > 2 {
			t.Errorf("%s: %d bytes went through the DATA writer, want only the last 2", key, dot.n)
		}
	}
}
