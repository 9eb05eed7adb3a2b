package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/feed"
	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/imagehost"
	"github.com/crierhq/crier/internal/media"
	"github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/subscribers"
	"github.com/crierhq/crier/web"
	"github.com/crierhq/crier/web/console"
)

func cmdRun(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "run", "", `
Runs the daemon: scans the Markdown folder and polls the feeds on their
schedules, fans every new post out to the enabled channels as durable delivery
jobs, and serves /healthz, /metrics and the newsletter pages. Channels without
credentials write to the outbox (data/outbox/<channel>/) instead of sending.
SIGINT or SIGTERM lets in-flight deliveries finish, then exits.`)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", rest[0])}
	}
	b, srv, err := app.daemon(ctx)
	if err != nil {
		return err
	}
	if err := b.Start(ctx); err != nil {
		return err
	}
	// Reads of deliveries sent while the daemon was down, or before reach
	// existed, are queued; then /metrics gets the totals.
	if err := app.reach.Resume(ctx); err != nil {
		return err
	}
	app.reach.RefreshMetrics(ctx)
	app.Logger.Info("crier running", "config", app.ConfigPath, "data", app.Config.DataPath(), "channels", b.ChannelNames(), "timezone", app.Config.Location().String())
	if next, ok := b.NextDigest(time.Now()); ok {
		app.Logger.Info("next newsletter digest", "at", app.showTime(next))
	}
	if n, err := app.consoleUsers.Count(ctx); err == nil && n == 0 {
		fmt.Fprintf(app.Stderr, "\nThe console at %s has no users yet. Create the first owner with:\n\n    crier users add you@example.org --role owner\n\n",
			strings.TrimRight(app.Config.HTTP.PublicURL, "/")+"/login")
	}
	if line := app.examplesNotice(b); line != "" {
		app.Logger.Info(line)
	}
	// The bounce mailbox reader stops with the daemon, which waits for it:
	// nothing of the daemon's outlives cmdRun.
	readerCtx, stopReader := context.WithCancel(ctx)
	defer stopReader()
	readerDone := make(chan struct{})
	if app.bounceReader != nil {
		go func() {
			defer close(readerDone)
			app.bounceReader.Run(readerCtx)
		}()
	} else {
		close(readerDone)
	}
	// Console sessions nobody uses again are deleted while the daemon runs.
	sweepCtx, stopSweep := context.WithCancel(ctx)
	swept := make(chan struct{})
	go func() {
		defer close(swept)
		app.consoleUsers.SweepSessions(sweepCtx, console.SessionSweepEvery, app.Logger)
	}()
	// Pictures served for Instagram and Threads are deleted when their
	// time is up.
	imagesSwept := make(chan struct{})
	go func() {
		defer close(imagesSwept)
		app.images.SweepEvery(sweepCtx, imagehost.SweepInterval, app.Logger)
	}()
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.ListenAndServe(ctx) }()

	select {
	case <-ctx.Done():
		app.Logger.Info("stopping: letting in-flight deliveries finish")
	case err = <-httpErr:
		app.Logger.Error("http server stopped", "err", err)
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), app.Config.Delivery.Timeout+5*time.Second)
	defer cancel()
	stopReader()
	stopErr := b.Stop(stopCtx)
	stopSweep()
	<-swept
	<-imagesSwept
	<-readerDone
	// A supporters' import records where it stopped before the daemon
	// exits, so its page says so after the restart.
	if app.console != nil {
		stopErr = errors.Join(stopErr, app.console.Stop(stopCtx))
	}
	if ctx.Err() != nil {
		if herr := <-httpErr; herr != nil {
			stopErr = errors.Join(stopErr, herr)
		}
	}
	app.Logger.Info("crier stopped")
	return errors.Join(err, stopErr)
}

