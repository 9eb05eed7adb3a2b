package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testpeers/postgres"
)

// sentMail is one account mail the fake mailer received.
type sentMail struct{ to, subject, text string }

// fakeMailer captures account mails instead of sending them.
type fakeMailer struct {
	mu   sync.Mutex
	mail []sentMail
	got  chan sentMail
	err  error
}

func (f *fakeMailer) send(ctx context.Context, to, subject, text string) error {
	if f.err != nil {
		return f.err
	}
	m := sentMail{to, subject, text}
	f.mu.Lock()
	f.mail = append(f.mail, m)
	f.mu.Unlock()
	f.got <- m
	return nil
}

func (f *fakeMailer) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.mail) }

// withMailer gives the bundle's console a fake mail server.
func (b *bundle) withMailer() *fakeMailer {
	f := &fakeMailer{got: make(chan sentMail, 16)}
	b.c.opts.AccountMail = f.send
	return f
}

// next waits for the next mail (the reset mail goes out after the answer).
func (f *fakeMailer) next(t *testing.T) sentMail {
	t.Helper()
	select {
	case m := <-f.got:
		return m
	case <-time.After(30 * time.Second):
		t.Fatal("no mail sent")
		return sentMail{}
	}
}

var linkRe = regexp.MustCompile(`http://[^\s]+/(reset|invite)/[A-Za-z0-9_-]+`)

// pathOf returns the path of the link in a mail.
func pathOf(t *testing.T, b *bundle, m sentMail) string {
	t.Helper()
	link := linkRe.FindString(m.text)
	if !strings.HasPrefix(link, b.srv.URL+"/") {
		t.Fatalf("no link to this console in the mail:\n%s", m.text)
	}
	return strings.TrimPrefix(link, b.srv.URL)
}

func (br *browser) forgot(email string) page {
	br.t.Helper()
	// /forgot shows no form without a mail server; /login's token is
	// the same cookie's.
	m := loginRe.FindStringSubmatch(br.get("/login").body)
	if m == nil {
		br.t.Fatal("no form token on /login")
	}
	return br.post("/forgot", url.Values{"login_token": {m[1]}, "email": {email}})
}

func signedOut(t *testing.T, br *browser) bool {
	t.Helper()
	p := br.get("/posts")
	return p.status == http.StatusSeeOther && strings.HasPrefix(p.loc, "/login")
}

// TestChangeOwnPassword: the current password is required (and a wrong one
// changes nothing), the form needs the CSRF token, and a change signs out
// every other browser of that user but keeps this one.
func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t).signedIn("author@example.org")
	other := b.browser(t).signedIn("author@example.org")
	editor := b.browser(t).signedIn("editor@example.org")
	const newPW = "a much longer secret phrase"
	form := url.Values{"current": {"correct horse battery"}, "password": {newPW}, "confirm": {newPW}}
	if p := br.post("/account/password", form); p.status != http.StatusForbidden {
		t.Fatalf("without the CSRF token: %d, want 403", p.status)
	}
	if p := br.get("/account/password"); p.status != http.StatusOK || !strings.Contains(p.body, "Current password") {
		t.Fatalf("password page: %d", p.status)
	}
	form.Set("csrf", br.csrf())
	wrong := url.Values{"csrf": form["csrf"], "current": {"not my password at all"}, "password": {newPW}, "confirm": {newPW}}
	if p := br.post("/account/password", wrong); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "current password is not right") {
		t.Fatalf("wrong current password: %d %s", p.status, p.body)
	}
	mismatch := url.Values{"csrf": form["csrf"], "current": form["current"], "password": {newPW}, "confirm": {newPW + "x"}}
	if p := br.post("/account/password", mismatch); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("different confirmation: %d", p.status)
	}
	if _, err := b.users.Authenticate(context.Background(), "author@example.org", "correct horse battery"); err != nil {
		t.Fatalf("a refused change changed the password: %v", err)
	}
	if p := br.post("/account/password", form); p.status != http.StatusOK || !strings.Contains(p.body, "Your password is changed") {
		t.Fatalf("changing the password: %d %s", p.status, p.body)
	}
	if signedOut(t, br) {
		t.Error("the browser that changed the password was signed out")
	}
	if !signedOut(t, other) {
		t.Error("another browser of the same user is still signed in")
	}
	if signedOut(t, editor) {
		t.Error("another user's browser was signed out")
	}
	if p := b.browser(t).login("author@example.org", "correct horse battery"); p.status != http.StatusUnauthorized {
		t.Errorf("old password still signs in: %d", p.status)
	}
	if p := b.browser(t).login("author@example.org", newPW); p.status != http.StatusSeeOther {
		t.Errorf("new password does not sign in: %d", p.status)
	}
}

