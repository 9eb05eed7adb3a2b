package bounces

import (
	"fmt"
	"regexp"
	"strings"
)

// Reason is why one message did not reach one recipient, in the
// vocabulary of sisimai (github.com/sisimai), whose public corpus and
// tables Crier's reader is measured against (testdata/bsd). Only a few
// reasons are about the address itself (Hard); all the others are about
// this message, this sender or the receiving system, and are soft.
type Reason string

// The reasons Crier tells apart.
const (
	ReasonUserUnknown   Reason = "userunknown"   // no such mailbox
	ReasonHostUnknown   Reason = "hostunknown"   // no such domain, or no route to it
	ReasonHasMoved      Reason = "hasmoved"      // the mailbox moved, no forwarding
	ReasonNotAccept     Reason = "notaccept"     // the domain accepts no mail (null MX)
	ReasonMailboxFull   Reason = "mailboxfull"   // over quota
	ReasonSuspend       Reason = "suspend"       // account disabled or suspended
	ReasonExpired       Reason = "expired"       // gave up retrying
	ReasonMesgTooBig    Reason = "mesgtoobig"    // the message is too large
	ReasonFiltered      Reason = "filtered"      // the recipient's own filter or settings
	ReasonBlocked       Reason = "blocked"       // the sending IP or host is refused (blocklist)
	ReasonBadReputation Reason = "badreputation" // the sender's reputation
	ReasonRequirePTR    Reason = "requireptr"    // the sending IP lacks a reverse DNS name
	ReasonAuthFailure   Reason = "authfailure"   // SPF, DKIM or DMARC failed
	ReasonSpamDetected  Reason = "spamdetected"  // the content was taken for spam
	ReasonVirus         Reason = "virusdetected" // the content was taken for a virus
	ReasonPolicy        Reason = "policyviolation"
	ReasonSpeeding      Reason = "speeding" // rate limited, too many connections
	ReasonRejected      Reason = "rejected" // the envelope sender was refused
	ReasonNoRelaying    Reason = "norelaying"
	ReasonContentError  Reason = "contenterror" // headers or MIME refused
	ReasonSecurity      Reason = "securityerror"
	ReasonTLS           Reason = "failedstarttls"
	ReasonSystemError   Reason = "systemerror" // the receiving system failed (loops, configuration)
	ReasonSystemFull    Reason = "systemfull"
	ReasonNetworkError  Reason = "networkerror" // DNS or connection trouble
	ReasonSyntaxError   Reason = "syntaxerror"
	ReasonMailerError   Reason = "mailererror"
	ReasonUndefined     Reason = "undefined" // nothing says why: soft
)

// reasonInfo says what a reason means for Crier.
type reasonInfo struct {
	hard bool
	// sending marks a refusal of Crier's sending (its IP, domain,
	// authentication, rate or content): when many recipients of one
	// domain get it in one send it is the organisers' problem.
	sending bool
	plain   string
}

var reasonTable = map[Reason]reasonInfo{
	ReasonUserUnknown:   {hard: true, plain: "the mailbox does not exist"},
	ReasonHostUnknown:   {hard: true, plain: "the domain does not exist or receives no mail"},
	ReasonHasMoved:      {hard: true, plain: "the address has moved and mail is not forwarded"},
	ReasonNotAccept:     {hard: true, plain: "the domain accepts no mail"},
	ReasonMailboxFull:   {plain: "the mailbox is full"},
	ReasonSuspend:       {plain: "the mailbox is suspended or disabled"},
	ReasonExpired:       {plain: "delivery was retried until it expired"},
	ReasonMesgTooBig:    {plain: "the mail was too large"},
	ReasonFiltered:      {plain: "the recipient's own settings refused it"},
	ReasonBlocked:       {sending: true, plain: "the receiving server refused our sending server (blocklist)"},
	ReasonBadReputation: {sending: true, plain: "the receiving server distrusts our sending server's reputation"},
	ReasonRequirePTR:    {sending: true, plain: "our sending server's IP has no reverse DNS name"},
	ReasonAuthFailure:   {sending: true, plain: "SPF, DKIM or DMARC checks of our mail failed"},
	ReasonSpamDetected:  {sending: true, plain: "the mail was taken for spam"},
	ReasonVirus:         {sending: true, plain: "the mail was taken for a virus"},
	ReasonPolicy:        {sending: true, plain: "the receiving server's policy refused it"},
	ReasonSpeeding:      {sending: true, plain: "we sent too fast (rate limited)"},
	ReasonRejected:      {sending: true, plain: "the receiving server refused our sender address"},
	ReasonNoRelaying:    {plain: "the receiving server does not relay for us"},
	ReasonContentError:  {sending: true, plain: "the mail's headers or format were refused"},
	ReasonSecurity:      {sending: true, plain: "a security check of the receiving server refused it"},
	ReasonTLS:           {plain: "an encrypted connection (STARTTLS) failed"},
	ReasonSystemError:   {plain: "the receiving system failed"},
	ReasonSystemFull:    {plain: "the receiving system is full"},
	ReasonNetworkError:  {plain: "a DNS or network failure"},
	ReasonSyntaxError:   {plain: "the receiving server did not understand our server"},
	ReasonMailerError:   {plain: "the receiving mail program failed"},
	ReasonUndefined:     {plain: "the report names no reason"},
}

