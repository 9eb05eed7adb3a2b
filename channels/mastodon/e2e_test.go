package mastodon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/config/secret"
	"github.com/crierhq/crier/contentfetch"
	"github.com/crierhq/crier/internal/testpeers/gotosocial"
	"github.com/crierhq/crier/post"
)

// loseStatus lets the nth (from 0) POST /api/v1/statuses reach the server
// and then throws its answer away, as when a connection drops after the
// server acted.
type loseStatus struct {
	base http.RoundTripper
	nth  int
	mu   sync.Mutex
	seen int
}

func (l *loseStatus) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(req)
	if err != nil || req.Method != http.MethodPost || req.URL.Path != "/api/v1/statuses" {
		return resp, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen++
	if l.seen-1 != l.nth {
		return resp, nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil, errors.New("read tcp: connection reset by peer")
}

// TestGoToSocial publishes to a real GoToSocial (v0.19.2, 500 characters)
// and reads the statuses back.
func TestGoToSocial(t *testing.T) {
	t.Parallel()
	gts := gotosocial.StartT(t, gotosocial.Options{MaxChars: 500})
	user := gts.NewUser(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	reader := gomastodon.NewClient(&gomastodon.Config{Server: gts.URL, AccessToken: user.Token})
	cfg := Config{Instance: gts.URL, Token: secret.Secret(user.Token), Visibility: "public", Language: "en"}
	env := channels.Env{HTTPClient: &http.Client{Timeout: 30 * time.Second}, DataDir: t.TempDir()}

	p := longPost()
	p.ID = "md:e2e"
	p.Body = sampleBody(t)

	readBack := func(t *testing.T, id string) *gomastodon.Status {
		t.Helper()
		st, err := reader.GetStatus(ctx, gomastodon.ID(id))
		if err != nil {
			t.Fatalf("reading status %s back: %v", id, err)
		}
		return st
	}
	// countStatuses counts the account's statuses from its timeline
	// (statuses_count lags behind on GoToSocial).
	countStatuses := func(t *testing.T) int {
		t.Helper()
		acct, err := reader.GetAccountCurrentUser(ctx)
		if err != nil {
			t.Fatal(err)
		}
		list, err := reader.GetAccountStatuses(ctx, acct.ID, &gomastodon.Pagination{Limit: 40})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 40 {
			t.Fatal("the account has too many statuses to count in one page")
		}
		return len(list)
	}
	hasLink := func(st *gomastodon.Status) bool {
		_, links := fingerprintHTML(st.Content)
		return containsAll(links, []string{p.Link})
	}

	t.Run("limits", func(t *testing.T) {
		f, _, err := New(ctx, cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		if l := f.(*Formatter).limits(); l.MaxCharacters != 500 || !l.CountRunes {
			t.Errorf("limits = %+v, want 500 counted as code points", l)
		}
	})

	t.Run("shortened", func(t *testing.T) {
		f, s, err := New(ctx, cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := f.Format(p)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: Name, Attempt: 1, Ledger: &ledger{}}, pl)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		st := readBack(t, rc.RemoteID)
		if !hasLink(st) || st.SpoilerText != p.ContentWarning || !strings.Contains(st.Content, "…") {
			t.Errorf("read back: spoiler %q, content %s", st.SpoilerText, st.Content)
		}
		if rc.RemoteURL == "" {
			t.Error("no remote URL in the receipt")
		}
	})

	t.Run("thread", func(t *testing.T) {
		tcfg := cfg
		tcfg.Thread = true
		f, s, err := New(ctx, tcfg, env)
		if err != nil {
			t.Fatal(err)
		}
		pl, err := f.Format(p)
		if err != nil {
			t.Fatal(err)
		}
		want := pl.Body.(Statuses)
		if len(want) < 3 {
			t.Fatalf("only %d parts", len(want))
		}
		l := &ledger{}
		if _, err := s.Send(ctx, channels.Delivery{PostID: p.ID + "-thread", Channel: Name, Attempt: 1, Ledger: l}, pl); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if len(l.parts) != len(want) {
			t.Fatalf("%d parts recorded, want %d", len(l.parts), len(want))
		}
		for i, part := range l.parts {
			st := readBack(t, part.RemoteID)
			if st.SpoilerText != p.ContentWarning {
				t.Errorf("part %d: spoiler %q", i+1, st.SpoilerText)
			}
			if i == 0 && !hasLink(st) {
				t.Errorf("part 1 lost the link: %s", st.Content)
			}
			if i > 0 && st.InReplyToID != l.parts[i-1].RemoteID {
				t.Errorf("part %d replies to %v, want %s", i+1, st.InReplyToID, l.parts[i-1].RemoteID)
			}
			words, _ := fingerprintHTML(st.Content)
			if words != fingerprintText(want[i].Status).words {
				t.Errorf("part %d text differs:\n got %s\nwant %s", i+1, st.Content, want[i].Status)
			}
		}
	})

	t.Run("image", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "poster.png")
		if err := os.WriteFile(file, pngBytes(t), 0o644); err != nil {
			t.Fatal(err)
		}
		f, s, err := New(ctx, cfg, env)
		if err != nil {
			t.Fatal(err)
		}
		ip := post.Post{ID: "md:image", Title: "Our new poster", Link: p.Link, ContentWarning: "trafficking",
			Image: &post.Image{File: file, Alt: "A poster: children's hands holding a red thread"}}
		pl, err := f.Format(ip)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := s.Send(ctx, channels.Delivery{PostID: ip.ID, Channel: Name, Attempt: 1, Ledger: &ledger{}}, pl)
		if err != nil {
			t.Fatalf("Send: %v", err)
		}
		st := readBack(t, rc.RemoteID)
		if len(st.MediaAttachments) != 1 || st.MediaAttachments[0].Description != ip.Image.Alt {
			t.Fatalf("media read back: %+v", st.MediaAttachments)
		}
		if !st.Sensitive {
			t.Error("image behind a content warning is not marked sensitive")
		}
	})

	t.Run("image from a URL, and one that cannot be fetched", func(t *testing.T) {
		data := pngBytes(t)
		images := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/ok.png" {
				w.Write(data)
				return
			}
			http.NotFound(w, r)
		}))
		defer images.Close()
		// The image server runs here, so it is allowed as an intranet one.
		ienv := env
		ienv.Content = contentfetch.New(contentfetch.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
		f, s, err := New(ctx, cfg, ienv)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			path  string
			media int
		}{{"/ok.png", 1}, {"/gone.png", 0}} {
			ip := post.Post{ID: "md:url-image" + tc.path, Title: "Chart " + tc.path, Link: p.Link,
				Image: &post.Image{URL: images.URL + tc.path, Alt: "Chart: victims 2010-2024"}}
			pl, err := f.Format(ip)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := s.Send(ctx, channels.Delivery{PostID: ip.ID, Channel: Name, Attempt: 1, Ledger: &ledger{}}, pl)
			if err != nil {
				t.Fatalf("%s: Send: %v", tc.path, err)
			}
			st := readBack(t, rc.RemoteID)
			if len(st.MediaAttachments) != tc.media {
				t.Errorf("%s: %d media read back, want %d", tc.path, len(st.MediaAttachments), tc.media)
			}
			if tc.media == 1 && st.MediaAttachments[0].Description != ip.Image.Alt {
				t.Errorf("%s: alt text %q", tc.path, st.MediaAttachments[0].Description)
			}
			if tc.media == 0 && (len(rc.Notes) != 1 || !strings.Contains(rc.Notes[0], "404")) {
				t.Errorf("%s: notes %q", tc.path, rc.Notes)
			}
		}
	})

	for _, nth := range []int{0, 1} {
		t.Run(fmt.Sprintf("lost response to part %d is not posted twice", nth+1), func(t *testing.T) {
			// The same account as above: a title of its own keeps the check
			// for earlier statuses from taking another subtest's for this one.
			lp := p
			lp.Title = fmt.Sprintf("Lost answer %d: %s", nth+1, p.Title)
			before := countStatuses(t)
			lcfg := cfg
			lcfg.Thread = true
			lossy := &loseStatus{base: http.DefaultTransport, nth: nth}
			lenv := env
			lenv.HTTPClient = &http.Client{Transport: lossy, Timeout: 30 * time.Second}
			f, s, err := New(ctx, lcfg, lenv)
			if err != nil {
				t.Fatal(err)
			}
			pl, err := f.Format(lp)
			if err != nil {
				t.Fatal(err)
			}
			n := len(pl.Body.(Statuses))
			l := &ledger{}
			d := channels.Delivery{PostID: fmt.Sprintf("%s-lost-%d", p.ID, nth), Channel: Name, Attempt: 1, Ledger: l}
			_, err = s.Send(ctx, d, pl)
			if k, _ := channels.Classify(err); k != channels.KindAmbiguous {
				t.Fatalf("first attempt: %v (%v), want ambiguous", err, k)
			}
			d.Attempt, d.PreviousUnknown = 2, true
			if _, err := s.Send(ctx, d, pl); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if got := countStatuses(t) - before; got != n {
				t.Errorf("%d new statuses on the account, want %d (the lost one was posted twice?)", got, n)
			}
			if len(l.parts) != n {
				t.Errorf("%d parts recorded, want %d", len(l.parts), n)
			}
			for i, part := range l.parts {
				if part.Index != i || part.RemoteID == "" {
					t.Errorf("ledger: %+v", l.parts)
				}
			}
		})
	}
}
