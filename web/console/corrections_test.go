package console

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierhq/crier/bot/store"
	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/post"
)

// fakeCorrections stands in for the daemon's corrections (the engine's
// tests and the end-to-end test in cmd/crier run the real one): it records
// what the console asked for and answers with what a test set.
type fakeCorrections struct {
	mu        sync.Mutex
	options   []CorrectionChannel
	requests  []CorrectionRequest
	approved  []string
	withdrawn []WithdrawRequest
	history   []CorrectionRecord
	changed   bool
	now       post.Post
	refuse    error // Correct, Approve and Withdraw answer it when set
	clock     func() time.Time
}

func (f *fakeCorrections) Options(ctx context.Context, postID string) ([]CorrectionChannel, error) {
	return f.options, nil
}

func (f *fakeCorrections) Correct(ctx context.Context, r CorrectionRequest) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return 0, f.refuse
	}
	f.requests = append(f.requests, r)
	rec := CorrectionRecord{Kind: "correction", Revision: len(f.requests), By: r.By, At: f.clock(), Note: r.Note, State: "queued"}
	if r.Pending {
		rec.State = stateAwaitingApproval
	}
	for _, ch := range r.Channels {
		rec.Results = append(rec.Results, CorrectionResult{Channel: ch, State: "queued"})
	}
	corrected := r.Corrected
	rec.Corrected = &corrected
	f.history = append([]CorrectionRecord{rec}, f.history...)
	return rec.Revision, nil
}

func (f *fakeCorrections) Approve(ctx context.Context, postID string, revision int, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	f.approved = append(f.approved, postID+"#"+itoa(revision)+" by "+by)
	for i := range f.history {
		if f.history[i].Revision == revision {
			f.history[i].State = "queued"
		}
	}
	return nil
}

func (f *fakeCorrections) Withdraw(ctx context.Context, r WithdrawRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse != nil {
		return f.refuse
	}
	f.withdrawn = append(f.withdrawn, r)
	return nil
}

func (f *fakeCorrections) History(ctx context.Context, postID string) ([]CorrectionRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.history), nil
}

func (f *fakeCorrections) Changed(ctx context.Context, postID string) (bool, post.Post, error) {
	return f.changed, f.now, nil
}

// CorrectionMail draws the correction mail (CorrectionMailPreviewer).
func (f *fakeCorrections) CorrectionMail(ctx context.Context, r CorrectionRequest) (channels.PreviewCard, error) {
	return channels.PreviewCard{Mail: &channels.PreviewMail{Subject: "Correction: " + r.Corrected.Title, HTML: "<p>" + r.Note + "</p>"}}, nil
}

// withCorrections gives the bundle's console a fake Corrections with the
// channels a campaign has: Mastodon edits, Discord has no id, Bluesky
// offers a choice and the newsletter a correction mail.
func withCorrections(b *bundle) *fakeCorrections {
	f := &fakeCorrections{options: []CorrectionChannel{
		{Channel: "mastodon", Type: "mastodon", CanCorrect: true, CanWithdraw: true, How: "The toots are edited in place.", WithdrawHow: "The toots are deleted."},
		{Channel: "discord", Type: "discord", Refusal: "No message id is known: the post was sent before Crier kept them. Change it by hand in Discord."},
		{Channel: "bluesky", Type: "bluesky", CanCorrect: true, CanWithdraw: true, How: "Bluesky cannot edit a post.",
			Styles: []channels.CorrectionStyle{channels.CorrectByReply, channels.CorrectByRepost}},
		{Channel: "email", Type: "email", CanCorrect: true, How: "The archive copy is corrected.", MailOptional: true, Recipients: 240},
	}}
	f.clock = b.now.Now
	b.c.opts.Corrections = f
	return f
}

