package bot

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/config"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

// realFormatters are the three channels' own offline formatters, so the
// benchmark formats what a real deployment formats.
func realFormatters(b *testing.B) map[string]channels.Formatter {
	camp := channels.Campaign{Name: "CAMACA", Website: "https://camaca.example", PublicURL: "https://news.camaca.example"}
	mail, err := email.NewFormatter(email.Config{Enabled: true, From: "CAMACA <news@camaca.example>"}, camp)
	if err != nil {
		b.Fatal(err)
	}
	return map[string]channels.Formatter{
		"mastodon": mastodon.NewFormatter(mastodon.Config{Enabled: true, MaxCharacters: 500}, camp),
		"discord":  discord.NewFormatter(discord.Config{Enabled: true}, camp),
		"email":    mail,
	}
}

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

// BenchmarkFanOut measures the fan-out path: a post is detected, recorded,
// queued as three durable delivery jobs, formatted and written to the outbox
// by River's workers, and every delivery is recorded as sent.
//
// "engine" is Crier's path. "baseline" does only the irreducible work of the
// same outcome (format and write the three outbox files per post), with no
// store, no queue and no ledger: the ceiling the engine is compared with.
func BenchmarkFanOut(b *testing.B) {
	names := []string{"mastodon", "discord", "email"}
	engine := func(b *testing.B, driver string) {
		dir := b.TempDir()
		target := filepath.Join(dir, "crier.db")
		if driver == "postgres" {
			target = pgpeer.DSN(b)
		}
		st, err := store.OpenDriver(context.Background(), driver, target)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		box := outbox.New(filepath.Join(dir, "outbox"))
		formatters := realFormatters(b)
		var chans []channels.Channel
		for _, n := range names {
			chans = append(chans, channels.Channel{Name: n, Formatter: formatters[n], Sender: box, Outbox: true})
		}
		bot, err := New(context.Background(), Options{
			Store: st, Channels: chans, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Delivery:     config.Delivery{Timeout: time.Minute, MaxAttempts: 3, Workers: 4},
			Schedules:    config.Schedules{PublishDue: "@every 1h"},
			PollInterval: 5 * time.Millisecond,
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := bot.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer bot.Stop(ctx)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := bot.Publish(ctx, samplePost(fmt.Sprintf("bench:%d", i))); err != nil {
				b.Fatal(err)
			}
		}
		for {
			c, err := st.CountDeliveries(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if c[store.DeliverySent] == b.N*len(names) {
				break
			}
			// Not too often: the check shares SQLite's single connection.
			time.Sleep(20 * time.Millisecond)
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
	}
	b.Run("engine", func(b *testing.B) { engine(b, "sqlite") })
	b.Run("engine-postgres", func(b *testing.B) { engine(b, "postgres") })
	b.Run("baseline", func(b *testing.B) {
		box := outbox.New(filepath.Join(b.TempDir(), "outbox"))
		formatters := realFormatters(b)
		ctx := context.Background()
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			p := samplePost(fmt.Sprintf("bench:%d", i))
			for _, n := range names {
				payload, err := formatters[n].Format(p)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := box.Send(ctx, channels.Delivery{PostID: p.ID, Channel: n}, payload); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "posts/s")
	})
}
