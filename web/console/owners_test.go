package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testpeers/postgres"
)

// TestLastOwnerStays: the store refuses to remove or demote the last owner,
// however the address is spelled; with two owners one may go, and two
// removals racing (two replicas) leave one owner.
func TestLastOwnerStays(t *testing.T) { postgres.EachDriver(t, testLastOwnerStays) }

func testLastOwnerStays(t *testing.T, driver string) {
	ctx := context.Background()
	target := postgres.Target(t, driver)
	// Two replicas: two connection pools on one database.
	var replicas [2]*Users
	for i := range replicas {
		st, err := store.OpenDriver(ctx, driver, target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		if replicas[i], err = OpenUsers(ctx, st.DB(), UsersOptions{Argon2: fastArgon2}); err != nil {
			t.Fatal(err)
		}
	}
	b := &bundle{users: replicas[0]}
	for _, u := range []struct {
		email string
		role  Role
	}{{"owner@example.org", RoleOwner}, {"editor@example.org", RoleEditor}, {"author@example.org", RoleAuthor}} {
		if _, err := b.users.Add(ctx, u.email, u.role, "correct horse battery"); err != nil {
			t.Fatal(err)
		}
	}
	for _, spelled := range []string{"owner@example.org", "OWNER@example.org", " owner@example.org", "Owner@Example.Org\t"} {
		if err := b.users.Remove(ctx, spelled); !errors.Is(err, ErrLastOwner) {
			t.Fatalf("removing the last owner as %q: %v", spelled, err)
		}
		if err := b.users.SetRole(ctx, spelled, RoleEditor); !errors.Is(err, ErrLastOwner) {
			t.Fatalf("demoting the last owner as %q: %v", spelled, err)
		}
	}
	if err := b.users.SetRole(ctx, " EDITOR@example.org", RoleOwner); err != nil {
		t.Fatalf("promoting an editor: %v", err)
	}
	if err := b.users.SetRole(ctx, "owner@example.org", RoleAuthor); err != nil {
		t.Fatalf("demoting one of two owners: %v", err)
	}
	if err := b.users.Remove(ctx, "editor@example.org"); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("removing the new last owner: %v", err)
	}
	if err := b.users.SetRole(ctx, "nobody@example.org", RoleAuthor); !errors.Is(err, ErrNoUser) {
		t.Fatalf("an unknown address: %v", err)
	}
	if err := b.users.SetRole(ctx, "author@example.org", "boss"); err == nil {
		t.Fatal("an unknown role was accepted")
	}

	// Two owners removed at once from two replicas: one removal wins.
	other := replicas[1]
	// Both replicas sign device cookies with one key.
	k1, err1 := b.users.deviceKey(ctx)
	k2, err2 := other.deviceKey(ctx)
	if err1 != nil || err2 != nil || string(k1) != string(k2) {
		t.Fatalf("device-cookie keys differ between replicas (%v, %v)", err1, err2)
	}
	if err := b.users.SetRole(ctx, "owner@example.org", RoleOwner); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, x := range []struct {
		u     *Users
		email string
	}{{b.users, "owner@example.org"}, {other, "editor@example.org"}} {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = x.u.Remove(ctx, x.email) }()
	}
	wg.Wait()
	owners := 0
	list, err := b.users.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range list {
		if u.Role == RoleOwner {
			owners++
		}
	}
	if owners != 1 || (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("racing removals: %v, %v; %d owners left", errs[0], errs[1], owners)
	}
}

// TestConsoleKeepsTheLastOwner: the users page cannot remove or demote the
// last owner, whatever the spelling of the address posted.
func TestConsoleKeepsTheLastOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.browser(t).signedIn("owner@example.org")
	for _, spelled := range []string{"owner@example.org", "OWNER@example.org", " owner@example.org"} {
		p := owner.post("/users/remove", url.Values{"csrf": {owner.csrf()}, "email": {spelled}})
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("removing %q: %d", spelled, p.status)
		}
		p = owner.post("/users/role", url.Values{"csrf": {owner.csrf()}, "email": {spelled}, "role": {"editor"}})
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "only owner") {
			t.Fatalf("demoting %q: %d", spelled, p.status)
		}
	}
	if _, err := b.users.Authenticate(context.Background(), "owner@example.org", "correct horse battery"); err != nil {
		t.Fatalf("the owner is gone: %v", err)
	}
	if p := owner.get("/users"); p.status != 200 {
		t.Fatalf("the owner lost the users page: %d", p.status)
	}
	// Changing someone else's role works and shows.
	p := owner.post("/users/role", url.Values{"csrf": {owner.csrf()}, "email": {"author@example.org"}, "role": {"editor"}})
	if p.status != 200 || !strings.Contains(p.body, "author@example.org is now editor") {
		t.Fatalf("changing a role: %d %s", p.status, p.body)
	}
	// With another owner, an owner may step down, and loses the users page.
	owner.post("/users/role", url.Values{"csrf": {owner.csrf()}, "email": {"editor@example.org"}, "role": {"owner"}})
	if p := owner.post("/users/role", url.Values{"csrf": {owner.csrf()}, "email": {"Owner@example.org"}, "role": {"editor"}}); p.status != http.StatusSeeOther {
		t.Fatalf("stepping down: %d %s", p.status, p.body)
	}
	if p := owner.get("/users"); p.status != http.StatusForbidden {
		t.Fatalf("the users page after stepping down: %d", p.status)
	}
}
