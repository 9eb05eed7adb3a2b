package main

import (
	"context"
	"database/sql"
	"encoding/json"
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

// reachOut is `crier reach --json POST` as tests read it.
type reachOut struct {
	Post     string `json:"post"`
	Channels []struct {
		Channel   string            `json:"channel"`
		Counters  map[string]*int64 `json:"counters"`
		Extra     map[string]*int64 `json:"extra"`
		LastRead  *time.Time        `json:"last_read"`
		LastError string            `json:"last_error"`
		NextRead  *time.Time        `json:"next_read"`
		History   []json.RawMessage `json:"history"`
		Replies   []struct {
			Author, Warning, Excerpt, URL string
		} `json:"replies"`
	} `json:"channels"`
}

// reach runs `crier reach --json args...` and decodes it.
func (b *bundle) reach(args ...string) (reachOut, string) {
	b.t.Helper()
	code, out, errOut := b.crier(append([]string{"reach", "--json"}, args...)...)
	var r reachOut
	if err := json.Unmarshal([]byte(out), &r); err != nil && code == 0 {
		b.t.Fatalf("crier reach --json: %v\n%s", err, out)
	}
	return r, fmt.Sprintf("exit %d\n%s\n%s", code, out, errOut)
}

func counter(m map[string]*int64, name string) string {
	if m[name] == nil {
		return "not available"
	}
	return fmt.Sprint(*m[name])
}

// TestReachGoToSocialThroughCrier delivers a post to a real GoToSocial with
// the daemon, has a second account favourite, boost and reply to the toot,
// and reads the counts and the reply with crier reach --refresh: quotes
// (which GoToSocial does not report) are "not available", not 0, and the
// delivery's scheduled read is an hour after it was sent.
func TestReachGoToSocialThroughCrier(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user, fan := gts.NewUser(t), gts.NewUser(t)
	b := setup(t, "")
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "posts", "vigil.md"), []byte("---\ntitle: Vigil on Friday\nlink: https://camaca.example/vigil\n---\nJoin us at six.\n"), 0o644)
	b.setenv("TEST_MASTODON_TOKEN", user.Token)
	os.WriteFile(b.cfg, []byte(fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
delivery: {timeout: 30s}
channels:
  discord: {enabled: false}
  email: {enabled: false}
  mastodon: {mode: send, instance: %q, token: "${TEST_MASTODON_TOKEN}"}
`, testnet.FreeAddr(t), gts.URL)), 0o644)
	sent := func() bool { return b.status().deliveries()["md:vigil/mastodon"] == "sent" }
	if logs := b.runUntil(&http.Client{Timeout: 30 * time.Second}, 90*time.Second, sent); !sent() {
		t.Fatalf("not delivered\n%s", logs.String())
	}

	before, out := b.reach("md:vigil")
	if len(before.Channels) != 1 || before.Channels[0].LastRead != nil || before.Channels[0].NextRead == nil {
		t.Fatalf("before any read, want the mastodon channel scheduled and not read: %s", out)
	}
	// An hour after the delivery, at the channel's next free time (reads
	// are spaced 30 s apart with the shipped 120 an hour).
	if d := time.Until(*before.Channels[0].NextRead); d < 50*time.Minute || d > time.Hour+time.Minute {
		t.Errorf("first read in %v, want an hour after the delivery", d)
	}
	if got := counter(before.Channels[0].Counters, "likes"); got != "not available" {
		t.Errorf("likes before any read = %s, want not available", got)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	toot := onlyToot(t, gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})).ID
	fc := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: fan.Token})
	if _, err := fc.Favourite(ctx, toot); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.Reblog(ctx, toot); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.PostStatus(ctx, &gomastodon.Toot{Status: "See you there <3", SpoilerText: "vigil plans", Visibility: "public", InReplyToID: toot}); err != nil {
		t.Fatal(err)
	}

	r, out := b.reach("--refresh", "md:vigil")
	if len(r.Channels) != 1 {
		t.Fatalf("crier reach --refresh: %s", out)
	}
	c := r.Channels[0]
	for name, want := range map[string]string{"likes": "1", "reposts": "1", "replies": "1", "quotes": "not available", "reactions": "not available"} {
		if got := counter(c.Counters, name); got != want {
			t.Errorf("%s = %s, want %s\n%s", name, got, want, out)
		}
	}
	if len(c.Replies) != 1 || c.Replies[0].Warning != "vigil plans" || c.Replies[0].Excerpt != "See you there <3" || !strings.HasPrefix(c.Replies[0].Author, "@") || c.LastError != "" {
		t.Errorf("replies %+v, error %q", c.Replies, c.LastError)
	}
	if code, text, _ := b.crier("reach", "md:vigil"); code != 0 || !strings.Contains(text, "quotes not available") || !strings.Contains(text, "[CW: vigil plans]") {
		t.Errorf("crier reach md:vigil (exit %d):\n%s", code, text)
	}

	// A failed read keeps the last good one and says when it was.
	gts.Close()
	r, out = b.reach("--refresh", "md:vigil")
	if len(r.Channels) != 1 || r.Channels[0].LastError == "" || counter(r.Channels[0].Counters, "likes") != "1" || r.Channels[0].LastRead == nil {
		t.Errorf("after a failed read, want the last good counts, their time and the error: %s", out)
	}
	if code, text, _ := b.crier("reach", "md:vigil"); code != 0 || !strings.Contains(text, "the last read failed") || !strings.Contains(text, "last good read") {
		t.Errorf("crier reach after a failed read (exit %d):\n%s", code, text)
	}
	db, err := sql.Open("sqlite", filepath.Join(b.dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var reads int
	if err := db.QueryRow(`SELECT COUNT(*) FROM reach_reads WHERE post_id = 'md:vigil'`).Scan(&reads); err != nil || reads != 1 {
		t.Errorf("reads kept: %d, %v; want the one good read (a failed one adds none)", reads, err)
	}
}
