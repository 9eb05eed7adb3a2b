package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
)

// TestStatusShowsASkippedDeliveryWithItsNote: `crier status` shows a
// skipped delivery with its note (not as an error, no retry command), and
// `crier retry` leaves it alone unless its channel is named.
func TestStatusShowsASkippedDeliveryWithItsNote(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	outside := filepath.Join(t.TempDir(), "vigil.md")
	os.WriteFile(outside, []byte("---\ntitle: Vigil\n---\nCandles at six.\n"), 0o644)
	if code, _, errOut := b.crier("publish", outside, "--channel", "mastodon"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	st, err := store.Open(context.Background(), filepath.Join(b.dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const note = "Skipped: Instagram shows nothing without a picture and this post has none; title cards are off (cards: false)"
	st.StartAttempt(ctx, "md:vigil", "mastodon", time.Now())
	st.FinishAttempt(ctx, "md:vigil", "mastodon", store.DeliverySkipped, channels.Receipt{}, note, "", false, time.Now())
	st.Close()

	_, out, _ := b.crier("status")
	if !strings.Contains(out, "skipped") || !strings.Contains(out, "note: "+note) || strings.Contains(out, "error: ") || strings.Contains(out, "crier retry") {
		t.Errorf("status should show the delivery skipped with its note, no error and no retry:\n%s", out)
	}
	_, out, _ = b.crier("status", "--json")
	if !strings.Contains(out, `"state": "skipped"`) && !strings.Contains(out, `"state":"skipped"`) {
		t.Errorf("status --json lacks the skipped state:\n%s", out)
	}
	if code, _, errOut := b.crier("retry", "md:vigil"); code != 1 || !strings.Contains(errOut, "no failed delivery") {
		t.Errorf("retry of a skipped delivery: exit %d %s; want nothing to retry", code, errOut)
	}
	if code, out, errOut := b.crier("retry", "md:vigil", "--channel", "mastodon"); code != 0 || !strings.Contains(out, "queued again for mastodon") {
		t.Errorf("retry naming the skipped channel: exit %d %s %s; want it queued again", code, out, errOut)
	}
}
