package newsletter

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"net/mail"
	"net/textproto"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/subscribers"
	gomail "github.com/wneessen/go-mail"
)

// TestSplicedMailMatchesFullRendering holds the send's fast path (the
// parts encoded once per send, a recipient's lines encoded alone and
// spliced in: encoded.go) to the slow one: the templates run for the
// recipient and go-mail encoding the whole mail. Byte for byte, for names
// with characters the escaper and the encoder rewrite, long addresses and
// ids (links of several lengths), in every language.
func TestSplicedMailMatchesFullRendering(t *testing.T) {
	t.Parallel()
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	p := samplePost()
	// Long lines, non-ASCII text, '=' and trailing spaces: the encoder
	// wraps, escapes and encodes them.
	p.Body = strings.Repeat("Ünë lóng sentence with “quotes”, = signs and ümlauts that runs past the encoder's 76 columns. ", 12) +
		"  \n\nA line ending in spaces   \n\n" + strings.Repeat("¡Señal! ", 40) + "\n\n> quoted — text\n"
	payload, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	m := payload.Body.(*Message)
	// A picture carried in the mail, spliced in too.
	m.inline = append(m.inline, inlineImage{CID: "pic@crier", Name: "pic.png", ContentType: "image/png", Data: bytes.Repeat([]byte("\x89PNG picture bytes "), 300)})
	signer := subscribers.NewSigner([]byte("test key, 32 bytes long, really"))
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	probe := signer.UnsubscribeURL(testCampaign.PublicURL, subscribers.Subscriber{ID: 1234567, Email: "probe@example.org"})
	recipients := []recipient{
		{id: 1, email: "ann@example.org", name: "Ann"},
		{id: 42, email: "zoe@example.org", name: "Zoë Ångström-Ñúñez"},
		{id: 987654321012, email: "a.very.long.address.with.many.dotted.parts.to.cross.the.line@mail.subdomain.example.org", name: `O'Brien & Sons <ceo> "Big" +1 = 2`},
		{id: 7, email: "li@example.org", name: "李小龙 " + strings.Repeat("Ŵ", 120)},
		{id: 123456789, email: "noname@example.org", name: ""},
	}
	for _, key := range []string{"", "ed25519", "rsa"} {
		var dk *dkimSigner
		var lookup func(string) ([]string, error)
		if key != "" {
			dk, lookup = testDKIMSigner(t, key)
			dk.now = func() time.Time { return now }
		}
		s := &Sender{f: f, signer: signer, env: channels.Env{Campaign: testCampaign}, dkim: dk, opts: options{now: func() time.Time { return now }}}
		for _, lang := range []string{"en", "fr", "es", "de"} {
			pz := f.newPersonaliser(m, probe, lang)
			if !pz.fast || !pz.encoded {
				t.Fatalf("%s: the send would not use the encodings made once (fast %v, encoded %v)", lang, pz.fast, pz.encoded)
			}
			fastMsg := f.newsletterMsg(m.Subject, m.inline)
			sp := newSplicedMail(fastMsg, m.inline, dk)
			for _, r := range recipients {
				// The slow way: the templates for this recipient, and go-mail
				// encoding the whole mail, signed whole.
				unsub := signer.UnsubscribeURL(testCampaign.PublicURL, subscribers.Subscriber{ID: r.id, Email: r.email, Name: r.name})
				htmlOut, textOut, err := f.personal(m, lang, r.name, unsub)
				if err != nil {
					t.Fatal(err)
				}
				slow, err := f.build(m.Subject, htmlOut, textOut, &mail.Address{Name: r.name, Address: r.email},
					messageID(m.SendID, strconv.FormatInt(r.id, 10), f.domain), now, unsub, m.inline)
				if err != nil {
					t.Fatal(err)
				}
				slow.SetBoundary("fixed-boundary")
				var slowOut io.WriterTo = slow
				if dk != nil {
					slowOut = signedMsg{msg: slow, dkim: dk}
				}
				var want bytes.Buffer
				if _, err := slowOut.WriteTo(&want); err != nil {
					t.Fatal(err)
				}

				out, err := s.personal(m, pz, r, fastMsg, sp)
				if err != nil {
					t.Fatal(err)
				}
				if out != sp {
					t.Fatalf("%s, subscriber %d: the mail was not spliced", lang, r.id)
				}
				fastMsg.SetBoundary("fixed-boundary")
				var got bytes.Buffer
				if _, err := out.WriteTo(&got); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Errorf("%s %s, subscriber %d: the spliced mail differs from the full rendering at byte %d:\n got: %q\nwant: %q",
						key, lang, r.id, firstDiff(got.Bytes(), want.Bytes()), around(got.Bytes(), want.Bytes()), around(want.Bytes(), got.Bytes()))
				}
				// On the wire: what the connection's DATA writer makes of
				// the slow mail, from the fast path's stuffer and writer.
				if gotData, wantData := dataOf(t, sp.writeData), dataOf(t, func(_ *bufio.Writer, dot io.Writer) error {
					_, err := dot.Write(want.Bytes())
					return err
				}); !bytes.Equal(gotData, wantData) {
					t.Errorf("%s %s, subscriber %d: the spliced mail's SMTP data differs at byte %d:\n got: %q\nwant: %q",
						key, lang, r.id, firstDiff(gotData, wantData), around(gotData, wantData), around(wantData, gotData))
				}
				if !bytes.Contains(got.Bytes(), []byte("=\r\n")) {
					t.Errorf("%s: the test's mail has no soft line breaks, so it does not exercise the encoder's wrapping", lang)
				}
				if !bytes.Contains(got.Bytes(), base64Lines(m.inline[0].Data)) {
					t.Errorf("%s: the picture is not in the mail", lang)
				}
				if dk != nil {
					// Both verify (they are the same bytes; the slow one
					// is checked in case they are not).
					for which, b := range map[string][]byte{"spliced": got.Bytes(), "slow": want.Bytes()} {
						if err := verifyDKIM(b, lookup); err != nil {
							t.Errorf("%s %s, subscriber %d: the %s mail's signature: %v", key, lang, r.id, which, err)
						}
					}
				}
			}
		}
	}
}

