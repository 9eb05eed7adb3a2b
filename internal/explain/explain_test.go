package explain

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestYAMLMistakesInPlainWords(t *testing.T) {
	cases := []struct {
		src  string
		line int
		says string
	}{
		{"title: Vigil: Saturday\nsummary: x\n", 1, "put the whole value in quotes"},
		{"title: ok\nsummary: x\n  indented: y\nlink: z\n", 3, "colon and a space"},
		{"title: ok\ntags: [a, b\nlink: z\n", 2, `never closed with "]"`},
		{"title: [Broken", 1, `never closed with "]"`},
		{"title: ok\nsummary: fine\nlink: x\ntags: [a, b\n", 4, `never closed with "]"`},
		{"title: ok\nlink: \"https://x\nsummary: z\n", 2, "quoted value is never closed"},
		{"title: ok\n\tlink: z\n", 2, "tab"},
		{"title: ok\nlink: @home\n", 2, "in quotes"},
		{"title: ok\njust some words\nlink: z\n", 2, `missing ":"`},
		{"title: ok\n- item\n", 2, "does not fit"},
		{"title: 'it's'\nlink: z\n", 1, "it's inside double quotes"},
	}
	for _, c := range cases {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(c.src), &n)
		if err == nil {
			t.Fatalf("%q parsed", c.src)
		}
		line, msg, ok := YAML(err, c.src)
		if !ok || line != c.line || !strings.Contains(msg, c.says) {
			t.Errorf("%q (%v): line %d %q (known %v); want line %d saying %q", c.src, err, line, msg, ok, c.line, c.says)
		}
	}
}

func TestClosest(t *testing.T) {
	if got := Closest("shedule", []string{"schedule", "url", "name"}); got != "schedule" {
		t.Errorf("got %q", got)
	}
	if got := Closest("colour", []string{"url", "name"}); got != "" {
		t.Errorf("got %q", got)
	}
}
