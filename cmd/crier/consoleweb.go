package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/reach"
	"github.com/crierhq/crier/schedules"
	"github.com/crierhq/crier/subscribers"
	"github.com/crierhq/crier/web"
	"github.com/crierhq/crier/web/console"
)

// mountConsole serves the organisers' console at / on the daemon's server.
// Its previews use the same formatters as `crier preview` and delivery.
// The bot resolves deliveries its blind channels leave for a person to
// check (the post page's It went out and Send again).
var _ console.UnknownResolver = (*bot.Bot)(nil)

func (app *App) mountConsole(ctx context.Context, srv *web.Server, st *store.Store, b *bot.Bot, subs *subscribers.Store, nl *subscribers.Newsletter, notices *noticeQueue, clientIP func(*http.Request) string) (*console.Users, error) {
	cfg := app.Config
	users, err := console.OpenUsers(ctx, st.DB(), console.UsersOptions{})
	if err != nil {
		return nil, err
	}
	chans, err := app.offlineChannels()
	if err != nil {
		return nil, err
	}
	// Each preview is drawn by its channel (channels.CardPreviewer).
	local := map[string]string{}
	for _, inst := range app.Instances {
		if inst.Settings.Enabled() && inst.UsesOutbox() {
			local[inst.Name] = localReason(inst)
		}
	}
	render := func(ctx context.Context, p post.Post) []console.Rendering {
		var out []console.Rendering
		// A preview whose reader has gone stops here; nobody reads the rest.
		rendered, _ := renderAll(ctx, chans, p)
		for _, r := range rendered {
			inst, _ := app.instance(r.Channel)
			cr := console.Rendering{Channel: r.Channel, Type: inst.Type, Docs: inst.DocsPage(), Payload: r.Payload, Err: r.Err}
			if r.Err == nil {
				cr.Card = inst.PreviewCard(r.Payload)
			}
			out = append(out, cr)
		}
		return out
	}
	// A channel that tracks its sends itself (the newsletter) shows their
	// progress on the post page.
	sendReport := func(ctx context.Context, channel, postID string) (channels.SendReport, bool) {
		inst, ok := app.instance(channel)
		if !ok {
			return channels.SendReport{}, false
		}
		rep, ok, err := inst.SendReport(ctx, st.DB(), postID)
		if err != nil {
			app.Logger.Warn("reading a channel's send progress", "channel", channel, "err", err)
		}
		return rep, ok
	}
	var feeds []console.Feed
	for _, f := range cfg.Sources.Feeds {
		spec := f.Schedule
		feeds = append(feeds, console.Feed{Name: f.Name, URL: f.URL, Schedule: spec, Next: func(last time.Time) time.Time {
			s, err := schedules.Parse(schedules.InZone(spec, cfg.Location()))
			if err != nil {
				return time.Time{}
			}
			return s.Next(last)
		}})
	}
	// The newsletter's test copy goes through the channel that can send one
	// (as `crier newsletter test` does).
	var sendTest func(ctx context.Context, p post.Post, to string) error
	for _, inst := range channels.Enabled(app.Instances) {
		if _, ok := inst.Settings.(channels.TestSender); ok {
			sendTest = func(ctx context.Context, p post.Post, to string) error {
				// The mail server as it stands now: connected from the
				// console since the start, perhaps.
				eff, err := app.effective(ctx, inst)
				if err != nil {
					return err
				}
				t, ok := eff.Settings.(channels.TestSender)
				if !ok || !eff.Settings.HasCredentials() {
					return fmt.Errorf("the newsletter has no SMTP server (connect one on the Channels page, or set SMTP_HOST): there is nowhere to send a test copy")
				}
				return t.SendTest(ctx, app.campaign(), p, to)
			}
		}
	}
	var reconfirm func(ctx context.Context, email, by string) error
	var restore func(ctx context.Context, id int64, by string) error
	if nl != nil {
		reconfirm = func(ctx context.Context, email, by string) error {
			return sendReconfirmation(ctx, nl, cfg.HTTP.PublicURL, email, by)
		}
		// The "restore" of a bounced supporter: a fresh confirmation
		// mail, nothing recorded until they follow it.
		restore = func(ctx context.Context, id int64, by string) error {
			return nl.Reconfirm(ctx, id, cfg.HTTP.PublicURL, by, time.Now())
		}
	}
	accountMail, accountMailReady := app.accountMailer()
	var channelAccounts console.ChannelAccounts // the Channels page, when the daemon has its connections
	if app.connections != nil {
		channelAccounts = app.connections
	}
	chats := noticeChats(cfg.Console.Notify, app.HTTPClient)
	c, err := console.New(console.Options{
		Users: users, Store: st, Publisher: b, Render: render,
		Subscribers: subs, SendTest: sendTest, Reconfirm: reconfirm, Restore: restore, Feeds: feeds, RequireApproval: cfg.Console.RequireApproval,
		Outbox: local, OutboxDir: cfg.DataPath("outbox"),
		PublicURL: cfg.HTTP.PublicURL, DataDir: cfg.DataPath(), Location: cfg.Location(), Language: cfg.Campaign.Language, Campaign: cfg.Campaign.Name,
		Logger: app.Logger, ClientIP: clientIP, Lifetime: ctx, AccountMail: accountMail, AccountMailReady: accountMailReady,
		Notify: notices.Queue, Chats: chats, SendReport: sendReport,
		Accounts:    channelAccounts,
		Corrections: &consoleCorrections{app: app, bot: b, st: st},
		Reach:       reachSource(app.reach),
	})
	if err != nil {
		return nil, err
	}
	notices.send = c.SendNotice
	notices.ways = []string{"mail"}
	for _, chat := range chats {
		notices.ways = append(notices.ways, chat.Name)
	}
	c.Mount(srv)
	app.console = c
	return users, nil
}

