package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

// BenchmarkConsolePages measures the console's pages on a large SQLite
// database: 10,000 posts, 30,000 deliveries and 1,000,000 subscribers
// (built once, in CRIER_BENCH_DB or the temp folder, and reused). Each
// sub-benchmark reports the p95 of its requests; docs/BENCHMARKS.md has the
// figures. Run:
//
//	go test ./web/console -run '^$' -bench ConsolePages -benchtime 200x
func BenchmarkConsolePages(b *testing.B) {
	ctx := context.Background()
	path := os.Getenv("CRIER_BENCH_DB")
	if path == "" {
		path = filepath.Join(os.TempDir(), "crier-console-bench.db")
	}
	st, subs := bigStore(b, path)
	defer st.Close()
	users, err := OpenUsers(ctx, st.DB(), UsersOptions{Argon2: fastArgon2})
	if err != nil {
		b.Fatal(err)
	}
	camp := channels.Campaign{Name: "CAMACA", Website: "https://camaca.example", Language: "en", PublicURL: "https://crier.camaca.example"}
	render := channelRender(b, camp, "  discord: {}\n  email: {from: \"CAMACA <news@camaca.example>\", newsletter: each_post}\n  mastodon: {visibility: public, max_characters: 500}\n",
		discord.Provider{}, email.Provider{}, mastodon.Provider{})
	loc, _ := time.LoadLocation("Europe/London")
	c, err := New(Options{Users: users, Store: st, Publisher: &recordingPublisher{st: st}, Subscribers: subs, Location: loc,
		Campaign: "CAMACA", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequireApproval: true,
		Render: render})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	defer srv.Close()
	bd := &bundle{srv: srv, c: c, st: st, users: users}
	if _, err := users.Add(ctx, "bench@example.org", RoleOwner, "correct horse battery"); err != nil && err != ErrUserExists {
		b.Fatal(err)
	}
	br := bd.browser(&testing.T{})
	br.t = nil
	sid, sess, err := users.NewSession(ctx, User{ID: 1, Email: "bench@example.org", Role: RoleOwner})
	if err != nil {
		b.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	br.client.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: sid}})

	body := strings.Repeat("Trafficked children are hidden in plain sight; **every report matters**. ", 70)[:5000]
	preview := url.Values{"csrf": {sess.CSRF}, "title": {"A long report"}, "body": {body}, "link": {"https://camaca.example/r"}, "alt": {""}}.Encode()
	for _, tc := range []struct {
		name string
		do   func() (*http.Response, error)
	}{
		{"posts", func() (*http.Response, error) { return br.client.Get(srv.URL + "/posts") }},
		{"posts-failed", func() (*http.Response, error) { return br.client.Get(srv.URL + "/posts?state=failed") }},
		{"posts-search", func() (*http.Response, error) { return br.client.Get(srv.URL + "/posts?q=number+1234") }},
		{"calendar", func() (*http.Response, error) { return br.client.Get(srv.URL + "/calendar?date=2026-06-01") }},
		{"post", func() (*http.Response, error) { return br.client.Get(srv.URL + "/posts/md:bench-05000") }},
		{"supporters", func() (*http.Response, error) { return br.client.Get(srv.URL + "/supporters?q=supporter12345") }},
		{"supporters-uncounted", func() (*http.Response, error) {
			c.counts.invalidate() // what the first visit (or one after a change) costs
			return br.client.Get(srv.URL + "/supporters?q=supporter12345")
		}},
		{"preview-5000", func() (*http.Response, error) {
			req, _ := http.NewRequest("POST", srv.URL+"/preview", strings.NewReader(preview))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Crier-Fragment", "1")
			return br.client.Do(req)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				resp, err := tc.do()
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", tc.name, resp.StatusCode)
				}
				times = append(times, time.Since(start))
			}
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		})
	}
}

var bigOnce sync.Once

// bigStore opens (building on first use) the benchmark database.
func bigStore(b *testing.B, path string) (*store.Store, *subscribers.Store) {
	ctx := context.Background()
	_, statErr := os.Stat(path)
	st, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		b.Fatal(err)
	}
	if statErr == nil {
		return st, subs
	}
	b.Logf("building %s (10,000 posts, 30,000 deliveries, 1,000,000 subscribers)", path)
	if _, err := OpenUsers(ctx, st.DB(), UsersOptions{Argon2: fastArgon2}); err != nil {
		b.Fatal(err)
	}
	db := st.DB()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	states := []store.DeliveryState{store.DeliverySent, store.DeliverySent, store.DeliverySent, store.DeliveryFailed, store.DeliveryPending}
	for i := 0; i < 10000; i++ {
		at := base.Add(time.Duration(i) * 47 * time.Minute)
		p := post.Post{ID: fmt.Sprintf("md:bench-%05d", i), Title: fmt.Sprintf("Campaign news number %d", i),
			Body: strings.Repeat("Every child deserves to be safe. ", 20), Link: fmt.Sprintf("https://camaca.example/news/%d", i),
			PublishAt: at, Source: post.Source{Kind: "markdown", Name: "posts", Key: fmt.Sprint(i), Ref: fmt.Sprintf("posts/%d.md", i)}}
		state := store.PostPublished
		if i%10 == 0 {
			state = store.PostScheduled
		}
		if err := store.SavePostTx(ctx, tx, p, state, at); err != nil {
			b.Fatal(err)
		}
		if state != store.PostPublished {
			continue
		}
		for j, ch := range []string{"mastodon", "discord", "email"} {
			if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, attempts, last_error, remote_url, created_at, updated_at)
				VALUES ($1, $2, $3, 1, '', $4, $5, $5)`, p.ID, ch, string(states[(i+j)%len(states)]), "https://social.example/@camaca/"+fmt.Sprint(i), at); err != nil {
				b.Fatal(err)
			}
		}
	}
	// Top up to 30,000 deliveries with a fourth channel on every third post.
	if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, attempts, created_at, updated_at)
		SELECT id, 'bluesky', 'sent', 1, publish_at, publish_at FROM posts WHERE state = 'published' LIMIT 3000`); err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO subscribers (email, name, status, consent_at, consent_source, created_at, updated_at) VALUES ($1, $2, $3, $4, 'import', $4, $4)`)
	if err != nil {
		b.Fatal(err)
	}
	sts := []string{"confirmed", "confirmed", "confirmed", "unconfirmed", "unsubscribed", "bounced"}
	for i := 0; i < 1000000; i++ {
		if _, err := stmt.ExecContext(ctx, fmt.Sprintf("supporter%d@example.org", i), fmt.Sprintf("Supporter %d", i), sts[i%len(sts)], base); err != nil {
			b.Fatal(err)
		}
	}
	stmt.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	return st, subs
}
