package accounts_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/accounts"
	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/sqldb"
)

// secret is a value no table, list or audit line may ever show.
const secret = "app-password-xkcd-9f3a"

type bundle struct {
	db  *sql.DB
	key accounts.Key
	st  *accounts.Store
	now time.Time
}

// dialects runs a test on SQLite and on PostgreSQL.
func dialects(t *testing.T, test func(t *testing.T, b *bundle)) {
	for _, driver := range sqldb.Drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			test(t, setup(t, driver))
		})
	}
}

func setup(t *testing.T, driver string) *bundle {
	t.Helper()
	ctx := context.Background()
	target := filepath.Join(t.TempDir(), "crier.db")
	if driver == string(sqldb.Postgres) {
		target = postgres.DSN(t)
	}
	db, err := sqldb.Open(ctx, driver, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	key, err := accounts.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b := &bundle{db: db, key: key, now: time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)}
	b.st = b.open(t, key)
	return b
}

func (b *bundle) open(t *testing.T, key accounts.Key) *accounts.Store {
	t.Helper()
	st, err := accounts.Open(context.Background(), accounts.Options{DB: b.db, Key: key, Now: func() time.Time { return b.now }})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (b *bundle) connect(t *testing.T, instance string) {
	t.Helper()
	err := b.st.Connect(context.Background(), "owner@camaca.example", accounts.Account{Instance: instance, Type: "bluesky",
		Settings: map[string]string{"handle": "campaign.example"}, Display: "@campaign.example"},
		map[string]string{"app_password": secret})
	if err != nil {
		t.Fatal(err)
	}
}

// dump is every table of the package as text, to look for the secret.
func (b *bundle) dump(t *testing.T) string {
	t.Helper()
	var out strings.Builder
	for _, table := range []string{"channel_accounts", "channel_account_secrets", "channel_account_audit"} {
		rows, err := b.db.Query(`SELECT * FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				fmt.Fprintf(&out, "%s ", v)
			}
			out.WriteString("\n")
		}
		rows.Close()
	}
	return out.String()
}

func TestConnectStoresSecretsEncryptedAndListsOnlyWhenSet(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.connect(t, "bluesky")
		if d := b.dump(t); strings.Contains(d, secret) || !strings.Contains(d, "campaign.example") {
			t.Fatalf("tables hold the secret in clear, or lack the settings:\n%s", d)
		}
		list, err := b.st.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].Settings["handle"] != "campaign.example" || list[0].Display != "@campaign.example" {
			t.Fatalf("list = %+v", list)
		}
		if at := list[0].SecretsSet["app_password"]; !at.Equal(b.now) {
			t.Fatalf("app_password set at %v, want %v", at, b.now)
		}
		if s := fmt.Sprintf("%+v", list); strings.Contains(s, secret) {
			t.Fatalf("List shows the secret: %s", s)
		}
		got, err := b.st.Secrets(ctx, "bluesky")
		if err != nil || got["app_password"] != secret {
			t.Fatalf("Secrets = %v, %v; want the app password back", got, err)
		}
		// A blank secret on a new Connect keeps the stored one (the form
		// never shows it again).
		b.now = b.now.Add(time.Hour)
		if err := b.st.Connect(ctx, "owner@camaca.example", accounts.Account{Instance: "bluesky", Type: "bluesky", Display: "@campaign.example"},
			map[string]string{"app_password": ""}); err != nil {
			t.Fatal(err)
		}
		if got, _ := b.st.Secrets(ctx, "bluesky"); got["app_password"] != secret {
			t.Fatalf("a blank secret replaced the stored one: %q", got["app_password"])
		}
	})
}

func TestSealedValueMovedToAnotherRowDoesNotOpen(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.connect(t, "bluesky")
		b.connect(t, "bluesky-leeds")
		// Someone with write access to the database copies one instance's
		// sealed password onto the other's row: it must not decrypt.
		if _, err := b.db.Exec(`UPDATE channel_account_secrets SET sealed = (SELECT sealed FROM channel_account_secrets WHERE instance = 'bluesky')
			WHERE instance = 'bluesky-leeds'`); err != nil {
			t.Fatal(err)
		}
		if _, err := b.st.Secrets(ctx, "bluesky-leeds"); !errors.Is(err, accounts.ErrWrongKey) {
			t.Fatalf("err = %v, want ErrWrongKey for a value moved from another row", err)
		}
		if _, err := b.st.Secrets(ctx, "bluesky"); err != nil {
			t.Fatalf("the original row: %v", err)
		}
	})
}

func TestSameSecretSealsDifferentlyEachTime(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	b.connect(t, "a")
	var first string
	b.db.QueryRow(`SELECT sealed FROM channel_account_secrets`).Scan(&first)
	b.connect(t, "a")
	var second string
	b.db.QueryRow(`SELECT sealed FROM channel_account_secrets`).Scan(&second)
	if first == second || first == "" {
		t.Fatalf("the same secret sealed twice gave %q and %q: want a fresh nonce each time", first, second)
	}
}

func TestDisconnectForgetsSecretsAndAuditHasNoSecret(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.connect(t, "bluesky")
		if err := b.st.RecordTest(ctx, "editor@camaca.example", "bluesky", "ok: signed in as @campaign.example"); err != nil {
			t.Fatal(err)
		}
		if err := b.st.Disconnect(ctx, "owner@camaca.example", "bluesky"); err != nil {
			t.Fatal(err)
		}
		if err := b.st.Disconnect(ctx, "owner@camaca.example", "bluesky"); !errors.Is(err, accounts.ErrNotConnected) {
			t.Fatalf("second disconnect: %v, want ErrNotConnected", err)
		}
		if _, err := b.st.Get(ctx, "bluesky"); !errors.Is(err, accounts.ErrNotConnected) {
			t.Fatalf("Get after disconnect: %v", err)
		}
		if got, err := b.st.Secrets(ctx, "bluesky"); err != nil || len(got) != 0 {
			t.Fatalf("secrets after disconnect: %v %v", got, err)
		}
		events, err := b.st.Audit(ctx, 0)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, e := range events {
			lines = append(lines, fmt.Sprintf("%s %s %s %s", e.Actor, e.Instance, e.Action, e.Detail))
		}
		want := []string{
			"owner@camaca.example bluesky disconnected ",
			"editor@camaca.example bluesky tested ok: signed in as @campaign.example",
			"owner@camaca.example bluesky connected @campaign.example",
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
		if d := b.dump(t); strings.Contains(d, secret) {
			t.Fatalf("the secret is stored in clear:\n%s", d)
		}
	})
}

func TestRotateKeyReencryptsEverySecretInOneTransaction(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.connect(t, "bluesky")
		b.connect(t, "bluesky-leeds")
		next, _ := accounts.NewKey()
		n, err := b.st.RotateKey(ctx, "cli", next)
		if err != nil || n != 2 {
			t.Fatalf("RotateKey = %d, %v; want 2 secrets re-encrypted", n, err)
		}
		old := b.open(t, b.key)
		if err := old.CheckKey(ctx); err == nil || !strings.Contains(err.Error(), "sealed with another key") {
			t.Fatalf("old key CheckKey = %v, want it named as the wrong key", err)
		}
		if _, err := old.Secrets(ctx, "bluesky"); !errors.Is(err, accounts.ErrWrongKey) {
			t.Fatalf("old key still opens the secret: %v", err)
		}
		fresh := b.open(t, next)
		if err := fresh.CheckKey(ctx); err != nil {
			t.Fatal(err)
		}
		for _, inst := range []string{"bluesky", "bluesky-leeds"} {
			if got, err := fresh.Secrets(ctx, inst); err != nil || got["app_password"] != secret {
				t.Fatalf("%s under the new key: %v %v", inst, got, err)
			}
		}
		if events, _ := b.st.Audit(ctx, 1); len(events) != 1 || events[0].Action != accounts.KeyRotated {
			t.Fatalf("audit = %+v, want key rotated last", events)
		}
	})
}

func TestRotateKeyAllOrNothing(t *testing.T) {
	t.Parallel()
	dialects(t, func(t *testing.T, b *bundle) {
		ctx := context.Background()
		b.connect(t, "a")
		b.connect(t, "b")
		// b's secret was sealed with some other key: the rotation must stop
		// and leave a's secret under the current key too.
		other, _ := accounts.NewKey()
		if err := b.open(t, other).Connect(ctx, "x", accounts.Account{Instance: "b", Type: "bluesky"}, map[string]string{"app_password": "z"}); err != nil {
			t.Fatal(err)
		}
		next, _ := accounts.NewKey()
		if _, err := b.st.RotateKey(ctx, "cli", next); !errors.Is(err, accounts.ErrWrongKey) {
			t.Fatalf("RotateKey = %v, want ErrWrongKey", err)
		}
		if got, err := b.st.Secrets(ctx, "a"); err != nil || got["app_password"] != secret {
			t.Fatalf("a after a failed rotation: %v %v; want it still under the old key", got, err)
		}
		if events, _ := b.st.Audit(ctx, 1); len(events) == 1 && events[0].Action == accounts.KeyRotated {
			t.Fatal("a failed rotation was audited as done")
		}
	})
}
