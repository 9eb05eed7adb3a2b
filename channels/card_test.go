package channels_test

import (
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
)

type echoBody struct {
	Text string `json:"text"`
}

func (echoBody) ChannelType() string { return "echo" }

// A type that draws no card of its own still shows its payload in the
// console: its fields as text, as crier preview prints them; and a type
// without its own capabilities reports no sends and no docs page.
func TestATypeWithoutACardShowsItsFields(t *testing.T) {
	t.Parallel()
	inst := channels.Instance{Name: "echo", Type: "echo", Provider: echoProvider{}, Settings: echoSettings{}}
	card := inst.PreviewCard(channels.Payload{Body: echoBody{Text: "Vigil on Friday"}})
	if len(card.Messages) != 1 || card.Mail != nil {
		t.Fatalf("card %+v, want one message", card)
	}
	if m := card.Messages[0]; m.Style != channels.StylePost || len(m.Text) != 1 || !strings.Contains(m.Text[0].Text, "text: Vigil on Friday") || m.Limit != 0 {
		t.Errorf("message %+v, want the payload's fields as plain text, uncounted", m)
	}
	if _, ok, err := inst.SendReport(t.Context(), nil, "md:vigil"); ok || err != nil {
		t.Errorf("a type that reports no sends has a report: %v %v", ok, err)
	}
	if inst.DocsPage() != "" {
		t.Errorf("docs page %q, want none", inst.DocsPage())
	}
}
