package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/bounces"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/newsletter"
	"github.com/crierhq/crier/subscribers"
	"github.com/crierhq/crier/web"
)

// mountBounces sets up what Crier learns after sending: the providers'
// webhooks on the server, and the bounce mailbox reader that `crier run`
// starts. Nothing is set up when channels.email.bounces configures
// neither.
func (a *App) mountBounces(ctx context.Context, st *store.Store, ecfg newsletter.Config, subs *subscribers.Store, signer *subscribers.Signer, srv *web.Server, reg prometheus.Registerer) error {
	cfg := ecfg.Bounces
	wh := cfg.Webhooks
	anyHook := len(wh.SES.TopicARNs) > 0 || wh.Postmark.Password.IsSet() || wh.SendGrid.PublicKey != "" || wh.Mailgun.SigningKey.IsSet()
	if !cfg.IMAP.Enabled() && !anyHook {
		return nil
	}
	addrs, err := newsletter.BounceAddresses(ecfg, signer)
	if err != nil {
		return err
	}
	proc, err := a.bounceProcessor(ctx, st, ecfg, subs, addrs, reg)
	if err != nil {
		return err
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

// bounceProcessor is the feedback processor over the store.
func (a *App) bounceProcessor(ctx context.Context, st *store.Store, ecfg newsletter.Config, subs *subscribers.Store, addrs *bounces.Addresses, reg prometheus.Registerer) (*bounces.Processor, error) {
	domain := ""
	if from, err := mail.ParseAddress(ecfg.From); err == nil {
		_, domain, _ = strings.Cut(from.Address, "@")
	}
	proc, err := bounces.NewProcessor(ctx, bounces.Options{DB: st.DB(), Subscribers: subs, Config: ecfg.Bounces,
		Addresses: addrs, MessageIDDomain: domain, Sends: newsletter.NewSends(st.DB()), Logger: a.Logger, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("bounce processing: %w", err)
	}
	return proc, nil
}

// cmdCheckBounce explains what Crier makes of a message from the bounce
// mailbox, without acting on it.
func cmdCheckBounce(ctx context.Context, app *App, args []string) error {
	fs := newFlagSet(app, "newsletter check-bounce", "[--json] MESSAGE.eml", `
Reads one mail saved from the bounce mailbox (a bounce, a spam complaint, an
unsubscribe, an auto-reply) and says what Crier makes of it: what kind of
message it is; per recipient the class (hard, soft, complaint, auto-reply,
none), the reason, the evidence (status, diagnostic) and the rule that decided,
and what Crier would do; which supporter it is about, or why it names none.
--json gives the same as JSON. Nothing is changed.`)
	asJSON := fs.Bool("json", false, "print as JSON")
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		fs.Usage()
		return usageError{"give one message file (.eml)"}
	}
	raw, err := os.ReadFile(rest[0])
	if err != nil {
		return err
	}
	st, err := app.OpenStore(ctx)
	if err != nil {
		return err
	}
	subs, err := subscribers.Open(ctx, st.DB())
	if err != nil {
		return err
	}
	ecfg, ok := app.emailConfig()
	if !ok {
		return fmt.Errorf("the newsletter (an email channel) is not enabled in %s", app.ConfigPath)
	}
	key := []byte(ecfg.LinkSecret.Reveal())
	if len(key) == 0 {
		if key, err = subscribers.LoadOrCreateKey(app.Config.DataPath()); err != nil {
			return fmt.Errorf("link signing key: %w", err)
		}
	}
	addrs, err := newsletter.BounceAddresses(ecfg, subscribers.NewSigner(key))
	if err != nil {
		return err
	}
	proc, err := app.bounceProcessor(ctx, st, ecfg, subs, addrs, nil)
	if err != nil {
		return err
	}
	d, err := proc.Decide(ctx, raw)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.MarshalIndent(d, "", "  ")
		fmt.Fprintln(app.Stdout, string(b))
		return nil
	}
	w := app.Stdout
	fmt.Fprintf(w, "%s: %s", rest[0], d.Kind)
	if d.FeedbackType != "" {
		fmt.Fprintf(w, " (feedback type %s)", d.FeedbackType)
	}
	fmt.Fprintln(w)
	for _, r := range d.Recipients {
		fmt.Fprintf(w, "  recipient %s: %s", r.Address, r.Class)
		if r.Reason != "" {
			fmt.Fprintf(w, ", %s (%s)", r.Reason.Plain(), r.Reason)
		}
		fmt.Fprintf(w, "\n    evidence: action %q, status %q, diagnostic %q\n    decided by: %s\n    Crier would: %s\n", r.Action, r.Status, r.Diagnostic, r.Rule, r.Would)
	}
	if d.Feedback == "" {
		fmt.Fprintf(w, "Crier would do %s.\n", d.Would)
		return nil
	}
	sub, err := subs.Get(ctx, d.SubscriberID)
	who := fmt.Sprintf("subscriber %d", d.SubscriberID)
	if err == nil {
		who = fmt.Sprintf("subscriber %d (%s, now %s)", sub.ID, sub.Email, sub.Status)
	}
	fmt.Fprintf(w, "About %s, send %q: Crier would %s.\n", who, d.SendID, d.Would)
	return nil
}

// newsletterConfigurer is what cmd/crier asks of the newsletter's channel
// settings (channels/email's): the newsletter engine's config.
type newsletterConfigurer interface {
	NewsletterConfig() newsletter.Config
}

// emailConfig is the enabled newsletter channel's section of the config.
func (a *App) emailConfig() (newsletter.Config, bool) {
	for _, i := range channels.Enabled(a.Instances) {
		if s, ok := i.Settings.(newsletterConfigurer); ok {
			return s.NewsletterConfig(), true
		}
	}
	return newsletter.Config{}, false
}

func pollEvery(c bounces.IMAP) string {
	if c.Poll > 0 {
		return c.Poll.String()
	}
	return bounces.DefaultPoll.String()
}
