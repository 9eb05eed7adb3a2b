package console

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// pageNames are the templates in templates/ that are whole pages.
var pageNames = []string{"login", "posts", "write", "post", "calendar", "feeds", "supporters", "supporter", "import", "users", "forbidden", "deletepost", "notfound", "confirm", "worked"}

func (c *Console) funcs() template.FuncMap {
	return template.FuncMap{
		"showTime":    c.showTime,
		"showDay":     func(t time.Time) string { return t.In(c.opts.Location).Format("Mon 2 Jan 2006") },
		"zone":        func() string { return c.opts.Location.String() },
		"whenPattern": func() string { return c.when().Pattern() },
		"whenEcho": func(v string) map[string]any {
			echo, problem := c.whenEcho(v)
			return map[string]any{"Text": echo, "Problem": problem}
		},
		"safeURL": safeURL,
		"lower":   strings.ToLower,
		"title":   title,
		"day":     func(t time.Time) string { return t.Format("2") },
		"date":    func(t time.Time) string { return t.Format("2006-01-02") },
		"long":    func(t time.Time) string { return t.Format("Monday 2 January") },
		"itoa":    strconv.Itoa,
		"split":   strings.Fields,
		"join":    strings.Join,
		"pair": func(s string) []string {
			ch, st, _ := strings.Cut(s, ":")
			return []string{ch, st}
		},
		"eq2": func(a, b any) bool { return fmt.Sprint(a) == fmt.Sprint(b) },
	}
}

func (c *Console) parseTemplates() error {
	c.pages = map[string]*template.Template{}
	for _, name := range append(pageNames, correctionPages...) {
		t, err := template.New(name).Funcs(c.funcs()).ParseFS(templateFS, "templates/layout.html", "templates/previews.html", "templates/postextras.html", "templates/postfields.html", "templates/reach.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("parsing console template %s: %w", name, err)
		}
		c.pages[name] = t
	}
	frag, err := template.New("previews").Funcs(c.funcs()).ParseFS(templateFS, "templates/previews.html")
	if err != nil {
		return fmt.Errorf("parsing console previews: %w", err)
	}
	c.pages["#previews"] = frag
	return nil
}

// render writes a whole page; data gets the signed-in user, the CSRF
// token, the campaign and its time zone.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s Session, name string, data map[string]any) {
	c.renderIn(w, r, s, name, "layout", data)
}

// renderIn writes the template tmpl of page name: "layout" for the whole
// page, or a part of it that a script refreshes, with the same data.
func (c *Console) renderIn(w http.ResponseWriter, r *http.Request, s Session, name, tmpl string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["User"] = s.User
	data["SignedIn"] = s.User.ID != 0
	data["CSRF"] = s.CSRF
	data["Campaign"] = c.opts.Campaign
	data["Zone"] = c.opts.Location.String()
	data["Section"] = strings.Split(strings.TrimPrefix(path.Clean(r.URL.Path), "/"), "/")[0]
	data["IsEditor"] = s.User.Role.Can(RoleEditor)
	data["IsOwner"] = s.User.Role.Can(RoleOwner)
	data["NothingSends"] = s.User.ID != 0 && c.nothingSends(r.Context())
	data["CanConnect"] = c.opts.Accounts != nil
	data["HasChannels"] = c.opts.Accounts != nil && s.User.Role.Can(RoleOwner)
	data["HasReach"] = c.opts.Reach != nil
	if s.User.ID != 0 {
		data["Failed"] = c.failedPosts(r.Context())
	}
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, tmpl, data); err != nil {
		c.opts.Logger.Error("console: rendering page", "page", name, "err", err)
		http.Error(w, "Something went wrong while showing this page; the error is in Crier's log.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	buf.WriteTo(w)
}

func (c *Console) renderFragment(w http.ResponseWriter, r *http.Request, name string, data map[string]any) {
	var buf bytes.Buffer
	if err := c.pages["#"+name].ExecuteTemplate(&buf, name, data); err != nil {
		c.opts.Logger.Error("console: rendering fragment", "fragment", name, "err", err)
		http.Error(w, "preview failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	buf.WriteTo(w)
}

func itoa(n int) string { return strconv.Itoa(n) }

// title capitalises a name's first letter ("mastodon" → "Mastodon").
func title(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
