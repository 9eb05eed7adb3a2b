package discord

import "github.com/crierhq/crier/channels"

// What the Discord channel implements of the channel contract.
var (
	_ channels.Provider       = Provider{}
	_ channels.Documented     = Provider{}
	_ channels.Mentioner      = Provider{}
	_ channels.OutboxReasoner = Provider{}
	_ channels.Settings       = settings{}
	_ channels.CardPreviewer  = settings{}
	_ channels.Formatter      = (*Formatter)(nil)
	_ channels.Sender         = (*Sender)(nil)
	_ channels.ReachReader    = (*Sender)(nil)
	_ channels.Body           = Message{}
)

// DocsPage is docs/discord.md.
func (Provider) DocsPage() string { return "discord.md" }

// OutboxReason names what a Discord channel connects through.
func (Provider) OutboxReason() string { return "no Discord webhook connected" }

// Corrections and withdrawals (issue 23).
var (
	_ channels.Corrector         = (*Sender)(nil)
	_ channels.Withdrawer        = (*Sender)(nil)
	_ channels.CorrectionPlanner = (*Sender)(nil)
)
