package bounces

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestJudgePatterns holds the reader to the patterns issue 19 found
// misread: each case is a general shape of report, not one file.
func TestJudgePatterns(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name               string
		status, diag, text string
		want               Class
		reason             Reason
	}{
		{"boilerplate 'permanent error' says nothing about the address", "", "",
			"This is a permanent error. The following address(es) failed:\n  a@example.org\n    host mx.example.org: 550 5.7.1 Your IP is listed at zen.spamhaus.org", ClassSoft, ReasonBlocked},
		{"Status 5.1.1 but the reply says 5.7.1 blacklisted", "5.1.1", "smtp; 550 5.7.1 Service unavailable; client [192.0.2.1] blacklisted", "", ClassSoft, ReasonBlocked},
		{"Status 5.1.1 with a reply naming no reason stays hard", "5.1.1", "smtp; 550 Requested action not taken", "", ClassHard, ReasonUserUnknown},
		{"5.1.x is not always hard: 5.1.8 is the sender's domain", "5.1.8", "smtp; 553 5.1.8 sender domain does not exist", "", ClassSoft, ReasonRejected},
		{"5.1.7 no such domain is the sender's", "5.1.7", "550 5.1.7 No such domain neko.example.com.", "", ClassSoft, ReasonRejected},
		{"5.2.1 disabled is not hard", "5.2.1", "smtp; 550 5.2.1 The email account that you tried to reach is disabled.", "", ClassSoft, ReasonSuspend},
		{"5.4.x is not always hard: a DNS error", "4.0.0", "smtp; DNS Error: DNS type 'mx' lookup of example.jp responded with code NXDOMAIN", "", ClassSoft, ReasonNetworkError},
		{"5.7.x is not always soft: no such user", "5.7.1", "smtp; 554 5.7.1 <a@example.ch>: Recipient address rejected: no such user (in reply to RCPT TO command)", "", ClassHard, ReasonUserUnknown},
		{"5.3.x with 'user unknown' answered to RCPT is hard", "5.3.0", "smtp; 550 5.3.0 user unknown (in reply to RCPT TO command)", "", ClassHard, ReasonUserUnknown},
		{"no status at all, the text says user unknown to RCPT", "", "", "a@example.org:\n>>> RCPT To:<a@example.org>\n<<< 550 sorry, user unknown", ClassHard, ReasonUserUnknown},
		{"a reply wrapped over two lines", "", "", "a@example.org:\n    SMTP error from remote mail server after RCPT TO:<a@example.org>:\n    550 sorry, user\n    unknown", ClassHard, ReasonUserUnknown},
		{"no status, nothing said: soft", "", "", "something went wrong", ClassSoft, ReasonUndefined},
		{"mailbox full with 5.1.1 status", "5.1.1", "smtp; 552 mailbox is full", "", ClassSoft, ReasonMailboxFull},
		{"rate limited", "4.7.0", "smtp; 421 4.7.0 Try again later, closing connection. (rate limit exceeded)", "", ClassSoft, ReasonSpeeding},
		{"missing PTR", "5.7.1", "smtp; 550 5.7.1 Client host rejected: cannot find your hostname", "", ClassSoft, ReasonRequirePTR},
		{"SPF", "5.7.26", "smtp; 550 5.7.26 This mail is unauthenticated", "", ClassSoft, ReasonAuthFailure},
		{"message too large", "5.3.4", "smtp; 552 5.3.4 Message size exceeds fixed limit", "", ClassSoft, ReasonMesgTooBig},
		{"TLS", "5.7.10", "smtp; 530 5.7.10 Must issue a STARTTLS command first", "", ClassSoft, ReasonTLS},
		{"a relay's 5.0.0 quoting the remote's precise code", "5.0.0", "smtp; 5.1.0 - Unknown address error 550-'5.7.1 Access denied'", "", ClassSoft, ReasonSecurity},
		{"user unknown answered to DATA is a filter", "5.0.0", "smtp; 550 Unknown user a@example.net", "said: 550 Unknown user a@example.net (in reply to end of DATA command)", ClassSoft, ReasonFiltered},
		{"user unknown answered to RCPT is hard", "5.1.1", "smtp; 550 5.1.1 <a@example.net>: Recipient address rejected: User unknown", "(in reply to RCPT TO command)", ClassHard, ReasonUserUnknown},
		{"a local delivery program's failure", "5.1.1", "x-unix; procmail: No such user", "", ClassSoft, ReasonMailerError},
		{"null MX", "5.1.10", "smtp; 556 5.1.10 Recipient address has null MX", "", ClassHard, ReasonNotAccept},
		{"domain does not exist", "5.1.2", "", "", ClassHard, ReasonHostUnknown},
		{"a carrier's filter says user unknown with no address", "5.0.0", "SMTP; 550 : User unknown", "", ClassSoft, ReasonFiltered},
		{"status 5.2.0 for a bare unknown user: a mailbox that refused", "5.2.0", "SMTP; 550 Unknown user a@example.jp", "", ClassSoft, ReasonFiltered},
		{"the reply's own 5.1.1 keeps it hard under Status 5.2.0", "5.2.0", "SMTP; 550 5.1.1 Unknown user a@example.jp", "", ClassHard, ReasonUserUnknown},
		// Issue 19, second round: "user unknown" is the address only when
		// a code or the SMTP command it answered says so (as sisimai).
		{"user unknown, no code, no command named: a filter's words as often", "", "smtp; 550 Unknown user a@example.jp", "", ClassSoft, ReasonFiltered},
		{"5.2.1 user unknown not answering RCPT TO: the mailbox refused", "5.2.1", "smtp; 550 5.2.1 <a@example.jp>... User Unknown", "", ClassSoft, ReasonFiltered},
		{"user unknown read after >>> DATA in a transcript", "5.0.0", "", "a@example.jp\n>>> RCPT To:<a@example.jp>\n>>> DATA\n<<< 550 Unknown user a@example.jp", ClassSoft, ReasonFiltered},
		{"user unknown read after >>> RCPT To in a transcript", "5.0.0", "", "a@example.jp\n>>> RCPT To:<a@example.jp>\n<<< 550 Unknown user a@example.jp", ClassHard, ReasonUserUnknown},
		{"[RCPT_TO] after the reply places it", "5.2.1", "550 5.2.1 <a@example.jp>... User Unknown [RCPT_TO]", "", ClassHard, ReasonUserUnknown},
		{"'for mail to' is words, not the MAIL command", "", "", "a@example.org\n  550 no such user for mail to this domain (in reply to RCPT TO command)", ClassHard, ReasonUserUnknown},
		{"Exim: refused after MAIL FROM is the sender's address", "", "",
			"a@example.org\n  SMTP error from remote mail server after MAIL FROM:<s@crier.example> SIZE=1022:\n  553 5.1.0 s crier.example does not exist", ClassSoft, ReasonRejected},
		{"Microsoft 365: 5.4.1 Recipient address rejected: Access denied", "5.4.1", "smtp; 550 5.4.1 <a@example.org>: Recipient address rejected: Access denied [x.prod.protection.outlook.com]", "", ClassHard, ReasonUserUnknown},
		{"Outlook.com: 5.5.0 mailbox unavailable", "5.5.0", "smtp; 550 Requested action not taken: mailbox unavailable (-1:2:-3)", "", ClassHard, ReasonUserUnknown},
		{"au/ezweb names the address it does not know", "5.0.0", "smtp; 550 <a@ezweb.ne.jp>: User unknown", "", ClassHard, ReasonUserUnknown},
		{"another server's '<a>: User unknown' with no command: a filter", "", "", "a@example.or.jp:\n  mx.example.or.jp said: 550\n  <a@example.or.jp>: User unknown", ClassSoft, ReasonFiltered},
		{"Orange/La Poste 416 is their unknown recipient", "5.5.0", "SMTP; 550 5.5.0 Adresse destinataire invalide. Invalid recipient. LPN007_416", "", ClassHard, ReasonUserUnknown},
		{"Domino's wording without a code", "", "", "a@example.jp\n  User a@example.jp not listed in Domino Directory", ClassHard, ReasonUserUnknown},
		{"Postfix: host not found, try again is a DNS failure", "", "", "<a@example.com>: Name service error for domain example.com: Host not\n    found, try again", ClassSoft, ReasonNetworkError},
		{"X.3.2 system not accepting network messages", "5.3.2", "521 5.3.2 <a@example.net>: Recipient address rejected: System not accepting network messages", "", ClassHard, ReasonNotAccept},
	} {
		v := judge(c.status, c.diag, c.text)
		if v.Class != c.want || v.Reason != c.reason {
			t.Errorf("%s: %+v, want %s (%s)", c.name, v, c.want, c.reason)
		}
		if v.Rule == "" {
			t.Errorf("%s: no rule given", c.name)
		}
	}
}