// Hard says whether the reason is about the address itself: it will
// never work.
func (r Reason) Hard() bool { return reasonTable[r].hard }

// Sending says whether the reason is a refusal of Crier's sending rather
// than of one supporter's mailbox.
func (r Reason) Sending() bool { return reasonTable[r].sending }

// Plain says the reason in words an organiser reads.
func (r Reason) Plain() string {
	if i, ok := reasonTable[r]; ok {
		return i.plain
	}
	return string(r)
}

// phraseRule is a reason and the words (lower-case) that show it in a
// mail server's reply.
type phraseRule struct {
	reason  Reason
	phrases []string
}

// phraseRules are tried in order: refusals of the sender, its IP and the
// content come before the address ones, so that "5.1.1 ... blocked using
// Spamhaus" is not read as an unknown user. Words alone, never a status
// code; mail servers' boilerplate ("permanent error") says nothing.
var phraseRules = []phraseRule{
	{ReasonMailboxFull, []string{"mailbox full", "mailbox is full", "mailbox is over quota", "over quota", "quota exceeded",
		"exceeded storage", "exceeds quota", "quota exceed", "mailbox size limit", "user is over", "mailfolder is full",
		"box is full", "too much mail data", "insufficient disk space", "not enough disk space", "exceeded its storage", "mailbox has exceeded",
		"over the allowed quota", "full mailbox", "disk quota"}},
	{ReasonMesgTooBig, []string{"message too large", "message is too large", "message too big", "message size exceeds",
		"size exceeds", "exceeds size limit", "exceeds the maximum size", "message length exceeds", "too big for",
		"message file too big", "size limit"}},
	{ReasonRequirePTR, []string{"reverse dns", "ptr record", "ptr resource", "reverse lookup", "cannot find your hostname",
		"cannot resolve your", "ip name lookup failed", "no ptr", "rdns", "generic dns", "unresolvable relay host",
		"reverse-dns", "reverse dns entry", "have a reverse"}},
	{ReasonAuthFailure, []string{"spf", "dkim", "dmarc", "sender policy framework", "not authenticated",
		"authentication required", "authentication failed", "5.7.26", "5.7.23", "unauthenticated"}},
	{ReasonBadReputation, []string{"reputation", "user complaints"}},
	{ReasonSpeeding, []string{"rate limit", "rate-limit", "too many connections", "too many messages", "too many mails",
		"too many recipients", "too many concurrent", "sending too fast", "try again slower", "throttl", "unusual rate",
		"exceeded the rate", "sending rate", "too many sessions", "receiving mail at a rate", "connection limit"}},
	{ReasonBlocked, []string{"blacklist", "blocklist", "block list", "black list", "spamhaus", "spamcop", "dnsbl", " rbl",
		"sorbs", "barracudacentral", "your ip", "ip address blocked", "ip address rejected", "sending ip", "client host rejected", "sending ip", "dynamic ip",
		"listed at", "banned", "helo command rejected", "not accepting connections",
		"connection refused by", "refused to talk", "go away", "abuse", "open proxy", "open relay", "host network not allowed",
		"blocked using", "blocked by", "blocked -", "blocked because", "has been blocked", "access denied, banned",
		"your host", "your server", "confirm this mail server"}},
	{ReasonVirus, []string{"virus", "malware", "infected", "harmful", "phishing"}},
	{ReasonSpamDetected, []string{"spam", "unsolicited", "junk mail", "bulk mail", "bulk e-mail", "content filter",
		"message content rejected", "mail content denied", "message filtered", "considered as spam", "suspicious"}},
	{ReasonRejected, []string{"sender address rejected", "sender rejected", "sender domain", "domain of sender",
		"sender verify", "sender verification", "invalid sender", "sender is not", "sender not",
		"envelope sender", "envelope from", "return path", "bogus mail from", "sender unknown", "unknown sender",
		"null sender", "empty envelope sender", "mailfrom domain", "not on the recipient's list of senders", "administrative prohibition",
		"batv", "not a registered gateway user", "sender address", "from: domain", "backscatter"}},
	{ReasonNoRelaying, []string{"relaying denied", "relay access denied", "relay not permitted", "not permitted to relay",
		"unable to relay", "relaying not allowed", "we do not relay", "no relaying", "relay denied", "relaying mail to",
		"not a gateway", "relay prohibited", "not allowed to relay", "relaying is prohibited"}},
	{ReasonPolicy, []string{"permission to post", "policy", "prohibited", "not permitted", "organizational settings", "members-only",
		"closed mailing list", "not subscribed to this group", "mass mailer", "illegal attachment"}},
	{ReasonContentError, []string{"header error", "invalid header", "malformed header", "bad header", "header too",
		"headers too", "8-bit", "8bit", "mime error", "invalid mime", "line too long", "bare lf", "malformed message",
		"message content", "content rejected", "rfc 5322", "rfc5322", "rfc 2822", "rfc2822", "not compliant"}},
	{ReasonTLS, []string{"starttls", "tls ", "tls.", "encryption", "certificate"}},
	{ReasonSuspend, []string{"suspended", "disabled", "inactive account", "temporarily inactive", "deactivated", "is frozen", "temporarily locked", "temporary locked",
		"account is locked", "account locked", "archived recipient", "account has expired", "account expired",
		"mailbox currently suspended", "is terminated", "discontinued", "no longer accepts mail"}},
	{ReasonHasMoved, []string{"has moved", "address has changed", "no longer at this address", "moved to",
		"not forwarded"}},
	// A failed DNS lookup reported as such may pass: network trouble.
	{ReasonNetworkError, []string{"dns error", "dns lookup", "host not found, try again", "temporary lookup failure", "lookup of"}},
	{ReasonNotAccept, []string{"does not accept mail", "accepts no mail", "null mx", "nullmx", "not accept any",
		"mail receiving disabled", "no mx record", "not accepting network messages", "not accepting any mail", "host not found"}},
	{ReasonHostUnknown, []string{"find a mail exchanger", "host unknown", "unknown host", "domain not found", "no such domain",
		"domain does not exist", "domain doesn't exist", "unrouteable", "unroutable", "name or service not known",
		"host or domain name not found", "domain name not found", "unknown domain", "domain must exist",
		"domain is not reachable", "mail domain mentioned in email address is unknown",
		"no valid mx", "all relevant mx records point to non-existent hosts", "bad destination system",
		"domain may not exist"}},
	// Japanese carriers (au, ezweb) answer a recipient's own filter with
	// an empty address and "User unknown"; a missing mailbox is named.
	{ReasonFiltered, []string{"550 : user unknown"}},
	{ReasonUserUnknown, []string{"user unknown", "unknown user", "no such user", "no such mailbox", "no such recipient",
		"no such person", "no such address", "no mailbox", "does not exist", "doesn't exist", "not exist", "invalid recipient",
		"invalid mailbox", "invalid address", "invalid user", "unknown recipient", "unknown mailbox",
		"address unknown", "recipient unknown", "recipient not found", "user not found", "not a valid mailbox",
		"mailbox not found", "mailbox unavailable", "mailbox is unavailable", "mailbox not available",
		"not a known user", "not a valid user", "no account",
		"not listed in", "bad destination mailbox", "bad address", "address invalid", "unknown local part",
		"unknown or illegal alias", "user doesn't have", "isn't in my list of allowed rcpthosts", "badrcptto",
		"validrcptto", "no one at this address", "not our customer", "no longer valid", "addressee unknown",
		"utilisateur inconnu", "not a local address", "recipient is not local", "no valid recipients",
		"email account that you tried to reach does not exist", "mailbox does not exist", "user not known",
		"recipient does not exist", "is not a valid", "resolver.adr.recipientnotfound", "recipnotfound",
		"not found in directory", "address not present", "no mail box", "recipient invalid", "invalid-recipient",
		"unknown or invalid", "account does not exist", "unknown e-mail address", "unknown email address"}},
	{ReasonFiltered, []string{"filtered", "refuses to receive", "refused due to recipient preferences",
		"accepting mail from specific", "user reject", "rejected by the recipient", "blocked by the recipient",
		"user's settings", "notauthorized", "not accepting mail from you"}},
	{ReasonExpired, []string{"expired", "timed out", "time out", "timeout", "giving up", "gave up", "too long in queue",
		"in the queue too long", "retry time", "could not be delivered for more than", "no answer from host",
		"server did not respond", "failing for a long time", "delivery attempts will continue"}},
	{ReasonNetworkError, []string{"no route to host", "too many hops", "mail loop", "routing loop", "loop detected",
		"forwarding loop", "host is unreachable", "host unreachable", "name server", "dns", "connection refused",
		"connection reset", "could not connect", "lookup failure", "network is unreachable"}},
	{ReasonSystemFull, []string{"system full", "out of disk", "insufficient system storage", "disk full"}},
	{ReasonSystemError, []string{"system error", "internal error", "local error", "server error", "configuration error",
		"config error", "temporary local problem", "queue file write error", "service unavailable",
		"service currently unavailable", "service not available", "misconfigured", "loops back to myself"}},
	{ReasonSyntaxError, []string{"syntax error", "command unrecognized", "command not recognized", "unrecognized command"}},
	{ReasonMailerError, []string{"mailer error", "program exited", "x-unix", "unknown mailer", "exit code", "exited with"}},
}

