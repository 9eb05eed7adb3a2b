package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// People's own accounts: changing one's password, a forgotten password
// reset by a mailed link, and invitations by mail in which the invited
// person chooses their password (the owner never knows it).

// AccountMailer sends one plain-text mail about a console account (a
// password-reset link, an invitation) through the configured mail server.
type AccountMailer func(ctx context.Context, to, subject, text string) error

func init() { pageNames = append(pageNames, "account") }

// peopleRoutes adds the account pages to mux.
func (c *Console) peopleRoutes(mux *http.ServeMux) {
	mux.Handle("GET /account/password", c.auth(RoleAuthor, c.passwordPage))
	mux.Handle("POST /account/password", c.auth(RoleAuthor, c.changePassword))
	mux.Handle("GET /account/notifications", c.auth(RoleAuthor, c.notificationsPage))
	mux.Handle("POST /account/notifications", c.auth(RoleAuthor, c.saveNotifications))
	mux.HandleFunc("GET /forgot", c.forgotPage)
	mux.HandleFunc("POST /forgot", c.forgot)
	mux.HandleFunc("GET /reset/{token}", c.linkPage(purposeReset))
	mux.HandleFunc("POST /reset/{token}", c.resetPassword)
	mux.HandleFunc("GET /invite/{token}", c.linkPage(purposeInvite))
	mux.HandleFunc("POST /invite/{token}", c.acceptInvite)
	mux.Handle("POST /users/invite", c.auth(RoleOwner, c.invite))
	mux.Handle("POST /users/invite/cancel", c.auth(RoleOwner, c.cancelInvitation))
}

// peopleRoutePatterns are mounted on the daemon's server with the console's.
var peopleRoutePatterns = []string{"/account/", "/forgot", "/reset/", "/invite/"}

// canMail reports whether account links can be mailed: a mail server and a
// public address to build the links from (never the request's Host, which
// an attacker chooses).
func (c *Console) canMail(ctx context.Context) bool {
	return c.mailReady(ctx) && (strings.HasPrefix(c.opts.PublicURL, "https://") || strings.HasPrefix(c.opts.PublicURL, "http://"))
}

// mailReady reports whether account mail has a mail server at this moment.
func (c *Console) mailReady(ctx context.Context) bool {
	if c.opts.AccountMail == nil {
		return false
	}
	return c.opts.AccountMailReady == nil || c.opts.AccountMailReady(ctx)
}

func (c *Console) link(kind, token string) string {
	return strings.TrimRight(c.opts.PublicURL, "/") + "/" + kind + "/" + token
}

func (c *Console) showAccount(w http.ResponseWriter, r *http.Request, s Session, status int, data map[string]any) {
	data["CanMail"] = c.canMail(r.Context())
	data["MinLength"] = MinPasswordLength
	w.WriteHeader(status)
	c.render(w, r, s, "account", data)
}

func (c *Console) passwordPage(w http.ResponseWriter, r *http.Request, s Session) {
	c.showAccount(w, r, s, http.StatusOK, map[string]any{"Mode": "change"})
}

// changePassword needs the current password, so that a browser left
// signed in cannot lock its owner out; wrong guesses count against the
// sign-in throttle.
func (c *Console) changePassword(w http.ResponseWriter, r *http.Request, s Session) {
	refuse := func(status int, problem string) {
		c.showAccount(w, r, s, status, map[string]any{"Mode": "change", "Problem": problem})
	}
	// This browser's device cookie spares it strangers' failures, as at
	// sign-in.
	email, ip := addressKey(s.User.Email), c.opts.ClientIP(r)
	device := c.deviceFor(r, email)
	if wait := c.throttle.blocked(email, ip, device); wait > 0 {
		refuse(http.StatusTooManyRequests, "Too many wrong passwords. Please wait "+humanWait(wait)+" and try again.")
		return
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		refuse(http.StatusUnprocessableEntity, "The two new passwords differ. Please type the same one twice.")
		return
	}
	ck, _ := r.Cookie(sessionCookie)
	err := c.opts.Users.ChangePassword(r.Context(), s.User, r.PostFormValue("current"), pw, ck.Value)
	switch {
	case errors.Is(err, ErrBadCredentials):
		c.throttle.fail(email, ip, device)
		refuse(http.StatusUnprocessableEntity, "Your current password is not right.")
	case err != nil && isInternal(err):
		c.serverError(w, r, "changing the password", err)
	case err != nil:
		refuse(http.StatusUnprocessableEntity, "The new password is refused: "+err.Error()+".")
	default:
		c.showAccount(w, r, s, http.StatusOK, map[string]any{"Mode": "change",
			"Notice": "Your password is changed. Every other browser signed in as you has been signed out."})
	}
}

