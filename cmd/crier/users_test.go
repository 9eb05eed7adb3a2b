package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/web/console"
)

func TestUsersCommands(t *testing.T) {
	t.Parallel()
	b := setup(t, "campaign:\n  name: CAMACA\ndata_dir: data\nhttp:\n  public_url: https://crier.camaca.example\n")
	dir := b.dir
	withPassword := func(pw string, args ...string) (int, string, string) {
		t.Helper()
		return b.crierInput(pw+"\n", args...)
	}
	if code, out, _ := b.crier("users", "list"); code != 0 || !strings.Contains(out, "crier users add EMAIL --role owner") {
		t.Fatalf("list with no users: %d %s", code, out)
	}
	code, out, errOut := withPassword("correct horse battery", "users", "add", "Owner@Example.org", "--role", "owner", "--password-stdin")
	if code != 0 || !strings.Contains(out, "Added owner@example.org (owner). They sign in at https://crier.camaca.example/login") {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := withPassword("correct horse battery", "users", "add", "owner@example.org", "--role", "editor", "--password-stdin"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("add twice: %d %s", code, errOut)
	}
	if code, _, errOut := withPassword("short", "users", "add", "a@example.org", "--role", "author", "--password-stdin"); code != 1 || !strings.Contains(errOut, "at least 12 characters") {
		t.Fatalf("short password: %d %s", code, errOut)
	}
	if code, _, errOut := withPassword("correct horse battery", "users", "add", "a@example.org", "--role", "boss", "--password-stdin"); code != 2 || !strings.Contains(errOut, "owner, editor or author") {
		t.Fatalf("bad role: %d %s", code, errOut)
	}
	withPassword("correct horse battery", "users", "add", "author@example.org", "--role", "author", "--password-stdin")
	if code, out, _ := b.crier("users", "list"); code != 0 || !strings.Contains(out, "author@example.org") || !strings.Contains(out, "owner@example.org") {
		t.Fatalf("list: %s", out)
	}

	// reset-password sets the new one and ends the user's sessions.
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	users, _ := console.OpenUsers(ctx, st.DB(), console.UsersOptions{})
	u, err := users.Authenticate(ctx, "author@example.org", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	sid, _, _ := users.NewSession(ctx, u)
	st.Close()
	if code, out, errOut := withPassword("a brand new passphrase", "users", "reset-password", "author@example.org", "--password-stdin"); code != 0 || !strings.Contains(out, "sessions have ended") {
		t.Fatalf("reset: %d %s %s", code, out, errOut)
	}
	st, _ = store.Open(ctx, filepath.Join(dir, "data", "crier.db"))
	defer st.Close()
	users, _ = console.OpenUsers(ctx, st.DB(), console.UsersOptions{})
	if _, err := users.Session(ctx, sid); err != console.ErrNoUser {
		t.Fatalf("session after reset: %v", err)
	}
	if _, err := users.Authenticate(ctx, "author@example.org", "a brand new passphrase"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	// The last owner stays, however the address is typed.
	for _, spelled := range []string{"owner@example.org", "OWNER@example.org", " owner@example.org"} {
		if code, _, errOut := b.crier("users", "remove", spelled); code != 1 || !strings.Contains(errOut, "only owner") {
			t.Fatalf("removing the last owner as %q: %d %s", spelled, code, errOut)
		}
		if code, _, errOut := b.crier("users", "set-role", spelled, "--role", "editor"); code != 1 || !strings.Contains(errOut, "only owner") {
			t.Fatalf("demoting the last owner as %q: %d %s", spelled, code, errOut)
		}
	}
	if code, out, errOut := b.crier("users", "set-role", "author@example.org", "--role", "owner"); code != 0 || !strings.Contains(out, "author@example.org is now owner") {
		t.Fatalf("set-role: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := b.crier("users", "set-role", "AUTHOR@example.org", "--role", "author"); code != 0 {
		t.Fatalf("set-role back: %d %s %s", code, out, errOut)
	}
	if code, out, _ := b.crier("users", "remove", "author@example.org"); code != 0 || !strings.Contains(out, "Removed author@example.org") {
		t.Fatalf("remove: %d %s", code, out)
	}
	if code, _, errOut := b.crier("users", "remove", "author@example.org"); code != 1 || !strings.Contains(errOut, "no user with that address") {
		t.Fatalf("remove again: %d %s", code, errOut)
	}
}
