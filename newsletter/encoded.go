package newsletter

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"strconv"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// Quoted-printable encoding both parts of every copy cost more CPU than
// anything else a send does per recipient (issue 27), though only a few
// lines of a copy differ between recipients. A send therefore encodes each
// rendering once, line by line, and per recipient encodes only the lines
// that hold their name or links. That gives byte for byte what encoding the
// whole part gives, because the encoder starts every line of its input
// afresh: after a line break it holds nothing back, so a part's encoding is
// the encodings of its lines joined. The personaliser checks this on its
// probe recipients before using it (a rendering with a lone "\r" could
// break it), and go-mail, which still writes the headers and the MIME
// structure, gets stand-in bodies that the real encoded parts replace on the
// way to the server (splicedMail).

// encodedPart is a run of an encoded rendering: lines encoded once, or one
// line with personal slots, encoded per recipient.
type encodedPart struct {
	enc []byte
	// canon is enc canonicalised for DKIM's body hash, once.
	canon *canonChunk
	line  []segment
}

// encodeLines encodes a rendering with stand-ins (see cut) line by line.
func encodeLines(rendering string) []encodedPart {
	var out []encodedPart
	var lit bytes.Buffer
	for _, line := range strings.SplitAfter(rendering, "\n") {
		if line == "" {
			continue
		}
		segs := cut(line)
		if len(segs) == 1 && segs[0].slot == literal {
			qp := quotedprintable.NewWriter(&lit)
			_, _ = qp.Write(segs[0].text) // a bytes.Buffer does not fail
			_ = qp.Close()
			continue
		}
		if lit.Len() > 0 {
			out = append(out, literalPart(lit.Bytes()))
			lit.Reset()
		}
		out = append(out, encodedPart{line: segs})
	}
	if lit.Len() > 0 {
		out = append(out, literalPart(lit.Bytes()))
	}
	return out
}

// literalPart is encoded lines the same for every recipient.
func literalPart(enc []byte) encodedPart {
	enc = bytes.Clone(enc)
	return encodedPart{enc: enc, canon: canonOf(enc)}
}

