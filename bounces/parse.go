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

	"golang.org/x/text/encoding/ianaindex"
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
	// Verdict is the class, the reason and the rule that decided.
	Verdict
	// Hard is Class == ClassHard: a permanent failure of the address
	// itself (no such user, domain gone); a full mailbox or a policy
	// refusal is soft.
	Hard bool `json:"hard"`
	// Would is what Crier does for this line if it is the supporter's
	// (filled by Decision.Explain).
	Would string `json:"would,omitempty"`
}

// Limits on what one message can make the parser do.
const (
	// MaxMessageBytes is the largest message read: a bounce that returns
	// a whole newsletter with its images stays under it; larger ones are
	// ignored (see docs/newsletter.md for the time and memory measured).
	MaxMessageBytes = 10 << 20
	maxDepth        = 6
	maxParts        = 64
	maxText         = 1 << 20
	maxRecipients   = 50
	maxJudged       = 8 << 10 // the text judged about one recipient
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
	// origFrom and origRcpt are the returned message's sender (Crier)
	// and recipients, from its headers.
	origFrom, origRcpt []string
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
	var r io.Reader = decodeTransfer(cte, body)
	if strings.HasPrefix(mt, "text/") && params["charset"] != "" {
		r, _ = charsetReader(params["charset"], r)
	}
	data, _ := io.ReadAll(io.LimitReader(r, MaxMessageBytes))
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
		inner, err := mail.ReadMessage(bytes.NewReader(data))
		if err == nil {
			p.original(inner.Header)
		}
		if err == nil && mt != "text/rfc822-headers" && mt != "message/rfc822-headers" {
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

// original notes the returned message's sender and recipients.
func (p *parser) original(h mail.Header) {
	for _, k := range []string{"From", "Return-Path", "Sender"} {
		p.origFrom = append(p.origFrom, addressText.FindAllString(strings.ToLower(h.Get(k)), 4)...)
	}
	for _, k := range []string{"To", "X-HmXmrOriginalRecipient", "X-Original-To", "Delivered-To"} {
		p.origRcpt = append(p.origRcpt, addressText.FindAllString(strings.ToLower(h.Get(k)), maxRecipients)...)
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

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

// charsetReader decodes a legacy charset (ISO-2022-JP, Shift_JIS,
// Latin-1...) to UTF-8, so Japanese or German notices read; an unknown
// charset is read as it is.
func charsetReader(charset string, in io.Reader) (io.Reader, error) {
	cs := strings.ToLower(strings.TrimSpace(charset))
	if cs == "" || cs == "utf-8" || cs == "us-ascii" {
		return in, nil
	}
	enc, err := ianaindex.MIME.Encoding(cs)
	if err != nil || enc == nil {
		return in, nil
	}
	return enc.NewDecoder().Reader(in), nil
}

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
			Status: specificCode(b["status"]), Diagnostic: clip(b["diagnostic-code"], 1000)}
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
	addressText = regexp.MustCompile(`[A-Za-z0-9._%+'=-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}`)
	// daemonFrom is the From of a mail server's own notices.
	daemonFrom = regexp.MustCompile(`(?i)(mailer-daemon|post_?master|mail delivery (sub)?system|mail administrator|ndr administrator|^\s*<>\s*$|^\s*$)`)
	// daemonAddress is an address that only a mail server writes from.
	daemonAddress = regexp.MustCompile(`(?i)^(mailer-daemon|mail-daemon|mailer_daemon|mdaemon)@`)
	bounceSubj    = regexp.MustCompile(`(?i)(undeliver|undelivered|delivery (status notification|failure|has failed|failed|problem|notification)|returned mail|mail delivery failed|failure notice|could not be delivered|non[- ]?delivery|failed delivery|delivery failed|mail failure|error sending|delivery error|returned to sender|message not delivered|nicht zustellbar|non remis|no entregado|unzustellbar|メールエラー|配信|不達|送信できません|返送|届きませんでした)`)
	delaySubj     = regexp.MustCompile(`(?i)(delay|still being retried|warning: could not send|not yet been delivered|遅延)`)
	delayText     = regexp.MustCompile(`(?i)(will (continue|keep) (trying|to try)|will retry|still (trying|being retried)|has not yet been delivered|delivery (has been|is) delayed|temporarily deferred|no action is required on your part)`)
	autoSubj      = regexp.MustCompile(`(?i)^(auto(matic)?[ -]?(reply|response|antwort)|out of (the )?office|away|absence|vacation|abwesenheit|r[ée]ponse automatique|自動応答|不在)`)
	originalRx    = regexp.MustCompile(`(?im)^(-+ ?(this is a copy of|original message|the original message|returned message|undelivered message|message header follows|original message header|headers of the original)|^original message headers:|.*below this line is a copy of the message|content-type: message/rfc822|received: from )`)
	// failureWords show a text is a mail server's failure notice.
	failureWords = regexp.MustCompile(`(?i)(could not be delivered|couldn't be delivered|was not delivered|delivery (to the following|has failed|failed)|failed permanently|permanent (error|failure|fatal)|following address(es)? failed|undeliverable|unable to deliver|error sending|returned mail|delivery status|user unknown|smtp error|remote host said|said:)`)
)

// classify decides the kind from what the parts held, then from the
// headers and the wording of mail servers that write no standard report.
func (p *parser) classify(rep *Report, h mail.Header) {
	from := h.Get("From")
	subj := rep.Subject
	human := p.human.String()
	switch {
	case p.arfSeen:
		rcpts := p.arf
		if len(rcpts) == 0 {
			rcpts = textAddrs(p.origRcpt, nil, maxRecipients)
		}
		p.complaint(rep, p.arfType, rcpts)
		return
	case p.dsnSeen && len(p.dsn) > 0:
		p.dsnReport(rep, p.dsn, beforeOriginal(human))
		return
	}
	if ses, ok := readSESNotification(human); ok {
		*rep = mergeSES(*rep, ses)
		return
	}
	switch {
	case complaintSubj.MatchString(subj) && p.embedded:
		// A provider's complaint without a feedback-report part (old
		// Hotmail): the spam report quotes the message.
		p.complaint(rep, "abuse", textAddrs(p.origRcpt, nil, maxRecipients))
		return
	case unsubscribeText.MatchString(human):
		// A mail program's unsubscribe button (Apple Mail): the person
		// asked to leave, as in an ARF opt-out report.
		p.complaint(rep, "opt-out", nil)
		return
	}
	fromDaemon := daemonFrom.MatchString(from) || daemonFrom.MatchString(addrOf(from))
	evidence := p.embedded || originalRx.MatchString(human) || failureWords.MatchString(human) ||
		enhancedCode.MatchString(human) || replyCode.MatchString(human)
	// Notices are sent from the null sender (RFC 5321 section 4.5.5): one
	// that returns the original and says it failed is a bounce, whatever
	// its From says ("no-reply@...").
	nullSender := strings.TrimSpace(h.Get("Return-Path")) == "<>" && p.embedded && failureWords.MatchString(human)
	looksBounce := h.Get("X-Failed-Recipients") != "" || nullSender ||
		(fromDaemon && (bounceSubj.MatchString(subj) || delaySubj.MatchString(subj) || evidence)) ||
		((bounceSubj.MatchString(subj) || delaySubj.MatchString(subj)) && evidence)
	if !looksBounce {
		if isAutoReply(h, subj) || challengeText.MatchString(subj+"\n"+clip(human, 8192)) {
			rep.Kind = KindAutoReply
		}
		return
	}
	// A report whose MIME structure is broken still has its fields.
	if strings.Contains(strings.ToLower(human), "final-recipient:") {
		if rcpts := parseDSN([]byte(human)); len(rcpts) > 0 {
			p.dsnReport(rep, rcpts, human)
			return
		}
	}
	human = beforeOriginal(human)
	if delaySubj.MatchString(subj) || (delayText.MatchString(human) && !failureWords.MatchString(human)) {
		rep.Kind = KindDelay
		rep.Recipients = p.textRecipients(h.Get("X-Failed-Recipients"), human, from, ClassSoft)
		return
	}
	rep.Kind = KindBounce
	rep.Recipients = p.textRecipients(h.Get("X-Failed-Recipients"), human, from, "")
}

var (
	// challengeText is a challenge-response filter asking the sender to
	// prove it is a person (Boxbe, SpamArrest and the like): an automatic
	// answer, never a bounce.
	challengeText   = regexp.MustCompile(`(?i)(challenge[- ]response|boxbe|spam ?arrest|guest list|(confirm|verify|prove) (that )?you are (a )?(human|real person)|added to my (approved|allowed|white) ?list|sender verification request)`)
	complaintSubj   = regexp.MustCompile(`(?i)complaint about message`)
	unsubscribeText = regexp.MustCompile(`(?i)sent this (e-?mail|message) to unsubscribe`)
)

// beforeOriginal cuts a notice's text where the returned message starts.
func beforeOriginal(human string) string {
	if loc := originalRx.FindStringIndex(human); loc != nil && loc[0] > 0 {
		return human[:loc[0]]
	}
	return human
}

// complaint fills rep for an abuse report. Abuse, fraud, opt-out and
// untyped reports are a person's "this is spam" or "stop"; DMARC failure
// (auth-failure), virus and not-spam reports are not.
func (p *parser) complaint(rep *Report, typ string, rcpts []Recipient) {
	rep.FeedbackType = typ
	rep.Recipients = rcpts
	switch typ {
	case "auth-failure", "virus", "not-spam", "dmarc":
		rep.Kind = KindOther
		return
	}
	rep.Kind = KindComplaint
	for i := range rep.Recipients {
		rep.Recipients[i].Verdict = Verdict{Class: ClassComplaint, Reason: "feedback", Rule: "abuse report, feedback-type " + typ}
	}
}

// dsnReport fills rep from a delivery status notification's recipient
// blocks, judging each on its own status and diagnostic (or, when its
// diagnostic names no reason, the report's text about that address).
func (p *parser) dsnReport(rep *Report, rcpts []Recipient, human string) {
	rep.Recipients = rcpts
	rep.Kind = KindOther
	lower := asciiLower(human)
	for i := range rep.Recipients {
		r := &rep.Recipients[i]
		block := leadParagraph(human, lower, r.Address, rcpts) + "\n" + textBlock(human, lower, r.Address, rcpts)
		switch {
		case r.Action == "failed" || r.Action == "expired" || (r.Action == "" && strings.HasPrefix(r.Status, "5")):
			rep.Kind = KindBounce
			r.Verdict = judge(r.Status, r.Diagnostic, block)
		case r.Action == "delayed" || (r.Action == "" && strings.HasPrefix(r.Status, "4")):
			if rep.Kind != KindBounce {
				rep.Kind = KindDelay
			}
			r.Verdict = judge(r.Status, r.Diagnostic, block)
			r.Class, r.Rule = ClassSoft, "delayed: still being retried ("+r.Rule+")"
		default:
			r.Verdict = Verdict{Class: ClassNone, Rule: "action " + r.Action}
		}
		if r.Class == ClassHard && len(rcpts) == 1 {
			r.Verdict = contradicted(r.Verdict, human)
		}
		r.Hard = r.Class == ClassHard
	}
}

// contradicted makes a hard verdict soft when the notice written for
// people names a state of the mailbox instead (full, suspended): the
// evidence disagrees, and a supporter is not dropped on a disagreement.
func contradicted(v Verdict, human string) Verdict {
	r, p := reasonFromText(strings.ToLower(clip(human, maxJudged)))
	if r != ReasonMailboxFull && r != ReasonSuspend {
		return v
	}
	return Verdict{Class: ClassSoft, Reason: r, Rule: fmt.Sprintf("%s, but the notice says %q: the evidence disagrees, soft", v.Rule, p)}
}

// textBlock is the part of a report's text (and its lower-case copy)
// about addr: from the line
// naming it to the line naming the next recipient. Multi-recipient
// notices give each address its own reason.
func textBlock(human, lower, addr string, all []Recipient) string {
	at := strings.Index(lower, addr)
	if at < 0 || addr == "" {
		return ""
	}
	start := transcriptAbove(lower, strings.LastIndexByte(lower[:at], '\n')+1)
	// Only the judged length is looked at, so that many recipients in a
	// long text cost in proportion to its size.
	end := min(len(lower), max(start+maxJudged, at+len(addr)))
	for _, o := range all {
		if o.Address == addr || o.Address == "" {
			continue
		}
		if j := strings.Index(lower[at+len(addr):end], o.Address); j >= 0 {
			if k := at + len(addr) + j; k < end {
				end = strings.LastIndexByte(lower[:k], '\n') + 1
				end = max(end, at+len(addr))
			}
		}
	}
	return clip(human[start:end], maxJudged)
}

// leadParagraph is the short paragraph just above the line naming addr
// when no other recipient is named before it: notices that state the
// reason once, above the addresses ("The user(s) account is disabled.").
func leadParagraph(human, lower, addr string, all []Recipient) string {
	at := strings.Index(lower, addr)
	if at < 0 || addr == "" {
		return ""
	}
	before := lower[:strings.LastIndexByte(lower[:at], '\n')+1]
	for _, o := range all {
		if o.Address != "" && strings.Contains(before, o.Address) {
			return ""
		}
	}
	end := len(strings.TrimRight(before, "\r\n\t "))
	start := max(strings.LastIndex(before[:end], "\n\n"), strings.LastIndex(before[:end], "\n\r\n"))
	if start < 0 || end-start > 200 {
		return ""
	}
	return human[start:end]
}

// transcriptAbove moves start up over the SMTP transcript lines just
// above it (sendmail's "While talking to", ">>> MAIL From:", "<<< 501
// ..."): the reply that failed an address is written above the line
// naming it.
func transcriptAbove(lower string, start int) int {
	for start > 0 {
		prev := strings.LastIndexByte(lower[:start-1], '\n') + 1
		line := strings.TrimSpace(lower[prev : start-1])
		if !strings.HasPrefix(line, ">>> ") && !strings.HasPrefix(line, "<<< ") && !strings.HasPrefix(line, "while talking to ") {
			break
		}
		start = prev
	}
	return start
}

// textRecipients reads the failed addresses and the reasons from a bounce
// written for people: X-Failed-Recipients, else the addresses its text
// names (not the sender's own, not a mail server's), else the returned
// message's own recipients. class, when set, overrides the verdict (a
// delay is soft whatever it says).
func (p *parser) textRecipients(failed, human, from string, class Class) []Recipient {
	var out []Recipient
	for _, a := range strings.Split(failed, ",") {
		if a = typedAddress(a); a != "" && len(out) < maxRecipients {
			out = append(out, Recipient{Address: a, Action: "failed"})
		}
	}
	if len(out) == 0 {
		skip := map[string]bool{addrOf(from): true}
		for _, a := range p.origFrom {
			skip[a] = true
		}
		out = textAddrs(addressText.FindAllString(human, 4*maxRecipients), skip, maxRecipients)
	}
	if len(out) == 0 {
		out = textAddrs(p.origRcpt, nil, maxRecipients)
	}
	lower := asciiLower(human)
	for i := range out {
		r := &out[i]
		r.Action = "failed"
		block := textBlock(human, lower, r.Address, out)
		if block == "" {
			block = clip(human, maxJudged)
		}
		r.Status = specificCode(block)
		r.Diagnostic = clip(diagnosticLine(block), 300)
		r.Verdict = judge(r.Status, r.Diagnostic, block)
		if r.Reason == ReasonUndefined && len(block) < len(human) {
			r.Verdict = judge(r.Status, r.Diagnostic, clip(human, maxJudged))
		}
		if class != "" {
			r.Class, r.Action = class, "delayed"
		}
		r.Hard = r.Class == ClassHard
	}
	return out
}

// textAddrs keeps the distinct addresses of list that are neither in skip
// nor a mail server's own.
func textAddrs(list []string, skip map[string]bool, n int) []Recipient {
	var out []Recipient
	seen := map[string]bool{}
	for _, a := range list {
		a = strings.ToLower(strings.Trim(a, "<>. "))
		if a == "" || seen[a] || skip[a] || daemonAddress.MatchString(a) || len(out) == n {
			continue
		}
		seen[a] = true
		out = append(out, Recipient{Address: a})
	}
	return out
}

// diagnosticLine is the first line of a text that carries a reply code,
// else its first line that is not blank.
func diagnosticLine(block string) string {
	first := ""
	for _, l := range strings.Split(block, "\n") {
		l = strings.TrimSpace(l)
		if replyCode.MatchString(l) || enhancedCode.MatchString(l) {
			return l
		}
		if first == "" && l != "" {
			first = l
		}
	}
	return first
}

func addrOf(from string) string {
	if a, err := mail.ParseAddress(from); err == nil {
		return strings.ToLower(a.Address)
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(from), "<>"))
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
		if r, _ := recipientFor(rep, addr); r.Class != "" {
			return r.Class
		}
		return ClassSoft
	}
	return ClassNone
}

// asciiLower lower-cases ASCII letters only, so offsets in the result are
// offsets in s (strings.ToLower may change the length of invalid UTF-8).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
