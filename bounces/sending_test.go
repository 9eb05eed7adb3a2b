package bounces_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/subscribers"
)

// dsn is a standard delivery status notification for rcpt.
func dsn(rcpt, status, diag string) []byte {
	return []byte("From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nYour mail could not be delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; " + rcpt +
		"\r\nAction: failed\r\nStatus: " + status + "\r\nDiagnostic-Code: smtp; " + diag + "\r\n--b--\r\n")
}

// TestSendingProblemIsNotTheSupporters: a domain refusing Crier's mail as
// spam suppresses nobody, however strict the soft-bounce limit, and the
// send's counts tell the organisers what to check; a full mailbox still
// counts against its supporter.
func TestSendingProblemIsNotTheSupporters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, b := setup(t, bounces.Config{SoftLimit: 1})
	db := b.db.DB()
	const send = "post:md:vigil"
	ledgerTables(t, db)
	addSend(t, db, send, b.now)
	var refused []subscribers.Subscriber
	for i := 0; i < 4; i++ {
		s := b.confirmed(t, fmt.Sprintf("fan%d@gmail.example", i))
		refused = append(refused, s)
		raw := toVERP(dsn(s.Email, "5.7.1", "550 5.7.1 Our system has detected that this message is likely unsolicited mail (spam)"), b.addrs.ReturnPath(send, s.ID))
		out, err := p.HandleMessage(ctx, raw)
		if err != nil || out.Action != "sending_problem" {
			t.Fatalf("refusal %d: %+v %v", i, out, err)
		}
	}
	full := b.confirmed(t, "full@example.org")
	if out, err := p.HandleMessage(ctx, toVERP(dsn(full.Email, "5.2.2", "552 5.2.2 Mailbox full"), b.addrs.ReturnPath(send, full.ID))); err != nil || out.Action != "suppressed" {
		t.Fatalf("mailbox full: %+v %v", out, err)
	}
	// The supporter's history says why in plain words, with the evidence.
	hist, _ := b.subs.History(ctx, full.ID)
	if last := hist[len(hist)-1]; !strings.Contains(last.Source, "the mailbox is full (mailboxfull; ") || !strings.Contains(last.Source, "5.2.2") {
		t.Fatalf("history: %+v", last)
	}
	for _, s := range refused {
		if st := b.status(t, s.ID); st != subscribers.Confirmed {
			t.Fatalf("%s became %s for a refusal of Crier's sending", s.Email, st)
		}
	}
	c, err := bounces.SendCounts(ctx, db, send, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c.Refused != 4 || c.SoftBounced != 1 || len(c.SendingProblems) != 1 || c.SendingProblems[0].Count != 4 {
		t.Fatalf("counts %+v", c)
	}
	want := "gmail.example refused 4 mails as spam from your server: check SPF, DKIM and your IP's reputation"
	if !strings.Contains(c.Warning, want) || !strings.Contains(c.Warning, "unsolicited") || strings.Contains(c.Warning, "@") {
		t.Fatalf("warning %q, want %q with a sample reply and no address", c.Warning, want)
	}
}