// TestMultiRecipientNotice holds each recipient of one notice to its own
// reason, not the first one's.
func TestMultiRecipientNotice(t *testing.T) {
	t.Parallel()
	raw := "From: Mail Delivery System <Mailer-Daemon@mx.example.org>\r\nTo: bounces@camaca.example\r\nSubject: Mail delivery failed: returning message to sender\r\n\r\n" +
		"This message was created automatically by mail delivery software.\r\n\r\n" +
		"A message that you sent could not be delivered to one or more of its\r\nrecipients. This is a permanent error. The following address(es) failed:\r\n\r\n" +
		"  ann@example.net\r\n    host mx.example.net [192.0.2.1]\r\n    SMTP error from remote mail server after RCPT TO:<ann@example.net>:\r\n    550 5.1.1 No such user here\r\n" +
		"  bob@example.com\r\n    host mx.example.com [192.0.2.2]\r\n    SMTP error from remote mail server after end of data:\r\n    552 5.2.2 Mailbox is full\r\n" +
		"  cid@example.com\r\n    host mx.example.com [192.0.2.2]\r\n    550 5.7.1 Your IP 203.0.113.9 is on a blocklist\r\n"
	rep, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Class{"ann@example.net": ClassHard, "bob@example.com": ClassSoft, "cid@example.com": ClassSoft}
	if len(rep.Recipients) != len(want) {
		t.Fatalf("recipients %+v", rep.Recipients)
	}
	for a, c := range want {
		if got := rep.ClassFor(a); got != c {
			t.Errorf("%s: %s, want %s", a, got, c)
		}
	}
}

