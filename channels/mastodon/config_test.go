package mastodon

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // fields with problems
	}{
		{"empty is fine", Config{}, nil},
		{"good", Config{Instance: "https://mastodon.social", Token: "t", Visibility: "unlisted", Language: "en", Hashtags: []string{"Child Rights", "#EndTrafficking"}}, nil},
		{"bad instance", Config{Instance: "mastodon.social"}, []string{"instance"}},
		{"bad visibility", Config{Visibility: "everyone"}, []string{"visibility"}},
		{"bad language", Config{Language: "English"}, []string{"language"}},
		{"bad hashtag", Config{Hashtags: []string{"ok", "2024", "!!"}}, []string{"hashtags[1]", "hashtags[2]"}},
		{"negative budget", Config{MaxCharacters: -1}, []string{"max_characters"}},
		{"send without token", Config{Mode: channels.ModeSend, Instance: "https://m.example"}, []string{"token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, p := range tt.cfg.Validate() {
				got = append(got, p.Field)
				if p.Message == "" {
					t.Errorf("%s: empty message", p.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("problems in %v, want %v", got, tt.want)
			}
		})
	}
}
