package bluesky

import (
	"context"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testpeers/blueskypds"
	"github.com/crierhq/crier/post"
)

// TestCorrectByRepost deletes a delivered post and posts the corrected one
// on a real PDS; the same correction run again (a retry after its answer
// was lost) finds its own post under the derived key and adds nothing.
func TestCorrectByRepost(t *testing.T) {
	t.Parallel()
	b, f, p, sent := delivered(t)
	ctx := context.Background()

	p.Title, p.Summary = "Vigil at eight", "We start at eight."
	fixed, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	c := channels.Correction{PostID: p.ID, Channel: Name, Revision: 1, Parts: sent, Style: channels.CorrectByRepost}
	var first []channels.PartResult
	for attempt := 1; attempt <= 2; attempt++ {
		res, err := b.sender(t).Correct(ctx, c, fixed)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt, err)
		}
		if len(res) != 1 || res[0].Outcome != channels.OutcomeReposted || res[0].RemoteID == sent[0].RemoteID {
			t.Fatalf("attempt %d: results %+v", attempt, res)
		}
		if attempt == 1 {
			first = res
		} else if res[0].RemoteID != first[0].RemoteID {
			t.Errorf("the retry names %s, the first attempt %s", res[0].RemoteID, first[0].RemoteID)
		}
		posts := b.posts(t)
		if len(posts) != 1 || posts[0]["_uri"] != first[0].RemoteID {
			t.Fatalf("attempt %d: the account holds %v, want only %s", attempt, posts, first[0].RemoteID)
		}
		if text, _ := posts[0]["text"].(string); !strings.Contains(text, "eight") || strings.Contains(text, "seven") {
			t.Errorf("attempt %d: the post reads %q", attempt, text)
		}
	}
}

// delivered sends a post to a new account on a real PDS: the account, the
// formatter, the post and the parts it went out as.
func delivered(t *testing.T) (*pdsBundle, channels.Formatter, post.Post, []channels.Part) {
	t.Helper()
	pds := blueskypds.Start(t)
	acct := pds.NewAccount(t)
	b := &pdsBundle{pds: pds, acct: acct, cfg: Config{Enabled: true, Service: pds.URL, Handle: acct.Handle, AppPassword: secret.Secret(acct.AppPassword), Language: "en"}}
	ctx := context.Background()
	f := NewFormatter(b.cfg, channels.Campaign{})
	p := post.Post{ID: "md:vigil", Title: "Vigil at seven", Summary: "We start at seven.", Link: "https://camaca.example/vigil"}
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	l := &memLedger{}
	if _, err := b.sender(t).Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: l}, pl); err != nil {
		t.Fatal(err)
	}
	sent, _ := l.Parts(ctx)
	return b, f, p, sent
}

// TestCorrectionText keeps the reply within a post's limits.
func TestCorrectionText(t *testing.T) {
	t.Parallel()
	if got := correctionText("the vigil starts at 8", nil); got != "Correction: the vigil starts at 8" {
		t.Errorf("got %q", got)
	}
	if got := correctionText("", Parts{{Record: Record{Text: "Vigil at eight"}}}); got != "Correction: Vigil at eight" {
		t.Errorf("without a note: %q", got)
	}
	if got := correctionText(strings.Repeat("👨‍👩‍👧‍👦", 200), nil); !fits(got) || !strings.HasSuffix(got, "…") {
		t.Errorf("a long note gives %d bytes, fits=%v", len(got), fits(got))
	}
}

// TestRefusedRepostKeepsThePost: a corrected post the PDS refuses for good
// leaves the delivered one up (the old post is deleted only once the new
// one is posted).
func TestRefusedRepostKeepsThePost(t *testing.T) {
	t.Parallel()
	b, f, p, sent := delivered(t)
	ctx := context.Background()
	fixed, _ := f.Format(p)
	parts := fixed.Body.(Parts)
	parts[0].Record.Text = strings.Repeat("eight ", 600) // over the lexicon's 3,000 bytes: the PDS refuses it
	_, err := b.sender(t).Correct(ctx, channels.Correction{PostID: p.ID, Channel: Name, Revision: 1, Attempt: 1, Parts: sent, Style: channels.CorrectByRepost}, fixed)
	if k, _ := channels.Classify(err); k != channels.KindPermanent {
		t.Fatalf("a refused post: %v (%s)", err, k)
	}
	if posts := b.posts(t); len(posts) != 1 || posts[0]["_uri"] != sent[0].RemoteID {
		t.Fatalf("the account holds %v, want the delivered %s", posts, sent[0].RemoteID)
	}
}
