package web

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPageTemplatesFolder: a page in http.templates replaces its built-in
// one, the others stay built-in, and a page that is a link to a file
// outside the folder is refused with its path rather than read from where
// it points (the overlay the newsletter's mail templates use too).
func TestPageTemplatesFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "newsletter.css"), []byte("body{color:red}"), 0o644)
	pages, css, err := loadPages(dir)
	if err != nil {
		t.Fatal(err)
	}
	if string(css) != "body{color:red}" || pages["subscribe"] == nil {
		t.Fatalf("override not used: css %q, %d pages", css, len(pages))
	}
	outside := filepath.Join(t.TempDir(), "elsewhere.html")
	os.WriteFile(outside, []byte(`{{define "content"}}read from outside{{end}}`), 0o644)
	if err := os.Symlink(outside, filepath.Join(dir, "subscribe.html")); err != nil {
		t.Skip("no symbolic links here:", err)
	}
	if _, _, err := loadPages(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "subscribe.html")) {
		t.Fatalf("a page linked from outside the folder: %v", err)
	}
	if _, _, err := loadPages(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "http.templates") {
		t.Fatalf("missing folder: %v", err)
	}
}
