package console

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels/outbox"
)

// A delivery to a channel without an account is rendered to the outbox
// folder: "sent" then means saved on this machine, and the console must
// never show it as sent to anyone.

// localReason says why a channel only saves locally, for "Saved locally,
// not sent (…)"; a channel that sends now was in outbox mode when it got
// the post.
func (c *Console) localReason(channel string) string {
	if why, ok := c.opts.Outbox[channel]; ok && why != "" {
		return why
	}
	if _, ok := c.opts.Outbox[channel]; ok {
		return "no account connected"
	}
	return "the channel had no account when the post went out"
}

// nothingSends reports whether every configured channel only saves
// locally: then every page says so.
func (c *Console) nothingSends(ctx context.Context) bool {
	names := c.opts.Publisher.ChannelNames()
	local := c.outboxNow(ctx)
	for _, n := range names {
		if _, ok := local[n]; !ok {
			return false
		}
	}
	return len(names) > 0
}

// outboxNow is Options.Outbox as connections made on the Channels page
// since the start changed it: an instance connected there sends (unless
// its mode is outbox), one disconnected there saves locally.
func (c *Console) outboxNow(ctx context.Context) map[string]string {
	if c.opts.Accounts == nil {
		return c.opts.Outbox
	}
	insts, err := c.opts.Accounts.Instances(ctx)
	if err != nil {
		c.opts.Logger.Warn("console: listing the channels' connections", "err", err)
		return c.opts.Outbox
	}
	local := maps.Clone(c.opts.Outbox)
	if local == nil {
		local = map[string]string{}
	}
	for _, inst := range insts {
		why, configured := c.opts.Outbox[inst.Name]
		switch {
		case inst.Origin == string(accounts.NotConnected) && !configured:
			local[inst.Name] = "no " + inst.Type + " account connected"
		case inst.Origin == string(accounts.FromConsole) && inst.RejectedAt.IsZero() && !strings.HasPrefix(why, "mode: outbox"):
			delete(local, inst.Name)
		}
	}
	return local
}

// canSendTest reports whether a test newsletter can be mailed: there is a
// newsletter, and no newsletter channel among previews is outbox-only
// (no mail server configured), where a test copy has nowhere to go.
func (c *Console) canSendTest(previews []channelPreview) bool {
	if c.opts.SendTest == nil {
		return false
	}
	for _, p := range previews {
		if _, local := c.opts.Outbox[p.Channel]; local && p.Mail != nil {
			return false
		}
	}
	return true
}

// chip is one channel's delivery in the posts list.
type chip struct {
	Channel, State string
	// Local is why the delivery was only saved locally; "" when it left.
	Local string
}

var channelNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// savedCopy shows what a delivery that only saved locally wrote to the
// outbox folder: the payload that would have been sent.
func (c *Console) savedCopy(w http.ResponseWriter, r *http.Request, s Session) {
	id, channel := r.PathValue("id"), r.PathValue("channel")
	d, err := c.opts.Store.Delivery(r.Context(), id, channel)
	if errors.Is(err, store.ErrNotFound) || err == nil && !d.Outbox || !channelNameRe.MatchString(channel) {
		c.notFound(w, r, "this post was not saved locally for "+channel)
		return
	}
	if err != nil {
		c.serverError(w, r, "reading the delivery", err)
		return
	}
	data, err := os.ReadFile(filepath.Join(c.opts.OutboxDir, channel, outbox.FileBase(id)+".json"))
	if err != nil {
		c.notFound(w, r, "the saved copy is no longer in the outbox folder ("+c.opts.OutboxDir+")")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(data)
}
