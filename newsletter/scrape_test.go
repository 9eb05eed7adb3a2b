package newsletter

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/internal/promcache"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

// TestScrapeLoopDuringSend: /metrics scraped in a tight loop during a send
// reads the ledger at most once per refresh interval (a query per scrape
// used to hold SQLite's one connection for most of a second at 1M
// recipients), and the send still delivers every message. Throughput with
// and without a scrape loop is compared in BenchmarkSendWithScrapeLoop.
func TestScrapeLoopDuringSend(t *testing.T) { pgpeer.EachDriver(t, testScrapeLoopDuringSend) }

func testScrapeLoopDuringSend(t *testing.T, driver string) {
	const n = 600
	sk := startSink(t, false)
	reg := prometheus.NewRegistry()
	fx := newFixture(t, &mailpit.Server{SMTPHost: "127.0.0.1", SMTPPort: sk.addr.Port}, pgpeer.Target(t, driver), nil, WithRegisterer(reg))
	for i := range n {
		fx.add(t, fmt.Sprintf("s%04d@example.org", i), "", subscribers.Confirmed)
	}
	stop := make(chan struct{})
	var scrapes atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
				scrapes.Add(1)
			}
		}()
	}
	began := time.Now()
	_, err := fx.send(t, samplePost())
	took := time.Since(began)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if got := sk.messages.Load(); got != n {
		t.Fatalf("the sink got %d messages, want %d", got, n)
	}
	if got := countSent(t, fx.db, "post:md:vigil"); got != n {
		t.Fatalf("ledger: %d sent, want %d", got, n)
	}
	if scrapes.Load() < 10 {
		t.Fatalf("only %d scrapes ran during the send; the test proves nothing", scrapes.Load())
	}
	// The first scrape read the ledger, the others were served from its
	// snapshot, refreshed at most once per interval however long the send
	// took (a loaded machine stretches it past one interval).
	if r, most := fx.sender.metrics.progress.Refreshes(), 2+int64(took/promcache.DefaultEvery); r > most {
		t.Fatalf("%d scrapes read the ledger %d times, want at most %d (once per interval in %v)", scrapes.Load(), r, most, took.Round(time.Second))
	}
	t.Logf("%d scrapes during a send of %d, %d ledger reads", scrapes.Load(), n, fx.sender.metrics.progress.Refreshes())
}
