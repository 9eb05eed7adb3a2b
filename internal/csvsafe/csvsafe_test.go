package csvsafe

import "testing"

func TestCellGuardsFormulasAndRoundTrips(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"=HYPERLINK(\"http://x\")": "'=HYPERLINK(\"http://x\")", "+1": "'+1", "-2+3": "'-2+3", "@SUM(A1)": "'@SUM(A1)",
		"\tx": "'\tx", "Vigil": "Vigil", "": "", "'quoted": "'quoted", "a=b": "a=b",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %q, want %q", in, got, want)
		}
		if got := Uncell(Cell(in)); got != in {
			t.Errorf("Uncell(Cell(%q)) = %q", in, got)
		}
	}
}