// addressRule is a mail system's own wording for a missing address,
// with the code it comes with when the words alone are too common.
type addressRule struct {
	code, phrase, who string
}

// addressRules are wordings that name a missing address whatever SMTP
// command they answered, as sisimai's per-MTA and per-host modules read
// them: only these systems use them, and never for a filter.
var addressRules = []addressRule{
	{"", "not listed in domino directory", "Lotus Domino"},
	{"", "not listed in public name & address book", "Lotus Notes"},
	{"", "no se encuentra en el directorio de domino", "Lotus Domino"},
	{"", "non répertorié dans l'annuaire domino", "Lotus Domino"},
	{"", "000c05a6", "Exchange 2003 (unknown recipient)"},
	{"", "resolver.adr.recipnotfound", "Exchange"},
	{"", "resolver.adr.exrecipnotfound", "Exchange"},
	{"5.4.1", "recipient address rejected: access denied", "Microsoft 365"},
	{"5.5.0", "requested action not taken: mailbox unavailable", "Outlook.com"},
	{"", "because the address couldn't be found", "Google Workspace"},
	{"", "invalid final delivery userid", "IMail"},
	{"", "no valid recipients for this mm", "Verizon"},
	{"", "requested action not taken: no such user here", "Verizon"},
	{"", "no mailbox here by that name", "qmail"},
	{"", "does not like recipient.", "qmail"},
	{"", "inactive email address", "iCloud"},
	{"", "dd this user doesn't have a ", "Yahoo"},
}

