package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/channels/threads"
	"github.com/crierhq/crier/channels/threads/threadstest"
	"github.com/crierhq/crier/internal/testnet"
)

// Issue 26 through the daemon: `crier run` publishes a long post with a
// picture to Threads (the fake) as a reply chain; Threads fetches the
// picture from the daemon's own public address (/hosted/), and the chain
// arrives in order with the picture, its alt text and the topic tag. A
// post without a picture carries its link as the link attachment.
func TestThreadsChainWithAPictureThroughTheDaemon(t *testing.T) {
	t.Parallel()
	fake := threadstest.New(t)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b := setup(t, fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, language: en}
http: {listen: %q, public_url: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  threads:
    enabled: true
    mode: send
    user_id: %q
    token: ${TEST_THREADS_TOKEN}
    api_url: %s
`, addr, base, threadstest.UserID, fake.URL))
	b.setenv("TEST_THREADS_TOKEN", threadstest.Token)
	os.MkdirAll(filepath.Join(b.dir, "posts", "images"), 0o755)
	pic := filepath.Join(b.dir, "posts", "images", "candles.png")
	writePicture(t, pic)
	b.write("posts/vigil.md", "---\ntitle: Vigil for the victims on Friday\nlink: https://camaca.example/news/vigil\ntags: [Human Rights, vigil]\n"+
		"image:\n  file: images/candles.png\n  alt: Candles on the town hall steps\n---\n"+
		strings.Repeat("Join us at seven outside the town hall to remember the victims; bring a candle and a friend. ", 9)+"\n")
	b.write("posts/doctors.md", "---\ntitle: Doctors join the campaign\nlink: https://camaca.example/news/doctors\n---\nThey sign the letter today.\n")

	ctx, cancel := context.WithCancel(context.Background())
	logs, done := &syncBuffer{}, make(chan int)
	go func() {
		// The daemon serves over http on loopback, which Threads could
		// never fetch from: the insecure test hook allows it here.
		app := &App{LookupEnv: b.lookupEnv, Stdout: io.Discard, Stderr: logs, HTTPClient: http.DefaultClient, Registry: providers(), AllowNonPublicImageURL: true}
		done <- runApp(ctx, app, []string{"--config", b.cfg, "run"})
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("daemon exit %d\n%s", code, logs.String())
		}
	})
	var chain, doctors []threadstest.Post
	testnet.WaitFor(t, "both posts on Threads", 60*time.Second, func() bool {
		chain, doctors = nil, nil
		for _, p := range fake.Posts() {
			switch {
			case strings.Contains(p.Text, "Doctors"):
				doctors = append(doctors, p)
			default:
				chain = append(chain, p)
			}
		}
		return len(doctors) == 1 && len(chain) >= 2 && strings.HasSuffix(chain[len(chain)-1].Text, fmt.Sprintf("%d/%d", len(chain), len(chain)))
	})
	first := chain[0]
	want, _ := os.ReadFile(pic)
	if !strings.HasPrefix(first.ImageURL, base+"/hosted/") || !bytes.Equal(first.Image, want) || first.Alt != "Candles on the town hall steps" {
		t.Errorf("the first post's picture: fetched from %q, %d bytes (want %d from %s/hosted/), alt %q", first.ImageURL, len(first.Image), len(want), base, first.Alt)
	}
	if first.TopicTag != "Human Rights" || !strings.Contains(first.Text, "https://camaca.example/news/vigil") {
		t.Errorf("the first post: topic tag %q, text %q", first.TopicTag, first.Text)
	}
	for i, p := range chain {
		if threads.Count(p.Text) > threads.MaxText {
			t.Errorf("post %d counts %d", i+1, threads.Count(p.Text))
		}
		if i > 0 && p.ReplyTo != chain[i-1].ID {
			t.Errorf("post %d replies to %q, not to post %d (%s)", i+1, p.ReplyTo, i, chain[i-1].ID)
		}
	}
	if d := doctors[0]; d.Link != "https://camaca.example/news/doctors" || d.ImageURL != "" {
		t.Errorf("the post without a picture: link attachment %q, picture %q", d.Link, d.ImageURL)
	}
}
