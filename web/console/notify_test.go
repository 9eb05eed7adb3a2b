package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/post"
)

// notices captures what the console queues and what SendNotice mails.
type notices struct {
	mu     sync.Mutex
	queued []Notice
	mails  []string // "to: subject"
}

func (n *notices) watch(b *bundle) {
	b.c.opts.Notify = func(_ context.Context, x Notice) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.queued = append(n.queued, x)
		return nil
	}
	b.c.opts.AccountMail = func(_ context.Context, to, subject, text string) error {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.mails = append(n.mails, to+": "+subject)
		return nil
	}
}

// last returns the last queued notice, checking its event.
func (n *notices) last(t *testing.T, want NoticeEvent) Notice {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.queued) == 0 || n.queued[len(n.queued)-1].Event != want {
		t.Fatalf("queued notices %+v; want the last one %s", n.queued, want)
	}
	return n.queued[len(n.queued)-1]
}

// send runs SendNotice and returns who got mail, sorted.
func (n *notices) send(t *testing.T, b *bundle, x Notice) []string {
	t.Helper()
	n.mu.Lock()
	n.mails = nil
	n.mu.Unlock()
	if err := b.c.SendNotice(context.Background(), x); err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	var to []string
	for _, m := range n.mails {
		to = append(to, m[:strings.Index(m, ":")])
	}
	slices.Sort(to)
	return to
}

func TestNoticesFollowTheWorkflow(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, func(t *testing.T, driver string) { testNoticesFollowTheWorkflow(t, driver) })
}

func testNoticesFollowTheWorkflow(t *testing.T, driver string) {
	b := setupOn(t, driver)
	var n notices
	n.watch(b)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	editors := []string{"editor@example.org", "owner@example.org"}

	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {"Join us at 6pm."}, "link": {"https://camaca.example/v"}, "action": {"submit"}})
	sub := n.last(t, NoticeSubmitted)
	if got := n.send(t, b, sub); !slices.Equal(got, []string{"editor@example.org", "owner@example.org"}) {
		t.Errorf("submitted: mailed %v, want the editor and the owner (not the author who submitted)", got)
	}
	if !strings.Contains(n.mails[0], `[CAMACA] "Vigil" was submitted for review`) {
		t.Errorf("subject %q", n.mails[0])
	}

	if p := editor.post("/posts/"+id+"/sendback", url.Values{"csrf": {editor.csrf()}, "comment": {"Say where."}}); p.status != http.StatusSeeOther {
		t.Fatalf("send back: %d %s", p.status, p.body)
	}
	if x := n.last(t, NoticeSentBack); x.Detail != "Say where." || !slices.Equal(n.send(t, b, x), []string{"author@example.org"}) {
		t.Errorf("sent back: %+v mailed %v; want the comment, to the author", x, n.mails)
	}

	if p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", p.status)
	}
	approved := n.last(t, NoticeApproved)
	if got := n.send(t, b, approved); !slices.Equal(got, []string{"author@example.org"}) {
		t.Errorf("approved: mailed %v, want the author", got)
	}
	when := b.now.Now().In(b.c.opts.Location).Add(48 * time.Hour).Format("2006-01-02T15:04")
	if p := editor.post("/posts/"+id+"/schedule", url.Values{"csrf": {editor.csrf()}, "revision": {editor.revision(id)}, "schedule_for": {when}}); p.status != http.StatusSeeOther {
		t.Fatalf("schedule: %d %s", p.status, p.body)
	}
	if got := n.send(t, b, n.last(t, NoticeScheduled)); !slices.Equal(got, []string{"author@example.org"}) {
		t.Errorf("scheduled: mailed %v, want the author", got)
	}
	// Sent and failed come from the bot (bot.Options.OnSent, OnFailed).
	sent := Notice{Event: NoticeSent, PostID: id}
	if got := n.send(t, b, sent); !slices.Equal(got, []string{"author@example.org"}) {
		t.Errorf("sent: mailed %v, want the author", got)
	}
	failed := Notice{Event: NoticeFailed, PostID: id, Channel: "mastodon", Detail: "permanent: 401"}
	if got := n.send(t, b, failed); !slices.Equal(got, editors) {
		t.Errorf("failed: mailed %v, want %v", got, editors)
	}

	// The author turns "approved" off on the settings page: no more mail
	// of it, the rest still comes; editors' events are not offered.
	page := author.get("/account/notifications")
	if page.status != http.StatusOK || strings.Contains(page.body, `name="submitted"`) || !strings.Contains(page.body, `name="approved" value="on" checked`) {
		t.Fatalf("the author's settings page: %d %s", page.status, page.body)
	}
	form := url.Values{"csrf": {author.csrf()}, "scheduled": {"on"}, "sent": {"on"}, "sent_back": {"on"}}
	if p := author.post("/account/notifications", form); p.status != http.StatusOK || strings.Contains(p.body, `name="approved" value="on" checked`) {
		t.Fatalf("saving settings: %d %s", p.status, p.body)
	}
	var authorID int64
	users, _ := b.users.List(context.Background())
	for _, u := range users {
		if u.Email == "author@example.org" {
			authorID = u.ID
		}
	}
	if m, _ := b.users.MutedNotices(context.Background(), authorID); m[NoticeSubmitted] || m[NoticeFailed] || !m[NoticeApproved] {
		t.Errorf("the author's saved settings %v: only approved off (editors' events untouched, for a later promotion)", m)
	}
	if got := n.send(t, b, approved); len(got) != 0 {
		t.Errorf("approved after turning it off: mailed %v", got)
	}
	if got := n.send(t, b, sent); !slices.Equal(got, []string{"author@example.org"}) {
		t.Errorf("sent after turning approved off: mailed %v", got)
	}
	// The editor turns failures off; the owner still hears of them.
	if p := editor.post("/account/notifications", url.Values{"csrf": {editor.csrf()}, "submitted": {"on"}}); p.status != http.StatusOK {
		t.Fatalf("editor's settings: %d", p.status)
	}
	if got := n.send(t, b, failed); !slices.Equal(got, []string{"owner@example.org"}) {
		t.Errorf("failed after the editor turned it off: mailed %v", got)
	}
}

