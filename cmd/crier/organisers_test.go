package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/internal/testnet"
)

func TestVersionAndHelpGoToStdout(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(t, nil, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "crier ") || errOut != "" {
		t.Errorf("--version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "", "--help")
	if code != 0 || !strings.Contains(out, "Commands:") || errOut != "" {
		t.Errorf("--help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "", "--config", "../../config.yaml", "publish", "--help")
	if code != 0 || !strings.Contains(out, "Usage: crier publish") || errOut != "" {
		t.Errorf("publish --help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// Help after a mistake is on stderr, with exit 2.
	code, out, errOut = runCLI(t, nil, "", "--no-such-flag")
	if code != 2 || out != "" || !strings.Contains(errOut, "Commands:") {
		t.Errorf("bad flag: exit %d, stdout %q", code, out)
	}
}

func TestPreviewHTMLNeedsAFileName(t *testing.T) {
	t.Parallel()
	post := "../../posts/2023-11-08-icat-call-to-action.md"
	before, _ := os.ReadFile(post)
	for _, args := range [][]string{{"preview", "--html"}, {"preview", "--html", post}} {
		code, _, errOut := runCLI(t, nil, "", append([]string{"--config", "../../config.yaml"}, args...)...)
		if code != 2 || !strings.Contains(errOut, "--html needs the name of the file") {
			t.Errorf("%v: exit %d, %s", args, code, errOut)
		}
	}
	if after, _ := os.ReadFile(post); !bytes.Equal(before, after) {
		t.Fatal("the post file was overwritten")
	}
}

func TestValidateCountsProblemsNotFiles(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	os.WriteFile(filepath.Join(dir, "posts", "bad.md"), []byte("---\ntitel: x\ndraft: perhaps\n---\n"), 0o644)
	code, out, errOut := b.crier("validate")
	if code != 1 || !strings.Contains(errOut, "3 problem(s) found in 1 post file(s)") {
		t.Errorf("exit %d, %s\n%s", code, errOut, out)
	}
	if !strings.Contains(out, `did you mean "title"?`) {
		t.Errorf("the misspelt field gets a suggestion:\n%s", out)
	}
}

func TestRemovingAnAddressThatIsNotThereFails(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	code, out, errOut := b.crier("subscribers", "remove", "nobody@camaca.example")
	if code == 0 || !strings.Contains(errOut, "is not on the list") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestStatusNamesTheRetryCommandAndRetryWorks(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	// A post from outside the posts folder, to one channel.
	outside := filepath.Join(t.TempDir(), "press-release.md")
	os.WriteFile(outside, []byte("---\ntitle: Press release\n---\nFrom the office.\n"), 0o644)
	if code, _, errOut := b.crier("publish", outside, "--channel", "mastodon"); code != 0 {
		t.Fatalf("publish: %s", errOut)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st.StartAttempt(ctx, "md:press-release", "mastodon", time.Now())
	st.FinishAttempt(ctx, "md:press-release", "mastodon", store.DeliveryFailed, channels.Receipt{}, "permanent: 401 the access token was revoked", "permanent", false, time.Now())
	st.Close()

	_, out, _ := b.crier("status")
	if !strings.Contains(out, "retry: crier retry md:press-release --channel mastodon") {
		t.Errorf("status must name the retry command:\n%s", out)
	}
	if strings.Contains(out, "0001-01-01") || strings.Contains(out, "withdrawn") {
		t.Errorf("the post shows its own date and is not withdrawn:\n%s", out)
	}
	_, out, _ = b.crier("status", "--json")
	for _, key := range []string{`"post_id"`, `"last_error"`, `"retry"`, `"post_problems"`} {
		if !strings.Contains(out, key) {
			t.Errorf("status --json lacks %s", key)
		}
	}
	for _, key := range []string{`"PostID"`, `"LastError"`, `"Channel"`} {
		if strings.Contains(out, key) {
			t.Errorf("status --json has the Go name %s; keys are snake_case", key)
		}
	}
	code, out, errOut := b.crier("retry", "md:press-release")
	if code != 0 || !strings.Contains(out, "queued again for mastodon") {
		t.Fatalf("retry: exit %d %s %s", code, out, errOut)
	}
	_, out, _ = b.crier("status")
	if !strings.Contains(out, "pending") {
		t.Errorf("the retried delivery is pending again:\n%s", out)
	}
	code, _, errOut = b.crier("retry", "md:press-release")
	if code != 1 || !strings.Contains(errOut, "no failed delivery") {
		t.Errorf("nothing to retry: exit %d %s", code, errOut)
	}
}

func TestStatusShowsDuplicatesAndUnreadablePosts(t *testing.T) {
	t.Parallel()
	b := setupShipped(t)
	dir := b.dir
	// The shipped draft tells the story of the feed's newest item, which
	// the first poll publishes. Undrafted and linking the same article, one
	// of the two is published and the other recorded as its duplicate.
	draft := filepath.Join(dir, "posts", "2024-06-01-victims-rising-again.md")
	data, _ := os.ReadFile(draft)
	data = bytes.Replace(data, []byte("draft: true"), []byte("draft: false"), 1)
	data = bytes.Replace(data, []byte("https://camaca.example/news/victims-rising-again"), []byte("https://camaca.example/news/2024/06/rising-again/"), 1)
	// Real posts, not the shipped examples (an example never holds back a
	// real post).
	data = bytes.Replace(data, []byte("example: true\n"), nil, 1)
	os.WriteFile(draft, data, 0o644)
	unmark(t, filepath.Join(dir, "config.yaml"), "      example: true\n")
	unmark(t, filepath.Join(dir, "feeds", "campaign-site.xml"), "<crier:example>true</crier:example>")
	os.WriteFile(filepath.Join(dir, "posts", "broken.md"), []byte("---\ntitle: Vigil: Saturday\n---\n"), 0o644)
	b.runDaemonBriefly("recorded as a duplicate", "cannot be read")
	_, out, _ := b.crier("status")
	if strings.Count(out, "duplicate of ") != 1 {
		t.Errorf("status must show the second copy as a duplicate:\n%s", out)
	}
	if !strings.Contains(out, "broken.md:2: the front matter cannot be read") {
		t.Errorf("status must list the unreadable post:\n%s", out)
	}
}

// runDaemonBriefly runs `crier run` until its log shows every waitFor
// text, then stops it.
func (b *bundle) runDaemonBriefly(waitFor ...string) {
	b.t.Helper()
	b.setenv("CRIER_LISTEN", testnet.FreeAddr(b.t))
	logs, stop := b.startStoppable("", nil)
	testnet.Poll(60*time.Second, func() bool {
		for _, w := range waitFor {
			if !strings.Contains(logs.String(), w) {
				return false
			}
		}
		return true
	})
	stop()
}

// unmark removes an example marker from a copied file.
func unmark(t *testing.T, file, marker string) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil || !bytes.Contains(data, []byte(marker)) {
		t.Fatalf("%s has no %q (%v)", file, marker, err)
	}
	os.WriteFile(file, bytes.Replace(data, []byte(marker), nil, 1), 0o644)
}
