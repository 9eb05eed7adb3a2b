package console

import (
	"context"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// channelRender configures channel instances from a config's channels
// section (yaml, indented under channels:) through a registry of the given
// providers, as cmd/crier does, and renders every enabled one with its
// preview card: the console's Render as the daemon gives it.
func channelRender(t testing.TB, camp channels.Campaign, section string, ps ...channels.Provider) func(context.Context, post.Post) []Rendering {
	t.Helper()
	_, insts, err := channels.NewRegistry(ps...).Parse("config.yaml", []byte("channels:\n"+section), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	type channel struct {
		inst channels.Instance
		f    channels.Formatter
	}
	var chans []channel
	for _, inst := range channels.Enabled(insts) {
		f, err := inst.Settings.Formatter(camp)
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, channel{inst, f})
	}
	return func(_ context.Context, p post.Post) []Rendering {
		var out []Rendering
		for _, ch := range chans {
			pl, err := ch.f.Format(p)
			r := Rendering{Channel: ch.inst.Name, Type: ch.inst.Type, Docs: ch.inst.DocsPage(), Payload: pl, Err: err}
			if err == nil {
				r.Card = ch.inst.PreviewCard(pl)
			}
			out = append(out, r)
		}
		return out
	}
}
