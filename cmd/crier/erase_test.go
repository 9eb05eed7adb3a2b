package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
)

// TestRemoveErasesTheOutboxConfirmations: the confirmation mails the outbox
// keeps (with no SMTP server) carry the address; `subscribers remove` erases
// the erased supporter's, and only theirs.
func TestRemoveErasesTheOutboxConfirmations(t *testing.T) {
	t.Parallel()
	b := setup(t, "campaign:\n  name: CAMACA\ndata_dir: data\n")
	dir := b.dir
	members := filepath.Join(dir, "members.csv")
	os.WriteFile(members, []byte("email,name\nann@example.org,Ann\nbob@example.org,Bob\n"), 0o644)
	if code, out, errOut := b.crier("subscribers", "import", members); code != 0 {
		t.Fatalf("import: %s%s", out, errOut)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	var ann, bob string
	st.DB().QueryRow(`SELECT id FROM subscribers WHERE email = 'ann@example.org'`).Scan(&ann)
	st.DB().QueryRow(`SELECT id FROM subscribers WHERE email = 'bob@example.org'`).Scan(&bob)
	st.Close()
	confirmations := filepath.Join(dir, "data", "outbox", "email", "confirmations")
	os.MkdirAll(confirmations, 0o750)
	annFile := filepath.Join(confirmations, "20260301T100000.000000000Z-subscriber-"+ann+".eml")
	bobFiles := []string{
		filepath.Join(confirmations, "20260301T100000.000000000Z-subscriber-"+bob+".eml"),
		filepath.Join(confirmations, "20260302T100000.000000000Z-subscriber-"+bob+".eml"),
	}
	for _, f := range append(bobFiles, annFile) {
		os.WriteFile(f, []byte("To: someone\r\n\r\nconfirm"), 0o640)
	}
	if code, out, errOut := b.crier("subscribers", "remove", "bob@example.org"); code != 0 || !strings.Contains(out, "Erased") {
		t.Fatalf("remove: %d %s%s", code, out, errOut)
	}
	for _, f := range bobFiles {
		if _, err := os.Stat(f); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", filepath.Base(f), err)
		}
	}
	if _, err := os.Stat(annFile); err != nil {
		t.Errorf("another supporter's confirmation went too: %v", err)
	}
}
