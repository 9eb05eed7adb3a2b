package newsletter

import (
	"bytes"
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
	unsubStandIn = "https://crier-stand-in.invalid/unsubscribe?t=stand-in"
	// prefsStandIn is preferencesURL(unsubStandIn).
	prefsStandIn = "https://crier-stand-in.invalid/preferences?t=stand-in"
)

// preferencesURL is the preferences page of the supporter whose unsubscribe
// link is unsub: the same signed token (subscribers.Signer.PreferencesURL).
func preferencesURL(unsub string) string {
	return strings.Replace(unsub, "/unsubscribe?", "/preferences?", 1)
}

// nameEscaper is html/template's escaping of text and quoted attribute
// values (its htmlEscaper), without running a template per recipient;
// FuzzNameEscaper holds it to html/template's output.
var nameEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// personaliser makes one recipient's HTML and text.
type personaliser struct {
	f    *Formatter
	m    *Message
	lang string
	// fast is false when the stand-ins cannot be trusted for this template.
	fast bool
	// The renderings with and without a name, cut at the stand-ins.
	namedHTML, namedText       []segment
	namelessHTML, namelessText []segment
	// encoded is true when the renderings' quoted-printable encodings,
	// made once (encoded.go), are checked to equal encoding each copy.
	encoded                          bool
	encNamedHTML, encNamedText       []encodedPart
	encNamelessHTML, encNamelessText []encodedPart
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
	prefsSlot
)

// cut splits a rendering at its stand-ins.
func cut(s string) []segment {
	var out []segment
	standIns := [...]struct {
		text string
		slot slot
	}{{nameStandIn, nameSlot}, {unsubStandIn, linkSlot}, {prefsStandIn, prefsSlot}}
	for {
		at, which := -1, 0
		for k, si := range standIns {
			if i := strings.Index(s, si.text); i >= 0 && (at < 0 || i < at) {
				at, which = i, k
			}
		}
		if at < 0 {
			if s != "" {
				out = append(out, segment{text: []byte(s)})
			}
			return out
		}
		if at > 0 {
			out = append(out, segment{text: []byte(s[:at])})
		}
		out = append(out, segment{slot: standIns[which].slot})
		s = s[at+len(standIns[which].text):]
	}
}

// newPersonaliser prepares m's renderings in lang (the language of Crier's
// own words in the mail).
func (f *Formatter) newPersonaliser(m *Message, probeURL, lang string) *personaliser {
	p := &personaliser{f: f, m: m, lang: lang}
	namedHTML, namedText, err := f.personal(m, lang, nameStandIn, unsubStandIn)
	if err != nil {
		return p
	}
	namelessHTML, namelessText, err := f.personal(m, lang, "", unsubStandIn)
	if err != nil {
		return p
	}
	p.namedHTML, p.namedText = cut(namedHTML), cut(namedText)
	p.namelessHTML, p.namelessText = cut(namelessHTML), cut(namelessText)
	p.fast = true
	for _, name := range probeNames {
		wantHTML, wantText, err := f.personal(m, lang, name, probeURL)
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
	p.encNamedHTML, p.encNamedText = encodeLines(namedHTML), encodeLines(namedText)
	p.encNamelessHTML, p.encNamelessText = encodeLines(namelessHTML), encodeLines(namelessText)
	p.encoded = p.encodingHolds(probeURL)
	return p
}

// probeNames hold every character the HTML escaper rewrites, and one that
// quoted-printable encodes.
var probeNames = []string{`Zoë <A&B> "C" 'D' +E=F`, "Ann", ""}

// encodingHolds reports whether the encodings made once give, for the probe
// recipients, what encoding their whole copies gives.
func (p *personaliser) encodingHolds(probeURL string) bool {
	p.encoded = true
	for _, name := range probeNames {
		h, t := p.bodies(name, probeURL)
		eh, et := p.encodedBodies(name, probeURL)
		for _, pair := range [][2]body{{h, eh}, {t, et}} {
			want, err := encodedQP(pair[0])
			if err != nil {
				return false
			}
			var got bytes.Buffer
			if _, err := pair[1](&got); err != nil || !bytes.Equal(got.Bytes(), want) {
				return false
			}
		}
	}
	return true
}

// encodedBodies writes the recipient's HTML and text already encoded as
// quoted-printable; nil when the send cannot use the encodings made once.
func (p *personaliser) encodedBodies(name, unsubscribeURL string) (htmlBody, textBody body) {
	if !p.encoded {
		return nil, nil
	}
	name = cleanHeader(name, 100)
	prefs := preferencesURL(unsubscribeURL)
	if name == "" {
		return encodedBody(p.encNamelessHTML, "", htmlAttrURL(unsubscribeURL), htmlAttrURL(prefs)), encodedBody(p.encNamelessText, "", unsubscribeURL, prefs)
	}
	return encodedBody(p.encNamedHTML, nameEscaper.Replace(name), htmlAttrURL(unsubscribeURL), htmlAttrURL(prefs)), encodedBody(p.encNamedText, name, unsubscribeURL, prefs)
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
		h, t, err := p.f.personal(p.m, p.lang, name, unsubscribeURL)
		if err != nil {
			return nil, nil
		}
		return stringBody(h), stringBody(t)
	}
	prefs := preferencesURL(unsubscribeURL)
	if name == "" {
		return segmentsBody(p.namelessHTML, "", htmlAttrURL(unsubscribeURL), htmlAttrURL(prefs)), segmentsBody(p.namelessText, "", unsubscribeURL, prefs)
	}
	return segmentsBody(p.namedHTML, nameEscaper.Replace(name), htmlAttrURL(unsubscribeURL), htmlAttrURL(prefs)), segmentsBody(p.namedText, name, unsubscribeURL, prefs)
}

// segmentsBody writes segs with name and links in their slots.
func segmentsBody(segs []segment, name, link, prefs string) body {
	return func(w io.Writer) (int64, error) {
		var total int64
		nameBytes, linkBytes, prefsBytes := []byte(name), []byte(link), []byte(prefs)
		for _, sg := range segs {
			b := sg.text
			switch sg.slot {
			case nameSlot:
				b = nameBytes
			case linkSlot:
				b = linkBytes
			case prefsSlot:
				b = prefsBytes
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
