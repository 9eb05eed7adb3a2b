package newsletter

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/subscribers"
)

// BenchmarkSendWithScrapeLoop compares a newsletter send's throughput with
// nobody scraping /metrics, with 4 clients each scraping over loopback HTTP
// every 25 ms (up to 160 scrapes/s, 2400 times Prometheus' default; the
// progress snapshot refreshed at most every promcache.DefaultEvery), and
// with the same loop and a ledger query per scrape (how it was):
//
//	CRIER_SCRAPE_BENCH=100000 go test ./newsletter -run '^$' -bench SendWithScrapeLoop -benchtime 3x -timeout 30m
//
// Each iteration sends a new post to all CRIER_SCRAPE_BENCH subscribers
// (default 20000) through the discarding go-smtp sink; msgs/s is reported.
func BenchmarkSendWithScrapeLoop(b *testing.B) {
	n, _ := strconv.Atoi(os.Getenv("CRIER_SCRAPE_BENCH"))
	if n <= 0 {
		n = 20000
	}
	for _, bc := range []struct {
		name    string
		scrapes bool
		every   time.Duration
	}{{"no-scrapes", false, 0}, {"scrape-loop", true, 0}, {"scrape-loop-query-per-scrape", true, time.Nanosecond}} {
		b.Run(bc.name, func(b *testing.B) {
			benchSendScrapes(b, n, bc.scrapes, bc.every)
		})
	}
}

func benchSendScrapes(b *testing.B, n int, scrapes bool, every time.Duration) {
	ctx := context.Background()
	dbPath := filepath.Join(b.TempDir(), "crier.db")
	fillSubscribers(b, dbPath, n)
	st, err := store.Open(ctx, dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		b.Fatal(err)
	}
	sk := startSink(b, false)
	cfg := testConfig()
	cfg.SMTP = SMTP{Host: "127.0.0.1", Port: sk.addr.Port, TLS: "none"}
	cfg.Concurrency = benchConcurrency
	reg := prometheus.NewRegistry()
	s, err := NewSender(ctx, cfg, channels.Env{Campaign: testCampaign, DB: st.DB(), Logger: slog.New(slog.DiscardHandler)},
		subs, subscribers.NewSigner([]byte("test key, 32 bytes long, really")), WithRegisterer(reg),
		func(o *options) { o.metricsEvery = every })
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	var total int64
	var elapsed time.Duration
	var scraped int64
	b.ResetTimer()
	for i := range b.N {
		p := samplePost()
		p.ID = fmt.Sprintf("md:bench-%d", i)
		payload, err := s.f.Format(p)
		if err != nil {
			b.Fatal(err)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var mu sync.Mutex
		if scrapes {
			for range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var k int64
					for {
						select {
						case <-stop:
							mu.Lock()
							scraped += k
							mu.Unlock()
							return
						default:
						}
						resp, err := http.Get(srv.URL)
						if err != nil {
							b.Error(err)
							return
						}
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						k++
						time.Sleep(25 * time.Millisecond)
					}
				}()
			}
		}
		start := time.Now()
		if _, err := s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: "email", Attempt: 1}, payload); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		close(stop)
		wg.Wait()
		total += countSent(b, st.DB(), payload.Body.(*Message).SendID)
	}
	b.StopTimer()
	if total != int64(b.N*n) {
		b.Fatalf("%d messages sent, want %d", total, b.N*n)
	}
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(scraped)/elapsed.Seconds(), "scrapes/s")
}
