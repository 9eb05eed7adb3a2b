package threads_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/threads"
	"github.com/crierhq/crier/channels/threads/threadstest"
	"github.com/crierhq/crier/post"
)

// failNth answers the n-th container request (POST .../threads) with a
// bare 500: a passing failure in the middle of a chain.
type failNth struct {
	mu     sync.Mutex
	n      int // countdown; 0: off
	status int // 0: 500
}

func (f *failNth) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	fail := false
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/threads") && f.n > 0 {
		f.n--
		fail = f.n == 0
	}
	status := cmp.Or(f.status, 500)
	f.mu.Unlock()
	if fail {
		body := `{"error":{"message":"(#100) THREADS_API__LINK_LIMIT_EXCEEDED","type":"OAuthException","code":100}}`
		return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{"Content-Type": {"application/json"}}, Request: r}, nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

// sent is the delivery of p, its ledger's parts.
func (b *bundle) sent(t *testing.T, p post.Post) []channels.Part {
	t.Helper()
	l := &ledger{}
	if _, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1, Ledger: l}, b.format(t, p)); err != nil {
		t.Fatal(err)
	}
	return l.parts
}

func ids(posts []threadstest.Post) map[string]bool {
	m := map[string]bool{}
	for _, p := range posts {
		m[p.ID] = true
	}
	return m
}

