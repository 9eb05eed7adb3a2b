package main

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierhq/crier/bot"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/reach"
)

// openReach builds the reach engine over the live channels. insert queues
// a read on the bot's job client once the bot exists (nil: reads run only
// when asked, as in `crier reach --refresh`).
func (app *App) openReach(ctx context.Context, st *store.Store, chans []channels.Channel, reg prometheus.Registerer, insert func() *bot.Bot) (*reach.Engine, error) {
	types := map[string]string{}
	for _, inst := range app.Instances {
		types[inst.Name] = inst.Type
	}
	opts := reach.Options{Store: st, Channels: chans, Types: types, Config: app.Config.Reach, Metrics: reach.NewMetrics(reg), Logger: app.Logger}
	if insert != nil {
		opts.Insert = func(ctx context.Context, args reach.ReadArgs, at time.Time) error {
			return insert().Insert(ctx, args, reach.InsertOpts(at))
		}
	}
	return reach.Open(ctx, opts)
}
