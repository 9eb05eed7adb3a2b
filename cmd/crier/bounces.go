package main

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/web"
)

// mountBounces sets up what Crier learns after sending: the providers'
// webhooks on the server, and the bounce mailbox reader that `crier run`
// starts. Nothing is set up when channels.email.bounces configures
// neither.
func (a *App) mountBounces(ctx context.Context, st *store.Store, nl *newsletter, srv *web.Server, reg prometheus.Registerer) error {
	cfg := a.Config.Channels.Email.Bounces
	wh := cfg.Webhooks
	anyHook := len(wh.SES.TopicARNs) > 0 || wh.Postmark.Password.IsSet() || wh.SendGrid.PublicKey != "" || wh.Mailgun.SigningKey.IsSet()
	if !cfg.IMAP.Enabled() && !anyHook {
		return nil
	}
	domain := ""
	if from, err := mail.ParseAddress(a.Config.Channels.Email.From); err == nil {
		_, domain, _ = strings.Cut(from.Address, "@")
	}
	proc, err := bounces.NewProcessor(ctx, bounces.Options{DB: st.DB(), Subscribers: nl.subs, Config: cfg, Addresses: nl.bounceAddrs,
		MessageIDDomain: domain, Logger: a.Logger, Registerer: reg})
	if err != nil {
		return fmt.Errorf("bounce processing: %w", err)
	}
	if anyHook {
		content, err := a.contentClient()
		if err != nil {
			return err
		}
		hooks, err := bounces.NewHooks(bounces.HookOptions{Config: wh, Processor: proc, Fetch: bounces.HTTPFetcher(content.HTTPClient()), Logger: a.Logger})
		if err != nil {
			return err
		}
		a.Logger.Info("provider webhooks for bounces and complaints", "providers", hooks.Mount(srv))
	}
	if cfg.IMAP.Enabled() {
		a.bounceReader = bounces.NewReader(cfg.IMAP, proc, a.Logger)
		a.Logger.Info("reading the bounce mailbox", "host", cfg.IMAP.Host, "user", cfg.IMAP.Username, "every", pollEvery(cfg.IMAP))
	} else {
		a.Logger.Info("no bounce mailbox configured (channels.email.bounces.imap): bounces that arrive after sending are not read")
	}
	return nil
}

func pollEvery(c bounces.IMAP) string {
	if c.Poll > 0 {
		return c.Poll.String()
	}
	return bounces.DefaultPoll.String()
}
