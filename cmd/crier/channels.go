package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/bot/markdown"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/connections"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/imagehost"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

func (a *App) campaign() channels.Campaign {
	c := a.Config.Campaign
	return channels.Campaign{Name: c.Name, Website: c.Website, Language: c.Language, PublicURL: a.Config.HTTP.PublicURL, Location: a.Config.Location(), Colours: c.Colours}
}

// contentClient is the guarded client for addresses from content, as the
// config's fetch section sets it up.
func (a *App) contentClient() (*contentfetch.Client, error) {
	if a.Content != nil {
		return a.Content, nil
	}
	allow, err := contentfetch.ParseAllow(a.Config.Fetch.AllowNetworks)
	if err != nil {
		return nil, fmt.Errorf("fetch.allow_networks: %w", err)
	}
	ua := "Crier"
	if w := a.Config.Campaign.Website; w != "" {
		ua += " (+" + w + ")"
	}
	a.Content = contentfetch.New(contentfetch.Options{Allow: allow, Timeout: a.Config.Fetch.Timeout, UserAgent: ua})
	return a.Content, nil
}

// imageCheckTimeout bounds each image check of preview and validate.
const imageCheckTimeout = 15 * time.Second

// checkImage tries a post's image the way the senders will (the file read,
// the URL fetched through the guarded content client) and says why it
// would be left out, or "" when it is fine. It sends nothing.
func (a *App) checkImage(ctx context.Context, p post.Post) string {
	if p.Image == nil {
		return ""
	}
	if p.Image.File != "" {
		if _, _, err := channels.ReadImageFile(p.Image.File, contentfetch.DefaultMaxBytes); err != nil {
			return fmt.Sprintf("image %s: %v; the post will go out without it", p.Image.File, err)
		}
		return ""
	}
	content, err := a.contentClient()
	if err != nil {
		return err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, imageCheckTimeout)
	defer cancel()
	if _, err := content.Image(ctx, p.Image.URL); err != nil {
		return fmt.Sprintf("image %v; the post will go out without it", strings.TrimPrefix(err.Error(), "fetching "))
	}
	return ""
}

// checkImages is checkImage for many posts, a few at a time (a feed
// preview may name dozens of pictures), in the posts' order.
func (a *App) checkImages(ctx context.Context, posts []post.Post) []string {
	out := make([]string, len(posts))
	if _, err := a.contentClient(); err != nil {
		for i := range out {
			out[i] = err.Error()
		}
		return out
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i, p := range posts {
		if p.Image == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = a.checkImage(ctx, p)
		}()
	}
	wg.Wait()
	return out
}

// instance returns the configured channel of that name.
func (a *App) instance(name string) (channels.Instance, bool) {
	for _, i := range a.Instances {
		if i.Name == name {
			return i, true
		}
	}
	return channels.Instance{}, false
}

// postReader reads post files against the configured channels (enabled or
// not: turning a channel off must not break the posts that mention it).
func (a *App) postReader() markdown.Reader {
	r := markdown.Reader{Location: a.Config.Location()}
	for _, i := range a.Instances {
		r.Channels = append(r.Channels, markdown.Channel{Name: i.Name, Mention: i.CanMention()})
	}
	return r
}

// offlineChannels builds every enabled channel's pure formatter, for preview,
// validate and publish: no credentials, no network. Each is marked with
// whether it would send for real, which is enough to queue deliveries.
func (a *App) offlineChannels() ([]channels.Channel, error) {
	camp := a.campaign()
	var out []channels.Channel
	for _, inst := range channels.Enabled(a.Instances) {
		f, err := inst.Settings.Formatter(camp)
		if err != nil {
			return nil, err
		}
		digestOnly, _ := inst.DigestOnly()
		out = append(out, channels.Channel{Name: inst.Name, Formatter: f, Outbox: inst.UsesOutbox(), DigestOnly: digestOnly})
	}
	return out, nil
}

// rendering is one channel's formatting of one post.
type rendering struct {
	Channel string
	Payload channels.Payload
	Err     error
}

// renderAll formats a post for every channel that does not skip it. When
// ctx is done (the reader left, Ctrl-C) it stops before the next channel
// and returns what it has with the reason: a formatter takes no context,
// but costs time in proportion to the post (docs/architecture.md).
func renderAll(ctx context.Context, chans []channels.Channel, p post.Post) ([]rendering, error) {
	var out []rendering
	for _, ch := range chans {
		if ctx.Err() != nil {
			return out, fmt.Errorf("formatting %s: %w", p.ID, context.Cause(ctx))
		}
		if p.Skips(ch.Name) {
			continue
		}
		payload, err := ch.Formatter.Format(p)
		out = append(out, rendering{Channel: ch.Name, Payload: payload, Err: err})
	}
	return out, nil
}

