package newsletter

import (
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
)

// The console's preview of a correction mail says what the sent one says
// (TestCorrectionMailGoesToTheOriginalRecipientsOnce reads that one).
func TestFormatCorrectionIsTheCorrectionMail(t *testing.T) {
	t.Parallel()
	f, err := NewFormatter(Config{Enabled: true, From: "CAMACA <news@camaca.org>"},
		channels.Campaign{Name: "CAMACA", Website: "https://camaca.org", Language: "en", PublicURL: "https://crier.camaca.org"})
	if err != nil {
		t.Fatal(err)
	}
	p := samplePost()
	p.Summary = "Join us at the town hall at 8pm."
	pl, err := f.(*Formatter).FormatCorrection(p, 1, "the vigil starts at 8pm, not 6pm", time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	m := pl.Body.(*Message)
	const said = "Corrected on 21 November 2026: the vigil starts at 8pm, not 6pm"
	if m.Subject != "Correction: "+p.Title || !strings.Contains(m.HTML, said) || !strings.Contains(m.Text, said) || !strings.Contains(m.Text, "8pm") {
		t.Errorf("the correction mail's preview %q:\n%s", m.Subject, m.Text)
	}
}
