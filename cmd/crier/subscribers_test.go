package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
)

func TestSubscribersCommands(t *testing.T) {
	t.Parallel()
	b := setup(t, "campaign:\n  name: CAMACA\ndata_dir: data\n")
	dir := b.dir
	members := filepath.Join(dir, "members.csv")
	os.WriteFile(members, []byte("email,name,lists,consent_at\n"+
		"ann@example.org,Ann,news;events,2024-05-01\n"+
		"bob@example.org,Bob,,\n"+
		"not-an-address,X,,\n"+
		"\"carl@example.org\",\"Carl\nBcc: victim@example.org\",,\n"+
		"ANN@example.org,dup,,\n"), 0o644)

	code, out, errOut := b.crier("subscribers", "import", "--dry-run", members)
	if code != 0 || !strings.Contains(out, "Dry run") || !strings.Contains(out, "would add 2 (1 confirmed, 1 unconfirmed)") {
		t.Fatalf("dry run: %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"4     not-an-address", "5     carl@example.org  name contains a line break", "7     ANN@example.org   same address as line 2"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry-run report lacks %q:\n%s", want, out)
		}
	}
	if _, out, _ := b.crier("subscribers", "count", "--json"); !strings.Contains(out, `"total":0`) {
		t.Fatalf("dry run wrote rows: %s", out)
	}

	if code, out, errOut = b.crier("subscribers", "import", members); code != 0 || !strings.Contains(out, "added 2") {
		t.Fatalf("import: %d\n%s%s", code, out, errOut)
	}
	code, out, _ = b.crier("subscribers", "list", "--status", "confirmed")
	if code != 0 || !strings.Contains(out, "ann@example.org") || strings.Contains(out, "bob@") || !strings.Contains(out, "import:members.csv") {
		t.Fatalf("list: %d\n%s", code, out)
	}
	_, out, _ = b.crier("subscribers", "count", "--json")
	var counts map[string]int
	if json.Unmarshal([]byte(out), &counts); counts["confirmed"] != 1 || counts["unconfirmed"] != 1 || counts["total"] != 2 {
		t.Fatalf("count: %s", out)
	}

	export := filepath.Join(dir, "export.csv")
	if code, _, errOut = b.crier("subscribers", "export", export); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	if fi, err := os.Stat(export); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("export file mode: %v %v (it holds personal data)", fi.Mode(), err)
	}
	data, _ := os.ReadFile(export)
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil || len(recs) != 3 || recs[0][5] != "consent_source" || recs[1][5] != "import:members.csv" ||
		recs[1][9] != "2024-05-01T00:00:00Z consent import:members.csv" {
		t.Fatalf("export:\n%s", data)
	}

	if code, out, _ = b.crier("subscribers", "remove", "Bob@Example.org"); code != 0 || !strings.Contains(out, "Erased") {
		t.Fatalf("remove: %d %s", code, out)
	}
	if _, out, _ = b.crier("subscribers", "list"); strings.Contains(out, "bob@") {
		t.Fatalf("bob still listed:\n%s", out)
	}
	// Erasure takes the consent history too; only the suppression hash stays.
	if code, out, _ = b.crier("subscribers", "remove", "ann@example.org"); code != 0 || !strings.Contains(out, "Erased") {
		t.Fatalf("remove ann: %d %s", code, out)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	var events, suppressed int
	st.DB().QueryRow(`SELECT COUNT(*) FROM consent_events`).Scan(&events)
	st.DB().QueryRow(`SELECT COUNT(*) FROM subscriber_suppressions`).Scan(&suppressed)
	st.Close()
	if events != 0 || suppressed != 2 {
		t.Fatalf("after erasing both: %d history events, %d suppressions; want 0 and 2", events, suppressed)
	}
	// The erased address cannot come back through an import.
	if _, out, _ = b.crier("subscribers", "import", members); !strings.Contains(out, "erased at its owner's request") {
		t.Fatalf("re-import of an erased address:\n%s", out)
	}

	for _, args := range [][]string{
		{"subscribers"}, {"subscribers", "bogus"}, {"subscribers", "list", "--status", "nope"},
		{"subscribers", "import"}, {"subscribers", "remove"},
	} {
		if code, _, _ := b.crier(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, _ := b.crier("subscribers", "import", filepath.Join(dir, "missing.csv")); code != 1 {
		t.Errorf("missing file: exit %d, want 1", code)
	}
	for _, sub := range []string{"import", "export", "list", "remove", "count"} {
		// Asked-for help is on stdout.
		if code, out, _ := b.crier("subscribers", sub, "-h"); code != 0 || !strings.Contains(out, "Usage: crier subscribers "+sub) {
			t.Errorf("%s -h: %d\n%s", sub, code, out)
		}
	}
}
