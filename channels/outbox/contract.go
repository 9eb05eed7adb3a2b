package outbox

import "github.com/crierhq/crier/channels"

// The outbox stands in for any channel's sender, corrections and
// withdrawals included.
var (
	_ channels.Sender            = (*Sender)(nil)
	_ channels.Corrector         = (*Sender)(nil)
	_ channels.Withdrawer        = (*Sender)(nil)
	_ channels.CorrectionPlanner = (*Sender)(nil)
)