// Notices go to the organisers' Discord channel when one is configured,
// mentioning nobody; the webhook's address never appears in an error.
func TestNoticesPostToTheOrganisersDiscord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var got []map[string]any
	status := http.StatusNoContent
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		m["ua"] = r.Header.Get("User-Agent") // Discord refuses any but "DiscordBot (url, version)"
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		w.WriteHeader(status)
	}))
	defer hook.Close()
	secret := hook.URL + "/api/webhooks/1/secret-token"
	b.c.opts.Chats = []Chat{{Name: "discord", Label: "the organisers' Discord channel", Post: DiscordPoster{Webhook: secret, Client: hook.Client()}.Post}}
	p := post.Post{ID: "md:vigil", Title: "Vigil", Source: post.Source{Kind: "markdown", Name: "posts"}}
	if err := b.st.SavePost(context.Background(), p, store.PostPublished, time.Now()); err != nil {
		t.Fatal(err)
	}
	n := Notice{Event: NoticeFailed, PostID: p.ID, Channel: "mastodon", Detail: "permanent: 401"}
	if err := b.c.SendNotice(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(got) != 1 || !strings.Contains(got[0]["content"].(string), `"Vigil" could not be delivered to mastodon`) ||
		!strings.Contains(got[0]["content"].(string), b.srv.URL+"/posts/md:vigil") || got[0]["allowed_mentions"] == nil || !strings.HasPrefix(got[0]["ua"].(string), "DiscordBot (") {
		t.Errorf("Discord got %v", got)
	}
	status = http.StatusUnauthorized
	mu.Unlock()
	err := b.c.SendNotice(context.Background(), n)
	if err == nil || strings.Contains(err.Error(), "secret-token") || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused webhook: %v; want an error with the status and without the address", err)
	}
}