// A repost cut short by a passing failure and retried publishes each part
// of the corrected chain once, and the old chain is gone at the end.
func TestRetriedRepostPostsEachPartOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	parts := b.sent(t, vigil)
	fl := &failNth{}
	s, err := threads.NewSender(b.cfg, channels.Env{HTTPClient: &http.Client{Transport: fl}}, threads.SenderOptions{PollEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	fixed := vigil
	fixed.Title = "Vigil on Friday at eight"
	pl := b.format(t, fixed)
	if len(pl.Body.(threads.Chain)) < 3 {
		t.Fatal("the test needs a chain of 3 posts or more")
	}
	fl.n = 3 // the third post's container
	c := channels.Correction{PostID: vigil.ID, Channel: "threads", Revision: 1, Attempt: 1, Parts: parts, Style: channels.CorrectByRepost}
	if _, err := s.Correct(context.Background(), c, pl); err == nil {
		t.Fatal("the first attempt succeeded despite the failure")
	}
	c.Attempt = 2
	res, err := s.Correct(context.Background(), c, pl)
	if err != nil {
		t.Fatal(err)
	}
	posts := b.fake.Posts()
	if len(posts) != len(parts) {
		for _, p := range posts {
			t.Logf("%s reply_to=%s %.40q", p.ID, p.ReplyTo, p.Text)
		}
		t.Fatalf("the account holds %d posts, want the %d of the corrected chain", len(posts), len(parts))
	}
	now := ids(posts)
	for _, r := range res {
		if r.Outcome == channels.OutcomeReposted && !now[r.RemoteID] {
			t.Errorf("reposted part %d (%s) is not on the account", r.Index, r.RemoteID)
		}
	}
}

// A repost Threads refuses for good leaves the old chain up.
func TestRefusedRepostKeepsTheOldChain(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	parts := b.sent(t, vigil)
	b.fake.FailNext("POST user/threads", threadstest.Answer{Status: 400, Code: 100, Message: "(#100) THREADS_API__LINK_LIMIT_EXCEEDED"})
	_, err := b.s.Correct(context.Background(), channels.Correction{PostID: vigil.ID, Channel: "threads", Revision: 1, Attempt: 1, Parts: parts, Style: channels.CorrectByRepost}, b.format(t, vigil))
	if k, _ := channels.Classify(err); k != channels.KindPermanent {
		t.Fatalf("%v (%s)", err, k)
	}
	now := ids(b.fake.Posts())
	for _, p := range parts {
		if !now[p.RemoteID] {
			t.Errorf("post %d (%s) was deleted though its correction was refused", p.Index+1, p.RemoteID)
		}
	}
}

// A repost refused for good part-way deletes the part of the new chain it
// posted: the old chain stays, alone.
func TestRepostRefusedPartWayTakesItsPostsBack(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	parts := b.sent(t, vigil)
	fl := &failNth{n: 3, status: 400}
	s, err := threads.NewSender(b.cfg, channels.Env{HTTPClient: &http.Client{Transport: fl}}, threads.SenderOptions{PollEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	fixed := vigil
	fixed.Title = "Vigil on Friday at eight"
	res, err := s.Correct(context.Background(), channels.Correction{PostID: vigil.ID, Channel: "threads", Revision: 1, Attempt: 1, Parts: parts, Style: channels.CorrectByRepost}, b.format(t, fixed))
	if k, _ := channels.Classify(err); k != channels.KindPermanent {
		t.Fatalf("%v (%s)", err, k)
	}
	posts := b.fake.Posts()
	now := ids(posts)
	for _, p := range parts {
		if !now[p.RemoteID] {
			t.Errorf("old post %d is gone", p.Index+1)
		}
	}
	if len(posts) != len(parts) {
		t.Errorf("the account holds %d posts, want the old chain's %d: %+v", len(posts), len(parts), res)
	}
}

// A repost whose old chain cannot be deleted keeps the new chain and
// says what is left to delete by hand.
func TestRepostThatCannotDeleteSaysSo(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	parts := b.sent(t, vigil)
	b.fake.SetScopes("threads_basic", "threads_content_publish", "threads_manage_replies", "threads_read_replies")
	res, err := b.s.Correct(context.Background(), channels.Correction{PostID: vigil.ID, Channel: "threads", Revision: 1, Attempt: 1, Parts: parts, Style: channels.CorrectByRepost}, b.format(t, vigil))
	if err != nil {
		t.Fatal(err)
	}
	reposted, noted := 0, false
	for _, r := range res {
		if r.Outcome == channels.OutcomeReposted {
			reposted++
		}
		noted = noted || strings.Contains(r.Note, "threads_delete")
	}
	if reposted != len(parts) || !noted {
		t.Fatalf("%d reposted, a note naming threads_delete: %v: %+v", reposted, noted, res)
	}
}

// A correction by reply of the link carries the corrected link; a later
// correction with the same note is a reply of its own.
func TestCorrectionReplyCarriesTheNewLink(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	p := post.Post{ID: "md:short", Title: "Vigil", Body: "At seven.", Link: "https://camaca.example/wrong"}
	parts := b.sent(t, p)
	ctx := context.Background()
	for rev, link := range []string{"https://camaca.example/right", "https://camaca.example/really-right"} {
		p.Link = link
		res, err := b.s.Correct(ctx, channels.Correction{PostID: p.ID, Channel: "threads", Revision: rev + 1, Attempt: 1, Parts: parts, Style: channels.CorrectByReply, Note: "the link was wrong"}, b.format(t, p))
		if err != nil || len(res) != 1 {
			t.Fatalf("correction %d: %+v, %v", rev+1, res, err)
		}
		reply, ok := b.fake.Post(res[0].RemoteID)
		if !ok || reply.Link != link {
			t.Fatalf("correction %d: the reply %+v does not carry %s", rev+1, reply, link)
		}
	}
	if n := len(b.fake.Posts()); n != 3 {
		t.Fatalf("the account holds %d posts, want the post and two replies", n)
	}
}

// The first attempt of a correction by reply does not read back, so a
// token without threads_read_replies corrects; a retry that cannot read
// back names the permission, and a chain whose last post is gone says so.
func TestCorrectionReplyReadsBackOnlyOnRetry(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	p := post.Post{ID: "md:short", Title: "Vigil", Body: "At seven."}
	parts := b.sent(t, p)
	ctx := context.Background()
	b.fake.SetScopes("threads_basic", "threads_content_publish", "threads_manage_replies", "threads_delete")
	c := channels.Correction{PostID: p.ID, Channel: "threads", Revision: 1, Attempt: 1, Parts: parts, Style: channels.CorrectByReply, Note: "eight, not seven"}
	if _, err := b.s.Correct(ctx, c, b.format(t, p)); err != nil {
		t.Fatalf("first attempt: %v", err)
	}
	c.Revision, c.Attempt = 2, 2
	_, err := b.s.Correct(ctx, c, b.format(t, p))
	if k, _ := channels.Classify(err); k != channels.KindPermanent || channels.IsUnverifiable(err) || !strings.Contains(err.Error(), "threads_read_replies") {
		t.Fatalf("retry without threads_read_replies: %v (%s)", err, k)
	}

	gone := setup(t, threads.SenderOptions{}, false)
	parts = gone.sent(t, vigil)
	last := parts[len(parts)-1]
	if _, err := gone.s.Withdraw(ctx, channels.Withdrawal{Parts: []channels.Part{{RemoteID: last.RemoteID}}}); err != nil {
		t.Fatal(err)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		_, err := gone.s.Correct(ctx, channels.Correction{PostID: vigil.ID, Channel: "threads", Revision: 1, Attempt: attempt, Parts: parts, Style: channels.CorrectByReply, Note: "eight"}, gone.format(t, vigil))
		if k, _ := channels.Classify(err); k != channels.KindPermanent || channels.IsUnverifiable(err) || !strings.Contains(err.Error(), "no longer on Threads") {
			t.Fatalf("attempt %d to a deleted post: %v (%s)", attempt, err, k)
		}
	}
}

// A part with more than Threads' 5 links keeps 5 (the link attachment
// first) and writes the others as plain text, with a warning; the chain
// then goes out whole.
func TestLinksOverTheLimitArePlainText(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	var body strings.Builder
	for i := range 6 {
		fmt.Fprintf(&body, "Sign petition %d at https://camaca.example/p%d today. ", i, i)
	}
	p := post.Post{ID: "md:links", Title: "Six petitions", Body: body.String(), Link: "https://camaca.example/news"}
	pl := b.format(t, p)
	if !slices.ContainsFunc(pl.Warnings, func(w string) bool { return strings.Contains(w, "5 links") }) {
		t.Errorf("no warning about the link limit: %q", pl.Warnings)
	}
	if _, err := b.send(t, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1}, pl); err != nil {
		t.Fatal(err)
	}
	first := b.fake.Posts()[0]
	if first.Link != p.Link || !strings.Contains(first.Text, "https://camaca.example/p3") || strings.Contains(first.Text, "https://camaca.example/p4") ||
		!strings.Contains(first.Text, "camaca[.]example/p4") || !strings.Contains(first.Text, "camaca[.]example/p5") {
		t.Fatalf("the first post: link %q, text %q", first.Link, first.Text)
	}
}

// The container wait ends before the attempt's own deadline, with the
// documented message (a Temporary error: the next attempt makes a new
// container), not with the attempt cut off mid-wait.
func TestContainerWaitEndsBeforeTheAttemptsDeadline(t *testing.T) {
	t.Parallel()
	b := setup(t, threads.SenderOptions{}, false)
	b.fake.ReadyAfter(1 << 30)
	p := post.Post{ID: "md:short", Title: "Vigil", Body: "At seven."}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err := b.s.Send(ctx, channels.Delivery{PostID: p.ID, Channel: "threads", Attempt: 1, Ledger: &ledger{}}, b.format(t, p))
	if k, _ := channels.Classify(err); k != channels.KindTemporary || !strings.Contains(err.Error(), "had not prepared the post") || ctx.Err() != nil {
		t.Fatalf("%v (%s), context: %v", err, k, ctx.Err())
	}
}