// localReason says why a channel only saves posts locally, as the console
// shows it ("Saved locally, not sent (no Bluesky account connected)").
func localReason(inst channels.Instance) string {
	if inst.Settings.Mode() == channels.ModeOutbox {
		return "mode: outbox in config.yaml"
	}
	if r, ok := inst.Provider.(channels.OutboxReasoner); ok {
		return r.OutboxReason()
	}
	name := inst.Type
	if name != "" {
		name = strings.ToUpper(name[:1]) + name[1:]
	}
	return "no " + name + " account connected"
}

// sendReconfirmation mails an address erased at its owner's request a
// confirmation link, for an owner who erased it by mistake: it is held as a
// pending request, as the subscribe form does, and the erasure is lifted
// only when its owner confirms.
func sendReconfirmation(ctx context.Context, nl *subscribers.Newsletter, publicURL, email, by string) error {
	suppressed, err := nl.Store.IsSuppressed(ctx, email)
	if err != nil {
		return err
	}
	if !suppressed {
		return fmt.Errorf("%s was not erased; add it with the form above", email)
	}
	now := time.Now()
	req := subscribers.Pending{At: now, Source: "console: confirmation mail sent by " + by}
	sub, added, err := nl.Store.AddPending(ctx, email, req)
	if err != nil {
		return err
	}
	if !added {
		if err := nl.Store.SetPending(ctx, sub.ID, req); err != nil {
			return err
		}
	}
	claimed, err := nl.Store.ClaimConfirmationMail(ctx, sub.ID, now, 10*time.Minute)
	if err != nil {
		return err
	}
	if !claimed {
		return fmt.Errorf("a confirmation mail went to this address less than 10 minutes ago; wait for them to follow it")
	}
	if err := nl.Mailer.SendConfirmation(ctx, sub, nl.Signer.ConfirmURL(publicURL, sub, now)); err != nil {
		_ = nl.Store.ReleaseConfirmationMail(ctx, sub.ID)
		return fmt.Errorf("sending the confirmation mail: %w", err)
	}
	return nil
}

// accountMailer sends the console's password-reset and invitation mails
// through the enabled newsletter's SMTP server, with ready saying whether it
// has one at this moment: a mail server connected or disconnected on the
// Channels page counts at once, on every replica. Both are nil when no
// enabled channel can send account mail, and the console then says so.
func (app *App) accountMailer() (send console.AccountMailer, ready func(context.Context) bool) {
	for _, inst := range channels.Enabled(app.Instances) {
		if _, ok := inst.Settings.(channels.AccountSender); !ok {
			continue
		}
		current := func(ctx context.Context) (channels.AccountSender, bool) {
			eff, err := app.effective(ctx, inst)
			if err != nil || !eff.Settings.HasCredentials() {
				return nil, false
			}
			a, ok := eff.Settings.(channels.AccountSender)
			return a, ok
		}
		send = func(ctx context.Context, to, subject, text string) error {
			a, ok := current(ctx)
			if !ok {
				return fmt.Errorf("the newsletter has no mail server: connect one on the Channels page")
			}
			return a.SendAccountMail(ctx, app.campaign(), to, subject, text)
		}
		ready = func(ctx context.Context) bool { _, ok := current(ctx); return ok }
		return send, ready
	}
	return nil, nil
}

// reachSource is the console's view of what posts reached; nil (no
// engine, as in tests that mount the console alone) hides the Reach panel.
func reachSource(e *reach.Engine) console.ReachSource {
	if e == nil {
		return nil
	}
	return e.Source()
}

// effective is inst with the account connected from the console applied,
// when the daemon has its connections.
func (app *App) effective(ctx context.Context, inst channels.Instance) (channels.Instance, error) {
	if app.connections == nil {
		return inst, nil
	}
	return app.connections.Effective(ctx, inst.Name)
}