// forgotLimit bounds reset mails per address and per client, so that the
// form cannot be used to flood someone's mailbox.
type forgotLimit struct {
	mu        sync.Mutex
	addresses failureCounts
	clients   failureCounts
}

const (
	maxResetsPerAddress = 3
	maxResetsPerClient  = 10
)

func newForgotLimit() *forgotLimit {
	return &forgotLimit{addresses: failureCounts{max: maxResetsPerAddress}, clients: failureCounts{max: maxResetsPerClient}}
}

// allow counts one request and says how long to wait when over a limit.
// Known and unknown addresses count alike, so the limit tells nothing.
func (l *forgotLimit) allow(now time.Time, email, client string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait := max(l.addresses.wait(now, email), l.clients.wait(now, client)); wait > 0 {
		return wait
	}
	l.addresses.add(now, email)
	l.clients.add(now, client)
	return 0
}

// formToken gives a signed-out form the login cookie's double-submit token.
func (c *Console) formToken(w http.ResponseWriter) string {
	token := randomToken()
	c.setCookie(w, loginCookie, token, 3600)
	return token
}

func validFormToken(r *http.Request) bool {
	ck, _ := r.Cookie(loginCookie)
	form := r.PostFormValue("login_token")
	return ck != nil && form != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) == 1
}

func (c *Console) forgotPage(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	c.showAccount(w, r, Session{}, http.StatusOK, map[string]any{"Mode": "forgot", "Token": c.formToken(w)})
}

// forgot answers every address the same way and at the same speed: the
// link is made and mailed after the answer, so neither the words nor the
// time say whether the address has an account.
func (c *Console) forgot(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	refuse := func(status int, problem string) {
		c.showAccount(w, r, Session{}, status, map[string]any{"Mode": "forgot", "Token": c.formToken(w), "Problem": problem})
	}
	if !validFormToken(r) {
		refuse(http.StatusForbidden, "This form has expired. Please try again.")
		return
	}
	if !c.canMail(r.Context()) {
		refuse(http.StatusServiceUnavailable, "This console has no mail server to send the link through.")
		return
	}
	email := addressKey(r.PostFormValue("email"))
	if email == "" {
		refuse(http.StatusUnprocessableEntity, "Please enter your email address.")
		return
	}
	if wait := c.people.allow(c.opts.Now(), email, c.opts.ClientIP(r)); wait > 0 {
		refuse(http.StatusTooManyRequests, "Too many requests. Please wait "+humanWait(wait)+" and try again.")
		return
	}
	go c.mailReset(email)
	c.showAccount(w, r, Session{}, http.StatusOK, map[string]any{"Mode": "forgot-sent"})
}

// mailReset mails a reset link when email has an account. It runs after
// the answer, on its own deadline, and stops with the daemon.
func (c *Console) mailReset(email string) {
	ctx, cancel := context.WithTimeout(c.lifetime, time.Minute)
	defer cancel()
	token, err := c.opts.Users.NewResetLink(ctx, email)
	if errors.Is(err, ErrNoUser) {
		c.opts.Logger.Info("console: password reset asked for an address without an account")
		return
	}
	if err == nil {
		err = c.opts.AccountMail(ctx, email, "Choose a new password for the "+c.opts.Campaign+" console",
			"Someone, hopefully you, asked to reset the password of your account on the "+c.opts.Campaign+" console.\n\n"+
				"To choose a new password, open this link within an hour:\n\n"+c.link("reset", token)+"\n\n"+
				"The link works once. If you did not ask for it, ignore this mail: your password stays as it is.\n")
	}
	if err != nil {
		c.opts.Logger.Error("console: mailing a password-reset link", "err", err)
	}
}

// linkPage shows the form of a reset or invitation link, or says that the
// link no longer works.
func (c *Console) linkPage(purpose tokenPurpose) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secureHeaders(w)
		email, err := c.opts.Users.LinkAddress(r.Context(), purpose, r.PathValue("token"))
		c.showLink(w, r, purpose, email, err, "")
	}
}

// showLink renders a link's form, with problem, or the page for a link
// that no longer works (err ErrBadLink).
func (c *Console) showLink(w http.ResponseWriter, r *http.Request, purpose tokenPurpose, email string, err error, problem string) {
	if err != nil && !errors.Is(err, ErrBadLink) {
		c.serverError(w, r, "reading the link", err)
		return
	}
	data := map[string]any{"Mode": string(purpose), "Email": email, "Problem": problem, "Path": r.URL.Path}
	status := http.StatusOK
	switch {
	case err != nil:
		data["Mode"], status = "bad-link", http.StatusGone
		data["Invite"] = purpose == purposeInvite
	case problem != "":
		status = http.StatusUnprocessableEntity
	}
	c.showAccount(w, r, Session{}, status, data)
}

