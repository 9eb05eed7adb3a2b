// Package architecture is Crier's architecture as data: what each package
// provides, which of Crier's packages it may import and which tables it
// owns. Its test checks the code against this list (go list for imports,
// the SQL in string literals for tables) and generates the package table and
// diagram of docs/architecture.md from it, so the drawing cannot drift from
// the code: a new import edge or a query on another package's table fails
// the test with the edge or the table named.
package architecture

// A Package is one of Crier's packages as the architecture allows it.
type Package struct {
	Path     string   // relative to the module: "bot/store"
	Provides string   // one sentence, for docs/architecture.md
	Imports  []string // every Crier package it imports, no more
	Tables   []string // the tables whose SQL lives only here
}

// ChannelImportsOnlyIn is the one file of cmd/crier that may import channel
// packages (channels/<type>): the registry of the types the binary knows.
const ChannelImportsOnlyIn = "cmd/crier/providers.go"
