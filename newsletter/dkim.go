package newsletter

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Crier signs its mails with DKIM itself (RFC 6376, relaxed/relaxed, the
// canonicalisation go-mail's signer used by default) rather than through
// go-mail, for two reasons. go-mail signs what it writes, so a send's
// spliced mails (encoded.go) would have to be written whole by go-mail
// again; here the body hash is taken as the mail is spliced, with the
// parts encoded once per send canonicalised once too, and the signature
// is the only work per copy besides hashing its bytes (issue 27). And
// go-mail's signer folds its DKIM-Signature at 76 columns wherever that
// falls, inside a header name of the h= list too ("List-I" CRLF " d"),
// which a verifier reads as another name: with Crier's eleven signed
// headers none of its signatures verified. This one folds only where the
// grammar allows white space (between tags, after a ":" of h=, inside
// base64).

// dkimSigner signs mails for one domain and selector.
type dkimSigner struct {
	domain, selector string
	key              crypto.Signer
	algo             string
	headers          []string
	// now is the signature's timestamp (t=); tests fix it.
	now func() time.Time
}

// signedFields are the header fields signed: go-mail's defaults and the
// list headers, which a forwarder must not be able to change.
var signedFields = []string{"From", "To", "Subject", "Date", "Message-ID", "Reply-To", "Content-Type", "MIME-Version",
	"List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"}

// dkimHeaders names each signed field twice: a verifier checks a field's
// last copy only, so a second Subject or List-Unsubscribe added above the
// signed one would still verify, and many mail programs show the first.
// The second name signs the field's absence (RFC 6376 5.4, 8.15).
var dkimHeaders = append(slices.Clone(signedFields), signedFields...)

// newDKIMSigner is a signer with key, which must be RSA or Ed25519.
func newDKIMSigner(domain, selector string, key crypto.Signer) (*dkimSigner, error) {
	d := &dkimSigner{domain: domain, selector: selector, key: key, headers: dkimHeaders, now: time.Now}
	switch key.(type) {
	case *rsa.PrivateKey:
		d.algo = "rsa-sha256"
	case ed25519.PrivateKey:
		d.algo = "ed25519-sha256"
	default:
		return nil, errors.New("the key is neither RSA nor Ed25519")
	}
	if strings.ContainsAny(domain+selector, "; \t\r\n") {
		return nil, errors.New("the domain and selector cannot hold spaces or ';'")
	}
	return d, nil
}

// sign is the DKIM-Signature field, with its line end, for a mail whose
// header (fields and their line ends, without the blank line after them)
// is header and whose body's relaxed canonical form hashes to bodyHash.
func (d *dkimSigner) sign(header []byte, bodyHash []byte) ([]byte, error) {
	var f strings.Builder
	col := 0
	put := func(s string, breakable bool) {
		if col+len(s) > 76 && col > 1 && breakable {
			f.WriteString("\r\n ")
			col = 1
		}
		f.WriteString(s)
		col += len(s)
	}
	put("DKIM-Signature: v=1;", false)
	put(" c=relaxed/relaxed;", true)
	put(" d="+d.domain+";", true)
	put(" s="+d.selector+";", true)
	put(" a="+d.algo+";", true)
	put(" t="+strconv.FormatInt(d.now().Unix(), 10)+";", true)
	for i, h := range d.headers {
		switch {
		case i == 0:
			put(" h="+h, true)
		default:
			put(":"+h, true)
		}
	}
	put(";", false)
	bh := base64.StdEncoding.EncodeToString(bodyHash)
	put(" bh="+bh+";", true)
	put(" b=", true)

	// The hash covers the signed fields, bottom-up for repeated names,
	// and this field with b= empty, as the verifier will see it.
	fields := headerFields(header)
	hs := sha256.New()
	for _, name := range d.headers {
		if v, ok := fields.pop(name); ok {
			hs.Write(relaxedHeader(v))
			hs.Write([]byte("\r\n"))
		}
	}
	hs.Write(relaxedHeader(f.String()))
	sum := hs.Sum(nil)
	var sig []byte
	var err error
	switch k := d.key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, sum)
	default:
		sig, err = k.Sign(rand.Reader, sum, crypto.SHA256)
	}
	if err != nil {
		return nil, err
	}
	for b := base64.StdEncoding.EncodeToString(sig); b != ""; {
		if col >= 76 {
			f.WriteString("\r\n ")
			col = 1
		}
		n := min(len(b), 76-col)
		f.WriteString(b[:n])
		col += n
		b = b[n:]
	}
	f.WriteString("\r\n")
	return []byte(f.String()), nil
}

// signMail signs a whole mail (header, blank line, body).
func (d *dkimSigner) signMail(mail []byte) ([]byte, error) {
	header, body := mail, []byte(nil)
	if i := bytes.Index(mail, []byte("\r\n\r\n")); i >= 0 {
		header, body = mail[:i+2], mail[i+4:]
	}
	var c relaxedBody
	c.reset()
	_, _ = c.Write(body) // a hash does not fail
	return d.sign(header, c.sum())
}

// signedMsg is a go-mail mail signed as it is written.
type signedMsg struct {
	msg  io.WriterTo
	dkim *dkimSigner
}

// WriteTo writes the signature and the mail.
func (s signedMsg) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	if _, err := s.msg.WriteTo(&buf); err != nil {
		return 0, err
	}
	sig, err := s.dkim.signMail(buf.Bytes())
	if err != nil {
		return 0, err
	}
	n, err := w.Write(sig)
	if err != nil {
		return int64(n), err
	}
	m, err := w.Write(buf.Bytes())
	return int64(n + m), err
}

// dkimFields are a header's fields by lower-case name, in order.
type dkimFields map[string][]string