// addressVerdict is hard when text holds a mail system's own wording for
// a missing address.
func addressVerdict(text, status string) (Verdict, bool) {
	p, who := addressWording(strings.ToLower(text), status)
	if p == "" {
		return Verdict{}, false
	}
	return Verdict{Class: ClassHard, Reason: ReasonUserUnknown, Rule: fmt.Sprintf("%q is %s's wording for a missing address", p, who)}, true
}

// kddiUnknown is au's and ezweb's reply for a missing address ("550
// <a@ezweb.ne.jp>: User unknown"); their user's filter leaves the
// address out ("550 : User unknown").
var kddiUnknown = regexp.MustCompile(`@(?:[a-z0-9-]+\.)*(?:ezweb\.ne\.jp|au\.com)>: user unknown`)

// franceTelecom finds Orange's and La Poste's reply codes (OFR_416,
// LPN007_416): 416 is their unknown recipient.
var franceTelecom = regexp.MustCompile(`\b(?:lpn|lpnaaa|ofr|ouk)(?:_\d{3}|\d{3}[-_]\d{3})\b`)

// addressWording finds a mail system's own wording for a missing
// address in text (lower-case), and says whose it is.
func addressWording(lower, status string) (string, string) {
	lower = strings.Join(strings.Fields(lower), " ")
	code := specificCode(lower)
	for _, r := range addressRules {
		if strings.Contains(lower, r.phrase) && (r.code == "" || r.code == code || r.code == status) {
			return r.phrase, r.who
		}
	}
	if m := kddiUnknown.FindString(lower); m != "" {
		return m, "au/ezweb"
	}
	if m := franceTelecom.FindString(lower); strings.HasSuffix(m, "416") {
		return m, "Orange/La Poste"
	}
	return "", ""
}

