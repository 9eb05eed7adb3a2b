package newsletter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

// The recipient selection of a send (the snapshot of the list, with the
// preference and topic conditions) on both databases (docs/BENCHMARKS.md):
//
//	CRIER_EMAIL_BENCH_SNAPSHOT=100000 go test -count=1 ./newsletter -run 'TestSnapshotBenchmarkDrivers$' -v
//
// For each database, N subscribers as in the newsletter benchmark (a tenth
// on the digest, a twentieth paused, a fifth on the "reports" list and a
// fifth on "events"), then five snapshots each of a post on no topic and of
// a post on "events", timed one by one; it checks the rows against the
// same rule computed here.
func TestSnapshotBenchmarkDrivers(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("CRIER_EMAIL_BENCH_SNAPSHOT"))
	if n <= 0 {
		t.Skip("set CRIER_EMAIL_BENCH_SNAPSHOT=100000 to time the recipient selection on SQLite and PostgreSQL")
	}
	targets := map[string]string{"sqlite": filepath.Join(t.TempDir(), "crier.db"), "postgres": pgpeer.DSN(t)}
	topics := []string{"reports", "events"}
	for _, driver := range []string{"sqlite", "postgres"} {
		target := targets[driver]
		fillSubscribers(t, target, n)
		st, err := store.OpenDriver(context.Background(), driver, target)
		if err != nil {
			t.Fatal(err)
		}
		l, err := openLedger(context.Background(), st.DB(), time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			sel  subscribers.Selection
		}{
			{"no topic", subscribers.Selection{Preferences: []string{"each_post", "digest"}, General: true, AllTopics: topics}},
			{"topic events", subscribers.Selection{Preferences: []string{"each_post", "digest"}, AllTopics: topics, Topics: []string{"events"}}},
		} {
			want := expectedRecipients(n, c.sel)
			var ms []float64
			for i := range 5 {
				id := fmt.Sprintf("snap-%s-%d", c.name, i)
				start := time.Now()
				if _, err := l.begin(context.Background(), id, "post", id, "s", sendSource{}, c.sel); err != nil {
					t.Fatal(err)
				}
				ms = append(ms, float64(time.Since(start).Microseconds())/1000)
				var got int
				if err := st.DB().QueryRow(`SELECT total FROM email_sends WHERE id = $1`, id).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != want {
					t.Fatalf("%s, %s: snapshot has %d recipients, want %d", driver, c.name, got, want)
				}
			}
			slices.Sort(ms)
			t.Logf("%s, post on %s: %d of %d subscribers selected; snapshot median %.0f ms (min %.0f, max %.0f)",
				driver, c.name, want, n, ms[len(ms)/2], ms[0], ms[len(ms)-1])
		}
		st.Close()
	}
}

// expectedRecipients applies the selection rule to benchChoices.
func expectedRecipients(n int, sel subscribers.Selection) int {
	count := 0
	for i := range n {
		pref, lists, _ := benchChoices(i)
		if !slices.Contains(sel.Preferences, pref) {
			continue
		}
		list := map[string]string{"[]": "", `["reports"]`: "reports", `["events"]`: "events"}[lists]
		chose := list != "" && slices.Contains(sel.AllTopics, list)
		if sel.General || !chose || slices.Contains(sel.Topics, list) {
			count++
		}
	}
	return count
}
