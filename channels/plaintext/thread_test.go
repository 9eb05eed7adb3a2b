package plaintext

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestThreadNumbersOnceTheCountHolds(t *testing.T) {
	t.Parallel()
	// A split that needs a part more whenever the numbers get a digit
	// more, and one more part than first estimated.
	var asked []int
	split := func(total int) ([]string, error) {
		asked = append(asked, total)
		n := 3
		if total >= 10 {
			n = 11
		}
		return slices.Repeat([]string{"text"}, n), nil
	}
	got, err := Thread(2, 10, split)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !strings.HasSuffix(got[0], "\n\n1/3") || !strings.HasSuffix(got[2], "\n\n3/3") {
		t.Errorf("parts %q", got)
	}
	if !slices.Equal(asked, []int{2, 3}) {
		t.Errorf("split asked for %v, want 2 then 3", asked)
	}
	// At the limit: taken as split made it (it shortens the last part).
	asked = nil
	got, _ = Thread(12, 10, split)
	if len(got) != 11 || !slices.Equal(asked, []int{10}) {
		t.Errorf("at the limit: %d parts after %v", len(got), asked)
	}
}

func TestThreadOfOnePartHasNoNumber(t *testing.T) {
	t.Parallel()
	got, err := Thread(1, 10, func(int) ([]string, error) { return []string{"short"}, nil })
	if err != nil || !slices.Equal(got, []string{"short"}) {
		t.Errorf("%q, %v", got, err)
	}
	want := errors.New("no room")
	if _, err := Thread(2, 10, func(int) ([]string, error) { return nil, want }); !errors.Is(err, want) {
		t.Errorf("error %v, want %v", err, want)
	}
}
