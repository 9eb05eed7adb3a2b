package outbox

import "github.com/crierhq/crier/channels"

// The outbox is a sender only: it stands in for any channel's.
var _ channels.Sender = (*Sender)(nil)
