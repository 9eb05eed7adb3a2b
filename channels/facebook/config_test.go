package facebook_test

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/facebook"
	"github.com/crierhq/crier/post"
)

func parse(t *testing.T, src string, env map[string]string) ([]channels.Instance, error) {
	t.Helper()
	_, insts, err := channels.NewRegistry(facebook.Provider{}).Parse("config.yaml", []byte(src), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	return insts, err
}

// Several Pages live side by side; one without a token renders to the
// outbox.
func TestSeveralPages(t *testing.T) {
	t.Parallel()
	insts, err := parse(t, `channels:
  facebook:
    enabled: true
    page_id: ${FACEBOOK_PAGE_ID:-}
    page_token: ${FACEBOOK_PAGE_TOKEN:-}
  facebook-youth:
    type: facebook
    enabled: true
    page_id: "104857600099999"
`, map[string]string{"FACEBOOK_PAGE_ID": "104857600012345", "FACEBOOK_PAGE_TOKEN": "EAAGfakePageTokenForCrierTests0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 2 || insts[0].UsesOutbox() || !insts[1].UsesOutbox() {
		t.Fatalf("instances %+v", insts)
	}
	f, err := insts[1].Settings.Formatter(channels.Campaign{})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := f.Format(post.Post{ID: "md:x", Title: "Vigil", Channels: map[string]post.Override{"facebook-youth": {Text: "Youth group only"}}})
	if err != nil || pl.Channel != "facebook-youth" || pl.Body.(facebook.Post).Message != "Youth group only" {
		t.Errorf("the second instance's payload: %+v, %v", pl, err)
	}
}

// Every wrong setting is named, and the token never printed.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	_, err := parse(t, `channels:
  facebook:
    enabled: true
    mode: send
    page_id: "camaca campaign"
    page_token: "short secretvalue"
    api_url: "https://graph.facebook.com/v21.0"
`, nil)
	if err == nil {
		t.Fatal("no problems reported")
	}
	for _, want := range []string{"channels.facebook.page_id", "channels.facebook.page_token", "channels.facebook.api_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem for %s in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secretvalue") {
		t.Error("the token was printed")
	}
}
