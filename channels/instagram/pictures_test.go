package instagram_test

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// TestWebPIsConverted: a post's WebP picture goes out as a JPEG with its
// alt text, not as the title card.
func TestWebPIsConverted(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	p := vigil()
	file, err := filepath.Abs("testdata/blue-purple-pink.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	p.Image = &post.Image{File: file, Alt: "Banner"}
	r, err := st.send(t, p, channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1})
	if err != nil || len(r.Notes) != 0 {
		t.Fatalf("%+v, %v", r, err)
	}
	if m := st.fake.Media(); len(m) != 1 || m[0].Alt != "Banner" || m[0].ImageType != "image/jpeg" {
		t.Fatalf("media %+v", m)
	}
}

// TestHugePictureGivesWayToTheTitleCard: a picture over the pixels Crier
// decodes is left out, with a note naming its size, and the title card
// goes instead.
func TestHugePictureGivesWayToTheTitleCard(t *testing.T) {
	t.Parallel()
	st := newSetup(t)
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 9000, 5000))); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "huge.png")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := vigil()
	p.Image = &post.Image{File: path, Alt: "Huge"}
	r, err := st.send(t, p, channels.Delivery{PostID: "vigil", Channel: "instagram", Attempt: 1})
	if err != nil || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "9000×5000") {
		t.Fatalf("%+v, %v", r, err)
	}
	if m := st.fake.Media(); len(m) != 1 || m[0].Alt != "Title card: Vigil at the town hall" {
		t.Fatalf("%d media; want the title card with its alt text", len(m))
	}
}
