package web

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"html"
	"net/http"
	"strings"
	"time"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/i18n"
)

// archiveItem is one newsletter in the archive list.
type archiveItem struct {
	Slug, Subject, Summary, Date, ISO string
	Digest                            bool
}

// archiveLimit bounds the archive list and its feed.
const archiveLimit = 500

func (n *newsletter) archiveList(w http.ResponseWriter, r *http.Request) {
	entries, err := n.opts.Archive.List(r.Context(), false, archiveLimit)
	if err != nil {
		n.fail(w, r, "listing the archive", err)
		return
	}
	lang := n.lang(r)
	d := pageData{Lang: lang, Indexable: true, FeedURL: "archive/feed.xml"}
	for _, e := range entries {
		d.Entries = append(d.Entries, archiveItem{Slug: archive.Slug(e.ID), Subject: e.Subject, Summary: e.Summary,
			Date: n.dateIn(e.SentAt), ISO: e.SentAt.UTC().Format(time.RFC3339), Digest: e.Kind == "digest"})
	}
	n.render(w, r, http.StatusOK, "archive", d)
}

// dateIn shows a day in the campaign's time zone, the same in every
// language (2026-11-20): month names are not in the catalogues.
func (n *newsletter) dateIn(t time.Time) string {
	loc := n.opts.Campaign.Location
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02")
}

// archivePage serves a newsletter's web version as it was archived: the
// newsletter with nothing personal in it. Its HTML is the mail's, with its
// styles on the elements, so the page allows inline styles and pictures
// from https addresses; it still runs no script and submits no form.
func (n *newsletter) archivePage(w http.ResponseWriter, r *http.Request) {
	e, err := n.opts.Archive.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, archive.ErrNotFound) || err == nil && e.Hidden {
		setPublicHeaders(w)
		n.render(w, r, http.StatusNotFound, "error", pageData{Base: "../", Title: "archive.not_found_title", Message: "archive.not_found"})
		return
	}
	if err != nil {
		setPublicHeaders(w)
		n.fail(w, r, "reading the archive", err)
		return
	}
	if !archive.Automated(r) {
		// A number per newsletter: no address, no cookie, nothing about
		// the reader. A view that cannot be counted still shows the page.
		if err := n.opts.Archive.CountView(r.Context(), e.ID); err != nil {
			n.opts.Logger.Warn("counting a view of the archive", "err", err)
		}
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Not kept by shared caches, so that each view reaches Crier and is
	// counted; a reader's own browser may keep it five minutes.
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	if e.Language != "" {
		h.Set("Content-Language", e.Language)
	}
	w.Write([]byte(e.HTML))
}

type rssFeed struct {
	XMLName xml.Name   `xml:"rss"`
	Version string     `xml:"version,attr"`
	Atom    string     `xml:"xmlns:atom,attr"`
	Channel rssChannel `xml:"channel"`
}

type rssChannel struct {
	Title       string    `xml:"title"`
	Link        string    `xml:"link"`
	Self        rssLink   `xml:"atom:link"`
	Description string    `xml:"description"`
	Language    string    `xml:"language,omitempty"`
	Items       []rssItem `xml:"item"`
}

type rssLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

// rssItem is one newsletter in the feed. RSS 2.0 says a description is
// HTML (readers decode the XML, then render the result as a page), so
// Description holds the summary as escaped HTML: feedText. Title is plain
// text in RSS 2.0 and stays as written.
type rssItem struct {
	Title       string  `xml:"title"`
	Link        string  `xml:"link"`
	GUID        rssGUID `xml:"guid"`
	PubDate     string  `xml:"pubDate"`
	Description string  `xml:"description,omitempty"`
}

type rssGUID struct {
	Value       string `xml:",chardata"`
	IsPermaLink bool   `xml:"isPermaLink,attr"`
}

// archiveFeed is the archive as RSS 2.0: each newsletter's subject,
// summary and web version's address; nothing personal.
func (n *newsletter) archiveFeed(w http.ResponseWriter, r *http.Request) {
	entries, err := n.opts.Archive.List(r.Context(), false, archiveLimit)
	if err != nil {
		n.opts.Logger.Error("listing the archive for its feed", "err", err)
		http.Error(w, "the archive cannot be read just now", http.StatusInternalServerError)
		return
	}
	base := strings.TrimRight(n.opts.PublicURL, "/")
	lang := i18n.Builtin().Match("", n.opts.Campaign.Language)
	name := n.opts.Campaign.Name
	feed := rssFeed{Version: "2.0", Atom: "http://www.w3.org/2005/Atom", Channel: rssChannel{
		Title: strings.TrimSpace(name + " " + n.tr(lang, "archive.title")), Link: base + "/archive",
		Self:        rssLink{Href: base + "/archive/feed.xml", Rel: "self", Type: "application/rss+xml"},
		Description: feedText(n.tr(lang, "archive.intro", name)), Language: lang}}
	for _, e := range entries {
		link := base + archive.Path(e.ID)
		feed.Channel.Items = append(feed.Channel.Items, rssItem{Title: e.Subject, Link: link, GUID: rssGUID{Value: link, IsPermaLink: true},
			PubDate: e.SentAt.UTC().Format(time.RFC1123Z), Description: feedText(e.Summary)})
	}
	out, err := xml.MarshalIndent(feed, "", "  ")
	if err != nil {
		n.opts.Logger.Error("writing the archive feed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Write([]byte(xml.Header))
	w.Write(out)
}

// feedText is text as the HTML of an RSS description: escaped, so that a
// summary such as "</p><script>" reaches a feed reader as those characters
// rather than as elements.
func feedText(s string) string { return html.EscapeString(s) }

// adminArchive lists the archive, hidden newsletters included.
func (n *newsletter) adminArchive(w http.ResponseWriter, r *http.Request) {
	entries, err := n.opts.Archive.List(r.Context(), true, archiveLimit)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "listing the archive failed")
		n.opts.Logger.Error("admin: listing the archive", "err", err)
		return
	}
	if entries == nil {
		entries = []archive.Entry{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"newsletters": entries})
}

// adminArchiveHide hides a newsletter from the public archive and its feed
// ({"hidden": true}) or shows it again ({"hidden": false}).
func (n *newsletter) adminArchiveHide(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Hidden *bool `json:"hidden"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.Hidden == nil {
		jsonError(w, http.StatusBadRequest, `the body must be {"hidden": true} or {"hidden": false}`)
		return
	}
	id := r.PathValue("id")
	err := n.opts.Archive.SetHidden(r.Context(), id, *body.Hidden)
	if errors.Is(err, archive.ErrNotFound) {
		jsonError(w, http.StatusNotFound, "no newsletter "+id+" in the archive")
		return
	}
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "changing the archive failed")
		n.opts.Logger.Error("admin: hiding a newsletter", "id", id, "err", err)
		return
	}
	n.opts.Logger.Info("archive: newsletter visibility changed", "id", id, "hidden", *body.Hidden)
	e, err := n.opts.Archive.Get(r.Context(), id)
	if err != nil {
		jsonError(w, http.StatusInternalServerError, "reading the archive failed")
		return
	}
	e.HTML = ""
	writeJSON(w, http.StatusOK, e)
}
