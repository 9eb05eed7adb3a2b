package telegram

import "github.com/crierhq/crier/channels"

// What the Telegram channel implements of the channel contract. It is no
// channels.ReachReader: the Bot API gives a bot neither the views nor the
// reactions of a channel post (see docs/telegram.md).
var (
	_ channels.Provider       = Provider{}
	_ channels.Documented     = Provider{}
	_ channels.OutboxReasoner = Provider{}
	_ channels.Connector      = Provider{}
	_ channels.Settings       = settings{}
	_ channels.CardPreviewer  = settings{}
	_ channels.Formatter      = (*Formatter)(nil)
	_ channels.Sender         = (*Sender)(nil)
	_ channels.BlindSender    = (*Sender)(nil)
	_ channels.Corrector      = (*Sender)(nil)
	_ channels.Withdrawer     = (*Sender)(nil)
	_ channels.Body           = Messages{}
)
