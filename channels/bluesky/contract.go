package bluesky

import "github.com/crierhq/crier/channels"

// What the Bluesky channel implements of the channel contract.
var (
	_ channels.Provider      = Provider{}
	_ channels.Documented    = Provider{}
	_ channels.Connector     = Provider{}
	_ channels.Settings      = settings{}
	_ channels.CardPreviewer = settings{}
	_ channels.Formatter     = (*Formatter)(nil)
	_ channels.Sender        = (*Sender)(nil)
	_ channels.ReachReader   = (*Sender)(nil)
	_ channels.Body          = Parts(nil)
)

// DocsPage is docs/bluesky.md.
func (Provider) DocsPage() string { return "bluesky.md" }

// Corrections and withdrawals (issue 23).
var (
	_ channels.Corrector         = (*Sender)(nil)
	_ channels.Withdrawer        = (*Sender)(nil)
	_ channels.CorrectionPlanner = (*Sender)(nil)
)
