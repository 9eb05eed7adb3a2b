package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/crierhq/crier/archive"
	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// browserUA is a reader's browser: the redirect does not count clients
// that say they are bots or HTTP libraries.
const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

// TestReachNewsletterClicksAndViews sends a newsletter through Mailpit to
// two supporters and follows its counted link with real HTTP requests:
// each browser GET is counted once, a HEAD, a prefetch and a bot are not,
// a forged or altered link is a 404 (no open redirect), and both copies
// carry the same link. The database keeps one number per link and send,
// with neither supporter's address nor id; archive views are counted
// without cookies; crier reach shows it all.
func TestReachNewsletterClicksAndViews(t *testing.T) {
	t.Parallel()
	mp := mailpit.Start(t, mailpit.Options{})
	ctx := context.Background()
	b := setup(t, "")
	posts := filepath.Join(b.dir, "posts")
	os.MkdirAll(posts, 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	b.write("config.yaml", mailpitConfig(addr, mp, "", "")+"schedules: {publish_due: \"@every 1s\"}\n")
	os.WriteFile(filepath.Join(b.dir, "list.csv"), []byte("email,name\nada@supporters.example,Ada\nben@supporters.example,Ben\n"), 0o644)
	if code, out, errs := b.crier("subscribers", "import", "--consented", filepath.Join(b.dir, "list.csv")); code != 0 {
		t.Fatalf("import: %d %s %s", code, out, errs)
	}
	b.startDaemon(base+"/healthz", http.DefaultClient)
	os.WriteFile(filepath.Join(posts, "vigil.md"), []byte("---\ntitle: Vigil on Saturday\nlink: https://camaca.example/news/vigil\n---\nSign [the petition](https://camaca.example/petition?ref=news) today.\n"), 0o644)
	b.waitDelivered("md:vigil")

	links := map[string]string{}
	for _, to := range []string{"ada@supporters.example", "ben@supporters.example"} {
		m, err := mp.Message(ctx, waitMail(t, mp, to, 1)[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(m.HTML, `href="https://camaca.example/petition`) {
			t.Fatalf("the petition link is not counted in %s's copy:\n%s", to, m.HTML)
		}
		link := regexp.MustCompile(regexp.QuoteMeta(base+"/l/")+`[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+`).FindAllString(m.HTML, -1)
		if len(link) < 2 {
			t.Fatalf("want counted links (the petition, read on) in:\n%s", m.HTML)
		}
		slices.Sort(link)
		links[to] = strings.Join(slices.Compact(link), " ")
	}
	if links["ada@supporters.example"] != links["ben@supporters.example"] {
		t.Fatalf("the copies carry different links (a per-person identifier):\n%v", links)
	}
	var petition string
	for _, l := range strings.Fields(links["ada@supporters.example"]) {
		if loc := follow(t, "GET", l, browserUA, nil); loc == "https://camaca.example/petition?ref=news" {
			petition = l
		}
	}
	if petition == "" {
		t.Fatalf("no link leads to the petition: %v", links)
	}
	follow(t, "GET", petition, browserUA, nil)
	follow(t, "HEAD", petition, browserUA, nil)
	follow(t, "GET", petition, browserUA, map[string]string{"Sec-Purpose": "prefetch"})
	follow(t, "GET", petition, "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", nil)
	// Altered links lead nowhere.
	tok := strings.TrimPrefix(petition, base+"/l/")
	payload, sig, _ := strings.Cut(tok, ".")
	for _, bad := range []string{base + "/l/" + payload + "x." + sig, base + "/l/aHR0cHM6Ly9ldmlsLmV4YW1wbGU." + sig, base + "/l/" + payload} {
		resp := request(t, "GET", bad, browserUA, nil)
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("Location") != "" {
			t.Errorf("altered link %s: %d to %q, want 404 and no redirect", bad, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The web version: viewed twice by a browser, once by a crawler.
	page := base + archive.Path("post:md:vigil")
	for _, ua := range []string{browserUA, browserUA, "Googlebot/2.1"} {
		if resp := request(t, "GET", page, ua, nil); resp.StatusCode != 200 || resp.Header.Get("Set-Cookie") != "" {
			t.Fatalf("archive page: %d, cookie %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
		}
	}

	r, out := b.reach("--refresh", "md:vigil")
	if len(r.Channels) != 1 {
		t.Fatalf("crier reach: %s", out)
	}
	e := r.Channels[0].Extra
	// The petition twice, the post's own link (each distinct link was
	// followed once to find the petition's) once.
	for name, want := range map[string]string{"clicks": "3", "clicks https://camaca.example/petition?ref=news": "2", "clicks https://camaca.example/news/vigil": "1", "delivered": "2", "bounced": "0", "archive views": "2"} {
		if got := counter(e, name); got != want {
			t.Errorf("%s = %s, want %s\n%s", name, got, want, out)
		}
	}
	if got := counter(r.Channels[0].Counters, "likes"); got != "not available" {
		t.Errorf("a newsletter's likes = %s, want not available", got)
	}

	db, err := sql.Open("sqlite", filepath.Join(b.dir, "data", "crier.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"email_link_clicks", "newsletter_archive_views"} {
		dump := dumpTable(t, db, table)
		for _, who := range []string{"ada", "ben", "supporters.example", "127.0.0.1", "Mozilla"} {
			if strings.Contains(strings.ToLower(dump), strings.ToLower(who)) {
				t.Errorf("%s holds %q:\n%s", table, who, dump)
			}
		}
		t.Logf("%s:\n%s", table, dump)
	}
	if dump := dumpTable(t, db, "email_link_clicks"); !strings.Contains(dump, "post:md:vigil|https://camaca.example/petition?ref=news|2") {
		t.Errorf("email_link_clicks:\n%s\nwant the petition's 2 clicks", dump)
	}
}

// follow requests u without following redirects and returns Location.
func follow(t *testing.T, method, u, ua string, header map[string]string) string {
	t.Helper()
	resp := request(t, method, u, ua, header)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("%s %s: %d, want 302", method, u, resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func request(t *testing.T, method, u, ua string, header map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	req.Header.Set("User-Agent", ua)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// dumpTable is every row of table, one a line, columns joined by |, with
// the column names first.
func dumpTable(t *testing.T, db *sql.DB, table string) string {
	t.Helper()
	rows, err := db.Query(`SELECT * FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	out := []string{strings.Join(cols, "|")}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line := make([]string, len(cols))
		for i, v := range vals {
			line[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(line, "|"))
	}
	return strings.Join(out, "\n")
}
