// Package connections provides the channel accounts owners connect from the
// console's Channels page (web/console's ChannelAccounts: connect, test,
// disconnect, Mastodon's sign-in), and the daemon's channels that follow
// them: a connect or disconnect made on any replica takes effect at the next
// delivery on every replica, without a restart. What a type needs and how
// it is checked is the type's Connector (channels' contract); what is
// stored is the accounts package's; a stored connection becomes an
// instance's credentials through Instance.WithConnection, so a new network
// gets all of this by declaring its fields.
package connections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/web/console"
)

// Options configure a Service.
type Options struct {
	// Instances are every configured channel instance, in config order,
	// as the server configures them.
	Instances []channels.Instance
	Accounts  *accounts.Store
	// Env is what checks and senders use (the HTTP client, the store, the
	// campaign); its Background, when set, bounds the background work of
	// each sender built, which is stopped when a new connection replaces it.
	Env channels.Env
	// Outbox is where an instance without credentials saves its posts.
	Outbox channels.Sender
	Logger *slog.Logger
}

// Service is the connected accounts of one daemon.
type Service struct {
	opts  Options
	mu    sync.Mutex
	slots map[string]*slot
}

// slot is one instance's current build, by the stamp of the connection it
// was built from.
type slot struct {
	mu     sync.Mutex
	built  bool
	stamp  string
	ch     channels.Channel
	cancel context.CancelFunc
	// rejection is what this process knows of a recorded refusal.
	rejection rejectionState
}

type rejectionState int

const (
	unknown rejectionState = iota
	rejected
	cleared
)

// New returns the service.
func New(o Options) (*Service, error) {
	if o.Accounts == nil {
		return nil, errors.New("connections: no accounts store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{opts: o, slots: map[string]*slot{}}, nil
}

var _ console.ChannelAccounts = (*Service)(nil)

// instance returns the enabled instance of that name.
func (s *Service) instance(name string) (channels.Instance, error) {
	for _, i := range s.opts.Instances {
		if i.Name == name && i.Settings.Enabled() {
			return i, nil
		}
	}
	return channels.Instance{}, fmt.Errorf("there is no enabled channel named %q in config.yaml", name)
}

// onServer reports whether the server's environment or config file gives
// the instance its credentials: that wins over the console.
func onServer(inst channels.Instance) bool { return inst.Settings.HasCredentials() }

// Follows reports whether the instance's channel can change with a
// connection: a type with a Connector, not configured on the server and
// not held to the outbox by mode: outbox.
func Follows(inst channels.Instance) bool { return follows(inst) }

func follows(inst channels.Instance) bool {
	_, ok := inst.Provider.(channels.Connector)
	return ok && !onServer(inst) && inst.Settings.Mode() != channels.ModeOutbox
}

// Effective returns the named instance as it stands now: with the account
// connected from the console applied when there is one and the server gives
// none (the newsletter's test copies and the console's account mail use it).
func (s *Service) Effective(ctx context.Context, name string) (channels.Instance, error) {
	inst, err := s.instance(name)
	if err != nil || !follows(inst) {
		return inst, err
	}
	eff, _, err := s.stored(ctx, inst)
	return eff, err
}

// stored returns the instance with its stored connection applied, and
// whether one is stored.
func (s *Service) stored(ctx context.Context, inst channels.Instance) (channels.Instance, bool, error) {
	values, err := s.values(ctx, inst.Name)
	if errors.Is(err, accounts.ErrNotConnected) {
		return inst, false, nil
	}
	if err != nil {
		return inst, false, err
	}
	eff, err := inst.WithConnection(values)
	return eff, err == nil, err
}

// values returns a stored connection's settings and secrets together.
func (s *Service) values(ctx context.Context, instance string) (map[string]string, error) {
	acct, err := s.opts.Accounts.Get(ctx, instance)
	if err != nil {
		return nil, err
	}
	secrets, err := s.opts.Accounts.Secrets(ctx, instance)
	if err != nil {
		return nil, err
	}
	values := map[string]string{}
	for k, v := range acct.Settings {
		values[k] = v
	}
	for k, v := range secrets {
		values[k] = v
	}
	return values, nil
}

// plain says err in an owner's words; a ConnectError is kept as it is.
func plain(err error) string {
	var ce *channels.ConnectError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return strings.TrimSpace(err.Error())
}
