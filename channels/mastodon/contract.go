package mastodon

import "github.com/crierhq/crier/channels"

// What the Mastodon channel implements of the channel contract.
var (
	_ channels.Provider      = Provider{}
	_ channels.Documented    = Provider{}
	_ channels.Settings      = settings{}
	_ channels.CardPreviewer = settings{}
	_ channels.Formatter     = (*Formatter)(nil)
	_ channels.Sender        = (*Sender)(nil)
	_ channels.ReachReader   = (*Sender)(nil)
	_ channels.Body          = Statuses(nil)
)

// DocsPage is docs/mastodon.md.
func (Provider) DocsPage() string { return "mastodon.md" }

// Corrections and withdrawals (issue 23).
var (
	_ channels.Corrector         = (*Sender)(nil)
	_ channels.Withdrawer        = (*Sender)(nil)
	_ channels.CorrectionPlanner = (*Sender)(nil)
)