// TestRecognised holds the reader to the kinds of mail it once missed.
func TestRecognised(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, raw string
		kind      Kind
		rcpt      string
		class     Class
	}{
		{"SES notification mailed as JSON", "From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message\r\n\r\n" +
			`{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"ann@example.org","action":"failed","status":"5.1.1","diagnosticCode":"smtp; 550 5.1.1 user unknown"}]},"mail":{"source":"news@camaca.example"}}` + "\r\n--\r\nIf you wish to stop receiving notifications from this topic...\r\n",
			KindBounce, "ann@example.org", ClassHard},
		{"SES transient bounce is judged, not taken as hard", "From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message\r\n\r\n" +
			`{"notificationType":"Bounce","bounce":{"bounceType":"Permanent","bounceSubType":"General","bouncedRecipients":[{"emailAddress":"ann@example.org","status":"5.7.1","diagnosticCode":"smtp; 554 5.7.1 Message rejected as spam"}]}}`,
			KindBounce, "ann@example.org", ClassSoft},
		{"SES complaint mailed as JSON", "From: no-reply@sns.amazonaws.com\r\nSubject: AWS Notification Message\r\n\r\n" +
			`{"notificationType":"Complaint","complaint":{"complainedRecipients":[{"emailAddress":"ann@example.org"}],"complaintFeedbackType":"abuse"}}`,
			KindComplaint, "ann@example.org", ClassComplaint},
		{"old Hotmail complaint without a feedback-report part", "From: staff@hotmail.com\r\nSubject: complaint about message from 192.0.2.1\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nX-HmXmrOriginalRecipient: ann@example.org\r\nFrom: news@camaca.example\r\nTo: ann@example.org\r\nSubject: hi\r\n\r\nhi\r\n--b--\r\n",
			KindComplaint, "ann@example.org", ClassComplaint},
		{"ARF opt-out report", "From: fbl@example.net\r\nSubject: FW: hi\r\nContent-Type: multipart/report; report-type=feedback-report; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nreport\r\n--b\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: opt-out\r\nUser-Agent: x/1\r\nVersion: 1\r\nOriginal-Rcpt-To: ann@example.org\r\n--b--\r\n",
			KindComplaint, "ann@example.org", ClassComplaint},
		{"Japanese subject", "From: no-reply@mail.example.jp\r\nSubject: =?ISO-2022-JP?B?GyRCJWEhPCVrR1s/LiUoJWkhPBsoQg==?=\r\n\r\nann@example.jp\r\n550 5.1.1 user unknown\r\n",
			KindBounce, "ann@example.jp", ClassHard},
		{"bare subject from a postmaster", "From: System Administrator <postmaster@example.net>\r\nSubject: E\r\n\r\nYour message did not reach some or all of the intended recipients.\r\n  ann@example.net\r\n550 5.1.1 unknown recipient\r\n",
			KindBounce, "ann@example.net", ClassHard},
		{"a recipient named postmaster is kept", "From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\n<postmaster@gone.example.org>: Host or domain name not found.\r\n",
			KindBounce, "postmaster@gone.example.org", ClassHard},
		{"challenge-response is an auto-reply", "From: Boxbe <notify@boxbe.com>\r\nSubject: Request to join my Guest List\r\nAuto-Submitted: auto-replied\r\n\r\nHello, I use Boxbe to manage my inbox. Please click to be added to my guest list.\r\n",
			KindAutoReply, "ann@example.org", ClassAutoReply},
		{"challenge-response without Auto-Submitted", "From: ann@example.org\r\nSubject: Please verify your email (was: hi)\r\n\r\nI am protected by a challenge-response anti-spam system. To get your message delivered, please confirm you are a human.\r\n",
			KindAutoReply, "ann@example.org", ClassAutoReply},
	} {
		rep, err := Parse([]byte(c.raw))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if rep.Kind != c.kind || rep.ClassFor(c.rcpt) != c.class {
			t.Errorf("%s: kind %s class %s (%+v), want %s %s", c.name, rep.Kind, rep.ClassFor(c.rcpt), rep.Recipients, c.kind, c.class)
		}
		if c.kind == KindBounce && !strings.Contains(strings.ToLower(c.raw), c.rcpt) {
			t.Fatalf("%s: bad case", c.name)
		}
	}
}