// encodedBody writes parts, encoding their personal lines with name and
// links in the slots, as quoted-printable.
func encodedBody(parts []encodedPart, name, link, prefs string) body {
	return func(w io.Writer) (int64, error) {
		var total int64
		cw := &countingWriter{w: w}
		tee, _ := w.(*dkimTee)
		for _, p := range parts {
			if p.line == nil && tee != nil {
				tee.writeCanon(p.enc, p.canon)
				total += int64(len(p.enc))
				continue
			}
			if p.line == nil {
				n, err := w.Write(p.enc)
				total += int64(n)
				if err != nil {
					return total, err
				}
				continue
			}
			cw.n = 0
			qp := quotedprintable.NewWriter(cw)
			if _, err := segmentsBody(p.line, name, link, prefs)(qp); err != nil {
				return total + cw.n, err
			}
			err := qp.Close()
			total += cw.n
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
}

// countingWriter counts what a quoted-printable writer passes on, which
// its Write does not report.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// encodedQP is the quoted-printable encoding of what b writes, as go-mail
// encodes a part.
func encodedQP(b body) ([]byte, error) {
	var out bytes.Buffer
	qp := quotedprintable.NewWriter(&out)
	if _, err := b(qp); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// The stand-in bodies go-mail writes where the encoded parts go: printable
// ASCII that quoted-printable leaves as it is.
const (
	textMark = "CRIER-ENCODED-TEXT-PART-5b1e"
	htmlMark = "CRIER-ENCODED-HTML-PART-5b1e"
)

// splicedMail writes a mail that go-mail made with stand-in bodies, with
// the recipient's encoded parts in their place, and the pictures carried
// in the mail encoded once (go-mail would encode them for every copy). hdr
// and full are reused between recipients.
type splicedMail struct {
	msg        io.WriterTo
	hdr        bytes.Buffer
	html, text body
	// marking is true while the mail's pictures are written as their
	// stand-ins (see newSplicedMail).
	marking bool
	images  []splicedImage
	// dkim signs each mail when set: the mail is spliced into full, its
	// body hashed on the way.
	dkim  *dkimSigner
	full  bytes.Buffer
	canon relaxedBody
}

// splicedImage is a picture's stand-in as go-mail encodes it, and the
// picture encoded once.
type splicedImage struct {
	mark, enc []byte
	canon     *canonChunk
}

// newSplicedMail splices msg, a newsletter mail with the pictures inline,
// and signs it when dk is set. While marking, go-mail writes a stand-in
// for each picture (base64 like the picture: its encoding is found in the
// mail and replaced); otherwise the picture, for the slow path.
func newSplicedMail(msg *gomail.Msg, inline []inlineImage, dk *dkimSigner) *splicedMail {
	sp := &splicedMail{msg: msg, dkim: dk}
	for i, file := range msg.GetEmbeds() {
		mark := []byte("CRIER-ENCODED-IMAGE-" + strconv.Itoa(i) + "-5b1e")
		data := inline[i].Data
		enc := base64Lines(data)
		sp.images = append(sp.images, splicedImage{mark: base64Lines(mark), enc: enc, canon: canonOf(enc)})
		file.Writer = func(w io.Writer) (int64, error) {
			b := data
			if sp.marking {
				b = mark
			}
			n, err := w.Write(b)
			return int64(n), err
		}
	}
	return sp
}

// base64Lines is data in base64 as go-mail encodes an attached file: lines
// of 76 characters, each ended by "\r\n".
func base64Lines(data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	out := make([]byte, 0, len(enc)+2*(len(enc)/gomail.MaxBodyLength+1))
	for len(enc) > 0 {
		n := min(len(enc), gomail.MaxBodyLength)
		out = append(out, enc[:n]...)
		out = append(out, "\r\n"...)
		enc = enc[n:]
	}
	return out
}

// WriteTo writes the whole mail to w.
func (s *splicedMail) WriteTo(w io.Writer) (int64, error) {
	out, err := s.header()
	if err != nil {
		return 0, err
	}
	if s.dkim != nil {
		sig, mail, err := s.signed(out)
		if err != nil {
			return 0, err
		}
		n, err := w.Write(sig)
		if err != nil {
			return int64(n), err
		}
		m, err := w.Write(mail)
		return int64(n + m), err
	}
	return s.splice(w, out, headerEnd(out))
}

// header has go-mail write the mail with its stand-in bodies.
func (s *splicedMail) header() ([]byte, error) {
	s.hdr.Reset()
	if _, err := s.msg.WriteTo(&s.hdr); err != nil {
		return nil, err
	}
	return s.hdr.Bytes(), nil
}

// headerEnd is where out's header ends (before the blank line), or 0.
func headerEnd(out []byte) int {
	return max(0, bytes.Index(out, []byte("\r\n\r\n")))
}

// signed splices out into s.full, hashing its body, and returns the
// signature and the mail.
func (s *splicedMail) signed(out []byte) (sig, mail []byte, err error) {
	end := headerEnd(out)
	if end == 0 {
		return nil, nil, errors.New("the mail has no header")
	}
	s.full.Reset()
	s.full.Write(out[:end+4])
	s.canon.reset()
	if _, err := s.splice(&dkimTee{buf: &s.full, canon: &s.canon}, out[end+4:], 0); err != nil {
		return nil, nil, err
	}
	sig, err = s.dkim.sign(out[:end+2], s.canon.sum())
	if err != nil {
		return nil, nil, fmt.Errorf("signing with DKIM: %w", err)
	}
	return sig, s.full.Bytes(), nil
}

// splice writes out (go-mail's mail, or the start of it) with the encoded
// parts in place of the marks, which are looked for from from on (after
// the mail's header, where a recipient's name cannot be).
func (s *splicedMail) splice(w io.Writer, out []byte, from int) (int64, error) {
	var total int64
	tee, _ := w.(*dkimTee)
	for {
		at, mark, b, img := -1, "", body(nil), -1
		if i := bytes.Index(out[from:], []byte(textMark)); i >= 0 {
			at, mark, b = i, textMark, s.text
		}
		if i := bytes.Index(out[from:], []byte(htmlMark)); i >= 0 && (at < 0 || i < at) {
			at, mark, b = i, htmlMark, s.html
		}
		for k, im := range s.images {
			if i := bytes.Index(out[from:], im.mark); i >= 0 && (at < 0 || i < at) {
				at, mark, b, img = i, string(im.mark), nil, k
			}
		}
		if at < 0 {
			n, err := w.Write(out)
			return total + int64(n), err
		}
		at += from
		n, err := w.Write(out[:at])
		total += int64(n)
		if err != nil {
			return total, err
		}
		if img >= 0 {
			im := s.images[img]
			if tee != nil {
				tee.writeCanon(im.enc, im.canon)
				total += int64(len(im.enc))
			} else {
				n, err := w.Write(im.enc)
				total += int64(n)
				if err != nil {
					return total, err
				}
			}
		} else {
			m, err := b(w)
			total += m
			if err != nil {
				return total, err
			}
		}
		out, from = out[at+len(mark):], 0
	}
}

// lastMark is where the last mark in out ends, or -1.
func (s *splicedMail) lastMark(out []byte) int {
	last := -1
	for _, m := range [][]byte{[]byte(textMark), []byte(htmlMark)} {
		if i := bytes.LastIndex(out, m); i >= 0 {
			last = max(last, i+len(m))
		}
	}
	for _, im := range s.images {
		if i := bytes.LastIndex(out, im.mark); i >= 0 {
			last = max(last, i+len(im.mark))
		}
	}
	return last
}

// writeData writes the mail as SMTP DATA: straight into the connection's
// buffer bw through a dotStuffer, and its last bytes through dot, the
// connection's own DATA writer, which then ends the data as usual. That
// gives the bytes dot alone would give, without its call per byte (the
// largest cost left per recipient after the encoding). Mails whose end the
// two would not agree on go through dot whole.
func (s *splicedMail) writeData(bw *bufio.Writer, dot io.Writer) error {
	out, err := s.header()
	if err != nil {
		return err
	}
	from := headerEnd(out)
	last := s.lastMark(out[from:])
	if last >= 0 {
		last += from
	}
	write := func(w io.Writer, b []byte) error {
		_, err := s.splice(w, b, from)
		return err
	}
	var sig []byte
	if s.dkim != nil {
		// The mail is spliced and signed already: nothing is left to
		// splice on the way.
		if sig, out, err = s.signed(out); err != nil {
			return err
		}
		last = -1
		write = func(w io.Writer, b []byte) error {
			_, err := w.Write(b)
			return err
		}
	}
	keep := 1
	if bytes.HasSuffix(out, []byte("\r\n")) {
		keep = 2
	}
	// dot starts as at the beginning of a line; the stuffer is mid-line
	// after an ordinary byte, where the two agree on anything but a "."
	// (doubled only at a line's start).
	if len(out) < keep+1 || last > len(out)-keep-1 || out[len(out)-keep-1] == '\r' || out[len(out)-keep-1] == '\n' || out[len(out)-keep] == '.' {
		if _, err := dot.Write(sig); err != nil {
			return err
		}
		return write(dot, out)
	}
	ds := &dotStuffer{w: bw}
	if _, err := ds.Write(sig); err != nil {
		return err
	}
	if err := write(ds, out[:len(out)-keep]); err != nil {
		return err
	}
	_, err = dot.Write(out[len(out)-keep:])
	return err
}

// dotStuffer writes SMTP DATA as net/textproto's DotWriter does (a "." at
// the start of a line doubled, a lone "\n" sent as "\r\n"), copying the
// runs between line ends at once.
type dotStuffer struct {
	w     *bufio.Writer
	state dotState
}

type dotState uint8

const (
	dotLineStart dotState = iota
	dotCR                 // wrote "\r"
	dotData               // mid-line
)

func (d *dotStuffer) Write(b []byte) (int, error) {
	n := 0
	for n < len(b) {
		if d.state == dotData {
			run := bytes.IndexByte(b[n:], '\n')
			if run < 0 {
				run = len(b) - n
			}
			if cr := bytes.IndexByte(b[n:n+run], '\r'); cr >= 0 {
				run = cr
			}
			if run > 0 {
				m, err := d.w.Write(b[n : n+run])
				n += m
				if err != nil {
					return n, err
				}
				continue
			}
		}
		c := b[n]
		switch d.state {
		case dotLineStart, dotData:
			if d.state == dotLineStart && c == '.' {
				_ = d.w.WriteByte('.') // an error sticks and the WriteByte below returns it
			}
			d.state = dotData
			if c == '\r' {
				d.state = dotCR
			}
			if c == '\n' {
				_ = d.w.WriteByte('\r')
				d.state = dotLineStart
			}
		case dotCR:
			d.state = dotData
			if c == '\n' {
				d.state = dotLineStart
			}
		}
		if err := d.w.WriteByte(c); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
