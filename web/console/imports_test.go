package console

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
	"github.com/crierhq/crier/subscribers"
)

// importBundle is a console with the newsletter on, and an editor signed in.
type importBundle struct {
	*bundle
	subs   *subscribers.Store
	editor *browser
}

// consoleWithSupporters builds a console on b's store with the newsletter
// on, served at its own address; opt may change its options.
func consoleWithSupporters(t *testing.T, b *bundle, subs *subscribers.Store, opt func(*Options)) (*Console, *httptest.Server) {
	t.Helper()
	opts := Options{Users: b.users, Store: b.st, Publisher: b.pub, Subscribers: subs, Now: b.now.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if opt != nil {
		opt(&opts)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(srv.Close)
	return c, srv
}

func setupImports(t *testing.T, opt func(*Options)) *importBundle {
	t.Helper()
	return setupImportsOn(t, "sqlite", opt)
}

// setupImportsOn is setupImports on the named database driver.
func setupImportsOn(t *testing.T, driver string, opt func(*Options)) *importBundle {
	t.Helper()
	b := setupOn(t, driver)
	subs, err := subscribers.Open(context.Background(), b.st.DB())
	if err != nil {
		t.Fatal(err)
	}
	b.c, b.srv = consoleWithSupporters(t, b, subs, opt)
	return &importBundle{bundle: b, subs: subs, editor: b.browser(t).signedIn("editor@example.org")}
}

// csvOf is a CSV of n supporters.
func csvOf(n int) []byte {
	var sb strings.Builder
	sb.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&sb, "supporter%06d@example.org,Supporter %d\n", i, i)
	}
	return []byte(sb.String())
}

// upload posts a CSV to the import form.
func (br *browser) upload(name string, data []byte) page {
	br.t.Helper()
	body, ctype := multipartForm(br.t, map[string]string{"csrf": br.csrf()}, "csv", name, data)
	resp, err := br.client.Post(br.base+"/supporters/import", ctype, body)
	if err != nil {
		br.t.Fatal(err)
	}
	return readPage(br.t, resp)
}

// waitImported follows an import's page until it has ended.
func (br *browser) waitImported(loc string) page {
	br.t.Helper()
	var p page
	testnet.WaitFor(br.t, "the import at "+loc+" ending", 60*time.Second, func() bool {
		p = br.get(loc)
		return p.status != http.StatusOK || strings.Contains(p.body, `data-done="true"`)
	})
	return p
}

// TestImportsAreForgottenWhenDone: nothing about an ended import stays in
// memory (its page reads the database).
func TestImportsAreForgottenWhenDone(t *testing.T) {
	t.Parallel()
	b := setupImports(t, nil)
	for i := range 3 {
		p := b.editor.upload(fmt.Sprintf("list%d.csv", i), csvOf(10))
		if p.status != http.StatusSeeOther {
			t.Fatalf("upload %d: %d %s", i, p.status, p.body)
		}
		if done := b.editor.waitImported(p.loc); !strings.Contains(done.body, "Done: 10 rows") {
			t.Fatalf("import %d: %s", i, done.body)
		}
	}
	b.c.imports.mu.Lock()
	kept := len(b.c.imports.m)
	b.c.imports.mu.Unlock()
	if kept != 0 {
		t.Errorf("%d ended imports are still held in memory", kept)
	}
}

// TestSecondImportIsRefused: imports run one at a time; a second upload
// while one runs is refused, saying why, and adds nobody.
func TestSecondImportIsRefused(t *testing.T) {
	t.Parallel()
	b := setupImports(t, nil)
	first := b.editor.upload("big.csv", csvOf(100_000))
	if first.status != http.StatusSeeOther {
		t.Fatalf("first upload: %d", first.status)
	}
	second := b.editor.upload("small.csv", []byte("email\nlate@example.org\n"))
	if second.status != http.StatusConflict || !strings.Contains(second.body, "another import is running (big.csv") {
		t.Errorf("a second import while big.csv runs: %d %.300s", second.status, second.body)
	}
	b.editor.waitImported(first.loc)
	if _, err := b.subs.GetByEmail(context.Background(), "late@example.org"); err == nil {
		t.Error("the refused import added its row")
	}
}

var rowsHandledRe = regexp.MustCompile(`after (\d+) of about (\d+) rows: (\d+) added`)

// TestImportShowsTheFirstRejectedRows: a file of bad rows lists the first
// 100 on its page and counts the rest.
func TestImportShowsTheFirstRejectedRows(t *testing.T) {
	t.Parallel()
	b := setupImports(t, nil)
	var sb strings.Builder
	sb.WriteString("email\n")
	for i := range 250 {
		fmt.Fprintf(&sb, "bad%d\n", i)
	}
	p := b.editor.upload("bad.csv", []byte(sb.String()))
	done := b.editor.waitImported(p.loc)
	if !strings.Contains(done.body, "250 rejected") || !strings.Contains(done.body, "the first 100; 150 more") || strings.Count(done.body, "<tr><td>") != 100 {
		t.Fatalf("the page of 250 bad rows:\n%s", done.body)
	}
}
