package threads

import "testing"

// An address written out unlinked loses its scheme, brackets its host's
// dots, and is never longer than it was (the post still fits).
func TestUnlinked(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://camaca.example/p4":           "camaca[.]example/p4",
		"HTTP://www.camaca.example":           "camaca[.]example",
		"www.camaca.example/a.b":              "camaca[.]example/a.b",
		"https://a.b.c.d.e.f.example/x":       "a.b.c.d.e.f[.]example/x",
		"https://camaca.example/?next=http:x": "camaca[.]example/?next=http:x",
	} {
		if got := unlinked(in); got != want || len(got) > len(in) {
			t.Errorf("unlinked(%q) = %q, want %q", in, got, want)
		}
	}
	text, n := limitLinks("a https://x.example/1 b https://x.example/1 c www.y.example d", "https://z.example")
	if n != 0 || text != "a https://x.example/1 b https://x.example/1 c www.y.example d" {
		t.Errorf("3 unique links: %q, %d", text, n)
	}
}
