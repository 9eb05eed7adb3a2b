package console

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crierhq/crier/internal/testpeers/postgres"
	"github.com/crierhq/crier/subscribers"
)

func TestSupporterSearchFindsAnyPartOfAddressOrName(t *testing.T) {
	t.Parallel()
	postgres.EachDriver(t, testSupporterSearch)
}

func testSupporterSearch(t *testing.T, driver string) {
	b := setupOn(t, driver)
	ctx := context.Background()
	subs, err := subscribers.Open(ctx, b.st.DB())
	if err != nil {
		t.Fatal(err)
	}
	b.c.opts.Subscribers = subs
	var logs bytes.Buffer
	b.c.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	for _, s := range []subscribers.Subscriber{
		{Email: "sam.okafor@example.org", Name: "Sam Okafor"},
		{Email: "r.jones@camaca.example", Name: "Rhiannon Jones"},
		{Email: "x_y@example.net", Name: "100% Ally"},
		{Email: "xzy@example.net", Name: "Other"},
	} {
		if _, err := subs.Add(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	editor := b.browser(t).signedIn("editor@example.org")
	page := editor.get("/supporters")
	if !strings.Contains(page.body, `<label for="q">Find by address or name</label>`) {
		t.Error("the search field is not labelled for address or name")
	}
	for _, c := range []struct {
		q          string
		want, not_ []string
	}{
		{"okafor", []string{"sam.okafor@example.org"}, []string{"r.jones@"}},            // middle of the address
		{"@camaca.example", []string{"r.jones@camaca.example"}, []string{"sam.okafor"}}, // the domain
		{"rhiannon", []string{"r.jones@camaca.example"}, []string{"sam.okafor"}},        // the name, any case
		{"JONES", []string{"r.jones@camaca.example"}, nil},
		{"x_y", []string{"x_y@example.net"}, []string{"xzy@example.net"}},  // _ is no wildcard
		{"100%", []string{"x_y@example.net"}, []string{"xzy@example.net"}}, // nor is %
		{"%", []string{"x_y@example.net"}, []string{"sam.okafor", "xzy@"}},
	} {
		p := editor.get("/supporters?q=" + url.QueryEscape(c.q))
		if p.status != http.StatusOK {
			t.Fatalf("q=%q: %d", c.q, p.status)
		}
		for _, w := range c.want {
			if !strings.Contains(p.body, w) {
				t.Errorf("q=%q does not find %s", c.q, w)
			}
		}
		for _, n := range c.not_ {
			if strings.Contains(p.body, n) {
				t.Errorf("q=%q finds %s too", c.q, n)
			}
		}
	}
	if p := editor.get("/supporters?q=nobody"); !strings.Contains(p.body, "No supporter’s address or name contains “nobody”") {
		t.Error("no answer when nothing matches")
	}
	if strings.Contains(logs.String(), "@") {
		t.Errorf("an address reached the log:\n%s", logs.String())
	}
}