// reasonFromText finds the first rule whose words the diagnostic holds.
func reasonFromText(lower string) (Reason, string) {
	if lower == "" {
		return "", ""
	}
	// Servers and notices wrap long replies: a phrase may span lines.
	lower = strings.Join(strings.Fields(lower), " ")
	for _, r := range phraseRules {
		for _, p := range r.phrases {
			if strings.Contains(lower, p) {
				return r.reason, p
			}
		}
	}
	return "", ""
}

// reasonFromCode reads an enhanced status code (RFC 3463): only the
// address subjects (5.1.x bad mailbox or domain, 5.4.4 no route) are
// hard, and only when permanent.
func reasonFromCode(code string) Reason {
	c := code
	switch c {
	case "":
		return ""
	case "5.1.0", "5.1.1", "5.1.3", "4.1.1":
		return ReasonUserUnknown
	case "5.1.2", "5.4.4", "4.1.2":
		return ReasonHostUnknown
	case "5.1.6", "5.7.17", "5.7.18":
		return ReasonHasMoved
	case "5.1.10", "5.7.27", "5.3.2":
		return ReasonNotAccept
	case "5.1.7", "5.1.8", "4.1.7", "4.1.8":
		return ReasonRejected
	case "5.2.1", "5.7.13", "4.2.1":
		return ReasonSuspend
	case "5.2.2", "4.2.2":
		return ReasonMailboxFull
	case "5.2.3", "5.3.4", "5.7.16", "4.3.4":
		return ReasonMesgTooBig
	case "5.3.1", "4.3.1":
		return ReasonSystemFull
	case "5.5.3", "4.5.3":
		return ReasonSpeeding
	case "5.7.20", "5.7.21", "5.7.22", "5.7.23", "5.7.24", "5.7.26", "5.7.29":
		return ReasonAuthFailure
	case "5.7.25":
		return ReasonRequirePTR
	case "5.7.28":
		return ReasonSpamDetected
	case "5.7.30":
		return ReasonTLS
	case "4.4.7", "5.4.7":
		return ReasonExpired
	}
	switch {
	case strings.HasPrefix(c, "5.6.") || strings.HasPrefix(c, "4.6."):
		return ReasonContentError
	case strings.HasPrefix(c, "5.7.") || strings.HasPrefix(c, "4.7."):
		return ReasonSecurity
	case strings.HasPrefix(c, "5.4.") || strings.HasPrefix(c, "4.4."):
		return ReasonNetworkError
	case strings.HasPrefix(c, "5.3.") || strings.HasPrefix(c, "4.3."):
		return ReasonSystemError
	case strings.HasPrefix(c, "5.5.") || strings.HasPrefix(c, "4.5."):
		return ReasonSyntaxError
	case strings.HasPrefix(c, "5.2.") || strings.HasPrefix(c, "4.2."):
		return ReasonFiltered
	}
	return ""
}

// enhancedCode finds RFC 3463 codes that are not part of an IP address or
// a version number.
var enhancedCode = regexp.MustCompile(`(?:^|[^\d.])([245]\.\d{1,3}\.\d{1,3})(?:\.?(?:[^\d.]|$))`)

// replyCode finds an SMTP reply code starting a reply ("550 ", "550-").
var replyCode = regexp.MustCompile(`(?:^|[^\d.:/-])([45][0-5]\d)(?:[ -]|$)`)

// smtpStage says which SMTP command the reply holding phrase answered,
// where the report says so: "rcpt", "data", "mail", "helo" or "" (not
// said). Postfix names it after the reply ("in reply to end of DATA
// command", "[RCPT_TO]"); Exim, qmail and sendmail transcripts before it
// ("after RCPT TO:<a>:", "did not like our RCPT TO", ">>> DATA"), filters
// as "SMTP command: DATA". Before the reply, the last command named
// counts: a pipelining client sends DATA before the RCPT replies come,
// and a reply read after DATA is the message refused, as sisimai reads it.
func smtpStage(text, phrase string) string {
	lower := strings.Join(strings.Fields(asciiLower(text)), " ")
	for off := 0; phrase != "" && off < len(lower); {
		at := strings.Index(lower[off:], phrase)
		if at < 0 {
			break
		}
		at += off
		off = at + len(phrase)
		after := lower[at:min(len(lower), off+300)]
		if m := stageAfter.FindStringSubmatch(after); m != nil {
			return stageName(strings.Join(m[1:], ""))
		}
		if ms := stageBefore.FindAllStringSubmatch(lower[max(0, at-600):at], -1); ms != nil {
			return stageName(strings.Join(ms[len(ms)-1][1:], ""))
		}
	}
	return ""
}

