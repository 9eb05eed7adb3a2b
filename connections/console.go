package connections

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/web/console"
)

// Instances lists every enabled channel instance in config order, with
// where its credentials come from, the account connected and any refusal.
func (s *Service) Instances(ctx context.Context) ([]console.ChannelInstance, error) {
	list, err := s.opts.Accounts.List(ctx)
	if err != nil {
		return nil, err
	}
	byName := map[string]accounts.Account{}
	for _, a := range list {
		byName[a.Instance] = a
	}
	rejections, err := s.opts.Accounts.Rejections(ctx)
	if err != nil {
		return nil, err
	}
	var out []console.ChannelInstance
	for _, inst := range channels.Enabled(s.opts.Instances) {
		acct, stored := byName[inst.Name]
		origin := accounts.Effective(onServer(inst), stored)
		ci := console.ChannelInstance{Name: inst.Name, Type: inst.Type, Origin: string(origin), Editable: origin.Editable(),
			Can: s.can(ctx, inst), TestSends: testSends(inst)}
		if c, ok := inst.Provider.(channels.Connector); ok {
			ci.Connectable, ci.Fields = true, c.ConnectFields()
			_, ci.OAuth = c.(channels.OAuthConnector)
		}
		if origin == accounts.FromConsole {
			ci.Display, ci.ConnectedBy, ci.ConnectedAt = acct.Display, acct.ConnectedBy, acct.ConnectedAt
			ci.Settings, ci.SecretsSet = acct.Settings, acct.SecretsSet
		}
		if r, ok := rejections[inst.Name]; ok && origin != accounts.NotConnected {
			ci.RejectedAt, ci.RejectedReason = r.At, r.Reason
		}
		out = append(out, ci)
	}
	return out, nil
}

// can says what an instance can do, in plain words, from its type's
// capabilities and, once it was built with credentials, its sender's.
func (s *Service) can(ctx context.Context, inst channels.Instance) []string {
	var out []string
	if inst.CanMention() {
		out = append(out, "ping a role")
	}
	if _, ok := inst.Settings.(channels.TestSender); ok {
		out = append(out, "send test copies")
	}
	if d, _ := inst.DigestOnly(); d {
		out = append(out, "send digests")
	}
	s.mu.Lock()
	sl := s.slots[inst.Name]
	s.mu.Unlock()
	if sl == nil {
		return out
	}
	sl.mu.Lock()
	ch := sl.ch
	sl.mu.Unlock()
	// A connect or disconnect since the last delivery is built now (what
	// the next delivery would do anyway), so the page tells what the
	// account just connected can do.
	if now, err := s.Current(ctx, ch); err == nil {
		ch = now
	}
	snd := ch.Sender
	if _, ok := snd.(channels.Corrector); ok {
		out = append(out, "edit posts")
	}
	if _, ok := snd.(channels.Withdrawer); ok {
		out = append(out, "withdraw posts")
	}
	if _, ok := snd.(channels.ReachReader); ok {
		out = append(out, "read reach")
	}
	return out
}

// testSends reports whether Test mails the owner (the newsletter's mail
// server).
func testSends(inst channels.Instance) bool {
	_, ok := inst.Settings.(channels.AccountSender)
	return ok
}

// connector returns the instance and its type's Connector, refusing an
// instance the console may not change.
func (s *Service) connector(instance string) (channels.Instance, channels.Connector, error) {
	inst, err := s.instance(instance)
	if err != nil {
		return inst, nil, err
	}
	if err := accounts.MayChange(inst.Name, onServer(inst)); err != nil {
		return inst, nil, err
	}
	c, ok := inst.Provider.(channels.Connector)
	if !ok {
		return inst, nil, fmt.Errorf("%s channels cannot be connected from the console: set their credentials in config.yaml", inst.Type)
	}
	return inst, c, nil
}

// Connect checks values with the type's Connector and stores them. A secret
// field left empty keeps the stored secret, unless another secret was typed:
// a connection is then replaced by what was typed (a Discord webhook by a
// bot token).
func (s *Service) Connect(ctx context.Context, actor, instance string, values map[string]string) (string, error) {
	inst, c, err := s.connector(instance)
	if err != nil {
		return "", err
	}
	if _, ok := c.(channels.OAuthConnector); ok {
		return "", fmt.Errorf("%s is connected by signing in at the server: use Connect on the Channels page, which sends you there", inst.Name)
	}
	fields := c.ConnectFields()
	merged, err := s.withKeptSecrets(ctx, inst.Name, fields, values)
	if err != nil {
		return "", err
	}
	display, err := s.check(ctx, inst, c, merged)
	if err != nil {
		s.audit(ctx, actor, inst.Name, accounts.Refused, plain(err))
		return "", err
	}
	return display, s.store(ctx, actor, inst, fields, merged, display)
}

// withKeptSecrets fills the empty secret fields from the stored
// connection when no secret was typed.
func (s *Service) withKeptSecrets(ctx context.Context, instance string, fields []channels.ConnectField, values map[string]string) (map[string]string, error) {
	merged := map[string]string{}
	typed := false
	for _, f := range fields {
		v := strings.TrimSpace(values[f.Name])
		if v != "" {
			merged[f.Name] = v
			typed = typed || f.Secret
		}
	}
	if typed {
		return merged, nil
	}
	stored, err := s.opts.Accounts.Secrets(ctx, instance)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if f.Secret && merged[f.Name] == "" && stored[f.Name] != "" {
			merged[f.Name] = stored[f.Name]
		}
	}
	return merged, nil
}

