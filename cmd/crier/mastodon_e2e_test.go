package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
)

// TestDaemonTootsToGoToSocial runs the daemon against a real Mastodon-API
// server (GoToSocial, 500 characters): a post becomes a toot with its link
// and content warning, once, and the ledger holds its URL.
func TestDaemonTootsToGoToSocial(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user := gts.NewUser(t)

	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(dir, "posts", "vigil.md"), []byte(`---
title: ICAT's Call to Action is not enough
summary: The number of child trafficking victims is rising again. Join the vigil.
link: https://camaca.example/news/vigil
tags: [child trafficking, human rights]
content_warning: child trafficking
---
An infinite chain of suffering can only be broken with radical action.
`), 0o644)
	b.setenv("TEST_MASTODON_TOKEN", user.Token)
	cfg := b.cfg
	os.WriteFile(cfg, []byte(fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  discord: {enabled: false}
  email: {enabled: false}
  mastodon:
    mode: send
    instance: %q
    token: ${TEST_MASTODON_TOKEN}
    hashtags: [EndChildTrafficking]
`, testnet.FreeAddr(t), gts.URL)), 0o644)

	sent := func() bool { return b.status().deliveries()["md:vigil/mastodon"] == "sent" }
	logs := b.runUntil(&http.Client{Timeout: 30 * time.Second}, 90*time.Second, sent)
	if st := b.status().deliveries(); !sent() {
		t.Fatalf("delivery %q\nlogs:\n%s", st, logs.String())
	}

	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	acct, err := reader.GetAccountCurrentUser(rctx)
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := reader.GetAccountStatuses(rctx, acct.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 {
		t.Fatalf("want exactly one toot, got %d", len(statuses))
	}
	s := statuses[0]
	if !strings.Contains(s.Content, "https://camaca.example/news/vigil") || s.SpoilerText != "child trafficking" {
		t.Fatalf("toot lacks the link or the content warning: cw=%q content=%s", s.SpoilerText, s.Content)
	}
	if !strings.Contains(strings.ToLower(s.Content), "endchildtrafficking") {
		t.Errorf("toot lacks the configured hashtag: %s", s.Content)
	}
}