var (
	// Only phrasings that name a command: "the following data", "our data
	// centre" or "for mail to" are words, not commands.
	stageAfter  = regexp.MustCompile(`(?:in reply to (?:the )?|\[)(rcpt|end of data|data|mail from|mail|ehlo|helo)\b|\b(?:in|for) (rcpt) to\b|\[(rcpt)_to\]`)
	stageBefore = regexp.MustCompile(`(?:>>> ?|\bafter (?:the )?|smtp command:? ?|smtp:)(rcpt|end of data|data|mail from|ehlo|helo)\b|\b(?:our|following) (rcpt)\b`)
)

func stageName(cmd string) string {
	switch {
	case strings.HasPrefix(cmd, "rcpt"):
		return "rcpt"
	case strings.HasSuffix(cmd, "data"):
		return "data"
	case strings.HasPrefix(cmd, "mail"):
		return "mail"
	}
	return "helo"
}

// Verdict is the decision about one recipient, with the evidence used.
type Verdict struct {
	Class  Class  `json:"class"`
	Reason Reason `json:"reason"`
	// Rule says in words which evidence decided.
	Rule string `json:"rule"`
}

// judge decides what a failure means from the recipient's own status
// and diagnostic, and the report's text about this recipient (for a
// report written for people, the only evidence). The more specific
// evidence wins: a mail system's own wording for a missing address
// (addressRules), the words of the reply, then the code inside the reply
// (the receiving server's own), then the report's Status when it names a
// reason, then the words of the text about the recipient, then a code in
// that text. Words saying the address is unknown are checked against
// the code and the SMTP command they answered (addressOrFilter). Nothing
// found is soft.
func judge(status, diag, text string) Verdict {
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(diag)), "x-unix") {
		// The local delivery program failed, whatever it printed.
		return Verdict{Class: ClassSoft, Reason: ReasonMailerError, Rule: "a local delivery program failed (X-Unix diagnostic)"}
	}
	code := specificCode(diag)
	if sender := senderCode(code) || senderCode(status); sender {
		// X.1.7 and X.1.8 name the sender's address: whatever the words,
		// the address refused is Crier's own.
		return verdictFor(ReasonRejected, "status "+status+code+" is about the sender's address", "", status, diag, text)
	}
	if v, ok := addressVerdict(diag, status); ok {
		return v
	}
	if r, p := reasonFromText(strings.ToLower(diag)); r != "" {
		return verdictFor(r, fmt.Sprintf("the reply says %q", p), p, status, diag, text)
	}
	if reasonFromCode(code) != "" {
		rule := "the reply's own code " + code
		if status != "" && code != status {
			rule += " (over the report's Status " + status + ")"
		}
		return verdictFor(reasonFromCode(code), rule, "", status, diag, text)
	}
	if r := reasonFromCode(status); r != "" {
		return verdictFor(r, "status "+status, "", status, diag, text)
	}
	if v, ok := addressVerdict(text, status); ok {
		return v
	}
	if r, p := reasonFromText(strings.ToLower(text)); r != "" {
		return verdictFor(r, fmt.Sprintf("the report's text says %q", p), p, status, diag, text)
	}
	if code = specificCode(text); reasonFromCode(code) != "" {
		return verdictFor(reasonFromCode(code), "the code in the report's text "+code, "", status, diag, text)
	}
	if status != "" || code != "" {
		return Verdict{Class: ClassSoft, Reason: ReasonUndefined, Rule: "status " + status + code + " names no reason: soft"}
	}
	return Verdict{Class: ClassSoft, Reason: ReasonUndefined, Rule: "no status and no reason named: soft"}
}

func senderCode(c string) bool {
	return c == "5.1.7" || c == "5.1.8" || c == "4.1.7" || c == "4.1.8"
}

