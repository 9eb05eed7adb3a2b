package main

import (
	"encoding/json"
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
	"unicode/utf8"

	"github.com/crierhq/crier/channels/bluesky"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
)

// TestDaemonPostsToBlueskyPDS runs `crier run` with the Bluesky channel
// against a real PDS and reads the records back: one post per campaign post,
// facets that slice exactly what they mark, the image with its alt text, the
// per-post override text; then an answer lost after the PDS wrote a post, a
// restart, and still one post.
func TestDaemonPostsToBlueskyPDS(t *testing.T) {
	t.Parallel()
	pds := blueskypds.Start(t)
	acct, friend := pds.NewAccount(t), pds.NewAccount(t)

	// The proxy loses answers while lossy is set: createRecord reaches the
	// PDS but its answer never comes back, and reads fail, so the outcome
	// stays unknown.
	var lossy atomic.Bool
	target, _ := url.Parse(pds.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lossy.Load() {
			switch r.URL.Path {
			case "/xrpc/com.atproto.repo.createRecord":
				rp.ServeHTTP(httptest.NewRecorder(), r)
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					conn.Close()
				}
				return
			case "/xrpc/com.atproto.repo.getRecord":
				w.WriteHeader(http.StatusBadGateway)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()

	b := setup(t, "")
	dir := b.dir
	posts := filepath.Join(dir, "posts")
	os.MkdirAll(filepath.Join(posts, "images"), 0o755)
	writePNG(t, filepath.Join(posts, "images", "candles.png"), 64, 48)
	os.WriteFile(filepath.Join(posts, "vigil.md"), []byte(`---
title: "👨‍👩‍👧‍👦 Vigil — وقفة 児童"
summary: "Join us, café́ friends 👍🏽 — the number of child trafficking victims is rising again."
link: https://camaca.example/news/2024/vigil-for-the-victims-of-child-trafficking
tags: [child trafficking, human rights]
content_warning: child trafficking
image:
  file: images/candles.png
  alt: Candles on the town hall steps
---
An infinite chain of suffering can only be broken with radical action.
`), 0o644)
	os.WriteFile(filepath.Join(posts, "doctors.md"), []byte(fmt.Sprintf(`---
title: Doctors join the campaign
link: https://camaca.example/news/doctors
channels:
  bluesky:
    text: "👩🏽‍⚕️ Doctors join us, thanks @%s! https://camaca.example/news/doctors #Health"
---
Body.
`, friend.Handle)), 0o644)
	b.setenv("TEST_BLUESKY_PASSWORD", acct.AppPassword)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, language: en}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  mastodon: {enabled: false}
  discord: {enabled: false}
  email: {enabled: false}
  bluesky:
    enabled: true
    mode: send
    service: %q
    handle: %q
    app_password: ${TEST_BLUESKY_PASSWORD}
    hashtags: [EndChildTrafficking]
    labels: {child trafficking: graphic-media}
`, testnet.FreeAddr(t), proxy.URL, acct.Handle))

	run := func(until func() bool) {
		t.Helper()
		logs := b.runUntil(&http.Client{Timeout: 30 * time.Second}, 90*time.Second, until)
		if !until() {
			t.Fatalf("deliveries %v\nlogs:\n%s", b.status().deliveries(), logs.String())
		}
	}
	allSent := func(n int) func() bool {
		return func() bool {
			st := b.status()
			return len(st.deliveries()) == n && st.sent() == n
		}
	}
	run(allSent(2))

	records := readPosts(t, pds, acct.DID)
	if len(records) != 2 {
		t.Fatalf("%d posts on the PDS, want 2", len(records))
	}
	var vigil, doctors *bluesky.Record
	for i, r := range records {
		checkRecordFacets(t, r)
		switch {
		case strings.Contains(r.Text, "Vigil"):
			vigil = &records[i]
		case strings.Contains(r.Text, "Doctors join us"):
			doctors = &records[i]
		}
	}
	if vigil == nil || doctors == nil {
		t.Fatalf("posts %+v", records)
	}
	if !strings.HasPrefix(vigil.Text, "CW: child trafficking") || vigil.Labels == nil || vigil.Labels.Values[0].Val != "graphic-media" {
		t.Errorf("vigil lacks its warning or label: %q %+v", vigil.Text, vigil.Labels)
	}
	if vigil.Embed == nil || len(vigil.Embed.Images) != 1 || vigil.Embed.Images[0].Alt != "Candles on the town hall steps" || vigil.Embed.Images[0].Image == nil {
		t.Errorf("vigil image %+v", vigil.Embed)
	}
	if len(vigil.Langs) != 1 || vigil.Langs[0] != "en" {
		t.Errorf("langs %v", vigil.Langs)
	}
	var mention string
	for _, f := range doctors.Facets {
		if f.Features[0].Type == bluesky.FeatureMention {
			mention = f.Features[0].DID
		}
	}
	if mention != friend.DID {
		t.Errorf("the override's mention points at %q, want %s", mention, friend.DID)
	}

	// A third post whose answer is lost, then a restart.
	os.WriteFile(filepath.Join(posts, "lost.md"), []byte("---\ntitle: The answer to this one is lost\nlink: https://camaca.example/news/lost\n---\nBody.\n"), 0o644)
	lossy.Store(true)
	run(func() bool { return b.status().deliveries()["md:lost/bluesky"] == "unknown" })
	if n := len(readPosts(t, pds, acct.DID)); n != 3 {
		t.Fatalf("%d posts after the lost answer, want 3 (the PDS wrote it)", n)
	}
	lossy.Store(false)
	run(allSent(3))
	if n := len(readPosts(t, pds, acct.DID)); n != 3 {
		t.Fatalf("%d posts after the restart, want 3: the retry made a duplicate", n)
	}
}

func readPosts(t *testing.T, pds *blueskypds.Server, did string) []bluesky.Record {
	var out []bluesky.Record
	for _, r := range pds.ListRecords(t, did, bluesky.Collection) {
		var rec bluesky.Record
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
	return out
}

// checkRecordFacets checks each facet slices exactly its link (or the link's
// display text), tag or mention out of the UTF-8 text.
func checkRecordFacets(t *testing.T, r bluesky.Record) {
	t.Helper()
	for _, f := range r.Facets {
		s, e := f.Index.ByteStart, f.Index.ByteEnd
		if s < 0 || e > len(r.Text) || s >= e || !utf8.ValidString(r.Text[s:e]) {
			t.Errorf("facet %d-%d does not slice %q", s, e, r.Text)
			continue
		}
		got, ft := r.Text[s:e], f.Features[0]
		switch ft.Type {
		case bluesky.FeatureLink:
			u := strings.TrimPrefix(strings.TrimPrefix(ft.URI, "https://"), "http://")
			if got != ft.URI && !(strings.HasSuffix(got, "…") && strings.HasPrefix(u, strings.TrimSuffix(got, "…"))) && got != u {
				t.Errorf("link facet slices %q for %s", got, ft.URI)
			}
		case bluesky.FeatureTag:
			if got != "#"+ft.Tag {
				t.Errorf("tag facet slices %q for %s", got, ft.Tag)
			}
		case bluesky.FeatureMention:
			if !strings.HasPrefix(got, "@") || !strings.HasSuffix(got, ".test") {
				t.Errorf("mention facet slices %q", got)
			}
		}
	}
}
