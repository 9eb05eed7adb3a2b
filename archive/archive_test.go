package archive

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

func TestMain(m *testing.M) { os.Exit(pgpeer.Main(m)) }

func TestArchive(t *testing.T) { pgpeer.EachDriver(t, testArchive) }

func testArchive(t *testing.T, driver string) {
	ctx := context.Background()
	st, err := store.OpenDriver(ctx, driver, pgpeer.Target(t, driver))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, err := Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	a.Record(ctx, Entry{ID: "post:md:a", Kind: "post", Subject: "A", HTML: "<p>a</p>", SentAt: at})
	a.Record(ctx, Entry{ID: "post:md:b", Kind: "post", Subject: "B", HTML: "<p>b</p>", SentAt: at.Add(time.Hour)})
	if err := a.SetHidden(ctx, "post:md:a", true); err != nil {
		t.Fatal(err)
	}
	// A resumed send records again: the entry, and its hidden flag, stay.
	a.Record(ctx, Entry{ID: "post:md:a", Kind: "post", Subject: "A again", HTML: "<p>x</p>", SentAt: at.Add(2 * time.Hour)})
	list, _ := a.List(ctx, false, 10)
	if len(list) != 1 || list[0].ID != "post:md:b" || list[0].HTML != "" {
		t.Fatalf("public list %+v", list)
	}
	all, _ := a.List(ctx, true, 10)
	if len(all) != 2 || all[0].ID != "post:md:b" || !all[1].Hidden || all[1].Subject != "A" {
		t.Fatalf("full list %+v", all)
	}
	e, err := a.Get(ctx, "post:md:a")
	if err != nil || e.HTML != "<p>a</p>" || !e.Hidden {
		t.Fatalf("Get %+v %v", e, err)
	}
	if _, err := a.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get unknown: %v", err)
	}
	if err := a.SetHidden(ctx, "nope", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetHidden unknown: %v", err)
	}
	if got := Path("post:md:2024/vigil"); got != "/archive/post%3Amd%3A2024%2Fvigil" {
		t.Fatalf("Path = %q", got)
	}
}
