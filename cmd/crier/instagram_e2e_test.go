package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels/graphapi/graphapitest"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/titlecard"
)

// TestInstagramPublishesATitleCardThroughTheDaemon: `crier run` sends a
// post without a picture to Instagram (the fake Graph API): the fake
// fetches the title card from the daemon's public picture address, as
// Instagram does, waits for the container, publishes it, and the post
// carries the card (drawn in the campaign's colours, sent as the JPEG Meta
// documents) with the alt text "Title card: TITLE".
func TestInstagramPublishesATitleCardThroughTheDaemon(t *testing.T) {
	t.Parallel()
	fake := graphapitest.New(t)
	// The daemon serves its pictures over http on loopback, which
	// Instagram could never fetch: both sides are told so explicitly.
	fake.AllowHTTPImages()
	fake.SetContainerPolls(1)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b := setup(t, fmt.Sprintf(`campaign: {name: Friends of Hartley Park, website: https://hartleypark.example, colours: {background: "#0b3d2e", text: "#ffffff", accent: "#f2c14e"}}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  instagram: {enabled: true, mode: send, user_id: %q, page_token: %q, api_url: %q}
`, addr, base, graphapitest.IGUserID, graphapitest.Token, fake.URL))
	b.write("posts/trees.md", "---\ntitle: Help us plant 500 trees\nlink: https://hartleypark.example/trees\ntags: [trees]\n---\nSpades provided.\n")
	ctx, cancel := context.WithCancel(context.Background())
	logs, done := &syncBuffer{}, make(chan int)
	go func() {
		app := &App{LookupEnv: b.lookupEnv, Stdout: io.Discard, Stderr: logs, HTTPClient: http.DefaultClient, Registry: providers(), AllowNonPublicImageURL: true}
		done <- runApp(ctx, app, []string{"--config", b.cfg, "run"})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d\n%s", code, logs.String())
		}
	})
	testnet.WaitFor(t, "the post on Instagram", 60*time.Second, func() bool { return len(fake.Media()) == 1 })
	m, c := fake.Media()[0], fake.Containers()
	if len(c) != 1 || !strings.HasPrefix(c[0].ImageURL, base+"/hosted/") || c[0].Reads < 2 {
		t.Fatalf("containers %+v: want one, its image_url the daemon's %s/hosted/, polled until FINISHED", c, base)
	}
	if m.Alt != "Title card: Help us plant 500 trees" || !strings.Contains(m.Caption, "https://hartleypark.example/trees") || !strings.Contains(m.Caption, "#trees") {
		t.Fatalf("post %q, alt %q", m.Caption, m.Alt)
	}
	img, err := jpeg.Decode(bytes.NewReader(m.Image))
	if err != nil || m.ImageType != "image/jpeg" || img.Bounds() != image.Rect(0, 0, titlecard.Size, titlecard.Size) {
		t.Fatalf("the picture Instagram fetched: %s, %v, %v", m.ImageType, img.Bounds(), err)
	}
	if dir := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "instagram-title-card.jpg"), m.Image, 0o644)
	}
	// The card's background is the campaign's (JPEG is lossy: near it).
	if r, g, bl, _ := img.At(5, titlecard.Size/2).RGBA(); !near(r>>8, 0x0b) || !near(g>>8, 0x3d) || !near(bl>>8, 0x2e) {
		t.Errorf("the card's background is #%02x%02x%02x, want about #0b3d2e", r>>8, g>>8, bl>>8)
	}
	var out bytes.Buffer
	testnet.WaitFor(t, "the delivery recorded as sent", 20*time.Second, func() bool {
		out.Reset()
		b.main(context.Background(), []string{"--config", b.cfg, "status"}, &out, io.Discard)
		return strings.Contains(out.String(), m.Permalink)
	})
}

func near(v, want uint32) bool { return v+8 >= want && v <= want+8 }
