// Package spamassassin scores a mail with a real SpamAssassin, local rules
// only (`spamassassin -t -L`: no DNS blocklists, no network), so tests can
// check that what Crier sends does not look like spam. Tests skip when the
// program is absent (Debian package spamassassin) and fail instead when
// CRIER_REQUIRE_PEERS is set, as in CI.
package spamassassin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Binary returns the spamassassin program (CRIER_SPAMASSASSIN, else PATH),
// or "" when it is absent.
func Binary() string {
	if p := os.Getenv("CRIER_SPAMASSASSIN"); p != "" {
		return p
	}
	if p, err := exec.LookPath("spamassassin"); err == nil {
		return p
	}
	return ""
}

// Rule is one rule that fired.
type Rule struct {
	Name        string
	Points      float64
	Description string
}

// Result is SpamAssassin's verdict on one mail.
type Result struct {
	Score float64
	Rules []Rule
	// Report is the "Content analysis details" table, for the test log.
	Report string
}

// Fired reports whether the named rule fired.
func (r Result) Fired(name string) bool {
	for _, x := range r.Rules {
		if x.Name == name {
			return true
		}
	}
	return false
}

var (
	summaryLine = regexp.MustCompile(`Content analysis details:\s+\((-?[0-9.]+) points`)
	ruleLine    = regexp.MustCompile(`^\s*(-?[0-9.]+)\s+([A-Z0-9_]+)\s+(.*)$`)
)

// Score runs `spamassassin -t -L` on a raw RFC 5322 message. It skips the
// test when SpamAssassin is not installed.
func Score(t testing.TB, raw []byte) Result {
	t.Helper()
	bin := Binary()
	if bin == "" {
		const msg = "spamassassin not found (install the Debian package spamassassin, or set CRIER_SPAMASSASSIN)"
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatal("CRIER_REQUIRE_PEERS is set but " + msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// -L: local tests only; -t: test mode, append the report; -x: no
	// per-user preferences file. HOME is the test's own, so nothing is
	// written outside it.
	cmd := exec.CommandContext(ctx, bin, "-t", "-L", "-x")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	cmd.Stdin = bytes.NewReader(raw)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("spamassassin: %v\n%s", err, errOut.String())
	}
	return parse(t, out.String())
}

func parse(t testing.TB, out string) Result {
	t.Helper()
	m := summaryLine.FindStringSubmatchIndex(out)
	if m == nil {
		t.Fatalf("no SpamAssassin report in its output:\n%s", out)
	}
	var r Result
	r.Score, _ = strconv.ParseFloat(out[m[2]:m[3]], 64)
	report := out[m[0]:]
	if end := strings.Index(report, "\n\n\n"); end > 0 {
		report = report[:end]
	}
	r.Report = report
	lines := strings.Split(report, "\n")
	for _, l := range lines {
		mm := ruleLine.FindStringSubmatch(l)
		if mm == nil {
			if n := len(r.Rules); n > 0 && strings.HasPrefix(l, strings.Repeat(" ", 20)) {
				r.Rules[n-1].Description += " " + strings.TrimSpace(l)
			}
			continue
		}
		pts, err := strconv.ParseFloat(mm[1], 64)
		if err != nil {
			continue
		}
		r.Rules = append(r.Rules, Rule{Name: mm[2], Points: pts, Description: strings.TrimSpace(mm[3])})
	}
	return r
}

// String lists the rules that fired, one a line.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "score %.1f\n", r.Score)
	for _, x := range r.Rules {
		fmt.Fprintf(&b, "  %5.1f %s: %s\n", x.Points, x.Name, x.Description)
	}
	return b.String()
}
