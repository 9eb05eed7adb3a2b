package bluesky

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/post"
)

// The Summary is used only where the whole text does not fit (as the
// console's hint says), never instead of a text that fits.
func TestSummaryOnlyWhereTheTextDoesNotFit(t *testing.T) {
	t.Parallel()
	vigil := post.Post{ID: "console:vigil", Title: "Vigil on Saturday", Summary: "Vigil for the families, Saturday 6pm.",
		Body: "Join us at the town hall steps, Saturday 6pm: bring a candle, step-free.", Link: "https://camaca.example/vigil"}
	_, parts := format(t, Config{}, vigil)
	if text := parts[0].Record.Text; !strings.Contains(text, "bring a candle, step-free") || strings.Contains(text, "Vigil for the families") {
		t.Errorf("a text that fits was replaced by the summary:\n%s", text)
	}
	long := vigil
	long.Body = strings.Repeat("A long account of the campaign's week. ", 20)
	_, parts = format(t, Config{}, long)
	if len(parts) != 1 || !strings.Contains(parts[0].Record.Text, "Vigil for the families, Saturday 6pm.") {
		t.Errorf("a text that does not fit did not give way to the summary:\n%+v", parts)
	}
}
