package web

import (
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"

	"github.com/crierhq/crier/i18n"
	"github.com/crierhq/crier/internal/overlayfs"
	"github.com/crierhq/crier/subscribers"
)

// loadPages parses the page templates, each page with the layout, taking
// each file from dir when it has one and from the built-in set otherwise.
func loadPages(dir string) (map[string]*template.Template, []byte, error) {
	builtin, _ := fs.Sub(templateFS, "templates")
	files, err := overlayfs.New(dir, builtin)
	if err != nil {
		return nil, nil, fmt.Errorf("page templates folder (http.templates): %w", err)
	}
	read := func(name string) (string, string, error) {
		b, where, err := files.Read(name)
		if err != nil {
			return "", where, fmt.Errorf("reading page template: %w", err)
		}
		return string(b), where, nil
	}
	funcs := template.FuncMap{"t": func(lang, key string, args ...any) string { return i18n.Builtin().T(lang, key, args...) }}
	layout, layoutWhere, err := read("layout.html")
	if err != nil {
		return nil, nil, err
	}
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).Parse(layout)
		if err != nil {
			return nil, nil, fmt.Errorf("page template %s: %w", layoutWhere, err)
		}
		src, where, err := read(name + ".html")
		if err != nil {
			return nil, nil, err
		}
		if _, err := t.New(name + ".html").Parse(src); err != nil {
			return nil, nil, fmt.Errorf("page template %s: %w", where, err)
		}
		if t.Lookup("content") == nil {
			return nil, nil, fmt.Errorf("page template %s: it must define \"content\" ({{define \"content\"}}...{{end}})", where)
		}
		pages[name] = t
	}
	css, _, err := read("newsletter.css")
	if err != nil {
		return nil, nil, fmt.Errorf("reading page style: %w", err)
	}
	return pages, []byte(css), nil
}

// Topic is one of the lists supporters may choose.
type Topic = subscribers.Topic

func topicLabel(t Topic, lang string) string {
	if n := t.Names[lang]; n != "" {
		return n
	}
	return t.Name
}

// topicChoice is a topic's checkbox.
type topicChoice struct {
	Key, Label string
	Checked    bool
}

// langLink is a language to choose.
type langLink struct {
	Code, Name, URL string
	Current         bool
}

// choice is a radio button.
type choice struct {
	Value, Label string
	Checked      bool
}

func (n *newsletter) tr(lang, key string, args ...any) string {
	return i18n.Builtin().T(lang, key, args...)
}

// lang is the language of the page: a lang parameter naming a catalogue
// (the language links, and the forms, which carry the page's language),
// else the browser's Accept-Language, else campaign.language.
func (n *newsletter) lang(r *http.Request) string {
	c := i18n.Builtin()
	if r.PostForm != nil {
		if l := c.Supported(r.PostForm.Get("lang")); l != "" {
			return l
		}
	}
	if l := c.Supported(r.URL.Query().Get("lang")); l != "" {
		return l
	}
	return c.Match(r.Header.Get("Accept-Language"), n.opts.Campaign.Language)
}

// languageLinks are the page's address in every language, keeping its
// other parameters (a link's token).
func (n *newsletter) languageLinks(r *http.Request, current string) []langLink {
	c := i18n.Builtin()
	var out []langLink
	for _, code := range c.Languages() {
		q := r.URL.Query()
		q.Set("lang", code)
		// Relative to the page itself, as every link of the pages is.
		base := path.Base(r.URL.Path)
		out = append(out, langLink{Code: code, Name: c.Name(code), URL: base + "?" + q.Encode(), Current: code == current})
	}
	return out
}

// knownTopics returns the topic keys asked for, and false when one of them
// is not a configured topic.
func (n *newsletter) knownTopics(asked []string) ([]string, bool) {
	var out []string
	for _, k := range asked {
		if !slices.ContainsFunc(n.opts.Topics, func(t Topic) bool { return t.Key == k }) {
			return nil, false
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, true
}

func (n *newsletter) topicChoices(lang string, checked []string) []topicChoice {
	var out []topicChoice
	for _, t := range n.opts.Topics {
		out = append(out, topicChoice{Key: t.Key, Label: topicLabel(t, lang), Checked: slices.Contains(checked, t.Key)})
	}
	return out
}
