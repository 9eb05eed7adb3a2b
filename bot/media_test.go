package bot

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/media"
	"github.com/crierhq/crier/post"
)

// An uploaded image's address is built when the post is sent, and a media
// address that is not public_url's is refused rather than sent to
// supporters.
func TestDeliveryBuildsMediaAddressesAndRefusesForeignOnes(t *testing.T) {
	t.Parallel()
	h := setup(t, "discord")
	uploads := t.TempDir()
	const name = "abcdefghij0123456789.png"
	os.WriteFile(filepath.Join(uploads, name), []byte("png"), 0o640)
	var seen []string
	r := media.Resolver{PublicURL: "https://crier.camaca.example", Dir: uploads}
	b := h.bot(Options{ResolveMedia: func(p post.Post) (post.Post, error) {
		p, err := r.Resolve(p)
		if err == nil && p.Image != nil {
			seen = append(seen, p.Image.URL)
		}
		return p, err
	}})
	ctx := context.Background()
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer b.Stop(ctx)
	ok := samplePost("console:ok")
	ok.Image = &post.Image{URL: "http://127.0.0.1:8080/media/" + name} // frozen at upload time, before public_url changed
	lost := samplePost("console:lost")
	lost.Image = &post.Image{URL: "http://127.0.0.1:8080/media/zzzzzzzzzz0123456789.png"}
	for _, p := range []post.Post{ok, lost} {
		if _, err := b.Publish(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("one sent, one refused", func(c map[store.DeliveryState]int) bool {
		return c[store.DeliverySent] == 1 && c[store.DeliveryFailed] == 1
	})
	if len(seen) != 1 || seen[0] != "https://crier.camaca.example/media/"+name {
		t.Errorf("addresses sent: %v", seen)
	}
	d, _ := h.store.Delivery(ctx, lost.ID, "discord")
	if d.State != store.DeliveryFailed || !strings.Contains(d.LastError, "not under http.public_url") || !strings.Contains(d.LastError, "upload the picture again") {
		t.Errorf("the lost upload's delivery: %s %q", d.State, d.LastError)
	}
}
