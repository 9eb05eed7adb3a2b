package console

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const loginCookie = "crier_login"

// validCSRF checks the token of a state-changing request: the form field
// csrf or the X-CSRF-Token header must equal the session's token.
func validCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		// ParseMultipartForm also reads urlencoded bodies.
		if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			_ = r.ParseMultipartForm(maxUpload)
		}
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	c.showLogin(w, r, "", "", http.StatusOK)
}

// showLogin renders the sign-in form with a fresh login token: the form
// field must match the cookie (sign-in CSRF), and neither is a session.
func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, email, problem string, status int) {
	token := randomToken()
	c.setCookie(w, loginCookie, token, 3600)
	w.WriteHeader(status)
	c.render(w, r, Session{}, "login", map[string]any{
		"Email": email, "Problem": problem, "Token": token, "Next": safeNext(r.FormValue("next")),
	})
}

// safeNext keeps the redirect after sign-in on this site. It decides on the
// address as a browser will read it: the WHATWG URL parser drops tab, LF and
// CR anywhere ("/\t/evil.com" is "//evil.com") and reads a backslash as a
// slash, so those are removed or refused first; what is left must parse as a
// path on this site (no scheme, no host), also once its escapes are decoded.
func safeNext(next string) string {
	const home = "/posts"
	next = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, next)
	for i := 0; i < len(next); i++ {
		// Spaces, other controls and non-ASCII never occur in the escaped
		// addresses the console makes; a backslash is a slash to a browser.
		if next[i] <= ' ' || next[i] >= 0x7f || next[i] == '\\' {
			return home
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !onSite(next) || !onSite(u.Path) {
		return home
	}
	return next
}

// onSite reports whether p is an absolute path that a browser, or Go's
// router cleaning it, cannot read as another host: no "//" start, no
// backslash or control character.
func onSite(p string) bool {
	return strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "//") && !strings.ContainsFunc(p, func(r rune) bool {
		return r < ' ' || r == 0x7f || r == '\\'
	})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	secureHeaders(w)
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	ck, _ := r.Cookie(loginCookie)
	form := r.PostFormValue("login_token")
	if ck == nil || form == "" || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) != 1 {
		c.showLogin(w, r, "", "This sign-in form has expired. Please try again.", http.StatusForbidden)
		return
	}
	email := addressKey(r.PostFormValue("email"))
	ip := c.opts.ClientIP(r)
	device := c.deviceFor(r, email)
	if wait := c.throttle.blocked(email, ip, device); wait > 0 {
		c.showLogin(w, r, email, "Too many failed sign-ins. Please wait "+humanWait(wait)+" and try again.", http.StatusTooManyRequests)
		return
	}
	user, err := c.opts.Users.Authenticate(r.Context(), email, r.PostFormValue("password"))
	if err != nil {
		if err != ErrBadCredentials {
			c.serverError(w, r, "signing in", err)
			return
		}
		c.throttle.fail(email, ip, device)
		c.opts.Logger.Info("console: failed sign-in", "client", ip, "known_browser", device != "")
		c.showLogin(w, r, email, "Wrong email or password.", http.StatusUnauthorized)
		return
	}
	c.throttle.succeed(email, ip, device)
	c.setDevice(w, r, email)
	// A session id from before sign-in is never reused: end it and start
	// a new one.
	if old, _ := r.Cookie(sessionCookie); old != nil {
		_ = c.opts.Users.EndSession(r.Context(), old.Value)
	}
	id, _, err := c.opts.Users.NewSession(r.Context(), user)
	if err != nil {
		c.serverError(w, r, "signing in", err)
		return
	}
	// The cookie lasts as long as the session can; the server ends it
	// sooner when it goes unused.
	c.setCookie(w, sessionCookie, id, int(SessionMaxAge/time.Second))
	c.setCookie(w, loginCookie, "", -1)
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, s Session) {
	if ck, _ := r.Cookie(sessionCookie); ck != nil {
		if err := c.opts.Users.EndSession(r.Context(), ck.Value); err != nil {
			c.serverError(w, r, "signing out", err)
			return
		}
	}
	c.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) logoutEverywhere(w http.ResponseWriter, r *http.Request, s Session) {
	if err := c.opts.Users.EndAllSessions(r.Context(), s.User.ID); err != nil {
		c.serverError(w, r, "signing out everywhere", err)
		return
	}
	c.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func humanWait(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "a minute"
	}
	return itoa(m) + " minutes"
}