// TestNoticeShapes holds the reader to notice shapes of issue 19's second
// round, each shown by a file of the vendored corpus.
func TestNoticeShapes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		file, why, rcpt string
		want            Class
	}{
		{"lhost-kddi-02.eml", "a null-sender notice quoting the original, From no-reply@: a bounce", "kijitora@00000000000000.dion.ne.jp", ClassSoft},
		{"lhost-ezweb-02.eml", "the reason stated once above the address (account disabled) wins over 'user unknown'", "this-local-part-does-not-exist-on-the-server@ezweb.ne.jp", ClassSoft},
		{"lhost-v5sendmail-07.eml", "the sendmail transcript above the address line (an open relay refused at MAIL From) is its reason", "kijitora@example.org", ClassSoft},
		{"lhost-exim-51.eml", "refused after MAIL FROM: the sender's address", "kijitora@example.org", ClassSoft},
		{"rfc3464-01.eml", "Status 5.1.1 while the notice says 'Not enough disk space': evidence disagrees, soft", "userunknown@bouncehammer.jp", ClassSoft},
		{"lhost-exchange2003-02.eml", "Exchange 2003's 000C05A6 is an unknown recipient", "mikeneko@example.co.jp", ClassHard},
	} {
		raw, err := os.ReadFile(filepath.Join("testdata/bsd", c.file))
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.ClassFor(c.rcpt); got != c.want || rep.Kind != KindBounce {
			r, _ := recipientFor(rep, c.rcpt)
			t.Errorf("%s (%s): %s %s, want %s bounce (%+v)", c.file, c.why, rep.Kind, got, c.want, r.Verdict)
		}
	}
}
