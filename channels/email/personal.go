package email

import (
	"io"
	"strings"
)

// Rendering the templates for every recipient costs more than the SMTP
// exchange itself, so a send renders them once per campaign with stand-ins
// for the two personal values (name and unsubscribe link) and substitutes
// per recipient. The shortcut is used only after it has been checked to give
// byte for byte what a full rendering gives, on probe recipients whose names
// hold every character the HTML escaper rewrites; an organisation's template
// that does something else with the name (compares it, changes it) falls
// back to a full rendering per recipient.
const (
	nameStandIn  = "\uE000crier-name\uE001"
	unsubStandIn = "https://crier-stand-in.invalid/unsubscribe-link"
)

// nameEscaper is html/template's escaping of text and quoted attribute
// values (its htmlEscaper), without running a template per recipient;
// FuzzNameEscaper holds it to html/template's output.
var nameEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// personaliser makes one recipient's HTML and text.
type personaliser struct {
	f *Formatter
	m *Message
	// fast is false when the stand-ins cannot be trusted for this template.
	fast bool
	// The renderings with and without a name, cut at the stand-ins.
	namedHTML, namedText       []segment
	namelessHTML, namelessText []segment
}

// segment is a run of a rendering: literal text, or where the name or the
// link goes.
type segment struct {
	// text is a []byte: the transfer encoder takes bytes, and converting a
	// string on every write would copy it for every recipient.
	text []byte
	slot slot
}

type slot uint8

const (
	literal slot = iota
	nameSlot
	linkSlot
)

// cut splits a rendering at its stand-ins.
func cut(s string) []segment {
	var out []segment
	for {
		i, j := strings.Index(s, nameStandIn), strings.Index(s, unsubStandIn)
		switch {
		case i < 0 && j < 0:
			if s != "" {
				out = append(out, segment{text: []byte(s)})
			}
			return out
		case j < 0 || (i >= 0 && i < j):
			if i > 0 {
				out = append(out, segment{text: []byte(s[:i])})
			}
			out = append(out, segment{slot: nameSlot})
			s = s[i+len(nameStandIn):]
		default:
			if j > 0 {
				out = append(out, segment{text: []byte(s[:j])})
			}
			out = append(out, segment{slot: linkSlot})
			s = s[j+len(unsubStandIn):]
		}
	}
}

func (f *Formatter) newPersonaliser(m *Message, probeURL string) *personaliser {
	p := &personaliser{f: f, m: m}
	namedHTML, namedText, err := f.personal(m, nameStandIn, unsubStandIn)
	if err != nil {
		return p
	}
	namelessHTML, namelessText, err := f.personal(m, "", unsubStandIn)
	if err != nil {
		return p
	}
	p.namedHTML, p.namedText = cut(namedHTML), cut(namedText)
	p.namelessHTML, p.namelessText = cut(namelessHTML), cut(namelessText)
	p.fast = true
	for _, name := range []string{`Zoë <A&B> "C" 'D' +E=F`, "Ann", ""} {
		wantHTML, wantText, err := f.personal(m, name, probeURL)
		if err != nil {
			p.fast = false
			return p
		}
		gotHTML, gotText := p.render(name, probeURL)
		if gotHTML != wantHTML || gotText != wantText {
			p.fast = false
			return p
		}
	}
	return p
}

// render is the recipient's HTML and text.
func (p *personaliser) render(name, unsubscribeURL string) (string, string) {
	htmlBody, textBody := p.bodies(name, unsubscribeURL)
	if htmlBody == nil {
		return "", ""
	}
	var h, t strings.Builder
	if _, err := htmlBody(&h); err != nil {
		return "", ""
	}
	if _, err := textBody(&t); err != nil {
		return "", ""
	}
	return h.String(), t.String()
}

// bodies writes the recipient's HTML and text straight into the mail (no
// copy of the whole rendering per recipient); nil when rendering failed.
func (p *personaliser) bodies(name, unsubscribeURL string) (htmlBody, textBody body) {
	name = cleanHeader(name, 100)
	if !p.fast {
		h, t, err := p.f.personal(p.m, name, unsubscribeURL)
		if err != nil {
			return nil, nil
		}
		return stringBody(h), stringBody(t)
	}
	if name == "" {
		return segmentsBody(p.namelessHTML, "", htmlAttrURL(unsubscribeURL)), segmentsBody(p.namelessText, "", unsubscribeURL)
	}
	return segmentsBody(p.namedHTML, nameEscaper.Replace(name), htmlAttrURL(unsubscribeURL)), segmentsBody(p.namedText, name, unsubscribeURL)
}

// segmentsBody writes segs with name and link in their slots.
func segmentsBody(segs []segment, name, link string) body {
	return func(w io.Writer) (int64, error) {
		var total int64
		nameBytes, linkBytes := []byte(name), []byte(link)
		for _, sg := range segs {
			b := sg.text
			switch sg.slot {
			case nameSlot:
				b = nameBytes
			case linkSlot:
				b = linkBytes
			}
			n, err := w.Write(b)
			total += int64(n)
			if err != nil {
				return total, err
			}
		}
		return total, nil
	}
}

// htmlAttrURL is the link as html/template writes it in an href: the
// signer's links hold only URL-safe characters, and '&' is escaped.
func htmlAttrURL(u string) string {
	return strings.ReplaceAll(u, "&", "&amp;")
}
