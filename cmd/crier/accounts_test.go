package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testnet"
)

const accountsConfig = "campaign:\n  name: CAMACA\ndata_dir: data\nhttp:\n  public_url: https://crier.camaca.example\n"

// openAccounts opens the bundle's connected accounts with key, closed
// when the test ends.
func openAccounts(t *testing.T, dir string, key accounts.Key) *accounts.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc, err := accounts.Open(ctx, accounts.Options{DB: st.DB(), Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return acc
}

// connectAccount stores a Bluesky account with key, as the console will.
func connectAccount(t *testing.T, dir string, key accounts.Key) {
	t.Helper()
	if err := openAccounts(t, dir, key).Connect(context.Background(), "owner@camaca.example", accounts.Account{Instance: "bluesky", Type: "bluesky", Display: "@camaca.example"},
		map[string]string{"app_password": "abcd-efgh-ijkl-mnop"}); err != nil {
		t.Fatal(err)
	}
}

// secretsWith opens the stored secrets with key.
func secretsWith(t *testing.T, dir string, key accounts.Key) (map[string]string, error) {
	t.Helper()
	return openAccounts(t, dir, key).Secrets(context.Background(), "bluesky")
}

func TestAccountsRotateKeyWithKeyFile(t *testing.T) {
	t.Parallel()
	b := setup(t, accountsConfig)
	data := filepath.Join(b.dir, "data")
	old, src, err := accounts.LoadKey(b.lookupEnv, data) // first run: creates the key file
	if err != nil || !src.Created {
		t.Fatalf("LoadKey: %+v %v", src, err)
	}
	connectAccount(t, b.dir, old)
	if code, out, errOut := b.crier("accounts", "list"); code != 0 || !strings.Contains(out, "app_password: set on ") || strings.Contains(out, "abcd-efgh") {
		t.Fatalf("list: %d %q %q", code, out, errOut)
	}
	code, out, errOut := b.crier("accounts", "rotate-key")
	if code != 0 || !strings.Contains(out, "Re-encrypted 1 secret(s)") {
		t.Fatalf("rotate-key: %d %q %q", code, out, errOut)
	}
	next, _, err := accounts.LoadKey(b.lookupEnv, data)
	if err != nil || next.ID() == old.ID() {
		t.Fatalf("key file after rotation: same key=%v err=%v", next.ID() == old.ID(), err)
	}
	if _, err := os.Stat(filepath.Join(data, accounts.KeyFileName+".new")); !os.IsNotExist(err) {
		t.Fatalf("the staged key was left behind: %v", err)
	}
	if got, err := secretsWith(t, b.dir, next); err != nil || got["app_password"] != "abcd-efgh-ijkl-mnop" {
		t.Fatalf("secret under the new key: %v %v", got, err)
	}
	if _, err := secretsWith(t, b.dir, old); err == nil {
		t.Fatal("the old key still opens the secret")
	}
	if code, out, _ := b.crier("accounts", "audit"); code != 0 || !strings.Contains(out, "key rotated") || !strings.Contains(out, "connected") || strings.Contains(out, "abcd-efgh") {
		t.Fatalf("audit: %d %q", code, out)
	}
}

func TestAccountsRotateKeyFromEnvironment(t *testing.T) {
	t.Parallel()
	b := setup(t, accountsConfig)
	old, _ := accounts.NewKey()
	b.env[accounts.EnvKey] = old.Encode()
	connectAccount(t, b.dir, old)
	if code, _, errOut := b.crier("accounts", "rotate-key"); code != 1 || !strings.Contains(errOut, envNewKey) {
		t.Fatalf("rotate-key without a new key: %d %q, want it to ask for %s", code, errOut, envNewKey)
	}
	next, _ := accounts.NewKey()
	b.env[envNewKey] = next.Encode()
	if code, out, errOut := b.crier("accounts", "rotate-key"); code != 0 || !strings.Contains(out, "Now set "+accounts.EnvKey) {
		t.Fatalf("rotate-key: %d %q %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "data", accounts.KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("a key file was written although the key is in the environment: %v", err)
	}
	if got, err := secretsWith(t, b.dir, next); err != nil || got["app_password"] != "abcd-efgh-ijkl-mnop" {
		t.Fatalf("secret under the new key: %v %v", got, err)
	}
	// The old key in the environment now fails at once, naming the fix.
	for _, cmd := range []string{"rotate-key", "list"} {
		if code, _, errOut := b.crier("accounts", cmd); code != 1 || !strings.Contains(errOut, "sealed with another key") {
			t.Fatalf("%s with the old key: %d %q", cmd, code, errOut)
		}
	}
}

// TestRunMakesTheKeyAndRefusesAWrongOne: the first `crier run` makes the
// key file; a daemon given another key than the secrets were sealed with
// stops at start, naming the fix, instead of failing at a send.
func TestRunMakesTheKeyAndRefusesAWrongOne(t *testing.T) {
	t.Parallel()
	addr := testnet.FreeAddr(t)
	b := setup(t, fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
data_dir: data
http: {listen: %q, public_url: https://crier.camaca.example}
sources: {markdown: {dir: posts}}
channels: {mastodon: {enabled: false}, email: {enabled: false}}
`, addr))
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755)
	_, stop := b.startStoppable("http://"+addr+"/healthz", nil)
	stop()
	key, src, err := accounts.LoadKey(b.lookupEnv, filepath.Join(b.dir, "data"))
	if err != nil || src.Created {
		t.Fatalf("after the first run: %+v %v; want the key file made by the run", src, err)
	}
	connectAccount(t, b.dir, key)
	other, _ := accounts.NewKey()
	b.env[accounts.EnvKey] = other.Encode()
	if code, _, errOut := b.crier("run"); code != 1 || !strings.Contains(errOut, "sealed with another key") {
		t.Fatalf("run with another key: %d %q", code, errOut)
	}
}

// TestAccountsTypoCreatesNothing: a mistyped accounts command is a usage
// error before anything is opened, so it makes no key file and no tables.
func TestAccountsTypoCreatesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, accountsConfig)
	if code, _, errOut := b.crier("accounts", "lsit"); code != 2 || !strings.Contains(errOut, `unknown accounts command "lsit"`) {
		t.Fatalf("accounts lsit: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "data", accounts.KeyFileName)); !os.IsNotExist(err) {
		t.Fatalf("a typo made the key file: %v", err)
	}
}
