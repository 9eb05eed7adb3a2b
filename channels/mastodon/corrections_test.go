package mastodon

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
	"github.com/crierhq/crier/post"
)

// TestCorrectThreadOnGoToSocial edits every part of a thread with a picture
// on a real GoToSocial: text, content warning, language and the picture's
// description read back, each part has one edit in its history, and the
// same correction again changes nothing. A correction that needs another
// number of statuses is refused in plain words; a withdrawal deletes every
// part.
func TestCorrectThreadOnGoToSocial(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user := gts.NewUser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	cfg := Config{Instance: gts.URL, Token: secret.Secret(user.Token), Visibility: "public", Language: "en", Thread: true}
	f, s, err := New(ctx, cfg, channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second}, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "poster.png")
	if err := os.WriteFile(file, pngBytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	p := longPost()
	p.Image = &post.Image{File: file, Alt: "A poster: hands holding a red thread"}
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{}
	if _, err := s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: l}, pl); err != nil {
		t.Fatal(err)
	}
	parts, _ := l.Parts(ctx)
	if len(parts) < 2 {
		t.Fatalf("%d parts, want a thread", len(parts))
	}

	fixed := p
	fixed.ContentWarning = "trafficking"
	fixed.Language = "fr"
	fixed.Body = strings.ReplaceAll(p.Body, "quadrupled", "tripled")
	fixed.Image = &post.Image{File: file, Alt: "A poster: two hands holding a red thread"}
	fpl, err := f.Format(fixed)
	if err != nil {
		t.Fatal(err)
	}
	c := channels.Correction{PostID: p.ID, Channel: Name, Revision: 1, Parts: parts, Note: "tripled, not quadrupled"}
	for round, want := range []channels.Outcome{channels.OutcomeEdited, channels.OutcomeUnchanged} {
		res, err := s.(channels.Corrector).Correct(ctx, c, fpl)
		if err != nil {
			t.Fatalf("correction %d: %v", round+1, err)
		}
		for _, r := range res {
			if r.Outcome != want {
				t.Errorf("correction %d, part %d: %s, want %s", round+1, r.Index+1, r.Outcome, want)
			}
		}
		for i, part := range parts {
			st, err := reader.GetStatus(ctx, gomastodon.ID(part.RemoteID))
			if err != nil {
				t.Fatal(err)
			}
			if st.SpoilerText != "trafficking" || st.Language != "fr" || strings.Contains(st.Content, "quadrupled") {
				t.Errorf("part %d reads %q / %q / %q", i+1, st.SpoilerText, st.Language, st.Content)
			}
			if i == 0 && (len(st.MediaAttachments) != 1 || st.MediaAttachments[0].Description != fixed.Image.Alt) {
				t.Errorf("the picture reads back as %+v", st.MediaAttachments)
			}
			hist, err := reader.GetStatusHistory(ctx, gomastodon.ID(part.RemoteID))
			if err != nil {
				t.Fatal(err)
			}
			if len(hist) != 2 {
				t.Errorf("after correction %d, part %d has %d revisions, want the post and one edit", round+1, i+1, len(hist))
			}
		}
	}

	short := p
	short.Body = "Short now."
	spl, err := f.Format(short)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.(channels.Corrector).Correct(ctx, channels.Correction{PostID: p.ID, Channel: Name, Revision: 2, Parts: parts}, spl)
	if k, _ := channels.Classify(err); k != channels.KindPermanent || !strings.Contains(err.Error(), "cannot change a thread's length") {
		t.Errorf("a correction of another length: %v", err)
	}

	res, err := s.(channels.Withdrawer).Withdraw(ctx, channels.Withdrawal{PostID: p.ID, Channel: Name, Parts: parts})
	if err != nil || len(res) != len(parts) {
		t.Fatalf("withdraw: %+v %v", res, err)
	}
	// GoToSocial finishes a deletion in the background.
	for _, part := range parts {
		testnet.WaitFor(t, "status "+part.RemoteID+" to be gone", 30*time.Second, func() bool {
			_, err := reader.GetStatus(ctx, gomastodon.ID(part.RemoteID))
			return err != nil
		})
	}
}
