package main

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/schedules"
	"github.com/crierhq/crier/subscribers"
	"github.com/crierhq/crier/web"
	"github.com/crierhq/crier/web/console"
)

// mountConsole serves the organisers' console at / on the daemon's server.
// Its previews use the same formatters as `crier preview` and delivery.
func (app *App) mountConsole(ctx context.Context, srv *web.Server, st *store.Store, b *bot.Bot, subs *subscribers.Store, clientIP func(*http.Request) string) (*console.Users, error) {
	cfg := app.Config
	users, err := console.OpenUsers(ctx, st.DB(), nil)
	if err != nil {
		return nil, err
	}
	chans, err := app.offlineChannels()
	if err != nil {
		return nil, err
	}
	// Each preview is drawn by its channel's type; a channel that knows
	// its character budget (Mastodon) says it.
	types, limits := map[string]string{}, map[string]int{}
	for _, inst := range app.Instances {
		types[inst.Name] = inst.Type
		if l, ok := inst.Settings.(interface{ CharacterLimit() int }); ok {
			limits[inst.Name] = l.CharacterLimit()
		}
	}
	render := func(p post.Post) []console.Rendering {
		var out []console.Rendering
		for _, r := range renderAll(chans, p) {
			out = append(out, console.Rendering{Channel: r.Channel, Type: types[r.Channel], Limit: limits[r.Channel], Payload: r.Payload, Err: r.Err})
		}
		return out
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
		if t, ok := inst.Settings.(testSender); ok {
			sendTest = func(ctx context.Context, p post.Post, to string) error {
				if !inst.Settings.HasCredentials() {
					return fmt.Errorf("the newsletter has no SMTP server (set SMTP_HOST): there is nowhere to send a test copy")
				}
				return t.SendTest(ctx, app.campaign(), p, to)
			}
		}
	}
	accountMail := app.accountMailer()
	c, err := console.New(console.Options{
		Users: users, Store: st, Publisher: b, Render: render,
		Subscribers: subs, SendTest: sendTest, Feeds: feeds, RequireApproval: cfg.Console.RequireApproval,
		PublicURL: cfg.HTTP.PublicURL, DataDir: cfg.DataPath(), Location: cfg.Location(), Campaign: cfg.Campaign.Name,
		Logger: app.Logger, ClientIP: clientIP, AccountMail: accountMail,
	})
	if err != nil {
		return nil, err
	}
	c.Mount(srv)
	return users, nil
}

// accountSender is a channel that can mail a console account its links
// (the newsletter, through its SMTP server).
type accountSender interface {
	SendAccountMail(ctx context.Context, c channels.Campaign, to, subject, text string) error
}

// accountMailer sends the console's password-reset and invitation mails
// through the enabled newsletter's SMTP server; nil when there is none, and
// the console then says so.
func (app *App) accountMailer() console.AccountMailer {
	for _, inst := range channels.Enabled(app.Instances) {
		if a, ok := inst.Settings.(accountSender); ok && inst.Settings.HasCredentials() {
			return func(ctx context.Context, to, subject, text string) error {
				return a.SendAccountMail(ctx, app.campaign(), to, subject, text)
			}
		}
	}
	return nil
}
