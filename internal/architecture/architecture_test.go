package architecture

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/scanner"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/architecture.md")

const module = "github.com/crierhq/crier"

// listed is one package as go list reports it.
type listed struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
}

// bundle is what every test here reads: the module's root, its packages as
// go list sees them and the rules as a map.
type bundle struct {
	root  string
	code  map[string]listed // by path relative to the module
	rules map[string]Package
}

func setup(t *testing.T) bundle {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list ./...: %v", err)
	}
	b := bundle{root: root, code: map[string]listed{}, rules: map[string]Package{}}
	for dec := json.NewDecoder(bytes.NewReader(out)); dec.More(); {
		var p listed
		if err := dec.Decode(&p); err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		b.code[rel(p.ImportPath)] = p
	}
	for _, p := range Packages {
		if _, dup := b.rules[p.Path]; dup {
			t.Fatalf("packages.go lists %s twice", p.Path)
		}
		b.rules[p.Path] = p
	}
	return b
}

// rel is a Crier import path relative to the module ("" for another module's).
func rel(importPath string) string {
	if importPath == module {
		return "."
	}
	r, ok := strings.CutPrefix(importPath, module+"/")
	if !ok {
		return ""
	}
	return r
}

// testOnly are packages only tests import; they are not drawn.
func testOnly(p string) bool {
	return strings.HasPrefix(p, "internal/testpeers/") || p == "internal/testlog" || p == "internal/testnet" || p == "channels/channeltest"
}

// TestImports checks every import edge between Crier's packages against
// packages.go, both ways: an edge the code has and the rules do not is a
// broken rule; one the rules have and the code does not is a stale drawing.
func TestImports(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for path, p := range b.code {
		if testOnly(path) {
			continue
		}
		r, ok := b.rules[path]
		if !ok {
			t.Errorf("%s is not in internal/architecture/packages.go: add it with what it provides, what it imports and the tables it owns", path)
			continue
		}
		var got []string
		for _, imp := range p.Imports {
			if d := rel(imp); d != "" {
				got = append(got, d)
				if !slices.Contains(r.Imports, d) {
					t.Errorf("%s imports %s: not an allowed edge (internal/architecture/packages.go)", path, d)
				}
			}
		}
		for _, d := range r.Imports {
			if !slices.Contains(got, d) {
				t.Errorf("packages.go says %s imports %s, but it does not: remove the edge from packages.go", path, d)
			}
		}
	}
	for path := range b.rules {
		if _, ok := b.code[path]; !ok {
			t.Errorf("packages.go lists %s, which does not exist", path)
		}
	}
}

// TestChannelImports checks that cmd/crier names channel types only in
// providers.go, and that no other package names one except channels' own.
func TestChannelImports(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for path, p := range b.code {
		for _, imp := range p.Imports {
			d := rel(imp)
			if !isChannelType(d) || path == d || strings.HasPrefix(path, "channels/") && path != "channels" {
				continue
			}
			if path != "cmd/crier" {
				t.Errorf("%s imports the channel package %s: only %s may", path, d, ChannelImportsOnlyIn)
				continue
			}
			for _, f := range p.GoFiles {
				if imports(t, filepath.Join(p.Dir, f), imp) && path+"/"+f != ChannelImportsOnlyIn {
					t.Errorf("%s/%s imports %s: only %s may name a channel type", path, f, d, ChannelImportsOnlyIn)
				}
			}
		}
	}
}

// isChannelType says whether p is one channel type's package (not the
// contract in channels, nor the helpers every channel shares).
func isChannelType(p string) bool {
	if !strings.HasPrefix(p, "channels/") {
		return false
	}
	switch path.Base(p) {
	case "httpcall", "markdown", "plaintext", "outbox", "channeltest":
		return false
	}
	return true
}

func imports(t *testing.T, file, importPath string) bool {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(src, []byte(`"`+importPath+`"`))
}

var (
	sqlVerb  = regexp.MustCompile(`\b(SELECT|INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|WITH)\b`)
	sqlTable = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|INTO|UPDATE|TABLE(?:\s+IF\s+(?:NOT\s+)?EXISTS)?|ON)\s+"?([a-z_][a-z0-9_]*)`)
	created  = regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([a-z_][a-z0-9_]*)`)
)

// TestTables checks that every table's SQL is in its owner's package: the
// string literals of every non-test file are read for SQL that names a
// table, and a table named outside its owner fails with file and line. A
// table created anywhere must have an owner in packages.go.
func TestTables(t *testing.T) {
	t.Parallel()
	b := setup(t)
	owner := map[string]string{}
	for _, r := range Packages {
		for _, tab := range r.Tables {
			owner[tab] = r.Path
		}
	}
	for path, p := range b.code {
		for _, f := range p.GoFiles {
			for _, use := range sqlIn(t, filepath.Join(p.Dir, f)) {
				if c := created.FindStringSubmatch(use.sql); c != nil && owner[c[1]] == "" {
					t.Errorf("%s/%s:%d creates table %s, which has no owner in packages.go", path, f, use.line, c[1])
				}
				seen := map[string]bool{}
				for _, m := range sqlTable.FindAllStringSubmatch(use.sql, -1) {
					if o := owner[m[1]]; o != "" && o != path && !seen[m[1]] {
						seen[m[1]] = true
						t.Errorf("%s/%s:%d uses table %s, owned by %s: go through %s's API", path, f, use.line, m[1], o, o)
					}
				}
			}
		}
	}
}

type sqlText struct {
	line int
	sql  string
}

// sqlIn returns the string literals of a Go file that read as SQL; comments
// and prose are not looked at.
func sqlIn(t *testing.T, file string) []sqlText {
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var s scanner.Scanner
	s.Init(fset.AddFile(file, -1, len(src)), src, nil, 0)
	var out []sqlText
	for {
		pos, tok, lit := s.Scan()
		if tok == token.EOF {
			return out
		}
		if tok == token.STRING && sqlVerb.MatchString(lit) {
			out = append(out, sqlText{fset.Position(pos).Line, lit})
		}
	}
}

const (
	beginMark = "<!-- BEGIN generated by `go test ./internal/architecture -update` from internal/architecture/packages.go: do not edit -->"
	endMark   = "<!-- END generated -->"
)

// TestDocs checks that docs/architecture.md's package table and diagram are
// what packages.go generates; -update rewrites them.
func TestDocs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	file := filepath.Join(b.root, "docs", "architecture.md")
	doc, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), beginMark)
	_, after, ok2 := strings.Cut(rest, endMark)
	if !ok1 || !ok2 {
		t.Fatalf("docs/architecture.md has no generated part: put %q and %q around it", beginMark, endMark)
	}
	want := before + beginMark + "\n" + Markdown(Packages) + endMark + after
	if want == string(doc) {
		return
	}
	if *update {
		if err := os.WriteFile(file, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/architecture.md is stale: run go test ./internal/architecture -update")
}

func TestRulesSayWhatEachProvides(t *testing.T) {
	t.Parallel()
	for _, p := range Packages {
		if p.Provides == "" {
			t.Errorf("packages.go: %s says nothing of what it provides", p.Path)
		}
		if fmt.Sprint(p.Imports) != fmt.Sprint(slices.Sorted(slices.Values(p.Imports))) {
			t.Errorf("packages.go: %s's imports are not sorted", p.Path)
		}
	}
}