// linkForm reads the token and new password of a link's form; when the
// password is refused it shows the form again and returns ok false.
func (c *Console) linkForm(w http.ResponseWriter, r *http.Request, purpose tokenPurpose) (token, pw string, ok bool) {
	secureHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	token, pw = r.PathValue("token"), r.PostFormValue("password")
	problem := ""
	if pw != r.PostFormValue("confirm") {
		problem = "The two passwords differ. Please type the same one twice."
	} else if err := CheckPassword(pw); err != nil {
		problem = "The password is refused: " + err.Error() + "."
	}
	if problem != "" {
		email, err := c.opts.Users.LinkAddress(r.Context(), purpose, token)
		c.showLink(w, r, purpose, email, err, problem)
		return "", "", false
	}
	return token, pw, true
}

func (c *Console) resetPassword(w http.ResponseWriter, r *http.Request) {
	token, pw, ok := c.linkForm(w, r, purposeReset)
	if !ok {
		return
	}
	email, err := c.opts.Users.ResetPassword(r.Context(), token, pw)
	if err != nil {
		c.showLink(w, r, purposeReset, "", err, "")
		return
	}
	c.throttle.succeed(email, c.opts.ClientIP(r), "")
	c.setCookie(w, sessionCookie, "", -1)
	c.showAccount(w, r, Session{}, http.StatusOK, map[string]any{"Mode": "reset-done", "Email": email})
}

// acceptInvite creates the invited user and signs them in.
func (c *Console) acceptInvite(w http.ResponseWriter, r *http.Request) {
	token, pw, ok := c.linkForm(w, r, purposeInvite)
	if !ok {
		return
	}
	user, err := c.opts.Users.AcceptInvite(r.Context(), token, pw)
	if errors.Is(err, ErrUserExists) {
		c.showLink(w, r, purposeInvite, "", ErrBadLink, "")
		return
	}
	if err != nil {
		c.showLink(w, r, purposeInvite, "", err, "")
		return
	}
	id, _, err := c.opts.Users.NewSession(r.Context(), user)
	if err != nil {
		c.serverError(w, r, "signing in", err)
		return
	}
	c.setDevice(w, r, user.Email)
	c.setCookie(w, sessionCookie, id, int(SessionMaxAge/time.Second))
	http.Redirect(w, r, "/posts", http.StatusSeeOther)
}

// invite mails a new user a link to choose their password.
func (c *Console) invite(w http.ResponseWriter, r *http.Request, s Session) {
	if !c.canMail(r.Context()) {
		c.showUsers(w, r, s, "", "There is no mail server to send an invitation through: add the user with a password below.", http.StatusUnprocessableEntity)
		return
	}
	role := Role(r.PostFormValue("role"))
	email, token, err := c.opts.Users.Invite(r.Context(), r.PostFormValue("email"), role)
	if err != nil {
		c.userRefused(w, r, s, "inviting the user", err)
		return
	}
	err = c.opts.AccountMail(r.Context(), email, "You are invited to the "+c.opts.Campaign+" console",
		s.User.Email+" invited you to the "+c.opts.Campaign+" console as "+string(role)+".\n\n"+
			"To choose your password and sign in, open this link within 7 days:\n\n"+c.link("invite", token)+"\n\n"+
			"The link works once. If you did not expect this, ignore this mail.\n")
	if err != nil {
		c.opts.Logger.Error("console: mailing an invitation", "err", err)
		c.showUsers(w, r, s, "", "The invitation could not be sent: "+err.Error()+". Check the mail server, or try again.", http.StatusBadGateway)
		return
	}
	c.showUsers(w, r, s, "Invitation sent to "+email+" as "+string(role)+". The link works once, for 7 days; inviting again sends a new one.", "", http.StatusOK)
}

// cancelInvitation makes an invitation's link stop working.
func (c *Console) cancelInvitation(w http.ResponseWriter, r *http.Request, s Session) {
	email := addressKey(r.PostFormValue("email"))
	if err := c.opts.Users.CancelInvitation(r.Context(), email); err != nil {
		c.serverError(w, r, "cancelling the invitation", err)
		return
	}
	c.showUsers(w, r, s, "The invitation of "+email+" is cancelled; its link no longer works.", "", http.StatusOK)
}
