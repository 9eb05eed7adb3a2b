package sqldb

import "testing"

func TestContainsEscapesWildcards(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"sam": "%sam%", "100%": `%100\%%`, "a_b": `%a\_b%`, `c:\x`: `%c:\\x%`, "": "%%"} {
		if got := Contains(in); got != want {
			t.Errorf("Contains(%q) = %q, want %q", in, got, want)
		}
	}
}
