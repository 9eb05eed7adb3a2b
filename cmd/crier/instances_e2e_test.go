package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
	"github.com/crierhq/crier/internal/testpeers/mastodonfake"
)

// account is one Mastodon account a channel instance posts to, and how the
// test reads back what it received.
type account struct {
	url, token string
	toots      func(t *testing.T) []string
}

// instancePosts are the two posts the instance tests publish: one for both
// accounts with a Leeds-only text, one the Leeds account skips.
var instancePosts = map[string]string{
	"vigil.md": `---
title: Vigil for the missing children
link: https://camaca.example/news/vigil
channels:
  mastodon-leeds:
    text: Leeds vigil tonight at 7pm, Victoria Gardens. https://camaca.example/news/vigil
---
Join us.
`,
	"report.md": `---
title: National report on child trafficking
link: https://camaca.example/news/report
channels:
  mastodon-leeds:
    skip: true
---
The report is out.
`,
}

// runTwoAccounts runs the daemon with two instances of the Mastodon type,
// "mastodon" (the national account) and "mastodon-leeds", until every
// delivery is sent, and checks each account got its own toots.
func runTwoAccounts(t *testing.T, national, leeds account) {
	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	for name, src := range instancePosts {
		os.WriteFile(filepath.Join(dir, "posts", name), []byte(src), 0o644)
	}
	b.setenv("TEST_NATIONAL_TOKEN", national.token)
	b.setenv("TEST_LEEDS_TOKEN", leeds.token)
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
    token: ${TEST_NATIONAL_TOKEN}
  mastodon-leeds:
    type: mastodon
    mode: send
    instance: %q
    token: ${TEST_LEEDS_TOKEN}
    hashtags: [Leeds]
`, testnet.FreeAddr(t), national.url, leeds.url)), 0o644)

	want := map[string]string{"md:vigil/mastodon": "sent", "md:vigil/mastodon-leeds": "sent", "md:report/mastodon": "sent"}
	var got map[string]string
	logs := b.runUntil(&http.Client{Timeout: 30 * time.Second}, 90*time.Second, func() bool {
		got = b.status().deliveries()
		return fmt.Sprint(got) == fmt.Sprint(want)
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("deliveries %v, want %v\nlogs:\n%s", got, want, logs.String())
	}

	nat, lds := national.toots(t), leeds.toots(t)
	for _, list := range [][]string{nat, lds} {
		for i, s := range list {
			list[i] = htmlTag.ReplaceAllString(s, "") // GoToSocial answers HTML
		}
	}
	if len(nat) != 2 || len(lds) != 1 {
		t.Fatalf("national account got %d toots (want 2), Leeds %d (want 1, the report is skipped there):\n%q\n%q", len(nat), len(lds), nat, lds)
	}
	if !strings.Contains(lds[0], "Victoria Gardens") || !strings.Contains(strings.ToLower(lds[0]), "#leeds") {
		t.Errorf("the Leeds toot lacks its own text or hashtag: %s", lds[0])
	}
	for _, s := range nat {
		if strings.Contains(s, "Victoria Gardens") || strings.Contains(strings.ToLower(s), "#leeds") {
			t.Errorf("the national account got the Leeds text or hashtag: %s", s)
		}
	}
	// Each instance keeps its own cache of its server's limits.
	for _, f := range []string{"mastodon-instance.json", "mastodon-leeds-instance.json"} {
		if _, err := os.Stat(filepath.Join(dir, "data", f)); err != nil {
			t.Errorf("instance cache: %v", err)
		}
	}
}

var htmlTag = regexp.MustCompile(`<[^>]*>`)

// TestTwoMastodonInstancesAgainstTheFake: two accounts on two servers (the
// spec-checking fake), each with its own token, formatting and queue.
func TestTwoMastodonInstancesAgainstTheFake(t *testing.T) {
	t.Parallel()
	fakeAccount := func(srv *mastodonfake.Server) account {
		return account{url: srv.URL, token: srv.Token(), toots: func(*testing.T) []string {
			var out []string
			for _, s := range srv.Statuses() {
				out = append(out, s.Text)
			}
			return out
		}}
	}
	national := mastodonfake.New(t, mastodonfake.Options{Token: "national-token"})
	leeds := mastodonfake.New(t, mastodonfake.Options{Token: "leeds-token"})
	runTwoAccounts(t, fakeAccount(national), fakeAccount(leeds))
}

// TestTwoMastodonInstancesOnGoToSocial: two accounts on one real server.
func TestTwoMastodonInstancesOnGoToSocial(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	gtsAccount := func(u gotosocial.User) account {
		return account{url: gts.URL, token: u.Token, toots: func(t *testing.T) []string {
			c := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: u.Token})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			acct, err := c.GetAccountCurrentUser(ctx)
			if err != nil {
				t.Fatal(err)
			}
			sts, err := c.GetAccountStatuses(ctx, acct.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range sts {
				out = append(out, s.Content)
			}
			return out
		}}
	}
	runTwoAccounts(t, gtsAccount(gts.NewUser(t)), gtsAccount(gts.NewUser(t)))
}

// Preview, validate and publish address instances by name, offline.
func TestInstancesInPreviewValidateAndPublish(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	dir := b.dir
	os.MkdirAll(filepath.Join(dir, "posts"), 0o755)
	for name, src := range instancePosts {
		os.WriteFile(filepath.Join(dir, "posts", name), []byte(src), 0o644)
	}
	cfg := b.cfg
	os.WriteFile(cfg, []byte(`campaign: {name: CAMACA}
sources: {markdown: {dir: posts}}
channels:
  mastodon: {hashtags: [EndChildTrafficking]}
  mastodon-leeds: {type: mastodon, hashtags: [Leeds]}
  discord: {enabled: false}
  email: {enabled: false}
`), 0o644)
	var out, errOut bytes.Buffer
	if code := b.main(context.Background(), []string{"--config", cfg, "preview", "--json", filepath.Join(dir, "posts", "vigil.md")}, &out, &errOut); code != 0 {
		t.Fatalf("preview: exit %d: %s", code, errOut.String())
	}
	var got struct {
		Channels map[string][]struct{ Status string } `json:"channels"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Channels) != 2 || !strings.Contains(got.Channels["mastodon-leeds"][0].Status, "Victoria Gardens") || strings.Contains(got.Channels["mastodon"][0].Status, "Victoria Gardens") {
		t.Errorf("preview per instance: %+v", got.Channels)
	}
	out.Reset()
	if code := b.main(context.Background(), []string{"--config", cfg, "preview", filepath.Join(dir, "posts", "report.md")}, &out, &errOut); code != 0 || strings.Contains(out.String(), "== mastodon-leeds ==") || !strings.Contains(out.String(), "== mastodon ==") {
		t.Errorf("preview of a post the Leeds account skips: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := b.main(context.Background(), []string{"--config", cfg, "validate"}, &out, &out); code != 0 {
		t.Errorf("validate: exit %d\n%s", code, out.String())
	}
	out.Reset()
	if code := b.main(context.Background(), []string{"--config", cfg, "publish", filepath.Join(dir, "posts", "vigil.md"), "--channel", "mastodon-leeds"}, &out, &out); code != 0 {
		t.Errorf("publish --channel mastodon-leeds: exit %d\n%s", code, out.String())
	}
	if st := b.status().deliveries(); len(st) != 1 || st["md:vigil/mastodon-leeds"] != "pending" {
		t.Errorf("publish queued %v", st)
	}

	// A post naming a channel that is not configured is an error with a
	// suggestion, in validate as everywhere.
	os.WriteFile(filepath.Join(dir, "posts", "typo.md"), []byte("---\ntitle: x\nchannels:\n  mastodon-leds: {skip: true}\n---\n"), 0o644)
	out.Reset()
	if code := b.main(context.Background(), []string{"--config", cfg, "validate"}, &out, &out); code == 0 || !strings.Contains(out.String(), "typo.md:4:") || !strings.Contains(out.String(), `did you mean "mastodon-leeds"`) {
		t.Errorf("validate with a misspelt instance: exit %d\n%s", code, out.String())
	}
}