// publishedPost is a post the author wrote and an editor approved and
// published through the console.
func publishedPost(t *testing.T, author, editor *browser) string {
	t.Helper()
	id := author.newPost(url.Values{"title": {"Vigil on Friday"}, "body": {"Join us at 6pm at the town hall."},
		"link": {"https://camaca.example/vigil"}, "action": {"submit"}})
	tok := editor.csrf()
	if p := editor.post("/posts/"+id+"/approve", url.Values{"csrf": {tok}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("approving: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/publish", url.Values{"csrf": {tok}, "revision": {editor.revision(id)}}); p.status != http.StatusSeeOther {
		t.Fatalf("publishing: %d %s", p.status, p.body)
	}
	return id
}

var hiddenRe = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields are a page's hidden form fields (the review's confirm form).
func hiddenFields(body string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRe.FindAllStringSubmatch(body, -1) {
		v.Add(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// correctionForm is the correction form as the page prefills it, with
// the changes given.
func correctionForm(t *testing.T, br *browser, id string, change url.Values) url.Values {
	t.Helper()
	p := br.get("/posts/" + id + "/correct")
	if p.status != http.StatusOK {
		t.Fatalf("the correction form: %d %s", p.status, p.body)
	}
	form := hiddenFields(p.body)
	form.Set("title", fieldValue(t, p.body, "title"))
	form.Set("link", fieldValue(t, p.body, "link"))
	form.Set("body", html.UnescapeString(regexp.MustCompile(`(?s)<textarea id="body"[^>]*>(.*?)</textarea>`).FindStringSubmatch(p.body)[1]))
	form.Set("step", "review")
	for k, vs := range change {
		form[k] = vs
	}
	return form
}

func fieldValue(t *testing.T, body, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<input id="` + name + `" name="` + name + `"[^>]* value="([^"]*)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no field %s", name)
	}
	return html.UnescapeString(m[1])
}

func TestCorrectEverywhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := withCorrections(b)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := publishedPost(t, author, editor)

	page := editor.get("/posts/" + id).body
	for _, want := range []string{`href="/posts/` + id + `/correct">Correct everywhere</a>`, `href="/posts/` + id + `/withdraw">Withdraw everywhere…</a>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the published post's page lacks %s", want)
		}
	}
	// The form is the write form, prefilled, with the note and each
	// channel's choices in plain words.
	form := editor.get("/posts/" + id + "/correct").body
	for _, want := range []string{`value="Vigil on Friday"`, "Join us at 6pm at the town hall.", `<label for="note">What was corrected</label>`,
		"The toots are edited in place.", "Discord: cannot be corrected by Crier", "Change it by hand in Discord.",
		`value="reply" checked`, "its likes, reposts and replies stay", "its likes, reposts, replies and quotes are lost",
		"Also send a short correction mail to the 240 supporters who received it", `<label for="alt">Alt text</label>`} {
		if !strings.Contains(form, want) {
			t.Errorf("the correction form lacks %q", want)
		}
	}
	if strings.Contains(form, `value="discord"`) {
		t.Error("the form offers to correct Discord, which refuses")
	}

	// Review: each channel's preview of what went out beside the corrected one.
	v := correctionForm(t, editor, id, url.Values{"body": {"Join us at 7pm at the town hall."}, "note": {"The vigil starts at 7pm, not 6pm."},
		"channel": {"mastodon", "bluesky", "email"}, "style_bluesky": {"repost"}, "mail": {"yes"}})
	p := editor.post("/posts/"+id+"/correct", v)
	if p.status != http.StatusOK {
		t.Fatalf("review: %d %s", p.status, p.body)
	}
	went, corrected := between(p.body, "What went out", "Corrected"), between(p.body, ">Corrected<", "</section>")
	if !strings.Contains(went, "6pm") || strings.Contains(went, "7pm") || !strings.Contains(corrected, "7pm") {
		t.Errorf("the previews side by side:\nwent out: %s\ncorrected: %s", went, corrected)
	}
	for _, want := range []string{"Correct on Mastodon, Bluesky and Email, and mail 240 supporters", "Chosen:</strong> Delete it and post the corrected version again",
		"The correction mail, to 240 supporters", "Correction: Vigil on Friday", "<strong>Discord</strong>: No message id is known"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the review lacks %q", want)
		}
	}
	if len(f.requests) != 0 {
		t.Fatal("the review queued a correction")
	}
	// Confirmed: the correction goes to the daemon as reviewed.
	confirm := hiddenFields(p.body)
	confirm.Set("confirm", "yes")
	p = editor.post("/posts/"+id+"/correct", confirm)
	if p.status != http.StatusSeeOther || !strings.Contains(p.loc, "done=corrected") {
		t.Fatalf("confirming: %d %s %s", p.status, p.loc, p.body)
	}
	if len(f.requests) != 1 {
		t.Fatalf("%d corrections queued", len(f.requests))
	}
	r := f.requests[0]
	if r.PostID != id || r.Corrected.Body != "Join us at 7pm at the town hall." || r.Corrected.Title != "Vigil on Friday" || r.Note != "The vigil starts at 7pm, not 6pm." ||
		!slices.Equal(r.Channels, []string{"mastodon", "bluesky", "email"}) || r.Styles["bluesky"] != channels.CorrectByRepost || !r.Mail ||
		r.By != "editor@example.org" || r.Pending || r.Corrected.Link != "https://camaca.example/vigil" {
		t.Fatalf("the correction asked for: %+v", r)
	}
	// Edit points to Correct everywhere.
	if p := editor.get("/posts/" + id + "/edit"); p.status != http.StatusForbidden || !strings.Contains(p.body, "use Correct everywhere on its page") {
		t.Errorf("editing the published post: %d", p.status)
	}
	// The history says who, when, what and each channel's state.
	page = editor.get("/posts/" + id + "?done=corrected").body
	for _, want := range []string{"Correction queued.", "Corrections and withdrawals", "Correction 1", "editor@example.org",
		"<q>The vigil starts at 7pm, not 6pm.</q>", "<strong>Mastodon</strong>: <span class=\"chip chip-queued\">queued</span>",
		"correction queued (revision 1, on mastodon, bluesky, email: The vigil starts at 7pm, not 6pm.)"} {
		if !strings.Contains(page, want) {
			t.Errorf("the post page lacks %q", want)
		}
	}
}

// section is the part of s from the first from to the next to after it.
func between(s, from, to string) string {
	_, rest, _ := strings.Cut(s, from)
	out, _, _ := strings.Cut(rest, to)
	return out
}

func TestAuthorsCorrectionWaitsForAnEditor(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := withCorrections(b)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := publishedPost(t, author, editor)

	v := correctionForm(t, author, id, url.Values{"body": {"Join us at 7pm."}, "note": {"7pm, not 6pm."}, "channel": {"mastodon"}})
	p := author.post("/posts/"+id+"/correct", v)
	if !strings.Contains(p.body, "Send the correction on Mastodon to an editor") {
		t.Fatalf("the author's review does not say an editor approves it: %d %s", p.status, p.body)
	}
	confirm := hiddenFields(p.body)
	confirm.Set("confirm", "yes")
	if p := author.post("/posts/"+id+"/correct", confirm); p.status != http.StatusSeeOther || !strings.Contains(p.loc, "correction-submitted") {
		t.Fatalf("submitting: %d %s", p.status, p.loc)
	}
	if len(f.requests) != 1 || !f.requests[0].Pending {
		t.Fatalf("the author's correction was not pending: %+v", f.requests)
	}
	if got := author.get("/posts/" + id).body; !strings.Contains(got, "See this correction") || strings.Contains(got, "Review and approve this correction") {
		t.Error("the author's page does not link to the pending correction (without approving it)")
	}
	// Only an editor approves, after reading it beside what went out.
	if p := author.post("/posts/"+id+"/corrections/1/approve", url.Values{"csrf": {author.csrf()}}); p.status != http.StatusForbidden {
		t.Fatalf("the author approving their own correction: %d", p.status)
	}
	if !strings.Contains(editor.get("/posts/"+id).body, `href="/posts/`+id+`/corrections/1">Review and approve this correction</a>`) {
		t.Error("the editor's page does not offer to review the pending correction")
	}
	p = editor.get("/posts/" + id + "/corrections/1")
	if !strings.Contains(between(p.body, "What went out", "Corrected"), "6pm") || !strings.Contains(between(p.body, ">Corrected<", "</section>"), "7pm") ||
		!strings.Contains(p.body, "Approve: correct on Mastodon") {
		t.Fatalf("the pending correction's page: %s", p.body)
	}
	if p := editor.post("/posts/"+id+"/corrections/1/approve", url.Values{}); p.status != http.StatusForbidden || len(f.approved) != 0 {
		t.Fatalf("approving without the CSRF token: %d %v", p.status, f.approved)
	}
	if p := editor.post("/posts/"+id+"/corrections/1/approve", url.Values{"csrf": {editor.csrf()}}); p.status != http.StatusSeeOther {
		t.Fatalf("approving: %d %s", p.status, p.body)
	}
	if !slices.Equal(f.approved, []string{id + "#1 by editor@example.org"}) {
		t.Fatalf("approved: %v", f.approved)
	}
	if h := editor.get("/posts/" + id).body; !strings.Contains(h, "correction approved (revision 1 by author@example.org)") {
		t.Error("the history lacks the approval")
	}
	// Approved once: a second approval is refused.
	if p := editor.post("/posts/"+id+"/corrections/1/approve", url.Values{"csrf": {editor.csrf()}}); p.status != http.StatusForbidden || len(f.approved) != 1 {
		t.Fatalf("approving twice: %d %v", p.status, f.approved)
	}
	if p := editor.get("/posts/" + id + "/corrections/7"); p.status != http.StatusNotFound {
		t.Fatalf("a correction that does not exist: %d", p.status)
	}

	// Without require_approval an author's correction goes out at once.
	b.c.opts.RequireApproval = false
	p = author.post("/posts/"+id+"/correct", confirm)
	if p.status != http.StatusSeeOther || len(f.requests) != 2 || f.requests[1].Pending {
		t.Fatalf("without require_approval: %d %+v", p.status, f.requests)
	}
}

func TestCorrectionRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := withCorrections(b)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := publishedPost(t, author, editor)
	good := correctionForm(t, editor, id, url.Values{"body": {"7pm."}, "note": {"7pm, not 6pm."}, "channel": {"mastodon"}})
	with := func(k, v string) url.Values {
		out := url.Values{}
		for key, vs := range good {
			out[key] = slices.Clone(vs)
		}
		if v == "" {
			out.Del(k)
		} else {
			out.Set(k, v)
		}
		return out
	}
	for _, c := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no note", with("note", ""), "Say in a few words what was corrected"},
		{"a long note", with("note", strings.Repeat("x", maxNote+1)), "The note is longer than 280 characters"},
		{"no channel", with("channel", ""), "Choose at least one channel to correct."},
		{"a channel that refuses", with("channel", "discord"), "discord cannot be corrected: No message id is known"},
		{"nothing changed", with("body", "Join us at 6pm at the town hall."), "Nothing was changed"},
		{"a page opened before another correction", with("revision", "0123"), "corrected by someone else since you opened this form"},
		{"a bad link", with("link", "javascript:alert(1)"), "The link must be a web address"},
	} {
		p := editor.post("/posts/"+id+"/correct", c.form)
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, c.want) {
			t.Errorf("%s: %d, want 422 saying %q", c.name, p.status, c.want)
		}
		c.form.Set("confirm", "yes")
		editor.post("/posts/"+id+"/correct", c.form)
	}
	if len(f.requests) != 0 {
		t.Fatalf("refused forms queued corrections: %+v", f.requests)
	}
	// The written text stays in the refused form.
	if p := editor.post("/posts/"+id+"/correct", with("note", "")); !strings.Contains(p.body, ">7pm.</textarea>") {
		t.Error("a refused form loses the corrected text")
	}
	// The daemon's refusal is shown on the review, nothing recorded.
	f.refuse = errors.New("the post is being withdrawn")
	confirm := with("confirm", "yes")
	if p := editor.post("/posts/"+id+"/correct", confirm); p.status != http.StatusConflict || !strings.Contains(p.body, "The correction was not queued: the post is being withdrawn") {
		t.Errorf("the daemon's refusal: %d", p.status)
	}
	f.refuse = nil
	// Without the CSRF token nothing happens.
	if p := editor.post("/posts/"+id+"/correct", with("csrf", "")); p.status != http.StatusForbidden {
		t.Errorf("correcting without the CSRF token: %d", p.status)
	}
	if len(f.requests) != 0 {
		t.Fatalf("queued: %+v", f.requests)
	}

	// An author corrects only their own posts; nobody corrects a draft.
	draft := editor.newPost(url.Values{"title": {"Editor's draft"}, "body": {"Soon."}, "action": {"save"}})
	if p := editor.get("/posts/" + draft + "/correct"); p.status != http.StatusForbidden || !strings.Contains(p.body, "Only a published post") {
		t.Errorf("correcting a draft: %d", p.status)
	}
	if strings.Contains(editor.get("/posts/"+draft).body, "Correct everywhere") {
		t.Error("a draft offers Correct everywhere")
	}
	theirs := editor.newPost(url.Values{"title": {"Editor's post"}, "body": {"Now."}, "action": {"publish"}})
	if p := author.get("/posts/" + theirs + "/correct"); p.status != http.StatusForbidden {
		t.Errorf("an author correcting an editor's post: %d", p.status)
	}
	if strings.Contains(author.get("/posts/"+theirs).body, "Correct everywhere") {
		t.Error("an editor's post offers Correct everywhere to an author")
	}
	// A post from the Markdown folder: editors correct it, authors do not.
	md := post.Post{ID: "md:vigil", Title: "Vigil", Body: "6pm.", PublishAt: b.now.Now(), Source: post.Source{Kind: "markdown", Name: "posts", Key: "vigil", Ref: "posts/vigil.md"}}
	if err := b.st.SavePost(context.Background(), md, store.PostPublished, b.now.Now()); err != nil {
		t.Fatal(err)
	}
	if p := editor.get("/posts/md:vigil/correct"); p.status != http.StatusOK || !strings.Contains(p.body, ">6pm.</textarea>") {
		t.Errorf("an editor correcting a Markdown post: %d", p.status)
	}
	if p := author.get("/posts/md:vigil/correct"); p.status != http.StatusForbidden {
		t.Errorf("an author correcting a Markdown post: %d", p.status)
	}
	// Without Corrections the buttons are gone and the pages are not there.
	b.c.opts.Corrections = nil
	if strings.Contains(editor.get("/posts/"+id).body, "Correct everywhere") {
		t.Error("Correct everywhere shows without Corrections")
	}
	if p := editor.get("/posts/" + id + "/correct"); p.status != http.StatusNotFound {
		t.Errorf("the correction form without Corrections: %d", p.status)
	}
}

func TestWithdrawEverywhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := withCorrections(b)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	owner := b.browser(t).signedIn("owner@example.org")
	id := publishedPost(t, author, editor)

	// An owner or editor only, even the post's author.
	if strings.Contains(author.get("/posts/"+id).body, "Withdraw everywhere") {
		t.Error("the author is offered Withdraw everywhere")
	}
	if p := author.get("/posts/" + id + "/withdraw"); p.status != http.StatusForbidden {
		t.Errorf("the author's withdraw form: %d", p.status)
	}
	if p := author.post("/posts/"+id+"/withdraw", url.Values{"csrf": {author.csrf()}, "channel": {"mastodon"}, "reason": {"x"}, "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("the author withdrawing: %d", p.status)
	}
	form := owner.get("/posts/" + id + "/withdraw").body
	for _, want := range []string{"The toots are deleted.", "What Crier sent to bluesky is deleted there.", "Discord: cannot be withdrawn by Crier",
		`<label for="reason">Why it is withdrawn</label>`} {
		if !strings.Contains(form, want) {
			t.Errorf("the withdraw form lacks %q", want)
		}
	}
	tok := editor.csrf()
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"channel": {"mastodon"}}, "Say why it is withdrawn"},
		{url.Values{"reason": {"Named the wrong person."}}, "Choose at least one channel"},
		{url.Values{"channel": {"discord"}, "reason": {"Named the wrong person."}}, "discord cannot be withdrawn from: No message id is known"},
	} {
		c.form.Set("csrf", tok)
		if p := editor.post("/posts/"+id+"/withdraw", c.form); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, c.want) {
			t.Errorf("%v: %d, want 422 saying %q", c.form, p.status, c.want)
		}
	}
	// The confirmation names each channel and what happens there.
	p := editor.post("/posts/"+id+"/withdraw", url.Values{"csrf": {tok}, "channel": {"mastodon", "bluesky"}, "reason": {"Named the wrong person."}})
	for _, want := range []string{"Withdraw “Vigil on Friday” from Mastodon and Bluesky?", "Mastodon: The toots are deleted.",
		"Bluesky: What Crier sent to bluesky is deleted there.", "Anything still queued or scheduled for this post is cancelled",
		"Yes, withdraw from Mastodon and Bluesky"} {
		if !strings.Contains(html.UnescapeString(p.body), want) {
			t.Errorf("the confirmation lacks %q", want)
		}
	}
	if len(f.withdrawn) != 0 {
		t.Fatal("asking first withdrew the post")
	}
	confirm := hiddenFields(p.body)
	if p := editor.post("/posts/"+id+"/withdraw", url.Values{"channels": confirm["channels"], "reason": confirm["reason"], "confirm": {"yes"}}); p.status != http.StatusForbidden {
		t.Errorf("withdrawing without the CSRF token: %d", p.status)
	}
	if p := editor.post("/posts/"+id+"/withdraw", confirm); p.status != http.StatusSeeOther || !strings.Contains(p.loc, "done=withdrawn") {
		t.Fatalf("confirming: %d %s", p.status, p.body)
	}
	if len(f.withdrawn) != 1 || f.withdrawn[0].Reason != "Named the wrong person." || f.withdrawn[0].By != "editor@example.org" ||
		!slices.Equal(f.withdrawn[0].Channels, []string{"bluesky", "mastodon"}) || f.withdrawn[0].PostID != id {
		t.Fatalf("withdrawn: %+v", f.withdrawn)
	}
	// The result per channel, and what to do by hand where a network refused.
	f.history = []CorrectionRecord{{Kind: "withdrawal", By: "editor@example.org", At: b.now.Now(), Note: "Named the wrong person.", State: "failed",
		Results: []CorrectionResult{
			{Channel: "mastodon", State: "done", Parts: []channels.PartResult{{Index: 0, Outcome: channels.OutcomeDeleted}}},
			{Channel: "bluesky", State: "failed", Error: "The account was removed, so Crier cannot delete the post: ask Bluesky's moderators to remove it."},
			{Channel: "email", State: "done", Note: "hidden from the public archive"}}}}
	page := editor.get("/posts/" + id + "?done=withdrawn").body
	for _, want := range []string{"Withdrawal queued.", "Withdrawal <span class=\"chip chip-failed\">failed</span>", "<q>Named the wrong person.</q>",
		"<strong>Mastodon</strong>: <span class=\"chip chip-done\">done</span>", `<span class="part-result">deleted</span>`, "<strong>Not done here.</strong> The account was removed, so Crier cannot delete the post: ask Bluesky&#39;s moderators to remove it.",
		"withdrawal queued (from bluesky, mastodon: Named the wrong person.)", `<span class="muted">hidden from the public archive</span>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the post page lacks %q", want)
		}
	}
}

