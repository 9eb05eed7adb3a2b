package media

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/post"
)

const name = "abcdefghij0123456789.png"

func setup(t *testing.T) Resolver {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("png"), 0o640); err != nil {
		t.Fatal(err)
	}
	return Resolver{PublicURL: "https://crier.camaca.example/", Dir: dir}
}

func TestResolveBuildsTheAddressAtSendTime(t *testing.T) {
	t.Parallel()
	r := setup(t)
	want := &post.Image{URL: "https://crier.camaca.example/media/" + name, File: filepath.Join(r.Dir, name), Alt: "Candles"}
	for label, img := range map[string]*post.Image{
		"stored by name": {URL: Ref(name), Alt: "Candles"},
		// Rows from before: the address frozen at upload time, when
		// public_url was another.
		"an old frozen address": {URL: "http://127.0.0.1:8080/media/" + name, File: "/old/data/uploads/" + name, Alt: "Candles"},
		"an old file":           {File: filepath.Join(r.Dir, name), Alt: "Candles"},
	} {
		p, err := r.Resolve(post.Post{ID: "console:x", Image: img})
		if err != nil || *p.Image != *want {
			t.Errorf("%s: %+v %v, want %+v", label, p.Image, err, want)
		}
	}
}

func TestResolveRefusesAForeignMediaAddress(t *testing.T) {
	t.Parallel()
	r := setup(t)
	lost := "http://127.0.0.1:8080/media/zzzzzzzzzz0123456789.png"
	_, err := r.Resolve(post.Post{Image: &post.Image{URL: lost}})
	if !errors.Is(err, ErrForeignAddress) || !strings.Contains(err.Error(), lost) || !strings.Contains(err.Error(), "https://crier.camaca.example") {
		t.Fatalf("a lost upload at another address: %v", err)
	}
	// Pictures from elsewhere are none of its business.
	for _, u := range []string{"https://camaca.example/media/photo.png", "https://cdn.example/vigil.jpg"} {
		if p, err := r.Resolve(post.Post{Image: &post.Image{URL: u}}); err != nil || p.Image.URL != u {
			t.Errorf("%s: %+v %v", u, p.Image, err)
		}
	}
}

func TestResolveWithoutPublicURLSendsTheFileOnly(t *testing.T) {
	t.Parallel()
	r := setup(t)
	r.PublicURL = ""
	p, err := r.Resolve(post.Post{Image: &post.Image{URL: Ref(name)}})
	if err != nil || p.Image.URL != "" || p.Image.File != filepath.Join(r.Dir, name) {
		t.Fatalf("no public_url: %+v %v", p.Image, err)
	}
}
