package newsletter

import (
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
	s.hdr.Reset()
	if _, err := s.msg.WriteTo(&s.hdr); err != nil {
		return 0, err
	}
	out := s.hdr.Bytes()
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
