package sqldb

import "strings"

// LikeEscape is the ESCAPE clause that goes with Contains' patterns; both
// SQLite and PostgreSQL read '\' as one backslash there.
const LikeEscape = `ESCAPE '\'`

// Contains returns a LIKE pattern (use with LikeEscape) that matches text
// containing s anywhere, with s's own %, _ and \ matching only themselves,
// so a search for "50%" or "a_b" finds just that.
func Contains(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}