func TestChangedSincePublished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := withCorrections(b)
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := publishedPost(t, author, editor)
	draft := editor.newPost(url.Values{"title": {"A draft"}, "body": {"x"}, "action": {"save"}})

	if strings.Contains(editor.get("/posts").body, "changed since published") {
		t.Fatal("the list marks a post whose source did not change")
	}
	f.changed = true
	f.now = post.Post{Title: "Vigil on Friday", Body: "Join us at 7pm at the town hall.", Link: "https://camaca.example/vigil"}
	list := editor.get("/posts").body
	if n := strings.Count(list, "changed since published"); n != 1 {
		t.Errorf("the list marks %d posts changed since published, want the published one only", n)
	}
	if !strings.Contains(between(list, id, "</tr>"), "changed since published") {
		t.Error("the mark is not on the published post's row")
	}
	page := editor.get("/posts/" + id).body
	if !strings.Contains(page, "Changed since published.") || !strings.Contains(page, `href="/posts/`+id+`/correct?from=source">Correct from the changed source</a>`) {
		t.Errorf("the post page does not say it changed")
	}
	if strings.Contains(editor.get("/posts/"+draft).body, "Changed since published") {
		t.Error("a draft says it changed since published")
	}
	form := editor.get("/posts/" + id + "/correct?from=source").body
	if !strings.Contains(form, ">Join us at 7pm at the town hall.</textarea>") || !strings.Contains(form, `name="from" value="source"`) {
		t.Errorf("the form is not prefilled from the changed source")
	}
}