func headerFields(header []byte) dkimFields {
	fields := dkimFields{}
	for len(header) > 0 {
		// A field runs to a line end not followed by white space.
		end := 0
		for {
			i := bytes.Index(header[end:], []byte("\r\n"))
			if i < 0 {
				end = len(header)
				break
			}
			end += i + 2
			if end >= len(header) || (header[end] != ' ' && header[end] != '\t') {
				break
			}
		}
		field := strings.TrimSuffix(string(header[:end]), "\r\n")
		if name, _, ok := strings.Cut(field, ":"); ok {
			key := strings.ToLower(strings.TrimSpace(name))
			fields[key] = append(fields[key], field)
		}
		header = header[end:]
	}
	return fields
}

// pop takes the last field of that name not yet taken.
func (f dkimFields) pop(name string) (string, bool) {
	key := strings.ToLower(name)
	vs := f[key]
	if len(vs) == 0 {
		return "", false
	}
	f[key] = vs[:len(vs)-1]
	return vs[len(vs)-1], true
}

// unfold removes a field's line breaks.
var unfold = strings.NewReplacer("\r\n", "", "\r", "", "\n", "")

// relaxedHeader is a field in the relaxed canonical form (RFC 6376
// 3.4.2): lower-case name, unfolded, runs of white space made one space,
// none around the colon or at the end.
func relaxedHeader(field string) []byte {
	name, value, _ := strings.Cut(field, ":")
	value = unfold.Replace(value)
	var b strings.Builder
	b.WriteString(strings.ToLower(strings.TrimRight(name, " \t")))
	b.WriteByte(':')
	space, text := false, false
	for i := 0; i < len(value); i++ {
		c := value[i]
		if c == ' ' || c == '\t' {
			space = true
			continue
		}
		if space && text {
			b.WriteByte(' ')
		}
		space, text = false, true
		b.WriteByte(c)
	}
	return []byte(b.String())
}

// relaxedBody hashes what is written to it in the relaxed canonical form
// of a body (RFC 6376 3.4.4): runs of white space made one space, none at
// a line's end, every line end CRLF, no empty lines at the end.
type relaxedBody struct {
	h   hash.Hash
	out io.Writer // h, or a buffer when canonicalising a chunk once
	// crlf counts line ends held back: they are written before the next
	// text, and dropped at the body's end.
	crlf int
	// wsp is white space held back: one space before the next text,
	// dropped at a line's end.
	wsp bool
	// cr is true after a "\r": a "\n" next ends the same line.
	cr bool
	// any is true once text was written.
	any bool
	buf []byte
}

func (c *relaxedBody) reset() {
	if c.h == nil {
		c.h = sha256.New()
	}
	c.h.Reset()
	c.out, c.crlf, c.wsp, c.cr, c.any = c.h, 0, false, false, false
}

var crlfs = bytes.Repeat([]byte("\r\n"), 32)

func (c *relaxedBody) Write(p []byte) (int, error) {
	out := c.buf[:0]
	for _, b := range p {
		switch b {
		case '\r':
			c.crlf++
			c.wsp, c.cr = false, true
			continue
		case '\n':
			if !c.cr {
				c.crlf++
				c.wsp = false
			}
			c.cr = false
			continue
		case ' ', '\t':
			c.wsp, c.cr = true, false
			continue
		}
		c.cr = false
		for c.crlf > 0 {
			n := min(c.crlf, len(crlfs)/2)
			out = append(out, crlfs[:2*n]...)
			c.crlf -= n
		}
		if c.wsp {
			out = append(out, ' ')
			c.wsp = false
		}
		out = append(out, b)
		c.any = true
	}
	c.buf = out[:0]
	if _, err := c.out.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// canonChunk is a run of bytes canonicalised once (canonOf): what it
// writes when nothing but line ends is held back before it, and what it
// holds back after.
type canonChunk struct {
	out           []byte
	crlf          int
	wsp, cr, text bool
}

// canonOf canonicalises a run of a body once, for writeCanon.
func canonOf(p []byte) *canonChunk {
	var buf bytes.Buffer
	c := relaxedBody{out: &buf}
	_, _ = c.Write(p) // a bytes.Buffer does not fail
	return &canonChunk{out: buf.Bytes(), crlf: c.crlf, wsp: c.wsp, cr: c.cr, text: c.any}
}

// writeCanon hashes raw, canonicalised once as k, as Write would.
func (c *relaxedBody) writeCanon(raw []byte, k *canonChunk) {
	if c.wsp || c.cr || k == nil {
		// Held-back white space or "\r" would change how the chunk
		// starts.
		_, _ = c.Write(raw)
		return
	}
	if !k.text {
		c.crlf += k.crlf
		c.wsp, c.cr = k.wsp, k.cr
		return
	}
	for c.crlf > 0 {
		n := min(c.crlf, len(crlfs)/2)
		_, _ = c.out.Write(crlfs[:2*n])
		c.crlf -= n
	}
	_, _ = c.out.Write(k.out)
	c.crlf, c.wsp, c.cr, c.any = k.crlf, k.wsp, k.cr, true
}

// sum is the body hash: the body ends with one line end unless empty.
func (c *relaxedBody) sum() []byte {
	if c.any {
		_, _ = c.out.Write(crlfs[:2])
	}
	return c.h.Sum(nil)
}

// dkimTee copies a spliced mail's body into buf and hashes it.
type dkimTee struct {
	buf   *bytes.Buffer
	canon *relaxedBody
}

func (t *dkimTee) Write(p []byte) (int, error) {
	t.buf.Write(p)
	return t.canon.Write(p)
}

// writeCanon writes raw, canonicalised once as k.
func (t *dkimTee) writeCanon(raw []byte, k *canonChunk) {
	t.buf.Write(raw)
	t.canon.writeCanon(raw, k)
}