// liveChannels builds every enabled channel with its real sender, or the
// outbox sender when it has no credentials (or mode: outbox), and the
// newsletter pages' parts when a channel has them.
func (a *App) liveChannels(ctx context.Context, st *store.Store, reg prometheus.Registerer) ([]channels.Channel, *subscribers.Newsletter, error) {
	camp := a.campaign()
	content, err := a.contentClient()
	if err != nil {
		return nil, nil, err
	}
	boxDir := a.Config.DataPath("outbox")
	box := outboxSender(boxDir)
	// Pictures for networks that fetch them from a URL are served by every
	// replica from the store.
	if a.images, err = imagehost.Open(ctx, imagehost.Options{DB: st.DB(), PublicURL: a.Config.HTTP.PublicURL, Logger: a.Logger,
		AllowNonPublicURL: a.AllowNonPublicImageURL}); err != nil {
		return nil, nil, err
	}
	env := channels.Env{Campaign: camp, DB: st.DB(), HTTPClient: a.HTTPClient, Content: content, Logger: a.Logger,
		DataDir: a.Config.DataPath(), OutboxDir: boxDir, Registerer: reg, Background: ctx, Images: a.images}
	if a.connections, err = a.openConnections(ctx, env, box); err != nil {
		return nil, nil, err
	}
	var out []channels.Channel
	var nl *subscribers.Newsletter
	for _, inst := range channels.Enabled(a.Instances) {
		ch := channels.Channel{Name: inst.Name, Outbox: inst.UsesOutbox()}
		ch.DigestOnly, _ = inst.DigestOnly()
		if ch.Outbox {
			f, err := inst.Settings.Formatter(camp)
			if err != nil {
				return nil, nil, err
			}
			ch.Formatter, ch.Sender = f, box
			a.Logger.Info("channel has no credentials: rendering deliveries to the local outbox", "channel", inst.Name, "outbox", filepath.Join(boxDir, inst.Name))
		} else {
			f, s, err := inst.Settings.Connect(ctx, env)
			if err != nil {
				return nil, nil, fmt.Errorf("connecting the %s channel: %w", inst.Name, err)
			}
			ch.Formatter, ch.Sender = f, s
			a.Logger.Info("channel sends for real", "channel", inst.Name, "type", inst.Type)
		}
		// An account connected from the console applies from the start;
		// one that cannot be used now is tried again at each delivery.
		if now, err := a.connections.Current(ctx, ch); err != nil {
			a.Logger.Warn("the account connected from the console cannot be used yet", "channel", inst.Name, "err", err)
		} else {
			ch = now
		}
		if n, ok := inst.Settings.(channels.NewsletterSettings[*subscribers.Newsletter]); ok {
			if nl, err = a.newsletterParts(ctx, env, n, ch, box); err != nil {
				return nil, nil, fmt.Errorf("%s channel: %w", inst.Name, err)
			}
		}
		out = append(out, ch)
	}
	return out, nl, nil
}

// newsletterParts returns what the newsletter pages need, with a mailer of
// confirmations that follows the channel: through its mail server once one
// is connected from the console (on any replica), else to the outbox.
func (a *App) newsletterParts(ctx context.Context, env channels.Env, n channels.NewsletterSettings[*subscribers.Newsletter], ch channels.Channel, box channels.Sender) (*subscribers.Newsletter, error) {
	local, err := n.Newsletter(ctx, env, box)
	if err != nil {
		return nil, err
	}
	nl, err := n.Newsletter(ctx, env, ch.Sender)
	if err != nil {
		return nil, err
	}
	nl.Mailer = followingMailer{ch: ch, current: a.connections.Current, local: local.Mailer}
	return nl, nil
}

// followingMailer mails each confirmation through the newsletter channel as
// it stands at that moment (connections.Service.Current).
type followingMailer struct {
	ch      channels.Channel
	current func(context.Context, channels.Channel) (channels.Channel, error)
	local   subscribers.Mailer
}

func (m followingMailer) SendConfirmation(ctx context.Context, sub subscribers.Subscriber, confirmURL string) error {
	ch, err := m.current(ctx, m.ch)
	if err != nil {
		return err
	}
	if real, ok := ch.Sender.(subscribers.Mailer); ok && !ch.Outbox {
		return real.SendConfirmation(ctx, sub, confirmURL)
	}
	return m.local.SendConfirmation(ctx, sub, confirmURL)
}

// markConnected marks the channels with an account connected from the
// console as sending for real, as the daemon will send them: a post queued
// by `crier publish` is then recorded (and held back, for an example) as
// such.
func (a *App) markConnected(ctx context.Context, chans []channels.Channel) error {
	acc, _, err := a.openAccounts(ctx)
	if err != nil {
		return err
	}
	list, err := acc.List(ctx)
	if err != nil {
		return err
	}
	for i, ch := range chans {
		inst, ok := a.instance(ch.Name)
		if ok && connections.Follows(inst) && slices.ContainsFunc(list, func(ac accounts.Account) bool { return ac.Instance == ch.Name }) {
			chans[i].Outbox = false
		}
	}
	return nil
}

// openConnections opens the accounts connected from the console, which
// the channels follow (connections.Service).
func (a *App) openConnections(ctx context.Context, env channels.Env, box channels.Sender) (*connections.Service, error) {
	acc, _, err := a.openAccounts(ctx)
	if err != nil {
		return nil, err
	}
	return connections.New(connections.Options{Instances: a.Instances, Accounts: acc, Env: env, Outbox: box, Logger: a.Logger})
}

// sendsForReal reports whether any enabled channel would send for real
// rather than render to the outbox (examples are then held back).
func (a *App) sendsForReal() bool {
	for _, inst := range channels.Enabled(a.Instances) {
		if !inst.UsesOutbox() {
			return true
		}
	}
	return false
}