// TestForgotPassword: one answer whether or not the address has an account;
// the mailed link works once, for an hour, ends the user's sessions, and
// stops working when the password changes otherwise.
func TestForgotPassword(t *testing.T) {
	postgres.EachDriver(t, testForgotPassword)
}

func testForgotPassword(t *testing.T, driver string) {
	b := setupOn(t, driver)
	mail := b.withMailer()
	signed := b.browser(t).signedIn("editor@example.org")
	unknown := b.browser(t).forgot("nobody@example.org")
	known := b.browser(t).forgot(" Editor@example.org")
	if unknown.status != http.StatusOK || known.status != http.StatusOK || unknown.body != known.body ||
		!strings.Contains(known.body, "If that address has an account, a link is on its way") {
		t.Fatalf("answers differ or are wrong:\nunknown %d %s\nknown %d %s", unknown.status, unknown.body, known.status, known.body)
	}
	m := mail.next(t)
	if m.to != "editor@example.org" || mail.count() != 1 {
		t.Fatalf("mail to %q, %d mails; want one to editor@example.org", m.to, mail.count())
	}
	link := pathOf(t, b, m)
	var stored int
	b.st.DB().QueryRow(`SELECT COUNT(*) FROM console_tokens WHERE hash = $1`, strings.TrimPrefix(link, "/reset/")).Scan(&stored)
	if stored != 0 {
		t.Error("the token itself is stored, not only its hash")
	}
	br := b.browser(t)
	if p := br.get(link); p.status != http.StatusOK || !strings.Contains(p.body, "editor@example.org") {
		t.Fatalf("reset page: %d", p.status)
	}
	if p := br.post(link, url.Values{"password": {"short"}, "confirm": {"short"}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", p.status)
	}
	const newPW = "lanterns along the river"
	if p := br.post(link, url.Values{"password": {newPW}, "confirm": {newPW}}); p.status != http.StatusOK || !strings.Contains(p.body, "Password changed") {
		t.Fatalf("reset after a refused try: %d %s", p.status, p.body)
	}
	if !signedOut(t, signed) {
		t.Error("a session of the user survived the reset")
	}
	if p := br.post(link, url.Values{"password": {newPW + "!"}, "confirm": {newPW + "!"}}); p.status != http.StatusGone {
		t.Errorf("second use of the link: %d, want 410", p.status)
	}
	if p := br.get(link); p.status != http.StatusGone {
		t.Errorf("used link page: %d, want 410", p.status)
	}
	if p := b.browser(t).login("editor@example.org", newPW); p.status != http.StatusSeeOther {
		t.Errorf("new password does not sign in: %d", p.status)
	}

	// A link an hour old no longer works.
	b.browser(t).forgot("editor@example.org")
	expired := pathOf(t, b, mail.next(t))
	b.now.Add(ResetTTL + time.Second)
	if p := br.post(expired, url.Values{"password": {newPW}, "confirm": {newPW}}); p.status != http.StatusGone {
		t.Errorf("expired link: %d, want 410", p.status)
	}

	// Changing the password (here with crier users) ends earlier links.
	b.browser(t).forgot("editor@example.org")
	earlier := pathOf(t, b, mail.next(t))
	if err := b.users.SetPassword(context.Background(), "editor@example.org", "set on the server by cli"); err != nil {
		t.Fatal(err)
	}
	if p := br.get(earlier); p.status != http.StatusGone {
		t.Errorf("link after a password change: %d, want 410", p.status)
	}
}

// TestForgotPasswordLimits: the form needs its token, is rate limited per
// address and client, and says what to do without a mail server.
func TestForgotPasswordLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t)
	if p := br.get("/forgot"); !strings.Contains(p.body, "crier users reset-password") || strings.Contains(p.body, `action="/forgot"`) {
		t.Errorf("without a mail server /forgot offers the form or no advice:\n%s", p.body)
	}
	if p := br.forgot("owner@example.org"); p.status != http.StatusServiceUnavailable {
		t.Errorf("posting without a mail server: %d", p.status)
	}
	mail := b.withMailer()
	if p := br.post("/forgot", url.Values{"email": {"owner@example.org"}}); p.status != http.StatusForbidden {
		t.Errorf("without the form token: %d, want 403", p.status)
	}
	for i := 0; i < maxResetsPerAddress; i++ {
		if p := b.browser(t).forgot("owner@example.org"); p.status != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, p.status)
		}
		mail.next(t)
	}
	for _, addr := range []string{"owner@example.org", "nobody@example.org"} {
		for i := 0; i < maxResetsPerAddress; i++ {
			br.forgot(addr)
		}
	}
	if p := br.forgot("nobody@example.org"); p.status != http.StatusTooManyRequests {
		t.Errorf("unknown address over the limit: %d, want 429 like a known one", p.status)
	}
	if p := b.browser(t).forgot("owner@example.org"); p.status != http.StatusTooManyRequests {
		t.Errorf("known address over the limit: %d, want 429", p.status)
	}
	if n := mail.count(); n != maxResetsPerAddress {
		t.Errorf("%d mails sent, want %d", n, maxResetsPerAddress)
	}
}

