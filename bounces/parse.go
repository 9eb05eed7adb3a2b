package bounces

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"regexp"
	"strings"
)

// Kind is what a message in the bounce mailbox is.
type Kind string

const (
	// KindOther is mail Crier does not act on (a person writing, a
	// delivery receipt, a DMARC report).
	KindOther Kind = "other"
	// KindBounce is a delivery failure (a DSN, or a mail server's own
	// wording of one).
	KindBounce Kind = "bounce"
	// KindDelay is a warning that delivery is still being tried.
	KindDelay Kind = "delay"
	// KindComplaint is an abuse report: the recipient pressed "this is
	// spam".
	KindComplaint Kind = "complaint"
	// KindAutoReply is a vacation notice or other automatic answer
	// (RFC 3834): never a reason to stop mailing someone.
	KindAutoReply Kind = "auto-reply"
)

// Report is what Parse read from one message.
type Report struct {
	Kind Kind
	// MessageID is the report's own Message-ID (for de-duplication).
	MessageID string
	Subject   string
	// Recipients are the addresses the report is about, with their status
	// when it says.
	Recipients []Recipient
	// FeedbackType is an abuse report's Feedback-Type (abuse, fraud, ...).
	FeedbackType string
	// text is every header value and decoded text part, capped: where the
	// signed return path and Crier's Message-ID are looked for.
	text string
}

// Recipient is one address a delivery status notification reports on.
type Recipient struct {
	Address    string `json:"address"`
	Action     string `json:"action,omitempty"` // failed, delayed, delivered, relayed, expanded
	Status     string `json:"status,omitempty"` // enhanced status code, e.g. 5.1.1
	Diagnostic string `json:"diagnostic,omitempty"`
	// Hard is a permanent failure of the address itself (no such user,
	// domain gone); a full mailbox or a policy refusal is soft.
	Hard bool `json:"hard"`
}

// Limits on what one message can make the parser do.
const (
	MaxMessageBytes = 4 << 20 // larger messages are not read (bounces are small)
	maxDepth        = 6
	maxParts        = 64
	maxText         = 1 << 20
	maxRecipients   = 50
)

// ErrTooLarge is returned for a message over MaxMessageBytes.
var ErrTooLarge = errors.New("message too large for a bounce")

// Parse reads one raw message (RFC 5322) and says what it is. It never
// panics on hostile input; an error means the message is not a readable
// mail at all.
func Parse(raw []byte) (rep *Report, err error) {
	if len(raw) > MaxMessageBytes {
		return nil, ErrTooLarge
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("reading message headers: %w", err)
	}
	p := &parser{}
	rep = &Report{Kind: KindOther, MessageID: strings.TrimSpace(msg.Header.Get("Message-Id")), Subject: decodeHeader(msg.Header.Get("Subject"))}
	p.addHeaders(msg.Header)
	p.part(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0, false)
	rep.text = p.text.String()
	p.classify(rep, msg.Header)
	return rep, nil
}

type parser struct {
	text     strings.Builder
	human    strings.Builder // text parts outside the returned message
	parts    int
	dsn      []Recipient
	dsnSeen  bool
	arf      []Recipient
	arfType  string
	arfSeen  bool
	embedded bool // a copy of the original message was found
}

func (p *parser) write(b *strings.Builder, s string) {
	if b.Len()+len(s) > maxText {
		s = s[:max(0, maxText-b.Len())]
	}
	b.WriteString(s)
}

func (p *parser) addHeaders(h mail.Header) {
	for k, vs := range h {
		for _, v := range vs {
			p.write(&p.text, k+": "+v+"\n")
		}
	}
}