// dataOf is what write sends as SMTP DATA, ended, given the connection's
// buffer and its DATA writer.
func dataOf(t *testing.T, write func(bw *bufio.Writer, dot io.Writer) error) []byte {
	t.Helper()
	var wire bytes.Buffer
	bw := bufio.NewWriter(&wire)
	dot := textproto.NewWriter(bw).DotWriter()
	if err := write(bw, dot); err != nil {
		t.Fatal(err)
	}
	if err := dot.Close(); err != nil {
		t.Fatal(err)
	}
	return wire.Bytes()
}

// TestDotStufferMatchesTextproto: the stuffer writes what net/textproto's
// DotWriter writes, for text full of dots and line ends of every kind,
// whatever the chunks it comes in.
func TestDotStufferMatchesTextproto(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(27, 1))
	alphabet := []byte("ab.\r\n=-")
	for i := range 2000 {
		in := make([]byte, rng.IntN(200))
		for j := range in {
			in[j] = alphabet[rng.IntN(len(alphabet))]
		}
		var want, got bytes.Buffer
		wbw := bufio.NewWriter(&want)
		wd := textproto.NewWriter(wbw).DotWriter()
		gbw := bufio.NewWriter(&got)
		gd := &dotStuffer{w: gbw}
		for rest := in; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(40))
			if _, err := wd.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			if _, err := gd.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		_ = wbw.Flush()
		_ = gbw.Flush()
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("case %d, %q: stuffer wrote %q, textproto %q", i, in, got.Bytes(), want.Bytes())
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// around is a's bytes near where it first differs from b.
func around(a, b []byte) string {
	i := firstDiff(a, b)
	return string(a[max(0, i-60):min(len(a), i+60)])
}

// TestEncodeLinesFallsBack: a rendering whose lines the encoder does not
// start afresh (a lone "\r" before an encoded byte and the line's end) is
// caught by the check on the probe recipients, and the send encodes every
// copy whole instead.
func TestEncodeLinesFallsBack(t *testing.T) {
	t.Parallel()
	rendering := "Hello " + nameStandIn + "\r\xff\nnext line, long enough to be wrapped by the encoder at its 76 columns: " + unsubStandIn + "\n"
	pz := &personaliser{fast: true}
	segs := cut(rendering)
	pz.namedHTML, pz.namedText, pz.namelessHTML, pz.namelessText = segs, segs, segs, segs
	enc := encodeLines(rendering)
	pz.encNamedHTML, pz.encNamedText, pz.encNamelessHTML, pz.encNamelessText = enc, enc, enc, enc
	if pz.encodingHolds("https://x.invalid/unsubscribe?t=abc") {
		t.Fatal("the encodings made once were trusted for a rendering the encoder does not split at line ends")
	}
}

// TestInlineImageEncodedOnceMatchesGoMail: a picture carried in the mail,
// encoded once for the send and spliced in, gives byte for byte what
// go-mail's own encoding of every copy gives, for sizes around the line
// length and the encoder's 3-byte groups, and two pictures.
func TestInlineImageEncodedOnceMatchesGoMail(t *testing.T) {
	t.Parallel()
	f, err := newFormatter(testConfig(), testCampaign)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(27, 2))
	picture := func(size int) []byte {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.IntN(256))
		}
		return data
	}
	for _, size := range []int{1, 2, 3, 56, 57, 58, 114, 1000, 70001} {
		inline := []inlineImage{{CID: "abc@crier", Name: "pic.png", ContentType: "image/png", Data: picture(size)},
			{CID: "def@crier", Name: "two.jpg", ContentType: "image/jpeg", Data: picture(size + 1)}}
		write := func(m *gomail.Msg, out io.WriterTo) []byte {
			if err := f.personalise(m, &mail.Address{Address: "a@example.org"}, "<id@x>", time.Unix(0, 0), "https://x.example/u?t=1", "mailto:u@x.example", stringBody("<p>hi</p>"), stringBody("hi")); err != nil {
				t.Fatal(err)
			}
			m.SetBoundary("fixed-boundary")
			var b bytes.Buffer
			if _, err := out.WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			return b.Bytes()
		}
		slow := f.newsletterMsg("S", inline)
		want := write(slow, slow)
		fast := f.newsletterMsg("S", inline)
		sp := newSplicedMail(fast, inline, nil)
		sp.marking = true
		for range 2 {
			if got := write(fast, sp); !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: the mail differs from go-mail's encoding at byte %d:\n got: %q\nwant: %q", size, firstDiff(got, want), around(got, want), around(want, got))
			}
		}
		// go-mail wrote only the stand-ins.
		if hdr, _ := sp.header(); size > 10000 && len(hdr) > 5000 {
			t.Errorf("%d bytes: go-mail wrote %d bytes: it still encodes the picture", size, len(hdr))
		}
	}
}
