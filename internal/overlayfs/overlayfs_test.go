package overlayfs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/crierhq/crier/internal/overlayfs"
)

var base = fstest.MapFS{
	"page.html": {Data: []byte("built-in page")},
	"mail.txt":  {Data: []byte("built-in mail")},
}

// TestOverride: a file in the folder replaces its built-in one, the others
// stay built-in, and each read says where it came from.
func TestOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "page.html"), []byte("our page"), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := overlayfs.New(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	b, where, err := o.Read("page.html")
	if err != nil || string(b) != "our page" || where != filepath.Join(dir, "page.html") {
		t.Fatalf("page.html: %q from %q, %v", b, where, err)
	}
	b, where, err = o.Read("mail.txt")
	if err != nil || string(b) != "built-in mail" || where != "built-in mail.txt" {
		t.Fatalf("mail.txt: %q from %q, %v", b, where, err)
	}
	if b, err := fs.ReadFile(o, "page.html"); err != nil || string(b) != "our page" {
		t.Fatalf("fs.ReadFile: %q, %v", b, err)
	}
	if _, _, err := o.Read("missing.html"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file in neither: %v", err)
	}
}

// TestNoFolder: without a folder the built-in files are all there is.
func TestNoFolder(t *testing.T) {
	t.Parallel()
	o, err := overlayfs.New("", base)
	if err != nil {
		t.Fatal(err)
	}
	if b, where, err := o.Read("page.html"); err != nil || string(b) != "built-in page" || where != "built-in page.html" {
		t.Fatalf("%q from %q, %v", b, where, err)
	}
}

// TestBadFolder: a missing folder or a file in its place is an error.
func TestBadFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := overlayfs.New(filepath.Join(dir, "nope"), base); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing folder: %v", err)
	}
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := overlayfs.New(file, base); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("a file as folder: %v", err)
	}
}

// TestRefusesOutside: names that leave the folder are refused, and so is a
// link in the folder pointing out of it, rather than read from where it
// points or silently replaced by the built-in file.
func TestRefusesOutside(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(secret, filepath.Join(dir, "page.html")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	o, err := overlayfs.New(dir, base)
	if err != nil {
		t.Fatal(err)
	}
	if b, _, err := o.Read("page.html"); err == nil {
		t.Fatalf("a link out of the folder was read: %q", b)
	}
	for _, name := range []string{"../secret.txt", "/etc/passwd", "a/../../secret.txt", ""} {
		if b, _, err := o.Read(name); err == nil {
			t.Fatalf("%q was read: %q", name, b)
		}
	}
}
