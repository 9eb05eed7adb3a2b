package console

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sqlTable finds the tables a piece of SQL names.
var sqlTable = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|INTO|UPDATE|TABLE(?: IF NOT EXISTS)?|INDEX \w+ ON)\s+([a-z_][a-z0-9_]*)`)

// TestConsoleSQLOnlyOnItsOwnTables: every table has one owner package
// (issue 21). The console's SQL names only its own tables (console_*);
// posts, deliveries and their parts are read through bot/store, supporters
// through subscribers.
func TestConsoleSQLOnlyOnItsOwnTables(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !strings.Contains(strings.ToUpper(s), "SELECT") && !strings.ContainsAny(s, "$") && !sqlStatement(s) {
				return true
			}
			for _, m := range sqlTable.FindAllStringSubmatch(s, -1) {
				if table := strings.ToLower(m[1]); !strings.HasPrefix(table, "console_") && table != "excluded" && table != "set" {
					t.Errorf("%s: SQL on table %s, which web/console does not own: go through its owner's API", fset.Position(lit.Pos()), table)
				}
			}
			return true
		})
	}
}

func sqlStatement(s string) bool {
	u := strings.ToUpper(strings.TrimSpace(s))
	for _, k := range []string{"INSERT ", "UPDATE ", "DELETE ", "CREATE "} {
		if strings.HasPrefix(u, k) {
			return true
		}
	}
	return false
}