// specificCode is the last enhanced code of s that says more than X.0.0
// (relays report their own code first and quote the remote's, more
// precise one after it), else its first one.
func specificCode(s string) string {
	ms := enhancedCode.FindAllStringSubmatch(s, 8)
	for i := len(ms) - 1; i >= 0; i-- {
		if !strings.HasSuffix(ms[i][1], ".0.0") {
			return ms[i][1]
		}
	}
	if len(ms) > 0 {
		return ms[0][1]
	}
	return ""
}

func verdictFor(r Reason, rule, phrase, status, diag, text string) Verdict {
	if r == ReasonUserUnknown {
		r, rule = addressOrFilter(rule, phrase, status, diag, text)
	}
	v := Verdict{Class: ClassSoft, Reason: r, Rule: rule}
	if r.Hard() {
		v.Class = ClassHard
	}
	// A null-MX style refusal is only final when the reply is permanent.
	if r == ReasonNotAccept && (strings.HasPrefix(status, "4") || strings.HasPrefix(replyOf(diag+"\n"+text), "4")) {
		v.Class = ClassSoft
	}
	return v
}

// addressOrFilter decides whether words like "user unknown" are about
// the address (hard) or a filter answering with them (soft), as sisimai
// does: they are about the address when a code says so (X.1.0, X.1.1,
// X.1.3), or when the reply answered RCPT TO, the command that names the
// address. A reply to DATA is the message refused; and a reply to no
// command named, with no code saying so, is a mailbox's filter refusing
// in the same words as often as a missing mailbox: soft, never drop a
// supporter on it.
func addressOrFilter(rule, phrase, status, diag, text string) (Reason, string) {
	code := specificCode(diag)
	if code == "" || strings.HasSuffix(code, ".0.0") {
		code = status
	}
	stage := smtpStage(diag+"\n"+text, phrase)
	if p, who := addressWording(strings.ToLower(text), status); p != "" {
		return ReasonUserUnknown, rule + fmt.Sprintf(", and %q is %s's wording for a missing address", p, who)
	}
	switch {
	case stage == "mail":
		return ReasonRejected, rule + ", but in reply to MAIL FROM: about the sender's address"
	case addressCode(code):
		return ReasonUserUnknown, rule + ", and code " + code + " says the address is bad"
	case stage == "rcpt":
		return ReasonUserUnknown, rule + ", in reply to RCPT TO"
	case stage != "":
		return ReasonFiltered, rule + ", but in reply to " + strings.ToUpper(stage) + ", not to the recipient (a filter)"
	case code != "":
		return ReasonFiltered, rule + ", but code " + code + " says the mailbox refused it, and no reply to RCPT TO shows the address unknown (a filter)"
	}
	return ReasonFiltered, rule + ", but neither a code nor a reply to RCPT TO shows the address unknown (a filter)"
}

// addressCode says whether an enhanced code is about the destination
// address (X.1.x; Microsoft adds its own, 5.1.351 unknown recipient),
// not the sender's (X.1.7, X.1.8).
func addressCode(c string) bool {
	return strings.HasPrefix(c, "5.1.") && !senderCode(c)
}

func replyOf(diag string) string {
	if m := replyCode.FindStringSubmatch(diag); m != nil {
		return m[1]
	}
	return ""
}

// advice says what a domain refusing count mails of a send for r means
// and what the organisers should check.
func (r Reason) advice(domain string, count int) string {
	what, check := "", "check the sending server's setup"
	switch r {
	case ReasonSpamDetected, ReasonVirus, ReasonBadReputation, ReasonPolicy:
		what, check = "as spam", "check SPF, DKIM and your IP's reputation"
	case ReasonBlocked, ReasonRequirePTR:
		what, check = "because of your server's IP", "check whether the IP is on a blocklist and has a reverse DNS name"
	case ReasonAuthFailure:
		what, check = "for failed authentication", "check the domain's SPF, DKIM and DMARC records"
	case ReasonSpeeding:
		what, check = "for sending too fast", "lower channels.email.rate or ask the provider for more"
	case ReasonRejected:
		what, check = "for the sender address", "check the from address and its domain's DNS"
	case ReasonContentError:
		what, check = "for the mail's format", "check the newsletter template"
	case ReasonSecurity:
		what, check = "in a security check", "check SPF, DKIM and your IP's reputation"
	}
	return strings.Join(strings.Fields(fmt.Sprintf("%s refused %d mails %s from your server: %s", domain, count, what, check)), " ")
}
