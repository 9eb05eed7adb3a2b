package threads_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
	"github.com/crierhq/crier/channels/threads"
	"github.com/crierhq/crier/channels/threads/threadstest"
	"github.com/crierhq/crier/post"
)

func parse(t *testing.T, src string, env map[string]string) ([]channels.Instance, error) {
	t.Helper()
	_, insts, err := channels.NewRegistry(threads.Provider{}).Parse("config.yaml", []byte(src), func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
	return insts, err
}

// Several accounts live side by side; one without a token renders to the
// outbox.
func TestSeveralAccounts(t *testing.T) {
	t.Parallel()
	insts, err := parse(t, `channels:
  threads:
    enabled: true
    user_id: ${THREADS_USER_ID:-}
    token: ${THREADS_TOKEN:-}
  threads-youth:
    type: threads
    enabled: true
`, map[string]string{"THREADS_USER_ID": threadstest.UserID, "THREADS_TOKEN": threadstest.Token})
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
	pl, err := f.Format(post.Post{ID: "md:x", Title: "Vigil", Channels: map[string]post.Override{"threads-youth": {Text: "Youth group only"}}})
	if err != nil || pl.Channel != "threads-youth" || pl.Body.(threads.Chain)[0].Text != "Youth group only" {
		t.Errorf("the second instance's payload: %+v, %v", pl, err)
	}
}

// Every wrong setting is named, and the token never printed.
func TestConfigProblems(t *testing.T) {
	t.Parallel()
	_, err := parse(t, `channels:
  threads:
    enabled: true
    mode: send
    user_id: "@camaca"
    token: "short secretvalue"
    api_url: "https://graph.threads.net/v1.0"
`, nil)
	if err == nil {
		t.Fatal("no problems reported")
	}
	for _, want := range []string{"channels.threads.user_id", "channels.threads.token", "channels.threads.api_url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no problem for %s in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secretvalue") {
		t.Error("the token was printed")
	}
}

// Connecting asks Threads whose token it is, and says in words what is
// wrong: another account's token, a token Threads refuses.
func TestCheckConnection(t *testing.T) {
	t.Parallel()
	fake := threadstest.New(t)
	check := func(values map[string]string) (string, error) {
		values["api_url"] = fake.URL
		return threads.Provider{}.CheckConnection(context.Background(), channels.Env{Images: threadstest.NewImages(t)}, channels.Connection{Instance: "threads", Values: values})
	}
	if got, err := check(map[string]string{"user_id": threadstest.UserID, "token": threadstest.Token}); err != nil || got != "@"+threadstest.Username {
		t.Errorf("a good token: %q, %v", got, err)
	}
	var ce *channels.ConnectError
	if _, err := check(map[string]string{"user_id": "17841400000000001", "token": threadstest.Token}); !errors.As(err, &ce) || ce.Field != "user_id" || !strings.Contains(ce.Reason, "@"+threadstest.Username) {
		t.Errorf("another account's id: %v", err)
	}
	if _, err := check(map[string]string{"user_id": threadstest.UserID, "token": "THsomeOtherTokenThatThreadsRefuses0123"}); !errors.As(err, &ce) || ce.Field != "token" || !strings.Contains(ce.Reason, "does not accept this token") {
		t.Errorf("a refused token: %v", err)
	}
}

// The preview shows the chain in Threads' shape: the topic tag on the
// first post, the link attachment's card, the text behind the spoiler
// hidden, every post counted against 500.
func TestPreviewCard(t *testing.T) {
	t.Parallel()
	insts, err := parse(t, "channels:\n  threads: {enabled: true}\n", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := post.Post{ID: "md:vigil", Title: "Vigil", Body: strings.Repeat("Bring a candle and a friend. ", 30), Link: "https://camaca.example/vigil",
		Tags: []string{"vigil"}, ContentWarning: "grief"}
	f, _ := insts[0].Settings.Formatter(channels.Campaign{})
	pl, err := f.Format(p)
	if err != nil {
		t.Fatal(err)
	}
	card := insts[0].PreviewCard(pl)
	if len(card.Messages) < 2 || card.Messages[0].Embed == nil || card.Messages[0].Embed.URL != p.Link || card.Messages[1].Embed != nil {
		t.Fatalf("messages %+v", card.Messages)
	}
	first := card.Messages[0]
	if first.Text[1].Text != "vigil" || first.Limit != threads.MaxText {
		t.Errorf("first post's text %+v, limit %d", first.Text[:3], first.Limit)
	}
	for i, m := range card.Messages {
		if last := m.Text[len(m.Text)-1]; last.Style != channels.Spoiler {
			t.Errorf("post %d: the text below the warning is not behind a spoiler: %+v", i+1, last)
		}
	}
}