// The navigation counts the posts with a delivery failed for good and
// links to them.
func TestNavigationCountsFailedPosts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	editor := b.browser(t).signedIn("editor@example.org")
	if h := editor.get("/posts").body; strings.Contains(h, "/posts?state=failed\"") {
		t.Fatal("a failure count with no failures")
	}
	now := time.Now()
	for _, id := range []string{"md:a", "md:b"} {
		if err := b.st.SavePost(ctx, post.Post{ID: id, Title: id, Source: post.Source{Kind: "markdown", Name: "posts"}}, store.PostPublished, now); err != nil {
			t.Fatal(err)
		}
		for _, ch := range []string{"mastodon", "discord"} {
			if _, err := b.st.DB().ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`, id, ch, string(store.DeliveryFailed), now); err != nil {
				t.Fatal(err)
			}
		}
	}
	if h := editor.get("/calendar").body; !strings.Contains(h, `<a href="/posts?state=failed" class="badge chip-failed">2 failed</a>`) {
		t.Errorf("the navigation does not say 2 failed posts: %s", h)
	}
}

// A "sent" notice never calls a post sent where it was only saved locally.
func TestSentNoticeSaysWhatWasOnlySavedLocally(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var subjects []string
	b.c.opts.Chats = []Chat{{Name: "chat", Post: func(_ context.Context, m ChatNotice) error {
		subjects = append(subjects, m.Subject)
		return nil
	}}}
	now := time.Now()
	for id, outbox := range map[string][]bool{"md:all": {false, false}, "md:some": {false, true}, "md:none": {true, true}} {
		if err := b.st.SavePost(ctx, post.Post{ID: id, Title: id, Source: post.Source{Kind: "markdown", Name: "posts"}}, store.PostPublished, now); err != nil {
			t.Fatal(err)
		}
		for i, ch := range []string{"bluesky", "mastodon"} {
			if _, err := b.st.DB().ExecContext(ctx, `INSERT INTO deliveries (post_id, channel, state, outbox, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)`,
				id, ch, string(store.DeliverySent), outbox[i], now); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, id := range []string{"md:all", "md:some", "md:none"} {
		if err := b.c.SendNotice(ctx, Notice{Event: NoticeSent, PostID: id}); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{`[CAMACA] "md:all" was sent everywhere`, `[CAMACA] "md:some" was sent; saved locally, not sent, to mastodon`,
		`[CAMACA] "md:none" was saved locally, not sent (no channel can send)`}
	if !slices.Equal(subjects, want) {
		t.Errorf("subjects\n%q\nwant\n%q", subjects, want)
	}
}

// Each person chooses which of their notices go to each organisers' chat,
// apart from mail: a notice is posted unless everyone it is for turned it
// off there; the chat gets the notice's sending ID, the same on a retry.
func TestNoticesGoToTheChatsPeopleChose(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, func(t *testing.T, driver string) { testNoticesGoToTheChatsPeopleChose(t, driver) })
}

func testNoticesGoToTheChatsPeopleChose(t *testing.T, driver string) {
	b := setupOn(t, driver)
	var n notices
	n.watch(b)
	var mu sync.Mutex
	var posted []ChatNotice
	b.c.opts.Chats = []Chat{{Name: "matrix", Label: "the organisers' Matrix room", Post: func(_ context.Context, m ChatNotice) error {
		mu.Lock()
		defer mu.Unlock()
		posted = append(posted, m)
		return nil
	}}}
	// sendTo sends x and returns who got mail and whether the room got it.
	sendTo := func(x Notice) ([]string, *ChatNotice) {
		t.Helper()
		mu.Lock()
		posted = nil
		mu.Unlock()
		mailed := n.send(t, b, x)
		mu.Lock()
		defer mu.Unlock()
		if len(posted) > 1 {
			t.Fatalf("posted %d times: %+v", len(posted), posted)
		}
		if len(posted) == 1 {
			return mailed, &posted[0]
		}
		return mailed, nil
	}
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	owner := b.browser(t).signedIn("owner@example.org")
	id := author.newPost(url.Values{"title": {"Vigil"}, "body": {"Join us at 6pm."}, "link": {"https://camaca.example/v"}, "action": {"submit"}})

	page := author.get("/account/notifications").body
	for _, want := range []string{"<legend>Mail me when</legend>", "<legend>Post to the organisers&#39; Matrix room when</legend>",
		`name="approved" value="on" checked`, `id="notice-matrix:approved" name="matrix:approved" value="on" checked`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the settings page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, `name="matrix:submitted"`) {
		t.Error("an author is offered the editors' events in the room")
	}
	approved := Notice{Event: NoticeApproved, PostID: id, Actor: "editor@example.org", Sending: "job-7"}
	if mailed, m := sendTo(approved); len(mailed) != 1 || m == nil || m.ID != "job-7" || !strings.Contains(m.Subject, `"Vigil" was approved`) || !strings.HasSuffix(m.URL, "/posts/"+id) {
		t.Fatalf("approved: mailed %v, posted %+v; want both, with the sending's ID", mailed, m)
	}
	// The author keeps the mail of approvals and turns the room's off.
	form := url.Values{"csrf": {author.csrf()}, "approved": {"on"}, "scheduled": {"on"}, "sent": {"on"}, "sent_back": {"on"},
		"matrix:scheduled": {"on"}, "matrix:sent": {"on"}, "matrix:sent_back": {"on"}}
	if p := author.post("/account/notifications", form); p.status != http.StatusOK || !strings.Contains(p.body, `name="approved" value="on" checked`) ||
		strings.Contains(p.body, `name="matrix:approved" value="on" checked`) {
		t.Fatalf("saving: %d %s", p.status, p.body)
	}
	if mailed, m := sendTo(approved); len(mailed) != 1 || m != nil {
		t.Errorf("approved, the room's turned off: mailed %v, posted %+v; want mail only", mailed, m)
	}
	if _, m := sendTo(Notice{Event: NoticeSent, PostID: id}); m == nil || !strings.HasPrefix(m.ID, "notice-") {
		t.Errorf("sent without a sending ID: posted %+v; want a new ID", m)
	}
	// A failure is posted while one editor or owner still wants it there.
	failed := Notice{Event: NoticeFailed, PostID: id, Channel: "mastodon", Detail: "permanent: 401"}
	off := func(br *browser) {
		t.Helper()
		if p := br.post("/account/notifications", url.Values{"csrf": {br.csrf()}, "failed": {"on"}}); p.status != http.StatusOK {
			t.Fatalf("saving: %d", p.status)
		}
	}
	off(editor)
	if mailed, m := sendTo(failed); len(mailed) != 2 || m == nil {
		t.Errorf("failed, the editor turned the room's off: mailed %v, posted %+v; want both mailed and posted for the owner", mailed, m)
	}
	off(owner)
	if mailed, m := sendTo(failed); len(mailed) != 2 || m != nil {
		t.Errorf("failed, everyone turned the room's off: mailed %v, posted %+v; want mail only", mailed, m)
	}
}

// The owners' Setup page says whether notices go to a Matrix room, which
// one, and how to set one up.
func TestSetupSaysHowMatrixNoticesAreSet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.browser(t).signedIn("owner@example.org")
	page := owner.get("/setup").body
	for _, want := range []string{"Matrix notices", "Not set up: notices are not posted there.", "invite it to the room",
		"config.yaml, console.notify.matrix: homeserver, room (its ID or alias) and access_token: ${ORGANISERS_MATRIX_TOKEN}"} {
		if !strings.Contains(page, want) {
			t.Errorf("without Matrix, the Setup page lacks %q", want)
		}
	}
	b.c.opts.Chats = []Chat{{Name: "matrix", Label: "the organisers' Matrix room", Where: "#organisers:example.org on https://matrix.example.org"}}
	page = owner.get("/setup").body
	if !strings.Contains(page, "Notices are posted to the organisers&#39; Matrix room, #organisers:example.org on https://matrix.example.org, as each person chooses on Notifications.") ||
		strings.Contains(page, "invite it to the room") {
		t.Errorf("with Matrix, the Setup page says:\n%s", page)
	}
}