// part reads one MIME entity; inside says it belongs to a returned message.
func (p *parser) part(ctype, cte string, body io.Reader, depth int, inside bool) {
	p.parts++
	if depth > maxDepth || p.parts > maxParts {
		return
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil || ctype == "" {
		mt = "text/plain"
	}
	mt = strings.ToLower(mt)
	data, _ := io.ReadAll(io.LimitReader(decodeTransfer(cte, body), MaxMessageBytes))
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if params["boundary"] == "" {
			p.write(&p.text, string(data))
			return
		}
		mr := multipart.NewReader(bytes.NewReader(data), params["boundary"])
		for n := 0; ; n++ {
			sub, err := mr.NextRawPart()
			if err != nil {
				if n == 0 { // no boundary found: read it as text
					p.write(&p.text, string(data))
					if !inside {
						p.write(&p.human, string(data))
					}
				}
				return
			}
			p.part(sub.Header.Get("Content-Type"), sub.Header.Get("Content-Transfer-Encoding"), sub, depth+1, inside)
			if p.parts > maxParts {
				return
			}
		}
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		p.dsnSeen = true
		p.dsn = append(p.dsn, parseDSN(data)...)
		p.write(&p.text, string(data))
	case mt == "message/feedback-report":
		p.arfSeen = true
		typ, rcpts := parseARF(data)
		if p.arfType == "" {
			p.arfType = typ
		}
		p.arf = append(p.arf, rcpts...)
		p.write(&p.text, string(data))
	case mt == "message/rfc822" || mt == "message/global" || mt == "text/rfc822-headers" || mt == "message/rfc822-headers":
		p.embedded = true
		p.write(&p.text, string(data))
		if inner, err := mail.ReadMessage(bytes.NewReader(data)); err == nil && mt != "text/rfc822-headers" && mt != "message/rfc822-headers" {
			p.part(inner.Header.Get("Content-Type"), inner.Header.Get("Content-Transfer-Encoding"), inner.Body, depth+1, true)
		}
	default:
		s := string(data)
		p.write(&p.text, s)
		if !inside && strings.HasPrefix(mt, "text/") {
			p.write(&p.human, s)
		}
	}
}

