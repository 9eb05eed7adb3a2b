package instagram

import "github.com/crierhq/crier/channels"

// What the Instagram channel implements of the channel contract. It is no
// channels.BlindSender: its container and the account's media tell it
// what an earlier attempt did.
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
	_ channels.Body              = Post{}
)