// check asks the network, and the type's own config check, whether the
// values make a working connection.
func (s *Service) check(ctx context.Context, inst channels.Instance, c channels.Connector, values map[string]string) (string, error) {
	for _, f := range c.ConnectFields() {
		if !f.Optional && values[f.Name] == "" {
			return "", &channels.ConnectError{Field: f.Name, Reason: "is needed: " + f.Help}
		}
	}
	display, err := c.CheckConnection(ctx, s.opts.Env, channels.Connection{Instance: inst.Name, Values: values})
	if err != nil {
		return "", err
	}
	if _, err := inst.WithConnection(values); err != nil {
		return "", &channels.ConnectError{Reason: err.Error()}
	}
	return display, nil
}

// store keeps a checked connection: its secret values sealed, the others
// as settings.
func (s *Service) store(ctx context.Context, actor string, inst channels.Instance, fields []channels.ConnectField, values map[string]string, display string) error {
	secret := channels.Secrets(fields, values)
	settings, secrets := map[string]string{}, map[string]string{}
	for k, v := range values {
		if secret[k] {
			secrets[k] = v
		} else {
			settings[k] = v
		}
	}
	a := accounts.Account{Instance: inst.Name, Type: inst.Type, Settings: settings, Display: display}
	if err := s.opts.Accounts.Connect(ctx, actor, a, secrets); err != nil {
		return err
	}
	s.opts.Logger.Info("channel connected from the console", "channel", inst.Name, "account", display)
	return nil
}

// Test checks the instance's connection again and, for the mail server,
// sends the owner a test mail; the outcome goes to the audit trail.
func (s *Service) Test(ctx context.Context, actor, instance, to string) (string, error) {
	inst, err := s.instance(instance)
	if err != nil {
		return "", err
	}
	detail, err := s.test(ctx, inst, to)
	note := detail
	if err != nil {
		note = "failed: " + plain(err)
	}
	s.audit(ctx, actor, inst.Name, accounts.Tested, note)
	return detail, err
}

func (s *Service) test(ctx context.Context, inst channels.Instance, to string) (string, error) {
	eff := inst
	var detail []string
	if !onServer(inst) {
		values, err := s.values(ctx, inst.Name)
		if errors.Is(err, accounts.ErrNotConnected) {
			return "", fmt.Errorf("%s is not connected: connect it first", inst.Name)
		}
		if err != nil {
			return "", err
		}
		c, ok := inst.Provider.(channels.Connector)
		if !ok {
			return "", fmt.Errorf("%s channels cannot be checked from the console", inst.Type)
		}
		display, err := c.CheckConnection(ctx, s.opts.Env, channels.Connection{Instance: inst.Name, Values: values})
		if err != nil {
			return "", err
		}
		detail = append(detail, "connected as "+display)
		if eff, err = inst.WithConnection(values); err != nil {
			return "", err
		}
	}
	if mail, ok := eff.Settings.(channels.AccountSender); ok {
		if to == "" {
			return "", errors.New("no address to send the test mail to")
		}
		subject := "Crier: test mail from " + s.opts.Env.Campaign.Name
		text := "This is a test mail from Crier, sent from the Channels page of the console.\n\nIf you read it, the newsletter's mail server works."
		if err := mail.SendAccountMail(ctx, s.opts.Env.Campaign, to, subject, text); err != nil {
			return "", fmt.Errorf("the test mail could not be sent: %w", err)
		}
		detail = append(detail, "a test mail was sent to your address")
	}
	if len(detail) == 0 {
		return "configured on the server: its deliveries show whether it works", nil
	}
	return strings.Join(detail, "; "), nil
}

// Disconnect forgets a console connection; the instance saves posts to
// the outbox from its next delivery, on every replica.
func (s *Service) Disconnect(ctx context.Context, actor, instance string) error {
	inst, err := s.instance(instance)
	if err != nil {
		return err
	}
	if err := accounts.MayChange(inst.Name, onServer(inst)); err != nil {
		return err
	}
	if err := s.opts.Accounts.Disconnect(ctx, actor, inst.Name); err != nil {
		return err
	}
	s.opts.Logger.Info("channel disconnected from the console", "channel", inst.Name)
	return nil
}

// Audit is the accounts' audit trail, newest first.
func (s *Service) Audit(ctx context.Context, limit int) ([]console.AccountEvent, error) {
	events, err := s.opts.Accounts.Audit(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]console.AccountEvent, len(events))
	for i, e := range events {
		out[i] = console.AccountEvent{At: e.At, Actor: e.Actor, Instance: e.Instance, Action: string(e.Action), Detail: e.Detail}
	}
	return out, nil
}

// audit records an event; a failure to record is logged, not returned:
// the action itself succeeded or failed already.
func (s *Service) audit(ctx context.Context, actor, instance string, action accounts.Action, detail string) {
	var err error
	if action == accounts.Tested {
		err = s.opts.Accounts.RecordTest(ctx, actor, instance, detail)
	} else {
		err = s.opts.Accounts.Record(ctx, actor, instance, action, detail)
	}
	if err != nil {
		s.opts.Logger.Warn("recording in the accounts' audit trail", "channel", instance, "err", err)
	}
}
