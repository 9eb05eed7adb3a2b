package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/dendrite"
)

// TestDaemonPostsToMatrixRooms runs `crier run` with two Matrix instances
// against a real Dendrite, the first posting to two rooms, and reads the
// rooms as a reader: the text with its HTML, the spoiler with its reason,
// the picture with its alt text; the answer to the first send is lost on
// the way back, and the room still holds the post once.
func TestDaemonPostsToMatrixRooms(t *testing.T) {
	t.Parallel()
	hs := dendrite.Start(t, dendrite.Options{})
	bot, reader := hs.NewUser(t), hs.NewUser(t)
	news := hs.CreateRoom(t, reader, "news", true)
	volunteers := hs.CreateRoom(t, reader, "volunteers", true)
	organisers := hs.CreateRoom(t, reader, "organisers", true)

	// The proxy loses the answer to the first send: Dendrite stores the
	// event, the daemon never hears of it.
	var sends atomic.Int32
	target, _ := url.Parse(hs.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/send/m.room.message/") && sends.Add(1) == 1 {
			rp.ServeHTTP(httptest.NewRecorder(), r)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	b := setup(t, "")
	posts := filepath.Join(b.dir, "posts")
	os.MkdirAll(filepath.Join(posts, "images"), 0o755)
	writePNG(t, filepath.Join(posts, "images", "candles.png"), 64, 48)
	os.WriteFile(filepath.Join(posts, "vigil.md"), []byte(`---
title: Vigil on Friday
link: https://camaca.example/vigil
tags: [child trafficking]
content_warning: child trafficking
image:
  file: images/candles.png
  alt: Candles on the town hall steps
---
Bring **a candle** and a friend.
`), 0o644)
	b.setenv("MATRIX_ACCESS_TOKEN", bot.Token)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, language: en}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  matrix:
    enabled: true
    mode: send
    homeserver: %q
    access_token: ${MATRIX_ACCESS_TOKEN}
    room: "#news:localhost"
    rooms: ["%s"]
  matrix-organisers:
    type: matrix
    enabled: true
    homeserver: %q
    access_token: ${MATRIX_ACCESS_TOKEN}
    room: "#organisers:localhost"
`, testnet.FreeAddr(t), proxy.URL, volunteers, hs.URL))

	sent := func() bool {
		st := b.status()
		return len(st.deliveries()) == 2 && st.sent() == 2
	}
	logs := b.runUntil(&http.Client{Timeout: 30 * time.Second}, 90*time.Second, sent)
	if !sent() {
		t.Fatalf("deliveries %v\nlogs:\n%s", b.status().deliveries(), logs.String())
	}
	if sends.Load() < 2 {
		t.Errorf("the first send's answer was lost, yet %d sends reached the proxy", sends.Load())
	}
	for _, room := range []string{news, volunteers, organisers} {
		var got []dendrite.RawEvent
		for _, e := range hs.Events(t, reader, room) {
			if e.Type == "m.room.message" && e.Sender == bot.ID {
				got = append(got, e)
			}
		}
		if len(got) != 2 {
			t.Fatalf("room %s shows %d messages of the bot, want the post and its picture once: %+v", room, len(got), got)
		}
		html, _ := got[0].Content["formatted_body"].(string)
		if !strings.Contains(html, "<strong>Vigil on Friday</strong>") ||
			!strings.Contains(html, `<span data-mx-spoiler="child trafficking">Bring <strong>a candle</strong> and a friend.</span>`) ||
			!strings.Contains(html, "#ChildTrafficking") {
			t.Errorf("room %s: the text reads %s", room, html)
		}
		if c := got[1].Content; c["msgtype"] != "m.image" || c["body"] != "Candles on the town hall steps" {
			t.Errorf("room %s: the picture is %v", room, c)
		}
	}
}
