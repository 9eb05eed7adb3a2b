package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/discordfake"
)

// reachWith runs `crier reach --json args...` with client as the HTTP
// client (a fake network's).
func (b *bundle) reachWith(client *http.Client, args ...string) reachOut {
	b.t.Helper()
	var out, errOut bytes.Buffer
	runApp(context.Background(), b.app(&out, &errOut, client), append([]string{"--config", b.cfg, "reach", "--json"}, args...))
	var r reachOut
	_ = json.Unmarshal(out.Bytes(), &r)
	return r
}

// TestReachDiscordOnTheSchedule runs the daemon against the Discord fake
// with a schedule of seconds: the reads run as the daemon's own jobs, the
// first is answered 429 (the read waits as long as Discord asks, and reads
// then), members' reactions appear, and after the last step no more reads
// are made. Replies are "not available" on Discord, never 0.
func TestReachDiscordOnTheSchedule(t *testing.T) {
	t.Parallel()
	fake := discordfake.New(t)
	b := setup(t, "")
	os.MkdirAll(filepath.Join(b.dir, "posts"), 0o755)
	os.WriteFile(filepath.Join(b.dir, "posts", "call.md"), []byte("---\ntitle: Vigil on Friday\nlink: https://camaca.example/vigil\n---\nJoin us.\n"), 0o644)
	b.setenv("TEST_DISCORD_TOKEN", discordfake.Token)
	addr := testnet.FreeAddr(t)
	b.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example}
http: {listen: %q}
sources: {markdown: {dir: posts}}
schedules: {publish_due: "@every 1s"}
delivery: {timeout: 10s}
reach: {schedule: [2s, 4s]}
channels:
  mastodon: {enabled: false}
  email: {enabled: false}
  discord: {mode: send, token: "${TEST_DISCORD_TOKEN}", channel_id: %q}
`, addr, discordfake.AnnouncementChannelID))
	fake.Inject(discordfake.Fault{Operation: "get_message", RetryAfter: 1})
	_, stop := b.startStoppable("http://"+addr+"/healthz", fake.Client())
	var msgs []discordfake.Message
	testnet.WaitFor(t, "the message", 60*time.Second, func() bool {
		msgs = fake.Messages(discordfake.AnnouncementChannelID)
		return len(msgs) == 1
	})
	fake.React(msgs[0].ID, "👍", 2)
	fake.React(msgs[0].ID, "🕯️", 1)
	var r reachOut
	testnet.WaitFor(t, "two scheduled reads", 90*time.Second, func() bool {
		r = b.reachWith(fake.Client(), "md:call")
		return len(r.Channels) == 1 && len(r.Channels[0].History) == 2
	})
	stop()
	c := r.Channels[0]
	if got := counter(c.Counters, "reactions"); got != "3" {
		t.Errorf("reactions = %s, want 3", got)
	}
	for _, name := range []string{"replies", "likes", "reposts"} {
		if got := counter(c.Counters, name); got != "not available" {
			t.Errorf("%s = %s, want not available on Discord", name, got)
		}
	}
	if c.NextRead != nil || c.LastError != "" {
		t.Errorf("after the last step: next %v, error %q; want no next read and no error", c.NextRead, c.LastError)
	}
	var gets []int
	for _, req := range fake.Requests() {
		if req.Operation == "get_message" {
			gets = append(gets, req.Status)
		}
	}
	if !slices.Equal(gets, []int{429, 200, 200}) {
		t.Errorf("get_message answers %v, want the 429, then one read per step", gets)
	}
}