// daemon assembles the bot and the web server from the config.
func (app *App) daemon(ctx context.Context) (*bot.Bot, *web.Server, error) {
	st, err := app.OpenStore(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := app.checkAccountsKey(ctx); err != nil {
		return nil, nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	chans, nl, err := app.liveChannels(ctx, st, reg)
	if err != nil {
		return nil, nil, err
	}
	cfg := app.Config
	for i := range cfg.Sources.Feeds {
		cfg.Sources.Feeds[i].URL = resolveFeedURL(cfg, cfg.Sources.Feeds[i].URL)
	}
	var jobs []bot.Jobs
	confirmations := &confirmationQueue{}
	if nl != nil {
		jobs = append(jobs, confirmations.jobs())
	}
	// The console's notices to organisers, sent by their own jobs.
	notices := &noticeQueue{log: app.Logger}
	jobs = append(jobs, notices.jobs())
	// What posts reached is read back by jobs on the bot's job client.
	var b *bot.Bot
	rch, err := app.openReach(ctx, st, chans, reg, func() *bot.Bot { return b })
	if err != nil {
		return nil, nil, err
	}
	app.reach = rch
	jobs = append(jobs, rch.Jobs())
	b, err = bot.New(ctx, bot.Options{
		Store:       st,
		Channels:    chans,
		MarkdownDir: cfg.Resolve(cfg.Sources.Markdown.Dir),
		Posts:       app.postReader(),
		Feeds:       cfg.Sources.Feeds,
		Fetcher:     &feed.Fetcher{Client: app.HTTPClient, UserAgent: "Crier (+" + cfg.Campaign.Website + ")"},
		Delivery:    cfg.Delivery,
		Schedules:   cfg.Schedules,
		Location:    cfg.Location(),
		Metrics:     bot.NewMetrics(reg),
		Logger:      app.Logger,
		Jobs:        jobs,
		OnFailed:    notices.failed,
		OnSent:      notices.sent,
		// Accounts connected or disconnected from the console apply at
		// the next delivery, on every replica.
		Current:     app.connections.Current,
		OnAttempt:   app.connections.Attempted,
		OnDelivered: rch.Delivered,
		// Uploaded images are stored by name; their address is built now.
		ResolveMedia: media.Resolver{PublicURL: cfg.HTTP.PublicURL, Dir: cfg.DataPath("uploads")}.Resolve,
	})
	if err != nil {
		return nil, nil, err
	}
	confirmations.bot = b
	notices.bot = b
	proxies, err := web.ParseTrustedProxies(cfg.HTTP.TrustedProxies)
	if err != nil {
		return nil, nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	// The rate limits live in the database, so that they hold across
	// replicas (store.driver: postgres).
	if err := web.PrepareShared(ctx, st.DB()); err != nil {
		return nil, nil, err
	}
	srv := web.New(web.Options{Listen: cfg.HTTP.Listen, Health: b.Health, Warnings: b.Warnings, Registry: reg, AdminToken: cfg.HTTP.AdminToken,
		MetricsToken: cfg.HTTP.MetricsToken, TrustedProxies: proxies, Shared: st.DB(), Logger: app.Logger})
	srv.HandleAdmin("GET /admin/status", statusHandler(app.Registry, st, app.postReader()))
	// Pictures Instagram and Threads fetch: no sign-in, unguessable ids.
	srv.Handle("GET "+imagehost.Prefix, app.images)
	var subs *subscribers.Store
	if nl != nil {
		subs = nl.Store
	}
	if app.consoleUsers, err = app.mountConsole(ctx, srv, st, b, subs, nl, notices, func(r *http.Request) string { return web.ClientIP(r, proxies) }); err != nil {
		return nil, nil, fmt.Errorf("mounting the console: %w", err)
	}
	if nl != nil {
		arch, err := archive.Open(ctx, st.DB())
		if err != nil {
			return nil, nil, fmt.Errorf("opening the newsletter archive: %w", err)
		}
		if err := web.MountNewsletter(srv, web.NewsletterOptions{
			Store: nl.Store, Signer: nl.Signer, Mailer: nl.Mailer, PublicURL: cfg.HTTP.PublicURL,
			Campaign: app.campaign(), Logger: app.Logger, Now: time.Now, TrustedProxies: proxies,
			MaxConfirmationsPerHour: nl.ConfirmationsPerHour,
			Queue:                   confirmations,
			Erased:                  nl.Erased,
			Topics:                  nl.Topics,
			Newsletter:              nl.Sends,
			Archive:                 arch,
			Templates:               cfg.Resolve(cfg.HTTP.Templates),
			PrivacyPolicyURL:        cfg.Campaign.PrivacyPolicy,
		}); err != nil {
			return nil, nil, fmt.Errorf("mounting newsletter pages: %w", err)
		}
		if ecfg, ok := app.emailConfig(); ok {
			// The newsletter's counted links (channels.email.count_clicks).
			srv.Handle("GET "+newsletter.ClickPrefix, newsletter.ClickHandler{Count: ecfg.CountsClicks(), DB: st.DB(), Signer: nl.Signer, Logger: app.Logger})
			if err := app.mountBounces(ctx, st, ecfg, nl.Store, nl.Signer, srv, reg); err != nil {
				return nil, nil, err
			}
		}
	}
	return b, srv, nil
}

// examplesNotice is the one line `crier run` says when a channel sends for
// real while shipped examples are still around: they stay in the outbox,
// and it tells the organiser where their own posts and feeds go.
func (app *App) examplesNotice(b *bot.Bot) string {
	if !b.SendsForReal() {
		return ""
	}
	cfg := app.Config
	dir := cfg.Resolve(cfg.Sources.Markdown.Dir)
	posts, _ := markdown.LoadDirIn(dir, cfg.Location())
	var examples []string
	for _, p := range posts {
		if p.Example {
			examples = append(examples, filepath.Base(p.Source.Ref))
		}
	}
	for _, f := range cfg.Sources.Feeds {
		if f.Example {
			examples = append(examples, "feed "+f.Name)
		}
	}
	if len(examples) == 0 {
		return ""
	}
	return fmt.Sprintf("examples are never sent for real (%s): write your own posts in %s without example: true, and list your website's feed under sources.feeds in %s without example: true",
		strings.Join(examples, ", "), dir, app.ConfigPath)
}
