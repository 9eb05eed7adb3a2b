package email

import (
	"bytes"
	htmltemplate "html/template"
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

var nameEscaper = htmltemplate.Must(htmltemplate.New("name").Parse(`{{.}}`))

// personaliser makes one recipient's HTML and text.
type personaliser struct {
	f *Formatter
	m *Message
	// fast is false when the stand-ins cannot be trusted for this template.
	fast bool
	// named and nameless are the renderings with and without a name.
	namedHTML, namedText       string
	namelessHTML, namelessText string
}

func (f *Formatter) newPersonaliser(m *Message, probeURL string) *personaliser {
	p := &personaliser{f: f, m: m}
	var err error
	if p.namedHTML, p.namedText, err = f.personal(m, nameStandIn, unsubStandIn); err != nil {
		return p
	}
	if p.namelessHTML, p.namelessText, err = f.personal(m, "", unsubStandIn); err != nil {
		return p
	}
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
	name = cleanHeader(name, 100)
	if !p.fast {
		h, t, err := p.f.personal(p.m, name, unsubscribeURL)
		if err != nil {
			return "", ""
		}
		return h, t
	}
	if name == "" {
		return fill(p.namelessHTML, "", htmlAttrURL(unsubscribeURL)), fill(p.namelessText, "", unsubscribeURL)
	}
	var esc bytes.Buffer
	_ = nameEscaper.Execute(&esc, name)
	return fill(p.namedHTML, esc.String(), htmlAttrURL(unsubscribeURL)), fill(p.namedText, name, unsubscribeURL)
}

// fill replaces the stand-ins in s with name and link.
func fill(s, name, link string) string {
	var b strings.Builder
	b.Grow(len(s) + 4*(len(name)+len(link)))
	for {
		i, j := strings.Index(s, nameStandIn), strings.Index(s, unsubStandIn)
		switch {
		case i < 0 && j < 0:
			b.WriteString(s)
			return b.String()
		case j < 0 || (i >= 0 && i < j):
			b.WriteString(s[:i])
			b.WriteString(name)
			s = s[i+len(nameStandIn):]
		default:
			b.WriteString(s[:j])
			b.WriteString(link)
			s = s[j+len(unsubStandIn):]
		}
	}
}

// htmlAttrURL is the link as html/template writes it in an href: the
// signer's links hold only URL-safe characters, and '&' is escaped.
func htmlAttrURL(u string) string {
	return strings.ReplaceAll(u, "&", "&amp;")
}
