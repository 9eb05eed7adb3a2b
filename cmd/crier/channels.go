package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/config"
	"github.com/crierhq/crier/post"
	"github.com/crierhq/crier/subscribers"
)

func (a *App) campaign() channels.Campaign {
	c := a.Config.Campaign
	return channels.Campaign{Name: c.Name, Website: c.Website, Language: c.Language, PublicURL: a.Config.HTTP.PublicURL}
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
	}
	for i := range chans {
		chans[i].Outbox = outbox[chans[i].Name]
	}
	return chans, nil
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
	subs   *subscribers.Store
	signer *subscribers.Signer
	mailer subscribers.Mailer
}

// liveChannels builds every enabled channel with its real sender, or the
// outbox sender when it has no credentials (or mode: outbox).
func (a *App) liveChannels(ctx context.Context, st *store.Store, reg prometheus.Registerer) ([]channels.Channel, *newsletter, error) {
	cfg, camp := a.channelsConfig(), a.campaign()
	env := channels.Env{Campaign: camp, DB: st.DB(), HTTPClient: a.HTTPClient, Logger: a.Logger, DataDir: a.Config.DataPath()}
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
		nl = &newsletter{subs: subs, signer: subscribers.NewSigner(key)}
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
	return out, nl, nil
}
