package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/bot/post"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/subscribers"
	"github.com/crierhq/crier/web"
)

func (a *App) campaign() channels.Campaign {
	c := a.Config.Campaign
	return channels.Campaign{Name: c.Name, Website: c.Website, Language: c.Language, PublicURL: a.Config.HTTP.PublicURL, Location: a.Config.Location()}
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

// offlineChannels builds every enabled channel's pure formatter, for preview
// and validate: no credentials, no network.
func (a *App) offlineChannels() ([]channels.Channel, error) {
	cfg, camp := a.channelsConfig(), a.campaign()
	var out []channels.Channel
	if cfg.Mastodon.Enabled {
		out = append(out, channels.Channel{Name: "mastodon", Formatter: mastodon.NewFormatter(cfg.Mastodon, camp)})
	}
	if cfg.Discord.Enabled {
		out = append(out, channels.Channel{Name: "discord", Formatter: discord.NewFormatter(cfg.Discord, camp)})
	}
	if cfg.Email.Enabled {
		f, err := email.NewFormatter(cfg.Email, camp)
		if err != nil {
			return nil, fmt.Errorf("email channel: %w", err)
		}
		out = append(out, channels.Channel{Name: "email", Formatter: f})
	}
	if cfg.Bluesky.Enabled {
		out = append(out, channels.Channel{Name: bluesky.Name, Formatter: bluesky.NewFormatter(cfg.Bluesky, camp)})
	}
	return out, nil
}

// channelsConfig is the channels' config with its file paths made relative
// to the config file, as every other path in it is.
func (a *App) channelsConfig() config.Channels {
	cfg := a.Config.Channels
	cfg.Email.Templates = a.Config.Resolve(cfg.Email.Templates)
	cfg.Email.DKIM.KeyFile = a.Config.Resolve(cfg.Email.DKIM.KeyFile)
	return cfg
}

// plannedChannels are the offline channels marked with whether each would
// send for real: enough to queue deliveries (crier publish) without
// connecting to anything.
func (a *App) plannedChannels() ([]channels.Channel, error) {
	chans, err := a.offlineChannels()
	if err != nil {
		return nil, err
	}
	cfg := a.Config.Channels
	outbox := map[string]bool{
		"mastodon": cfg.Mastodon.Mode.UsesOutbox(cfg.Mastodon.HasCredentials()),
		"discord":  cfg.Discord.Mode.UsesOutbox(cfg.Discord.HasCredentials()),
		"email":    cfg.Email.Mode.UsesOutbox(cfg.Email.HasCredentials()),
		"bluesky":  cfg.Bluesky.Mode.UsesOutbox(cfg.Bluesky.HasCredentials()),
	}
	for i := range chans {
		chans[i].Outbox = outbox[chans[i].Name]
	}
	return a.digestOnly(chans), nil
}

// rendering is one channel's formatting of one post.
type rendering struct {
	Channel string
	Payload channels.Payload
	Err     error
}

// renderAll formats a post for every channel that does not skip it.
func renderAll(chans []channels.Channel, p post.Post) []rendering {
	var out []rendering
	for _, ch := range chans {
		if p.Skips(ch.Name) {
			continue
		}
		payload, err := ch.Formatter.Format(p)
		out = append(out, rendering{Channel: ch.Name, Payload: payload, Err: err})
	}
	return out
}

// newsletter is what the daemon needs for the newsletter pages.
type newsletter struct {
	subs    *subscribers.Store
	signer  *subscribers.Signer
	mailer  subscribers.Mailer
	archive *archive.Store
}

// webTopics are the configured topics as the pages show them.
func webTopics(topics []email.Topic) []web.Topic {
	out := make([]web.Topic, len(topics))
	for i, t := range topics {
		out[i] = web.Topic{Key: t.Key(), Name: t.Name, Names: t.Names}
	}
	return out
}

// liveChannels builds every enabled channel with its real sender, or the
// outbox sender when it has no credentials (or mode: outbox).
func (a *App) liveChannels(ctx context.Context, st *store.Store, reg prometheus.Registerer) ([]channels.Channel, *newsletter, error) {
	cfg, camp := a.channelsConfig(), a.campaign()
	content, err := a.contentClient()
	if err != nil {
		return nil, nil, err
	}
	env := channels.Env{Campaign: camp, DB: st.DB(), HTTPClient: a.HTTPClient, Content: content, Logger: a.Logger, DataDir: a.Config.DataPath()}
	box := outbox.New(a.Config.DataPath("outbox"))
	var out []channels.Channel
	add := func(name string, useOutbox bool, offline channels.Formatter, live func() (channels.Formatter, channels.Sender, error)) error {
		if useOutbox {
			a.Logger.Info("channel has no credentials: rendering deliveries to the local outbox", "channel", name, "outbox", box.Dir+"/"+name)
			out = append(out, channels.Channel{Name: name, Formatter: offline, Sender: box, Outbox: true})
			return nil
		}
		f, s, err := live()
		if err != nil {
			return fmt.Errorf("connecting the %s channel: %w", name, err)
		}
		a.Logger.Info("channel sends for real", "channel", name)
		out = append(out, channels.Channel{Name: name, Formatter: f, Sender: s})
		return nil
	}
	if cfg.Mastodon.Enabled {
		if err := add("mastodon", cfg.Mastodon.Mode.UsesOutbox(cfg.Mastodon.HasCredentials()), mastodon.NewFormatter(cfg.Mastodon, camp),
			func() (channels.Formatter, channels.Sender, error) { return mastodon.New(ctx, cfg.Mastodon, env) }); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Discord.Enabled {
		if err := add("discord", cfg.Discord.Mode.UsesOutbox(cfg.Discord.HasCredentials()), discord.NewFormatter(cfg.Discord, camp),
			func() (channels.Formatter, channels.Sender, error) { return discord.New(ctx, cfg.Discord, env) }); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Bluesky.Enabled {
		if err := add(bluesky.Name, cfg.Bluesky.Mode.UsesOutbox(cfg.Bluesky.HasCredentials()), bluesky.NewFormatter(cfg.Bluesky, camp),
			func() (channels.Formatter, channels.Sender, error) { return bluesky.New(ctx, cfg.Bluesky, env) }); err != nil {
			return nil, nil, err
		}
	}
	var nl *newsletter
	if cfg.Email.Enabled {
		subs, err := subscribers.Open(ctx, st.DB())
		if err != nil {
			return nil, nil, fmt.Errorf("opening subscribers: %w", err)
		}
		key := []byte(cfg.Email.LinkSecret.Reveal())
		if len(key) == 0 {
			if key, err = subscribers.LoadOrCreateKey(a.Config.DataPath()); err != nil {
				return nil, nil, fmt.Errorf("link signing key: %w", err)
			}
		}
		arch, err := archive.Open(ctx, st.DB())
		if err != nil {
			return nil, nil, fmt.Errorf("opening the newsletter archive: %w", err)
		}
		nl = &newsletter{subs: subs, signer: subscribers.NewSigner(key), archive: arch}
		offline, err := email.NewFormatter(cfg.Email, camp)
		if err != nil {
			return nil, nil, fmt.Errorf("email channel: %w", err)
		}
		useOutbox := cfg.Email.Mode.UsesOutbox(cfg.Email.HasCredentials())
		if err := add("email", useOutbox, offline, func() (channels.Formatter, channels.Sender, error) {
			return email.New(ctx, cfg.Email, env, subs, nl.signer, email.WithRegisterer(reg))
		}); err != nil {
			return nil, nil, err
		}
		if m, ok := out[len(out)-1].Sender.(subscribers.Mailer); ok && !useOutbox {
			nl.mailer = m
		} else {
			nl.mailer = email.NewOutboxMailer(cfg.Email, camp, box.Dir)
		}
	}
	return a.digestOnly(out), nl, nil
}

// digestOnly marks the newsletter as taking posts only through its digest
// when channels.email.newsletter is digest.
func (a *App) digestOnly(chans []channels.Channel) []channels.Channel {
	for i := range chans {
		chans[i].DigestOnly = chans[i].Name == "email" && !a.Config.Channels.Email.SendsEachPost()
	}
	return chans
}

// sendsForReal reports whether any enabled channel would send for real
// rather than render to the outbox (examples are then held back).
func (a *App) sendsForReal() bool {
	chans, err := a.plannedChannels()
	if err != nil {
		return false
	}
	for _, ch := range chans {
		if !ch.Outbox {
			return true
		}
	}
	return false
}
