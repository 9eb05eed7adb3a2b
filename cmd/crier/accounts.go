package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/crierhq/crier/accounts"
)

// envNewKey names the variable rotate-key reads the next key from when the
// current one comes from CRIER_SECRET_KEY: the operator makes it, since
// Crier cannot change its own environment.
const envNewKey = "CRIER_NEW_SECRET_KEY"

func cmdAccounts(ctx context.Context, app *App, args []string) error {
	usage := "usage: crier accounts list | audit [--limit N] | rotate-key"
	if len(args) == 0 {
		return usageError{usage}
	}
	if wantsHelp(args[:1]) {
		fmt.Fprintln(app.Stderr, "Usage: crier accounts list\n       crier accounts audit [--limit N]\n       crier accounts rotate-key")
		fmt.Fprintln(app.Stderr, `
The channel accounts connected from the console, whose secrets are stored
encrypted with the key in `+accounts.EnvKey+` or in the data folder's
`+accounts.KeyFileName+`. list shows each account and when its secrets were
set, never their values; audit shows who connected, tested or disconnected
what. rotate-key re-encrypts every secret with a new key in one transaction:
with a key file it writes the new key there; with `+accounts.EnvKey+` it
takes the new key from `+envNewKey+` and you then put that value in
`+accounts.EnvKey+` and restart every replica. See "Connected accounts and
secrets at rest" in docs/configuration.md.`)
		return nil
	}
	sub, rest := args[0], args[1:]
	if sub != "list" && sub != "audit" && sub != "rotate-key" {
		// Before opening anything: a typo must not create tables or a key.
		return usageError{fmt.Sprintf("unknown accounts command %q; %s", sub, usage)}
	}
	acc, src, err := app.openAccounts(ctx)
	if err != nil {
		return err
	}
	dataDir := app.Config.DataPath()
	switch sub {
	case "list":
		if _, err := parseArgs(newFlagSet(app, "accounts list", "", "Lists the connected accounts, without secrets."), rest); err != nil {
			return err
		}
		// A wrong key is said here first: list is how an interrupted
		// rotation is told apart (docs/configuration.md).
		if err := acc.CheckKey(ctx); err != nil {
			return err
		}
		return app.listAccounts(ctx, acc)
	case "audit":
		fs := newFlagSet(app, "accounts audit", "[--limit N]", "Shows the accounts' audit trail, newest first.")
		limit := fs.Int("limit", 50, "show at most `N` events (0: all)")
		if _, err := parseArgs(fs, rest); err != nil {
			return err
		}
		events, err := acc.Audit(ctx, *limit)
		if err != nil {
			return err
		}
		for _, e := range events {
			fmt.Fprintf(app.Stdout, "%s  %-28s %-14s %-13s %s\n", app.showTime(e.At), e.Actor, e.Instance, e.Action, e.Detail)
		}
		return nil
	case "rotate-key":
		if _, err := parseArgs(newFlagSet(app, "accounts rotate-key", "", "Re-encrypts every stored secret with a new key."), rest); err != nil {
			return err
		}
		return app.rotateKey(ctx, acc, src, dataDir)
	}
	return usageError{fmt.Sprintf("unknown accounts command %q; %s", sub, usage)}
}

// openAccounts opens the connected accounts with the key from the
// environment or the data folder (made there on first run).
func (a *App) openAccounts(ctx context.Context) (*accounts.Store, accounts.KeySource, error) {
	st, err := a.OpenStore(ctx)
	if err != nil {
		return nil, accounts.KeySource{}, err
	}
	key, src, err := accounts.LoadKey(a.LookupEnv, a.Config.DataPath())
	if err != nil {
		return nil, src, err
	}
	acc, err := accounts.Open(ctx, accounts.Options{DB: st.DB(), Key: key})
	return acc, src, err
}

// checkAccountsKey runs at the daemon's start: it makes the key file on
// first run, and a key that cannot open the stored secrets stops the start
// with the fix instead of failing at a send.
func (a *App) checkAccountsKey(ctx context.Context) error {
	acc, src, err := a.openAccounts(ctx)
	if err != nil {
		return err
	}
	if src.Created {
		a.Logger.Info("accounts: made the key for connected accounts' secrets; back it up apart from the database", "file", src.File)
		if driver, _ := a.Config.Database(); driver == "postgres" {
			a.Logger.Warn("accounts: the key is in this replica's data folder; give every replica the same " + accounts.EnvKey + " (docs/configuration.md, \"Connected accounts and secrets at rest\")")
		}
	}
	return acc.CheckKey(ctx)
}

func (a *App) listAccounts(ctx context.Context, acc *accounts.Store) error {
	list, err := acc.List(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(a.Stdout, "No accounts connected from the console.")
		return nil
	}
	for _, ac := range list {
		fmt.Fprintf(a.Stdout, "%s (%s): %s, connected by %s on %s\n", ac.Instance, ac.Type, ac.Display, ac.ConnectedBy, a.showTime(ac.ConnectedAt))
		for _, f := range sortedKeys(ac.SecretsSet) {
			fmt.Fprintf(a.Stdout, "  %s: set on %s\n", f, a.showTime(ac.SecretsSet[f]))
		}
	}
	return nil
}

// rotateKey re-encrypts the secrets with a new key. With a key file, the
// new key is written beside it before any secret is sealed with it and
// takes its place after the transaction commits, so that no crash leaves
// secrets under a key that is on no disk.
func (a *App) rotateKey(ctx context.Context, acc *accounts.Store, src accounts.KeySource, dataDir string) error {
	if err := acc.CheckKey(ctx); err != nil {
		return err
	}
	if src.Env {
		v, _ := a.LookupEnv(envNewKey)
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("the key comes from %s: make a new one (openssl rand -base64 32), give it in %s, run rotate-key again, then put it in %s and restart every replica", accounts.EnvKey, envNewKey, accounts.EnvKey)
		}
		next, err := accounts.ParseKey(envNewKey, v)
		if err != nil {
			return err
		}
		n, err := acc.RotateKey(ctx, "crier accounts rotate-key", next)
		if err != nil {
			return err
		}
		fmt.Fprintf(a.Stdout, "Re-encrypted %d secret(s) with the key in %s. Now set %s to that value and restart every replica.\n", n, envNewKey, accounts.EnvKey)
		return nil
	}
	next, err := accounts.NewKey()
	if err != nil {
		return err
	}
	if err := accounts.StageKeyFile(dataDir, next); err != nil {
		return err
	}
	n, err := acc.RotateKey(ctx, "crier accounts rotate-key", next)
	if err != nil {
		// A failed commit may still have landed (a connection lost during
		// COMMIT): the staged key goes only once the old one is seen to
		// open every secret still.
		if acc.CheckKey(ctx) == nil {
			_ = accounts.DiscardKeyFile(dataDir)
			return err
		}
		return fmt.Errorf("%w; the secrets may already be sealed with the new key: it is kept in %s.new in the data folder (see \"Rotating the key\" in docs/configuration.md)", err, accounts.KeyFileName)
	}
	if err := accounts.CommitKeyFile(dataDir); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Re-encrypted %d secret(s) with a new key, written to %s. Restart every replica so that they read it.\n", n, src.File)
	return nil
}
