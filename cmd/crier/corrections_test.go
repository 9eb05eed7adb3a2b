package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/web/console"
)

// TestConsoleCorrections drives the console's Corrections as the pages do:
// each channel's plan, an author's correction awaiting approval, the
// editor's approval, the history, and "changed since published".
func TestConsoleCorrections(t *testing.T) {
	t.Parallel()
	b := setup(t, `campaign: {name: CAMACA, website: https://camaca.example}
sources: {markdown: {dir: posts}}
channels:
  email: {enabled: false}
  discord: {enabled: false}
  mastodon: {instance: https://social.example}
`)
	b.write("posts/vigil.md", "---\ntitle: The vigil starts at seven\n---\nBring a candle.\n")
	ctx := context.Background()
	app := b.app(io.Discard, io.Discard, nil)
	app.ConfigPath, app.Registry, app.Logger = b.cfg, providers(), slog.New(slog.NewTextHandler(io.Discard, nil))
	var err error
	if app.Config, app.Instances, err = app.loadConfig(); err != nil {
		t.Fatal(err)
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	chans, _, err := app.liveChannels(ctx, st, prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	bt, err := bot.New(ctx, bot.Options{Store: st, Channels: chans, MarkdownDir: app.Config.Resolve("posts"), Posts: app.postReader(),
		Logger: app.Logger, PollInterval: 20 * time.Millisecond, Schedules: app.Config.Schedules})
	if err != nil {
		t.Fatal(err)
	}
	var c console.Corrections = &consoleCorrections{app: app, bot: bt, st: st}
	if err := bt.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	opts, err := c.Options(ctx, "md:vigil")
	if err != nil || len(opts) != 1 || opts[0].How != "not sent yet: it goes out corrected" {
		t.Fatalf("options before sending: %+v %v", opts, err)
	}
	if err := bt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer bt.Stop(ctx)
	testnet.WaitFor(t, "the delivery", 30*time.Second, func() bool {
		d, _ := st.Delivery(ctx, "md:vigil", "mastodon")
		return d.State == store.DeliverySent
	})
	opts, _ = c.Options(ctx, "md:vigil")
	if opts[0].Type != "mastodon" || !opts[0].CanCorrect || !opts[0].CanWithdraw || !strings.Contains(opts[0].How, "outbox") || opts[0].Refusal != "" {
		t.Errorf("options once sent to the outbox: %+v", opts[0])
	}
	if changed, _, err := c.Changed(ctx, "md:vigil"); changed || err != nil {
		t.Fatalf("changed before any edit: %v %v", changed, err)
	}
	b.write("posts/vigil.md", "---\ntitle: The vigil starts at eight\n---\nBring a candle.\n")
	changed, now, err := c.Changed(ctx, "md:vigil")
	if !changed || now.Title != "The vigil starts at eight" || err != nil {
		t.Fatalf("changed after the edit: %v %q %v", changed, now.Title, err)
	}
	rev, err := c.Correct(ctx, console.CorrectionRequest{PostID: "md:vigil", Corrected: now, Note: "eight", By: "author@example.org", Pending: true})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := c.History(ctx, "md:vigil"); len(h) != 1 || h[0].State != store.CorrectionAwaiting || h[0].By != "author@example.org" ||
		h[0].Corrected == nil || h[0].Corrected.Title != "The vigil starts at eight" {
		t.Fatalf("history before approval: %+v", h)
	}
	if err := c.Approve(ctx, "md:vigil", rev, "editor@example.org"); err != nil {
		t.Fatal(err)
	}
	var h []console.CorrectionRecord
	testnet.WaitFor(t, "the correction", 30*time.Second, func() bool {
		h, _ = c.History(ctx, "md:vigil")
		return len(h) == 1 && h[0].State == store.CorrectionDone
	})
	if r := h[0].Results; len(r) != 1 || r[0].State != store.CorrectionDone || len(r[0].Parts) != 1 || r[0].Error != "" ||
		!strings.Contains(h[0].Note, "changed: title") || !strings.Contains(h[0].Note, "approved by editor@example.org") {
		t.Errorf("history: %+v", h[0])
	}
	if changed, _, _ := c.Changed(ctx, "md:vigil"); changed {
		t.Error("still changed after the correction")
	}
	if err := c.Withdraw(ctx, console.WithdrawRequest{PostID: "md:vigil", Reason: "cancelled", By: "editor@example.org"}); err != nil {
		t.Fatal(err)
	}
	testnet.WaitFor(t, "the withdrawal", 30*time.Second, func() bool {
		h, _ = c.History(ctx, "md:vigil")
		return len(h) == 2 && h[0].Kind == store.KindWithdrawal && h[0].State == store.CorrectionDone
	})
	if opts, _ := c.Options(ctx, "md:vigil"); opts[0].CanCorrect || !strings.Contains(opts[0].Refusal, "withdrawn") {
		t.Errorf("options after the withdrawal: %+v", opts[0])
	}
}

// correctorOnly corrects without a CorrectionPlanner (a channel type that
// does not say how).
type correctorOnly struct{ channels.Sender }

func (correctorOnly) Correct(context.Context, channels.Correction, channels.Payload) ([]channels.PartResult, error) {
	return nil, nil
}

// A Corrector without a CorrectionPlanner is offered with a plain plan, not
// refused.
func TestCorrectionPlanOfACorrectorWithoutPlanner(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, t.TempDir()+"/crier.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bt, err := bot.New(ctx, bot.Options{Store: st, Channels: []channels.Channel{{Name: "chat", Sender: correctorOnly{}}},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Schedules: config.Schedules{PublishDue: "@every 1m"}})
	if err != nil {
		t.Fatal(err)
	}
	c := &consoleCorrections{app: &App{}, bot: bt, st: st}
	d := store.Delivery{PostID: "md:vigil", Channel: "chat", State: store.DeliverySent}
	if plan, err := c.plan(ctx, d); err != nil || !strings.Contains(plan.Refusal, "no message of this post is known") {
		t.Errorf("without a known id: %+v %v", plan, err)
	}
	if err := st.Ledger("md:vigil", "chat", time.Now).SavePart(ctx, channels.Part{RemoteID: "m1"}); err != nil {
		t.Fatal(err)
	}
	if plan, err := c.plan(ctx, d); err != nil || plan.Refusal != "" || plan.How == "" {
		t.Errorf("with a known id: %+v %v", plan, err)
	}
}
