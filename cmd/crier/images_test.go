package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
)

// writePNG writes a w×h picture (a gradient) and returns its bytes.
func writePNG(t *testing.T, path string, size ...int) []byte {
	t.Helper()
	w, h := 2, 2
	if len(size) == 2 {
		w, h = size[0], size[1]
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{R: uint8(x * 4), G: uint8(y * 5), B: 128, A: 255})
		}
	}
	var b bytes.Buffer
	png.Encode(&b, img)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Issue 9 and 10 through the daemon: a post's local image reaches Discord
// as an attachment; an image URL on this machine (content, not config) is
// never fetched, the post goes out without it and `crier status` says why.
func TestDaemonImagesReachDiscordOrSayWhyNot(t *testing.T) {
	t.Parallel()
	fake := discordfake.New(t)
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("secret"))
	}))
	defer internal.Close()

	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts", "images"), 0o755)
	data := writePNG(t, filepath.Join(dir, "posts", "images", "chart.png"))
	os.WriteFile(filepath.Join(dir, "posts", "local.md"), []byte(`---
title: Our new chart
link: https://camaca.example/news/chart
image:
  file: images/chart.png
  alt: "Chart: victims 2010-2024, 50% more & rising?"
---
See the chart.
`), 0o644)
	os.WriteFile(filepath.Join(dir, "posts", "internal.md"), []byte(`---
title: A post whose image points inside
link: https://camaca.example/news/inside
content_warning: abuse
image:
  url: `+internal.URL+`/latest/meta-data/x.png
  alt: x
---
Text.
`), 0o644)
	b.setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	cfg := b.cfg
	os.WriteFile(cfg, []byte(fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1m"}
delivery: {timeout: 10s, max_attempts: 3}
channels:
  mastodon: {enabled: false}
  email: {enabled: false}
  discord:
    mode: send
    token: ${TEST_DISCORD_TOKEN}
    channel_id: %q
    crosspost: false
`, testnet.FreeAddr(t), discordfake.TextChannelID)), 0o644)

	// Preview says, before anything is sent, that the image will be left out.
	var out bytes.Buffer
	if code := b.main(context.Background(), []string{"--config", cfg, "preview", "--json", filepath.Join(dir, "posts", "internal.md")}, &out, io.Discard); code != 0 {
		t.Fatalf("preview exit %d: %s", code, out.String())
	}
	var pv struct{ Warnings map[string][]string }
	json.Unmarshal(out.Bytes(), &pv)
	if w := strings.Join(pv.Warnings["image"], " "); !strings.Contains(w, "loopback") || !strings.Contains(w, "go out without it") {
		t.Errorf("preview warnings %v, want the image refused as loopback", pv.Warnings)
	}

	logs := b.runUntil(fake.Client(), 60*time.Second, func() bool { return b.status().sent() >= 2 })
	msgs := fake.Messages(discordfake.TextChannelID)
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2\nlogs:\n%s", len(msgs), logs.String())
	}
	for _, m := range msgs {
		switch title, _ := m.Embeds[0]["title"].(string); title {
		case "Our new chart":
			if len(m.Attachments) != 1 || !bytes.Equal(m.Attachments[0].Data, data) || m.Attachments[0].Description != "Chart: victims 2010-2024, 50% more & rising?" {
				t.Errorf("local image: attachments %+v", m.Attachments)
			}
		default:
			if len(m.Attachments) != 0 {
				t.Errorf("the internal image was attached: %+v", m.Attachments)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the internal server was fetched %d times", n)
	}
	out.Reset()
	b.main(context.Background(), []string{"--config", cfg, "status"}, &out, io.Discard)
	if !strings.Contains(out.String(), "note: image left out: "+internal.URL) || !strings.Contains(out.String(), "loopback") {
		t.Errorf("status does not say why the image was left out:\n%s", out.String())
	}
	if !strings.Contains(logs.String(), "image left out") {
		t.Errorf("the log does not say why the image was left out:\n%s", logs.String())
	}
}
