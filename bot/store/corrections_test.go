package store

import (
	"context"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
)

func TestCorrectionsHistory(t *testing.T) {
	pgpeer.Each(t, testCorrectionsHistory)
}

// The history numbers a post's corrections and withdrawals, keeps who asked
// and approved, what changed, and each channel's result; the request is
// done once every channel is, failed once one failed and none is left.
func testCorrectionsHistory(t *testing.T, driver, target string) {
	ctx := context.Background()
	st := open(t, driver, target)
	now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	p := post.Post{ID: "md:vigil", Title: "Vigil at seven", Source: post.Source{Kind: "markdown", Key: "vigil"}}
	if err := st.SavePost(ctx, p, PostPublished, now); err != nil {
		t.Fatal(err)
	}
	add := func(c Correction, chans ...string) int {
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		rev, err := AddCorrectionTx(ctx, tx, c, chans, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		return rev
	}
	fixed := p
	fixed.Title = "Vigil at eight"
	r1 := add(Correction{PostID: p.ID, Kind: KindCorrection, By: "author", Note: "eight, not seven", Changes: []string{"title"}, Corrected: fixed,
		Options: CorrectionOptions{Styles: map[string]channels.CorrectionStyle{"bluesky": channels.CorrectByReply}, Mail: true}, State: CorrectionAwaiting}, "bluesky", "mastodon")
	r2 := add(Correction{PostID: p.ID, Kind: KindWithdrawal, By: "editor", Note: "named the wrong person", State: CorrectionQueued}, "mastodon")
	if r1 != 1 || r2 != 2 {
		t.Fatalf("revisions %d, %d", r1, r2)
	}
	tx, _ := st.DB().BeginTx(ctx, nil)
	if err := ApproveTx(ctx, tx, p.ID, r1, "editor", now); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	parts := []channels.PartResult{{Index: 0, Outcome: channels.OutcomeReplied, RemoteID: "at://reply"}}
	if err := st.FinishCorrection(ctx, CorrectionResult{PostID: p.ID, Revision: r1, Channel: "bluesky", State: CorrectionDone, Parts: parts}, now); err != nil {
		t.Fatal(err)
	}
	if c, _ := st.Correction(ctx, p.ID, r1); c.State != CorrectionQueued {
		t.Errorf("with mastodon left the correction is %q", c.State)
	}
	if err := st.FinishCorrection(ctx, CorrectionResult{PostID: p.ID, Revision: r1, Channel: "mastodon", State: CorrectionFailed, LastError: "permanent: gone", ErrorKind: "permanent"}, now); err != nil {
		t.Fatal(err)
	}
	hist, err := st.Corrections(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Kind != KindWithdrawal || hist[0].State != CorrectionQueued {
		t.Fatalf("history: %+v", hist)
	}
	c := hist[1]
	if c.State != CorrectionFailed || c.ApprovedBy != "editor" || c.By != "author" || c.Corrected.Title != fixed.Title || !c.Options.Mail ||
		c.Options.Styles["bluesky"] != channels.CorrectByReply || len(c.Changes) != 1 {
		t.Errorf("correction: %+v", c)
	}
	if len(c.Results) != 2 || c.Results[0].Parts[0].RemoteID != "at://reply" || c.Results[1].ErrorKind != "permanent" {
		t.Errorf("results: %+v", c.Results)
	}
	if left, _ := st.UnfinishedCorrections(ctx); len(left) != 1 || left[0].Revision != r2 {
		t.Errorf("unfinished: %+v", left)
	}
	if ok, _ := st.HasWithdrawal(ctx, p.ID); !ok {
		t.Error("HasWithdrawal is false")
	}
	if err := st.SetChanged(ctx, p.ID, &fixed); err != nil {
		t.Fatal(err)
	}
	if now, ok, err := st.Changed(ctx, p.ID); err != nil || !ok || now.Title != fixed.Title {
		t.Errorf("Changed: %v %v %v", now.Title, ok, err)
	}
}
