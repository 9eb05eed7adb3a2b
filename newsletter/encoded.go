package newsletter

import (
	"bufio"
	"bytes"
	"io"
	"mime/quotedprintable"
	"strings"
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
	enc  []byte
	line []segment
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
			out = append(out, encodedPart{enc: bytes.Clone(lit.Bytes())})
			lit.Reset()
		}
		out = append(out, encodedPart{line: segs})
	}
	if lit.Len() > 0 {
		out = append(out, encodedPart{enc: bytes.Clone(lit.Bytes())})
	}
	return out
}

// encodedBody writes parts, encoding their personal lines with name and
// links in the slots, as quoted-printable.
func encodedBody(parts []encodedPart, name, link, prefs string) body {
	return func(w io.Writer) (int64, error) {
		var total int64
		cw := &countingWriter{w: w}
		for _, p := range parts {
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
// the recipient's encoded parts in their place. hdr is reused between
// recipients.
type splicedMail struct {
	msg        io.WriterTo
	hdr        bytes.Buffer
	html, text body
}

// WriteTo writes the whole mail to w.
func (s *splicedMail) WriteTo(w io.Writer) (int64, error) {
	out, err := s.header()
	if err != nil {
		return 0, err
	}
	return s.splice(w, out)
}

// header has go-mail write the mail with its stand-in bodies.
func (s *splicedMail) header() ([]byte, error) {
	s.hdr.Reset()
	if _, err := s.msg.WriteTo(&s.hdr); err != nil {
		return nil, err
	}
	return s.hdr.Bytes(), nil
}

// splice writes out (go-mail's mail, or the start of it) with the encoded
// parts in place of the marks.
func (s *splicedMail) splice(w io.Writer, out []byte) (int64, error) {
	// The marks are looked for after the mail's header, where a
	// recipient's name cannot be.
	from := bytes.Index(out, []byte("\r\n\r\n"))
	if from < 0 {
		from = 0
	}
	var total int64
	for {
		ti := bytes.Index(out[from:], []byte(textMark))
		hi := bytes.Index(out[from:], []byte(htmlMark))
		at, mark, b := ti, textMark, s.text
		if at < 0 || (hi >= 0 && hi < at) {
			at, mark, b = hi, htmlMark, s.html
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
		m, err := b(w)
		total += m
		if err != nil {
			return total, err
		}
		out, from = out[at+len(mark):], 0
	}
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
	keep := 1
	if bytes.HasSuffix(out, []byte("\r\n")) {
		keep = 2
	}
	last := max(bytes.LastIndex(out, []byte(textMark))+len(textMark), bytes.LastIndex(out, []byte(htmlMark))+len(htmlMark))
	// dot starts as at the beginning of a line; the stuffer is mid-line
	// after an ordinary byte, where the two agree on anything but a "."
	// (doubled only at a line's start).
	if len(out) < keep+1 || last > len(out)-keep-1 || out[len(out)-keep-1] == '\r' || out[len(out)-keep-1] == '\n' || out[len(out)-keep] == '.' {
		_, err := s.splice(dot, out)
		return err
	}
	if _, err := s.splice(&dotStuffer{w: bw}, out[:len(out)-keep]); err != nil {
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
