// Package explain provides organiser-friendly wording for mistakes in
// hand-written files: YAML syntax errors in plain words with the line they
// are on, and "did you mean" suggestions for misspelt names.
package explain

import (
	"regexp"
	"strconv"
	"strings"
)

// yamlMessage is one YAML parser message in plain words. zeroBased marks
// the parser's (not the scanner's) messages, whose line numbers count from 0.
type yamlMessage struct {
	raw       string
	plain     string
	zeroBased bool
}

var yamlMessages = []yamlMessage{
	{"mapping values are not allowed in this context", `a value contains ": " (a colon and a space), or a line is indented more than the one above; put the whole value in quotes, like  title: "Vigil: Saturday at 6pm"`, false},
	{"could not find expected ':'", `this line is neither "name: value" nor part of the value above; add the missing ":" or indent the line under its field`, false},
	{"found a tab character that violates indentation", "this line is indented with a tab; indent with spaces only", false},
	{"found character that cannot start any token", "a value starts with a character YAML reserves (such as @, ` or a tab); put the value in quotes", false},
	{"found unknown escape character", `a backslash (\) inside double quotes; write \\ or use single quotes`, false},
	{"found unexpected end of stream", `a quoted value is never closed; add the closing quote`, false},
	{"did not find expected ',' or ']'", `a list opened with "[" is never closed with "]" (or lacks a comma between items)`, true},
	{"did not find expected ',' or '}'", `a group opened with "{" is never closed with "}"`, true},
	{"did not find expected key", `this line does not fit the fields above it: check its indentation, and that a value starting with a quote ends with the same quote (write it's inside double quotes, or '' inside single quotes)`, true},
	{"did not find expected node content", "a value is missing or starts with a character YAML reserves; put the value in quotes", true},
	{"did not find expected '-' indicator", `a list item does not start with "- " like the items above it`, true},
	{"block sequence entries are not allowed in this context", `a "- " list item is where a value belongs; put the list on the lines below its field, indented`, false},
}

var yamlLine = regexp.MustCompile(`(?s)^(?:yaml: )?(?:line (\d+): )?(.*)$`)

// YAML turns a YAML syntax error into plain words and the 1-based line (of
// src, the text that was parsed) the mistake is on. ok is false when err is
// not a syntax error it knows; msg is then the parser's message.
func YAML(err error, src string) (line int, msg string, ok bool) {
	m := yamlLine.FindStringSubmatch(err.Error())
	raw := m[2]
	line = 1
	reported := m[1] != ""
	if reported {
		line, _ = strconv.Atoi(m[1])
	}
	for _, y := range yamlMessages {
		if !strings.HasPrefix(raw, y.raw) {
			continue
		}
		if y.zeroBased && reported {
			line++
		}
		// The parser's line for these is where it noticed, not where the
		// mistake is: find the mistake itself.
		find := map[string]func(string) int{
			"found unexpected end of stream":                  unclosedQuote,
			"found a tab character that violates indentation": tabIndent,
			"did not find expected ',' or ']'":                unclosed('[', ']'),
			"did not find expected ',' or '}'":                unclosed('{', '}'),
		}[y.raw]
		if find != nil {
			if l := find(src); l > 0 {
				line = l
			}
		}
		return line, y.plain, true
	}
	return line, raw, false
}

// unclosedQuote finds the first line that opens a double-quoted value and
// does not close it.
func unclosedQuote(src string) int {
	for i, l := range strings.Split(src, "\n") {
		_, v, found := strings.Cut(l, ": ")
		v = strings.TrimSpace(v)
		if found && strings.HasPrefix(v, `"`) && strings.Count(strings.ReplaceAll(v, `\"`, ""), `"`)%2 == 1 {
			return i + 1
		}
	}
	return 0
}

// unclosed finds the first line that opens more brackets than it closes.
func unclosed(open, close byte) func(string) int {
	return func(src string) int {
		for i, l := range strings.Split(src, "\n") {
			if strings.Count(l, string(open)) > strings.Count(l, string(close)) {
				return i + 1
			}
		}
		return 0
	}
}

// tabIndent finds the first line indented with a tab.
func tabIndent(src string) int {
	for i, l := range strings.Split(src, "\n") {
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if strings.Contains(indent, "\t") && strings.TrimSpace(l) != "" {
			return i + 1
		}
	}
	return 0
}

// Closest suggests the known name within two edits of s, or "".
func Closest(s string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := distance(strings.ToLower(s), k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance between two short strings.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
