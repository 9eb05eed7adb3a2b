package newsletter

import (
	"fmt"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/internal/testpeers/mailpit"
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
	_, err := fx.send(t, samplePost())
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
	// The send took well under the 10 s refresh interval: the first
	// scrape read the ledger, the others were served from its snapshot.
	if r := fx.sender.metrics.progress.Refreshes(); r > 2 {
		t.Fatalf("%d scrapes read the ledger %d times, want at most once per interval", scrapes.Load(), r)
	}
	t.Logf("%d scrapes during a send of %d, %d ledger reads", scrapes.Load(), n, fx.sender.metrics.progress.Refreshes())
}
