package telegram_test

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/telegram"
	"github.com/crierhq/crier/post"
)

func parse(t *testing.T, src string, env map[string]string) ([]channels.Instance, error) {
	t.Helper()
	_, insts, err := channels.NewRegistry(telegram.Provider{}).Parse("config.yaml", []byte(src), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	return insts, err
}

// Several Telegram channels live side by side, each its own instance with
// its own payloads; one without credentials renders to the outbox, and a
// missing section leaves Telegram off.
func TestSeveralInstances(t *testing.T) {
	t.Parallel()
	insts, err := parse(t, `channels:
  telegram:
    enabled: true
    bot_token: ${TELEGRAM_BOT_TOKEN:-}
    chat_id: ${TELEGRAM_CHAT_ID:-}
  telegram-volunteers:
    type: telegram
    enabled: true
    chat_id: "@camaca_volunteers"
`, map[string]string{"TELEGRAM_BOT_TOKEN": fakeToken, "TELEGRAM_CHAT_ID": "-1001234567890"})
	if err != nil {
		t.Fatal(err)
	}
	if len(insts) != 2 || insts[0].Name != "telegram" || insts[1].Name != "telegram-volunteers" {
		t.Fatalf("instances %+v", insts)
	}
	if insts[0].UsesOutbox() || !insts[1].UsesOutbox() {
		t.Errorf("outbox: %v and %v, want the one without a token only", insts[0].UsesOutbox(), insts[1].UsesOutbox())
	}
	f, err := insts[1].Settings.Formatter(campaign)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := f.Format(post.Post{ID: "md:x", Title: "Vigil", Channels: map[string]post.Override{"telegram-volunteers": {Text: "Volunteers only"}}})
	if err != nil || pl.Channel != "telegram-volunteers" || !strings.Contains(pl.Body.(telegram.Messages).Messages[0].Text, "Volunteers only") {
		t.Errorf("the second instance's payload: %+v, %v", pl, err)
	}
	insts, err = parse(t, "channels: {}\n", nil)
	if err != nil || len(insts) != 1 || insts[0].Settings.Enabled() {
		t.Errorf("without a section: %+v, %v; want one disabled instance", insts, err)
	}
}

// Every wrong setting is named, and the token never printed.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	_, err := parse(t, `channels:
  telegram:
    enabled: true
    mode: send
    bot_token: "not-a-token-secretvalue"
    chat_id: "camaca news"
    api_url: "ftp://example.org"
    quiet_hours: "late"
`, nil)
	if err == nil {
		t.Fatal("no problems reported")
	}
	for _, want := range []string{"channels.telegram.bot_token", "channels.telegram.chat_id", "channels.telegram.api_url", "channels.telegram.quiet_hours"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem for %s in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secretvalue") {
		t.Error("the token was printed")
	}
}
