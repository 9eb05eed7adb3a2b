package console

import "net/http"

// notFound answers 404 with a console page that says what was not found,
// signed in or not (the session is read again so that callers deep in a
// handler need not pass it).
func (c *Console) notFound(w http.ResponseWriter, r *http.Request, what string) {
	secureHeaders(w)
	var s Session
	if ck, err := r.Cookie(sessionCookie); err == nil {
		s, _ = c.opts.Users.Session(r.Context(), ck.Value)
	}
	w.WriteHeader(http.StatusNotFound)
	c.render(w, r, s, "notfound", map[string]any{"Path": r.URL.Path, "What": what})
}

// unknownPage is the console's answer for a path under its sections that no
// route serves.
func (c *Console) unknownPage(w http.ResponseWriter, r *http.Request, s Session) {
	c.notFound(w, r, "no such page in the console")
}