func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &stripSpace{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// stripSpace drops the line breaks and spaces base64 bodies carry.
type stripSpace struct{ r io.Reader }

func (s *stripSpace) Read(b []byte) (int, error) {
	for {
		n, err := s.r.Read(b)
		j := 0
		for _, c := range b[:n] {
			if c != '\r' && c != '\n' && c != ' ' && c != '\t' {
				b[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

var wordDecoder = &mime.WordDecoder{CharsetReader: func(charset string, in io.Reader) (io.Reader, error) { return in, nil }}

func decodeHeader(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		return d
	}
	return s
}

// fieldBlocks splits a DSN or ARF body into blocks of fields (RFC 3464
// section 2.1: a per-message block, then one per recipient), unfolding
// continuation lines. Names are lower-cased.
func fieldBlocks(data []byte) []map[string]string {
	var blocks []map[string]string
	cur := map[string]string{}
	last := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			if len(cur) > 0 {
				blocks = append(blocks, cur)
				cur, last = map[string]string{}, ""
			}
		case (line[0] == ' ' || line[0] == '\t') && last != "":
			cur[last] += " " + strings.TrimSpace(line)
		default:
			name, val, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			last = strings.ToLower(strings.TrimSpace(name))
			if _, dup := cur[last]; !dup {
				cur[last] = strings.TrimSpace(val)
			}
		}
		if len(blocks) > maxRecipients+1 {
			break
		}
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

// typedAddress reads "rfc822; user@example.org" (or a bare address).
func typedAddress(v string) string {
	if _, a, ok := strings.Cut(v, ";"); ok {
		v = a
	}
	v = strings.Trim(strings.TrimSpace(v), "<>")
	if i := strings.LastIndex(v, "@"); i <= 0 || i == len(v)-1 || strings.ContainsAny(v, " \t<>,;\"") {
		return ""
	}
	return strings.ToLower(v)
}

func parseDSN(data []byte) []Recipient {
	var out []Recipient
	for _, b := range fieldBlocks(data) {
		addr := typedAddress(b["final-recipient"])
		if addr == "" {
			addr = typedAddress(b["original-recipient"])
		}
		if addr == "" || len(out) >= maxRecipients {
			continue
		}
		r := Recipient{Address: addr, Action: strings.ToLower(strings.TrimSpace(b["action"])),
			Status: statusCode.FindString(b["status"]), Diagnostic: clip(b["diagnostic-code"], 300)}
		if o := typedAddress(b["original-recipient"]); o != "" && o != addr {
			out = append(out, Recipient{Address: o, Action: r.Action, Status: r.Status, Diagnostic: r.Diagnostic})
		}
		out = append(out, r)
	}
	return out
}

func parseARF(data []byte) (string, []Recipient) {
	var typ string
	var out []Recipient
	for _, b := range fieldBlocks(data) {
		if typ == "" {
			typ = strings.ToLower(strings.TrimSpace(b["feedback-type"]))
		}
		for _, f := range []string{"original-rcpt-to", "removal-recipient"} {
			if a := typedAddress(b[f]); a != "" && len(out) < maxRecipients {
				out = append(out, Recipient{Address: a})
			}
		}
	}
	return typ, out
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

var (
	statusCode  = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)
	smtpCode    = regexp.MustCompile(`\b[45][0-5]\d\b`)
	addressText = regexp.MustCompile(`[A-Za-z0-9._%+'=-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}`)
	bounceFrom  = regexp.MustCompile(`(?i)(mailer-daemon|postmaster|mail delivery (sub)?system)`)
	bounceSubj  = regexp.MustCompile(`(?i)(undeliver|undelivered|delivery (status notification|failure|has failed)|returned mail|mail delivery failed|failure notice|could not be delivered|non[- ]?delivery|delivery notification)`)
	delaySubj   = regexp.MustCompile(`(?i)(delay|still being retried|warning: could not send|not yet been delivered)`)
	delayText   = regexp.MustCompile(`(?i)(will (continue|keep) (trying|to try)|will retry|still (trying|being retried)|has not yet been delivered|delivery (has been|is) delayed|temporarily deferred)`)
	autoSubj    = regexp.MustCompile(`(?i)^(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|away|absence|vacation|abwesenheit|r[ée]ponse automatique)`)
	permanentRx = regexp.MustCompile(`(?i)(permanent|user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|doesn't exist|invalid (recipient|mailbox|address)|address rejected|mailbox (not found|unavailable)|not a valid mailbox|recipient not found|account (has been )?disabled)`)
	originalRx  = regexp.MustCompile(`(?im)^(-+ ?(this is a copy of|original message|the original message|returned message|undelivered message)|content-type: message/rfc822)`)
)

// classify decides the kind from what the parts held, then from the
// headers and the wording of mail servers that write no standard report.
func (p *parser) classify(rep *Report, h mail.Header) {
	from := h.Get("From")
	switch {
	case p.dsnSeen && len(p.dsn) > 0:
		rep.Recipients = p.dsn
		rep.Kind = KindOther
		for i := range rep.Recipients {
			r := &rep.Recipients[i]
			switch {
			case r.Action == "failed" || (r.Action == "" && strings.HasPrefix(r.Status, "5")):
				rep.Kind = KindBounce
				r.Hard = isHard(r.Status, r.Diagnostic)
			case r.Action == "delayed" || (r.Action == "" && strings.HasPrefix(r.Status, "4")):
				if rep.Kind != KindBounce {
					rep.Kind = KindDelay
				}
			}
		}
		return
	case p.arfSeen:
		rep.FeedbackType = p.arfType
		rep.Recipients = p.arf
		// abuse and fraud are a person's complaint; auth-failure (DMARC
		// forensic reports), not-spam and virus reports are not.
		if p.arfType == "abuse" || p.arfType == "fraud" || p.arfType == "" {
			rep.Kind = KindComplaint
		}
		return
	}
	subj := rep.Subject
	looksBounce := h.Get("X-Failed-Recipients") != "" || (bounceFrom.MatchString(from) && bounceSubj.MatchString(subj)) ||
		(bounceSubj.MatchString(subj) && (p.dsnSeen || p.embedded || originalRx.MatchString(p.human.String())))
	if looksBounce {
		human := p.human.String()
		// A report whose MIME structure is broken still has its fields.
		if rcpts := parseDSN([]byte(human)); strings.Contains(strings.ToLower(human), "final-recipient:") && len(rcpts) > 0 {
			p.dsnSeen, p.dsn = true, rcpts
			p.classify(rep, h)
			return
		}
		if loc := originalRx.FindStringIndex(human); loc != nil {
			human = human[:loc[0]]
		}
		if delaySubj.MatchString(subj) || (delayText.MatchString(human) && !permanentRx.MatchString(human)) {
			rep.Kind = KindDelay
			return
		}
		rep.Kind = KindBounce
		rep.Recipients = textRecipients(h.Get("X-Failed-Recipients"), human, from)
		return
	}
	if isAutoReply(h, subj) {
		rep.Kind = KindAutoReply
	}
}

// textRecipients reads the failed addresses and the reason from a bounce
// written for people: X-Failed-Recipients, else the addresses its text
// names (not the sender's own).
func textRecipients(failed, human, from string) []Recipient {
	var addrs []string
	for _, a := range strings.Split(failed, ",") {
		if a = typedAddress(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	if len(addrs) == 0 {
		fromAddr := ""
		if a, err := mail.ParseAddress(from); err == nil {
			fromAddr = strings.ToLower(a.Address)
		}
		seen := map[string]bool{}
		for _, a := range addressText.FindAllString(human, maxRecipients) {
			a = strings.ToLower(a)
			if !seen[a] && a != fromAddr && !bounceFrom.MatchString(a) {
				seen[a] = true
				addrs = append(addrs, a)
			}
		}
	}
	status := statusCode.FindString(human)
	diag := ""
	if loc := smtpCode.FindStringIndex(human); loc != nil {
		end := strings.IndexByte(human[loc[0]:], '\n')
		if end < 0 {
			end = len(human) - loc[0]
		}
		diag = clip(strings.TrimSpace(human[loc[0]:loc[0]+end]), 300)
	}
	hard := false
	switch {
	case status != "":
		hard = isHard(status, diag)
	case strings.HasPrefix(diag, "5"):
		hard = permanentRx.MatchString(human)
	}
	var out []Recipient
	for _, a := range addrs {
		if len(out) == maxRecipients {
			break
		}
		out = append(out, Recipient{Address: a, Action: "failed", Status: status, Diagnostic: diag, Hard: hard})
	}
	return out
}

// isHard says whether a failure means the address will never work: a bad
// mailbox or domain (5.1.x, 5.2.1 disabled, 5.4.4 no route), or a 5.0.0
// whose reply says the user is unknown. A full mailbox, a message too big
// and policy refusals (5.7.x: spam filters, blocklists) are about this
// message or this sender, not the address: they count as soft.
func isHard(status, diag string) bool {
	// Relays such as SES report 5.0.0 and quote the remote server's more
	// precise code in the diagnostic: the last one there is the remote's.
	if status == "" || strings.HasSuffix(status, ".0.0") {
		if codes := statusCode.FindAllString(diag, -1); len(codes) > 0 {
			status = codes[len(codes)-1]
		}
	}
	switch {
	case !strings.HasPrefix(status, "5."):
		return status == "" && strings.HasPrefix(strings.TrimSpace(afterType(diag)), "5") && permanentRx.MatchString(diag)
	case status == "5.1.7", status == "5.1.8":
		return false // the sender's address was refused, not the recipient's
	case status == "5.1.0":
		return permanentRx.MatchString(diag)
	case strings.HasPrefix(status, "5.1."):
		return true
	case status == "5.2.1", status == "5.4.4", status == "5.4.1":
		return true
	case status == "5.0.0", status == "5.5.0":
		return permanentRx.MatchString(diag)
	}
	return false
}

// afterType drops a Diagnostic-Code's "smtp;" type.
func afterType(d string) string {
	if _, v, ok := strings.Cut(d, ";"); ok {
		return v
	}
	return d
}

func isAutoReply(h mail.Header, subj string) bool {
	if as := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); as != "" && as != "no" {
		return true
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress"} {
		if h.Get(k) != "" {
			return true
		}
	}
	if prec := strings.ToLower(h.Get("Precedence")); prec == "auto_reply" || prec == "bulk" || prec == "junk" {
		return true
	}
	return autoSubj.MatchString(strings.TrimSpace(subj))
}

// Class is what a report means for one recipient: what Crier may do.
type Class string

// The classes, from the strongest.
const (
	ClassHard      Class = "hard"       // the address will never work: suppress
	ClassSoft      Class = "soft"       // this message failed (or is delayed): count
	ClassComplaint Class = "complaint"  // the recipient said "spam": unsubscribe
	ClassAutoReply Class = "auto-reply" // someone's program answered: nothing
	ClassNone      Class = "none"       // not feedback: nothing
)

// ClassFor says what the report means for addr: its own line when it has
// one, else the line recipientFor would use.
func (rep *Report) ClassFor(addr string) Class {
	switch rep.Kind {
	case KindComplaint:
		return ClassComplaint
	case KindAutoReply:
		return ClassAutoReply
	case KindDelay:
		return ClassSoft
	case KindBounce:
		if r, _ := recipientFor(rep, addr); r.Hard {
			return ClassHard
		}
		return ClassSoft
	}
	return ClassNone
}
