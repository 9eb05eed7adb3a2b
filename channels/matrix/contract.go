package matrix

import "github.com/crierhq/crier/channels"

// What the Matrix channel implements of the channel contract.
var (
	_ channels.Provider       = Provider{}
	_ channels.Documented     = Provider{}
	_ channels.OutboxReasoner = Provider{}
	_ channels.Connector      = Provider{}
	_ channels.Settings       = settings{}
	_ channels.CardPreviewer  = settings{}
	_ channels.Formatter      = (*Formatter)(nil)
	_ channels.Sender         = (*Sender)(nil)
	_ channels.ReachReader    = (*Sender)(nil)
	_ channels.Corrector      = (*Sender)(nil)
	_ channels.Withdrawer     = (*Sender)(nil)
	_ channels.Body           = Body{}
)
