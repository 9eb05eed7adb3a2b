package subscribers

import (
	"context"
	"testing"

	pgpeer "github.com/crierhq/crier/internal/testpeers/postgres"
)

func TestSearchAnyPartOfAddressOrName(t *testing.T) { pgpeer.EachDriver(t, testSearch) }

func testSearch(t *testing.T, driver string) {
	ctx := context.Background()
	s, _ := openTest(t, driver)
	for _, sub := range []Subscriber{{Email: "sam.okafor@example.org", Name: "Sam Okafor"}, {Email: "x_y@example.net", Name: "100% Ally"},
		{Email: "xzy@example.net", Name: "Zoë"}} {
		if _, err := s.Add(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	for q, want := range map[string]string{"OKAFOR": "sam.okafor@example.org", "sam okafor": "sam.okafor@example.org",
		"x_y": "x_y@example.net", "100%": "x_y@example.net", "%": "x_y@example.net", "zoë": "xzy@example.net", "nobody": ""} {
		got, err := s.Search(ctx, q, 50)
		if err != nil {
			t.Fatalf("q=%q: %v", q, err)
		}
		if want == "" && len(got) == 0 {
			continue
		}
		if len(got) != 1 || got[0].Email != want {
			t.Errorf("q=%q found %v, want only %s", q, got, want)
		}
	}
	if got, _ := s.Search(ctx, "example", 2); len(got) != 2 || got[0].Email != "sam.okafor@example.org" {
		t.Errorf("limit 2, by address: %v", got)
	}
}
