// Package csvsafe keeps the text cells of Crier's CSV exports from running
// as formulas when a spreadsheet opens them ("CSV injection"): a post title
// or a supporter's name such as "=HYPERLINK(...)" comes from people Crier
// does not control.
package csvsafe

import "strings"

// risky are the first characters that make a spreadsheet read a cell as a
// formula (and tab and carriage return, which some read past).
const risky = "=+-@\t\r"

// Cell returns v with a leading apostrophe when it starts like a formula:
// the apostrophe is what spreadsheets themselves use for "this is text".
func Cell(v string) string {
	if v != "" && strings.ContainsRune(risky, rune(v[0])) {
		return "'" + v
	}
	return v
}

// Uncell reverses Cell, for an import reading an export back.
func Uncell(v string) string {
	if len(v) >= 2 && v[0] == '\'' && strings.ContainsRune(risky, rune(v[1])) {
		return v[1:]
	}
	return v
}
