package architecture

import (
	"fmt"
	"slices"
	"strings"
)

// Markdown renders the packages as docs/architecture.md shows them: a
// diagram in rows, each package above everything it imports, and a table of
// what each provides, imports and owns.
func Markdown(pkgs []Package) string {
	var b strings.Builder
	rows := Rows(pkgs)
	b.WriteString("Every package imports only packages in lower rows; `internal/*` helpers\n")
	b.WriteString("that only explain, redact or cache are left out of the drawing, not the table.\n\n```\n")
	for i := len(rows) - 1; i >= 0; i-- {
		var drawn []string
		for _, p := range rows[i] {
			if !helper(p) {
				drawn = append(drawn, p)
			}
		}
		if len(drawn) == 0 {
			continue
		}
		fmt.Fprintf(&b, "row %d  %s\n", i, wrap(drawn, 8, 72))
	}
	b.WriteString("```\n\n| package | provides | imports (Crier's) | owns tables |\n|---|---|---|---|\n")
	for _, p := range pkgs {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", p.Path, p.Provides, list(p.Imports), list(p.Tables))
	}
	return b.String()
}

// Rows puts each package in the row one above the highest row it imports
// from; packages importing nothing of Crier's are row 0. Within a row the
// order is the rules' order.
func Rows(pkgs []Package) [][]string {
	byPath := map[string]Package{}
	for _, p := range pkgs {
		byPath[p.Path] = p
	}
	level := map[string]int{}
	var depth func(p string, seen []string) int
	depth = func(p string, seen []string) int {
		if l, ok := level[p]; ok {
			return l
		}
		if slices.Contains(seen, p) {
			panic("architecture: import cycle through " + strings.Join(append(seen, p), " -> "))
		}
		l := 0
		for _, d := range byPath[p].Imports {
			l = max(l, depth(d, append(seen, p))+1)
		}
		level[p] = l
		return l
	}
	var rows [][]string
	for _, p := range pkgs {
		l := depth(p.Path, nil)
		for len(rows) <= l {
			rows = append(rows, nil)
		}
		rows[l] = append(rows[l], p.Path)
	}
	return rows
}

func helper(p string) bool { return strings.HasPrefix(p, "internal/") }

func list(items []string) string {
	if len(items) == 0 {
		return "—"
	}
	return strings.Join(items, ", ")
}

// wrap joins names with two spaces, starting a new indented line before
// width is passed.
func wrap(names []string, indent, width int) string {
	var b strings.Builder
	n := indent
	for i, s := range names {
		if i > 0 && n+2+len(s) > width {
			b.WriteString("\n" + strings.Repeat(" ", indent))
			n = indent
		} else if i > 0 {
			b.WriteString("  ")
			n += 2
		}
		b.WriteString(s)
		n += len(s)
	}
	return b.String()
}
