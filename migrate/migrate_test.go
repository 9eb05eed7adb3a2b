package migrate

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crierhq/crier/sqldb"
)

// TestVersions: every component's version, read through this package (the
// owner of schema_versions) rather than by SQL of crier store copy's own.
func TestVersions(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite", filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if vs, err := Versions(ctx, db); err != nil || len(vs) != 0 {
		t.Fatalf("before any component: %v %v", vs, err)
	}
	if err := Up(ctx, db, "a", []string{`CREATE TABLE a (x INTEGER)`, `CREATE TABLE a2 (x INTEGER)`}); err != nil {
		t.Fatal(err)
	}
	if err := Up(ctx, db, "b", []string{`CREATE TABLE b (x INTEGER)`}); err != nil {
		t.Fatal(err)
	}
	if vs, err := Versions(ctx, db); err != nil || len(vs) != 2 || vs["a"] != 2 || vs["b"] != 1 {
		t.Fatalf("versions %v %v", vs, err)
	}
}
