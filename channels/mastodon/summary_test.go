package mastodon

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
		Body: "Join us at the town hall steps, Saturday 6pm: bring a candle, step-free.", Link: link}
	st, _ := format(t, Config{}, Limits{MaxCharacters: 500}, vigil)
	if !strings.Contains(st[0].Status, "bring a candle, step-free") || strings.Contains(st[0].Status, "Vigil for the families") {
		t.Errorf("a text that fits was replaced by the summary:\n%s", st[0].Status)
	}
	long := vigil
	long.Body = strings.Repeat("A long account of the campaign's week. ", 40)
	st, _ = format(t, Config{}, Limits{MaxCharacters: 500}, long)
	if len(st) != 1 || !strings.Contains(st[0].Status, "Vigil for the families, Saturday 6pm.") {
		t.Errorf("a text that does not fit did not give way to the summary:\n%v", st)
	}
}