// TestInviteByMail: the owner names an address and a role; the invited
// person chooses their own password through a link that works once. With a
// mail server the owner can no longer choose passwords; without one the
// old form is the fallback.
func TestInviteByMail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := b.browser(t).signedIn("owner@example.org")
	csrf := owner.csrf()
	if p := owner.get("/users"); strings.Contains(p.body, `action="/users/invite"`) || !strings.Contains(p.body, `name="password"`) {
		t.Error("without a mail server the users page should offer only the password form")
	}
	if p := owner.post("/users/invite", url.Values{"csrf": {csrf}, "email": {"new@example.org"}, "role": {"editor"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("invite without a mail server: %d", p.status)
	}
	mail := b.withMailer()
	if p := owner.get("/users"); !strings.Contains(p.body, `action="/users/invite"`) || strings.Contains(p.body, `name="password"`) {
		t.Error("with a mail server the users page should offer only the invitation")
	}
	if p := owner.post("/users", url.Values{"csrf": {csrf}, "email": {"chosen@example.org"}, "role": {"author"}, "password": {"owner picks this one"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("owner choosing a password with a mail server: %d, want 422", p.status)
	}
	if p := owner.post("/users/invite", url.Values{"csrf": {csrf}, "email": {"editor@example.org"}, "role": {"author"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("inviting an existing user: %d, want 422", p.status)
	}
	if p := owner.post("/users/invite", url.Values{"email": {"new@example.org"}, "role": {"editor"}}); p.status != http.StatusForbidden {
		t.Errorf("invite without CSRF: %d", p.status)
	}
	if p := b.browser(t).signedIn("editor@example.org").post("/users/invite", url.Values{"email": {"new@example.org"}, "role": {"owner"}}); p.status != http.StatusForbidden {
		t.Errorf("invite by an editor: %d", p.status)
	}
	p := owner.post("/users/invite", url.Values{"csrf": {csrf}, "email": {"New@example.org"}, "role": {"editor"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, "Invitation sent to new@example.org") {
		t.Fatalf("inviting: %d %s", p.status, p.body)
	}
	m := mail.next(t)
	if m.to != "new@example.org" || !strings.Contains(m.text, "as editor") {
		t.Fatalf("invitation mail: %+v", m)
	}
	link := pathOf(t, b, m)
	guest := b.browser(t)
	if p := guest.get(link); p.status != http.StatusOK || !strings.Contains(p.body, "new@example.org") {
		t.Fatalf("invitation page: %d", p.status)
	}
	const pw = "my own choice of words"
	if p := guest.post(link, url.Values{"password": {pw}, "confirm": {pw + "."}}); p.status != http.StatusUnprocessableEntity {
		t.Fatalf("different confirmation: %d", p.status)
	}
	if p := guest.post(link, url.Values{"password": {pw}, "confirm": {pw}}); p.status != http.StatusSeeOther || p.loc != "/posts" {
		t.Fatalf("accepting: %d %s %s", p.status, p.loc, p.body)
	}
	if p := guest.get("/supporters"); p.status != http.StatusOK {
		t.Errorf("the invited editor, signed in, sees supporters: %d", p.status)
	}
	if p := b.browser(t).post(link, url.Values{"password": {pw}, "confirm": {pw}}); p.status != http.StatusGone {
		t.Errorf("second use of the invitation: %d, want 410", p.status)
	}
	if p := b.browser(t).login("new@example.org", pw); p.status != http.StatusSeeOther {
		t.Errorf("signing in with the chosen password: %d", p.status)
	}

	// A pending invitation is listed, and can be cancelled.
	owner.post("/users/invite", url.Values{"csrf": {csrf}, "email": {"maybe@example.org"}, "role": {"author"}})
	maybe := pathOf(t, b, mail.next(t))
	if p := owner.get("/users"); !strings.Contains(p.body, "maybe@example.org") || strings.Contains(p.body, "> of new@example.org<") {
		t.Error("the users page should list the pending invitation, and no accepted one")
	}
	if p := owner.post("/users/invite/cancel", url.Values{"csrf": {csrf}, "email": {"maybe@example.org"}}); p.status != http.StatusOK {
		t.Errorf("cancelling: %d", p.status)
	}
	if p := b.browser(t).get(maybe); p.status != http.StatusGone {
		t.Errorf("cancelled invitation: %d, want 410", p.status)
	}

	// An invitation expires after 7 days.
	owner.post("/users/invite", url.Values{"csrf": {csrf}, "email": {"late@example.org"}, "role": {"author"}})
	late := pathOf(t, b, mail.next(t))
	b.now.Add(InviteTTL + time.Second)
	if p := b.browser(t).get(late); p.status != http.StatusGone {
		t.Errorf("expired invitation: %d, want 410", p.status)
	}

	// A mail server that refuses says so to the owner.
	mail.err = errors.New("550 no such domain")
	owner = b.browser(t).signedIn("owner@example.org")
	if p := owner.post("/users/invite", url.Values{"csrf": {owner.csrf()}, "email": {"x@example.org"}, "role": {"author"}}); p.status != http.StatusBadGateway || !strings.Contains(p.body, "could not be sent") {
		t.Errorf("refused invitation: %d", p.status)
	}
}

// TestChangePasswordGuessesAreThrottled: a browser left signed in cannot
// be used to guess the current password without limit.
func TestChangePasswordGuessesAreThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	br := b.browser(t).signedIn("author@example.org")
	csrf := br.csrf()
	const newPW = "a much longer secret phrase"
	try := func(current string) page {
		return br.post("/account/password", url.Values{"csrf": {csrf}, "current": {current}, "password": {newPW}, "confirm": {newPW}})
	}
	var p page
	for i := 0; i < maxDeviceFailures+maxPairFailures+1; i++ {
		if p = try("a wrong guess number " + itoa(i)); p.status == http.StatusTooManyRequests {
			break
		}
	}
	if p.status != http.StatusTooManyRequests {
		t.Fatalf("after %d wrong guesses: %d, want 429", maxDeviceFailures+maxPairFailures+1, p.status)
	}
	if p := try("correct horse battery"); p.status != http.StatusTooManyRequests {
		t.Errorf("the right password while throttled: %d, want 429", p.status)
	}
	b.now.Add(throttleWindow)
	if p := try("correct horse battery"); p.status != http.StatusOK {
		t.Errorf("after the window: %d", p.status)
	}
}

// TestAccountMailFollowsTheMailServer: whether the console mails account
// links is asked at each request, so a mail server connected on the
// Channels page while the daemon runs is used at once, and one
// disconnected is no longer offered.
func TestAccountMailFollowsTheMailServer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	mail := b.withMailer()
	var ready atomic.Bool
	b.c.opts.AccountMailReady = func(context.Context) bool { return ready.Load() }
	owner := b.browser(t).signedIn("owner@example.org")
	invites := func() bool { return strings.Contains(owner.get("/users").body, `action="/users/invite"`) }
	if invites() {
		t.Error("with no mail server yet, the users page offers invitations")
	}
	if p := b.browser(t).forgot("editor@example.org"); p.status != http.StatusServiceUnavailable {
		t.Errorf("forgot with no mail server yet: %d, want 503", p.status)
	}
	ready.Store(true)
	if !invites() {
		t.Error("once a mail server is connected, the users page does not offer invitations")
	}
	if p := b.browser(t).forgot("editor@example.org"); p.status != http.StatusOK {
		t.Errorf("forgot with a mail server: %d", p.status)
	}
	if m := mail.next(t); m.to != "editor@example.org" {
		t.Errorf("reset mail to %q", m.to)
	}
	ready.Store(false)
	if invites() {
		t.Error("after the mail server was disconnected, the users page still offers invitations")
	}
}
