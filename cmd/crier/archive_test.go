package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/bot/store"
)

func TestNewsletterArchiveCommands(t *testing.T) {
	t.Parallel()
	b := setup(t, "campaign:\n  name: CAMACA\ndata_dir: data\n")
	dir := b.dir
	if code, out, errOut := b.crier("newsletter", "archive"); code != 0 || !strings.Contains(out, "The archive is empty") {
		t.Fatalf("empty archive: %d\n%s%s", code, out, errOut)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	arch, err := archive.Open(ctx, st.DB())
	if err != nil {
		t.Fatal(err)
	}
	arch.Record(ctx, archive.Entry{ID: "post:md:vigil", Kind: "post", Subject: "Vigil", HTML: "<p>x</p>", SentAt: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)})
	st.Close()

	if code, out, errOut := b.crier("newsletter", "hide", "post:md:vigil"); code != 0 || !strings.Contains(out, "Hidden from the public archive") {
		t.Fatalf("hide: %d\n%s%s", code, out, errOut)
	}
	if code, out, _ := b.crier("newsletter", "archive"); code != 0 || !strings.Contains(out, "post:md:vigil") || !strings.Contains(out, "hidden") {
		t.Fatalf("archive after hide: %d\n%s", code, out)
	}
	if code, out, _ := b.crier("newsletter", "archive", "--json"); code != 0 || !strings.Contains(out, `"hidden":true`) {
		t.Fatalf("archive --json: %d\n%s", code, out)
	}
	if code, out, _ := b.crier("newsletter", "unhide", "post:md:vigil"); code != 0 || !strings.Contains(out, "Shown in the public archive again") {
		t.Fatalf("unhide: %d\n%s", code, out)
	}
	if code, _, errOut := b.crier("newsletter", "hide", "post:md:nope"); code == 0 || !strings.Contains(errOut, "not in the archive") {
		t.Fatalf("hide unknown: %d\n%s", code, errOut)
	}
	if code, _, _ := b.crier("newsletter", "hide"); code != 2 {
		t.Fatalf("hide without an ID: exit %d, want 2", code)
	}
}
