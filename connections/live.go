package connections

import (
	"context"
	"fmt"

	"github.com/crierhq/crier/channels"
)

// Current returns ch as it stands now. For an instance that follows the
// console (not configured on the server), it reads the stamp of the stored
// connection (one indexed read) and, when it changed since the channel was
// built, on this replica or another, builds the channel again from the
// stored connection, or makes it save to the outbox when the account was
// disconnected. Other instances are returned as they are. It is
// bot.Options.Current.
func (s *Service) Current(ctx context.Context, ch channels.Channel) (channels.Channel, error) {
	inst, err := s.instance(ch.Name)
	if err != nil || !follows(inst) {
		return ch, nil
	}
	stamp, err := s.opts.Accounts.Stamp(ctx, inst.Name)
	if err != nil {
		return ch, err
	}
	sl := s.slot(inst.Name)
	sl.mu.Lock()
	defer sl.mu.Unlock()
	switch {
	case sl.built && sl.stamp == stamp:
		return sl.ch, nil
	case !sl.built && stamp == "":
		// Nothing stored: the channel as the server configures it.
		sl.built, sl.ch = true, ch
		return ch, nil
	}
	next, cancel, err := s.build(ctx, inst, stamp, ch)
	if err != nil {
		return ch, err
	}
	if sl.cancel != nil {
		sl.cancel() // the replaced sender's background work
	}
	s.opts.Logger.Info("channel follows its connection from the console", "channel", inst.Name, "sends_for_real", !next.Outbox)
	sl.built, sl.stamp, sl.ch, sl.cancel = true, stamp, next, cancel
	return next, nil
}

func (s *Service) slot(name string) *slot {
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.slots[name]
	if sl == nil {
		sl = &slot{}
		s.slots[name] = sl
	}
	return sl
}

// build makes the instance's channel from its stored connection, or the
// outbox when none is stored (stamp "").
func (s *Service) build(ctx context.Context, inst channels.Instance, stamp string, was channels.Channel) (channels.Channel, context.CancelFunc, error) {
	ch := channels.Channel{Name: inst.Name, DigestOnly: was.DigestOnly}
	if stamp == "" {
		f, err := inst.Settings.Formatter(s.opts.Env.Campaign)
		if err != nil {
			return ch, nil, err
		}
		ch.Formatter, ch.Sender, ch.Outbox = f, s.opts.Outbox, true
		return ch, nil, nil
	}
	eff, ok, err := s.stored(ctx, inst)
	if err != nil {
		return ch, nil, fmt.Errorf("reading the account connected to %s: %w", inst.Name, err)
	}
	if !ok { // disconnected between the stamp and the read
		return s.build(ctx, inst, "", was)
	}
	env := s.opts.Env
	cancel := func() {}
	if env.Background != nil {
		env.Background, cancel = context.WithCancel(env.Background)
	}
	f, snd, err := eff.Settings.Connect(ctx, env)
	if err != nil {
		cancel()
		return ch, nil, fmt.Errorf("connecting %s with the account connected from the console: %w", inst.Name, err)
	}
	ch.Formatter, ch.Sender = f, snd
	return ch, cancel, nil
}

// Attempted records what a delivery attempt says of the instance's
// credentials (bot.Options.OnAttempt): a refusal (channels.IsRefused) for
// the Channels page's "token rejected on DATE", and the first success after
// one clears it.
func (s *Service) Attempted(ctx context.Context, channel string, err error) {
	sl := s.slot(channel)
	sl.mu.Lock()
	known := sl.rejection
	sl.mu.Unlock()
	switch {
	case err != nil && channels.IsRefused(err):
		if rerr := s.opts.Accounts.Reject(ctx, channel, refusal(err)); rerr != nil {
			s.opts.Logger.Warn("recording refused credentials", "channel", channel, "err", rerr)
			return
		}
		known = rejected
	case err == nil && known != cleared:
		// Once per process, and after a refusal: a success clears any
		// refusal recorded here or by another replica.
		if cerr := s.opts.Accounts.ClearRejection(ctx, channel); cerr != nil {
			return
		}
		known = cleared
	default:
		return
	}
	sl.mu.Lock()
	sl.rejection = known
	sl.mu.Unlock()
}

// refusal is what the Channels page says of a refusal: the sender's error,
// which names what was refused and never holds the secret.
func refusal(err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}
