package main

import (
	"context"
	"database/sql"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/channels/discord"
	"github.com/crierhq/crier/channels/email"
	"github.com/crierhq/crier/channels/facebook"
	"github.com/crierhq/crier/channels/instagram"
	"github.com/crierhq/crier/channels/mastodon"
	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/channels/outbox"
	"github.com/crierhq/crier/channels/telegram"
	"github.com/crierhq/crier/channels/threads"
	"github.com/crierhq/crier/newsletter"
)

// providers is every channel type this binary knows. Adding a channel type
// is its package, its import above and its line here; nothing else in the
// core changes. The registry is a value built here rather than filled by
// init() in each package, so tests can build their own and the list of
// supported channels is read in one place.
func providers() *channels.Registry { return channels.NewRegistry(providerList()...) }

// providerList is the providers of providers(), for tests that register a
// type of their own beside them.
func providerList() []channels.Provider {
	return []channels.Provider{
		bluesky.Provider{},
		discord.Provider{},
		email.Provider{},
		mastodon.Provider{},
		telegram.Provider{},
		matrix.Provider{},
		facebook.Provider{},
		instagram.Provider{},
		threads.Provider{},
	}
}

// outboxSender is the sender of every channel that only saves posts
// locally (no credentials, or mode: outbox): files under dir/<channel>/.
func outboxSender(dir string) channels.Sender { return outbox.New(dir) }

// channelTables creates the tables channel types keep in the store (the
// newsletter engine's send ledger), for crier store copy's target.
var channelTables = []func(ctx context.Context, db *sql.DB) error{
	newsletter.PrepareLedger,
}
