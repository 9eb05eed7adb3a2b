package bounces

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// largeBounces are the worst shapes of a MaxMessageBytes bounce: a DSN
// returning a huge message, and a report written for people whose text
// is all addresses and replies.
func largeBounces() map[string][]byte {
	var returned strings.Builder
	returned.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n" +
		"--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; ann@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nFrom: news@camaca.example\r\nTo: ann@example.org\r\nSubject: news\r\nContent-Type: text/plain\r\n\r\n")
	line := strings.Repeat("x", 76) + "\r\n"
	for returned.Len() < MaxMessageBytes-len(line)-16 {
		returned.WriteString(line)
	}
	returned.WriteString("--b--\r\n")
	var text strings.Builder
	text.WriteString("From: MAILER-DAEMON@mx.example.net\r\nSubject: Mail delivery failed\r\n\r\n")
	for i := 0; text.Len() < MaxMessageBytes-200; i++ {
		fmt.Fprintf(&text, "  user%d@example%d.org\r\n    550 5.7.1 refused, spam blacklist user unknown mailbox full %s\r\n", i, i%97, strings.Repeat("y", i%40))
	}
	return map[string][]byte{"returned message": []byte(returned.String()), "text of addresses": []byte(text.String())}
}

// TestParseLargeBounce holds a MaxMessageBytes bounce to the bounds
// docs/newsletter.md states (measured: well under a second and 100 MB
// allocated on one core); the bounds here are generous.
func TestParseLargeBounce(t *testing.T) {
	for name, raw := range largeBounces() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		rep, err := Parse(raw)
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%s: %d bytes parsed in %s, %d MB allocated, %s, %d recipients", name, len(raw), took, alloc>>20, rep.Kind, len(rep.Recipients))
		if took > 10*time.Second || alloc > 400<<20 {
			t.Errorf("%s: %s and %d MB for a %d MB message", name, took, alloc>>20, len(raw)>>20)
		}
	}
}
