package newsletter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	htmltemplate "html/template"

	"golang.org/x/net/html"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/subscribers"
)

// Click counting (channels.email.count_clicks): each link of a newsletter's
// mail leads through Crier's own redirect, /l/<token>, whose token is the
// send and the address signed together. Every copy of the send carries the
// same link, so a click says which link of which newsletter was followed,
// never by whom; the store keeps one number per link and send.

// ClickPrefix is the redirect's path below http.public_url.
const ClickPrefix = "/l/"

// CountsClicks reports whether the newsletter's links are counted (the
// shipped default: count_clicks unset means true).
func (c Config) CountsClicks() bool { return c.CountClicks == nil || *c.CountClicks }

// clickURL is target as a counted link of sendID, or target as it is when
// it is not an http(s) address (mailto:, a fragment).
func (f *Formatter) clickURL(sendID, target string) string {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return target
	}
	return f.publicURL() + ClickPrefix + f.clicks.ClickToken(sendID, target)
}

// countedItems returns items with every http(s) link of their text and
// their "read on" link made a counted link of sendID.
func (f *Formatter) countedItems(sendID string, items []item) []item {
	out := make([]item, len(items))
	for i, it := range items {
		it.Link = f.clickURL(sendID, it.Link)
		it.HTML = htmltemplate.HTML(f.countedHTML(sendID, string(it.HTML)))
		out[i] = it
	}
	return out
}

// countedHTML rewrites the href of every <a> in src (sanitised HTML).
func (f *Formatter) countedHTML(sendID, src string) string {
	var out strings.Builder
	z := html.NewTokenizer(strings.NewReader(src))
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return out.String()
		case html.StartTagToken:
			tok := z.Token()
			if tok.Data != "a" {
				out.Write(z.Raw())
				continue
			}
			for i, a := range tok.Attr {
				if a.Key == "href" {
					tok.Attr[i].Val = f.clickURL(sendID, a.Val)
				}
			}
			out.WriteString(tok.String())
		default:
			out.Write(z.Raw())
		}
	}
}

// LinkClicks is how many times one link of a send was followed.
type LinkClicks struct {
	URL    string `json:"url"`
	Clicks int64  `json:"clicks"`
}

// Clicks lists the counted links of a send, most followed first.
func Clicks(ctx context.Context, db *sql.DB, sendID string) ([]LinkClicks, error) {
	rows, err := db.QueryContext(ctx, `SELECT url, clicks FROM email_link_clicks WHERE send_id = $1 ORDER BY clicks DESC, url`, sendID)
	if err != nil {
		return nil, fmt.Errorf("reading the clicks of %s: %w", sendID, err)
	}
	defer rows.Close()
	var out []LinkClicks
	for rows.Next() {
		var c LinkClicks
		if err := rows.Scan(&c.URL, &c.Clicks); err != nil {
			return nil, fmt.Errorf("reading the clicks of %s: %w", sendID, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ClickHandler is the redirect of counted links: a valid token is counted
// (once per request, unless the request is automated: archive.Automated)
// and answered with a redirect to its address; anything else is a 404, so
// the redirect leads nowhere but to a newsletter's own links.
type ClickHandler struct {
	// Count is count_clicks: false still redirects the links of earlier
	// sends, without counting.
	Count  bool
	DB     *sql.DB
	Signer *subscribers.Signer
	Logger *slog.Logger
}

func (h ClickHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sendID, target, err := h.Signer.CheckClick(strings.TrimPrefix(r.URL.Path, ClickPrefix))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if err != nil || !isWebAddress(target) {
		http.Error(w, "This link is not valid. Please check it was copied whole from the newsletter.", http.StatusNotFound)
		return
	}
	if h.Count && !archive.Automated(r) {
		if _, err := h.DB.ExecContext(r.Context(), `INSERT INTO email_link_clicks (send_id, url, clicks) VALUES ($1, $2, 1)
			ON CONFLICT (send_id, url) DO UPDATE SET clicks = email_link_clicks.clicks + 1`, sendID, target); err != nil && h.Logger != nil {
			// The reader still gets where they were going.
			h.Logger.Warn("counting a newsletter click", "send", sendID, "err", err)
		}
	}
	http.Redirect(w, r, target, http.StatusFound)
}

func isWebAddress(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

var errNoSend = errors.New("no newsletter was sent for this delivery")
