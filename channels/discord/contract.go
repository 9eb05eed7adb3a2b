package discord

import "github.com/crierhq/crier/channels"

// What the Discord channel implements of the channel contract.
var (
	_ channels.Provider      = Provider{}
	_ channels.Mentioner     = Provider{}
	_ channels.Settings      = settings{}
	_ channels.CardPreviewer = settings{}
	_ channels.Formatter     = (*Formatter)(nil)
	_ channels.Sender        = (*Sender)(nil)
	_ channels.Body          = Message{}
)