// Once withdrawn from a channel there is nothing left there to correct;
// withdrawn from all of them, the post offers neither action.
func TestWithdrawnChannelsAreLeftAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := withCorrections(b)
	ctx := context.Background()
	author := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	id := publishedPost(t, author, editor)
	for _, ch := range []string{"mastodon", "bluesky"} {
		tx, err := b.st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.AddDelivery(ctx, tx, id, ch, false, time.Now()); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	f.history = []CorrectionRecord{{Kind: "withdrawal", By: "editor@example.org", At: b.now.Now(), Note: "Wrong person.", State: "queued",
		Results: []CorrectionResult{{Channel: "mastodon", State: "done"}}}}
	form := editor.get("/posts/" + id + "/correct").body
	if strings.Contains(form, `value="mastodon"`) || !strings.Contains(form, "It was withdrawn from mastodon (Thu 1 May 2031 10:00 BST): nothing is left there to change.") {
		t.Errorf("the correction form offers a withdrawn channel")
	}
	if !strings.Contains(editor.get("/posts/"+id).body, "Correct everywhere") {
		t.Error("withdrawn from one channel of two, the post no longer offers Correct everywhere")
	}
	f.history[0].Results = append(f.history[0].Results, CorrectionResult{Channel: "bluesky", State: "queued"})
	page := editor.get("/posts/" + id).body
	if strings.Contains(page, "Correct everywhere") || strings.Contains(page, "Withdraw everywhere") || !strings.Contains(page, "Withdrawn from every channel it went out on") {
		t.Error("withdrawn from every channel, the post still offers to correct or withdraw it")
	}
}
