package i18n

import (
	"strings"
	"testing"
)

// Every catalogue translates every English key, with the same arguments.
func TestCataloguesComplete(t *testing.T) {
	t.Parallel()
	c := Builtin()
	if got := c.Languages(); len(got) < 4 || got[0] != Default {
		t.Fatalf("languages = %v, want en first and at least en, de, es, fr", got)
	}
	for _, lang := range c.Languages() {
		for key, en := range c.msgs[Default] {
			tr, ok := c.msgs[lang][key]
			if !ok {
				t.Errorf("%s.json: key %q is missing", lang, key)
				continue
			}
			if strings.Count(tr, "%") != strings.Count(en, "%") {
				t.Errorf("%s.json: %q has %d %% verbs, English has %d", lang, key, strings.Count(tr, "%"), strings.Count(en, "%"))
			}
			if strings.TrimSpace(tr) == "" {
				t.Errorf("%s.json: %q is empty", lang, key)
			}
		}
		for key := range c.msgs[lang] {
			if _, ok := c.msgs[Default][key]; !ok {
				t.Errorf("%s.json: key %q is not in en.json (a typo?)", lang, key)
			}
		}
	}
}

func TestMatch(t *testing.T) {
	t.Parallel()
	c := Builtin()
	for _, tc := range []struct{ header, fallback, want string }{
		{"fr-CA,fr;q=0.9,en;q=0.8", "en", "fr"},
		{"de-DE", "en", "de"},
		{"es-419,es;q=0.9", "en", "es"},
		{"ja,zh;q=0.5", "en", "en"},
		{"ja", "fr", "fr"},
		{"", "de", "de"},
		{"", "", "en"},
		{"garbage;;;q=x", "es", "es"},
		{"en-GB,en;q=0.9,fr;q=0.1", "fr", "en"},
	} {
		if got := c.Match(tc.header, tc.fallback); got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.header, tc.fallback, got, tc.want)
		}
	}
}

func TestT(t *testing.T) {
	t.Parallel()
	c := Builtin()
	if got := c.T("fr", "mail.dear", "Zoë"); got != "Bonjour Zoë," {
		t.Errorf("fr mail.dear = %q", got)
	}
	if got := c.T("pt", "mail.hello"); got != "Hello," {
		t.Errorf("unknown language falls back to English: got %q", got)
	}
	if got := c.T("de-AT", "mail.hello"); got != "Hallo," {
		t.Errorf("de-AT: got %q", got)
	}
	if got := c.T("en", "no.such.key"); got != "no.such.key" {
		t.Errorf("unknown key: got %q", got)
	}
	if c.Supported("xx") != "" || c.Supported("FR") != "fr" {
		t.Error("Supported")
	}
}
