// Package i18n provides Crier's own words (pages, the confirmation mail,
// the newsletter's footer) in several languages, from one message
// catalogue file per language embedded in the binary, and the choice of a
// language from a browser's Accept-Language header.
//
// A catalogue is a flat JSON object of message keys to text; the text is a
// fmt format whose arguments the caller passes (%s, or %[2]s to reorder).
// English (en.json) is the reference: every key is there, and a key missing
// from another catalogue falls back to it. Adding a language is adding a
// file catalogues/<code>.json.
package i18n

import (
	"embed"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"

	"golang.org/x/text/language"
)

// Default is the reference language every key exists in.
const Default = "en"

//go:embed catalogues/*.json
var files embed.FS

// Catalogue holds the messages of every language.
type Catalogue struct {
	msgs    map[string]map[string]string // lang → key → format
	langs   []string                     // Default first, then sorted
	matcher language.Matcher
}

var (
	builtin     *Catalogue
	builtinErr  error
	builtinOnce sync.Once
)

// Builtin returns the catalogues shipped with Crier. It panics if one of
// them is broken, which the package's tests rule out.
func Builtin() *Catalogue {
	builtinOnce.Do(func() { builtin, builtinErr = load() })
	if builtinErr != nil {
		panic(builtinErr)
	}
	return builtin
}

func load() (*Catalogue, error) {
	entries, err := files.ReadDir("catalogues")
	if err != nil {
		return nil, fmt.Errorf("reading message catalogues: %w", err)
	}
	c := &Catalogue{msgs: map[string]map[string]string{}}
	for _, e := range entries {
		lang := strings.TrimSuffix(e.Name(), ".json")
		if _, err := language.Parse(lang); err != nil {
			return nil, fmt.Errorf("message catalogue %s: %q is not a language code: %w", e.Name(), lang, err)
		}
		b, err := files.ReadFile(path.Join("catalogues", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading message catalogue %s: %w", e.Name(), err)
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("message catalogue %s: %w", e.Name(), err)
		}
		c.msgs[lang] = m
	}
	if c.msgs[Default] == nil {
		return nil, fmt.Errorf("message catalogues: %s.json is missing", Default)
	}
	for l := range c.msgs {
		if l != Default {
			c.langs = append(c.langs, l)
		}
	}
	sort.Strings(c.langs)
	c.langs = append([]string{Default}, c.langs...)
	tags := make([]language.Tag, len(c.langs))
	for i, l := range c.langs {
		tags[i] = language.Make(l)
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// Languages are the languages there is a catalogue for, the default first.
func (c *Catalogue) Languages() []string { return append([]string(nil), c.langs...) }

// Supported returns the catalogue language for lang ("fr-CA" gives "fr"),
// or "" when there is none for it.
func (c *Catalogue) Supported(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	if lang == "" {
		return ""
	}
	if _, ok := c.msgs[lang]; ok {
		return lang
	}
	base, _, _ := strings.Cut(strings.ReplaceAll(lang, "_", "-"), "-")
	if _, ok := c.msgs[base]; ok {
		return base
	}
	return ""
}

// Match picks the best catalogue language for an Accept-Language header,
// falling back to fallback (when it has a catalogue) and then Default.
func (c *Catalogue) Match(acceptLanguage, fallback string) string {
	if fb := c.Supported(fallback); fb != "" && strings.TrimSpace(acceptLanguage) == "" {
		return fb
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err == nil && len(tags) > 0 {
		_, i, conf := c.matcher.Match(tags...)
		if conf != language.No {
			return c.langs[i]
		}
	}
	if fb := c.Supported(fallback); fb != "" {
		return fb
	}
	return Default
}

// T returns message key in lang (falling back to Default) with args put
// in. An unknown key gives the key itself, so a mistake shows on the page
// rather than hiding.
func (c *Catalogue) T(lang, key string, args ...any) string {
	f, ok := c.msgs[c.Supported(lang)][key]
	if !ok {
		if f, ok = c.msgs[Default][key]; !ok {
			return key
		}
	}
	if len(args) == 0 {
		return f
	}
	return fmt.Sprintf(f, args...)
}

// Name is a language's own name ("Français"), for choosing one.
func (c *Catalogue) Name(lang string) string { return c.T(lang, "language.name") }
