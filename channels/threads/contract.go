package threads

import "github.com/crierhq/crier/channels"

// What the Threads channel implements of the channel contract. It is no
// channels.BlindSender: it reads the account's posts back after a lost
// answer.
var (
	_ channels.Provider          = Provider{}
	_ channels.Documented        = Provider{}
	_ channels.OutboxReasoner    = Provider{}
	_ channels.Connector         = Provider{}
	_ channels.Settings          = settings{}
	_ channels.CardPreviewer     = settings{}
	_ channels.Formatter         = (*Formatter)(nil)
	_ channels.Sender            = (*Sender)(nil)
	_ channels.Corrector         = (*Sender)(nil)
	_ channels.CorrectionPlanner = (*Sender)(nil)
	_ channels.Withdrawer        = (*Sender)(nil)
	_ channels.ReachReader       = (*Sender)(nil)
	_ channels.Body              = Chain{}
)
