package discordfake

import (
	"net/http"
	"strings"
	"testing"
)

// TestEditsAndDeletesLikeDiscord checks the edit and delete routes: an
// edit changes only what it sends and marks the message edited, a bot
// cannot edit a webhook's message (50005), a webhook sees only its own
// (10008), a deleted message is 10008 Unknown Message, and a 429 answers
// with Discord's headers.
func TestEditsAndDeletesLikeDiscord(t *testing.T) {
	t.Parallel()
	s := New(t)
	bot := "Bot " + Token
	msgs := "/channels/" + TextChannelID + "/messages"
	hook := "/webhooks/" + WebhookID + "/" + WebhookToken
	_, posted := do(t, s, http.MethodPost, msgs, bot, good)
	id := posted["id"].(string)
	_, hooked := do(t, s, http.MethodPost, hook+"?wait=true", "", `{"content":"hi","allowed_mentions":{"parse":[]}}`)
	hid := hooked["id"].(string)

	resp, out := do(t, s, http.MethodPatch, msgs+"/"+id, bot, `{"content":"fixed","allowed_mentions":{"parse":[]}}`)
	if resp.StatusCode != 200 || out["content"] != "fixed" || out["edited_timestamp"] == nil {
		t.Fatalf("edit: %d %v", resp.StatusCode, out)
	}
	if m := s.Messages(TextChannelID)[0]; m.Edits != 1 || len(m.Embeds) != 1 {
		t.Errorf("after an edit of the content only: %d edits, %d embeds (kept)", m.Edits, len(m.Embeds))
	}
	if resp, out := do(t, s, http.MethodPatch, msgs+"/"+hid, bot, `{"content":"x","allowed_mentions":{"parse":[]}}`); resp.StatusCode != 403 || out["code"] != float64(50005) {
		t.Errorf("the bot editing the webhook's message: %d %v", resp.StatusCode, out)
	}
	if resp, out := do(t, s, http.MethodGet, hook+"/messages/"+id, "", ""); resp.StatusCode != 404 || out["code"] != float64(10008) {
		t.Errorf("the webhook reading the bot's message: %d %v", resp.StatusCode, out)
	}
	if resp, out := do(t, s, http.MethodPatch, hook+"/messages/"+hid, "", `{"content":"fixed","allowed_mentions":{"parse":[]}}`); resp.StatusCode != 200 || out["content"] != "fixed" {
		t.Errorf("the webhook editing its message: %d %v", resp.StatusCode, out)
	}
	s.Inject(Fault{Operation: "delete_message", RetryAfter: 2})
	if resp, out := do(t, s, http.MethodDelete, msgs+"/"+id, bot, ""); resp.StatusCode != 429 || out["retry_after"] != float64(2) {
		t.Errorf("delete under a rate limit: %d %v", resp.StatusCode, out)
	}
	for i, want := range []int{204, 404} {
		resp, out := do(t, s, http.MethodDelete, msgs+"/"+id, bot, "")
		if resp.StatusCode != want || want == 404 && out["code"] != float64(10008) {
			t.Errorf("delete %d: %d %v, want %d", i+1, resp.StatusCode, out, want)
		}
	}
	if resp, _ := do(t, s, http.MethodDelete, hook+"/messages/"+hid, "", ""); resp.StatusCode != 204 {
		t.Errorf("the webhook deleting its message: %d", resp.StatusCode)
	}
	if n := len(s.Messages(TextChannelID)); n != 0 {
		t.Errorf("%d messages left", n)
	}
}

// TestEditIsCheckedAgainstTheSpec refuses an edit the spec refuses.
func TestEditIsCheckedAgainstTheSpec(t *testing.T) {
	t.Parallel()
	s := New(t)
	s.AllowRejections()
	bot := "Bot " + Token
	msgs := "/channels/" + TextChannelID + "/messages"
	_, posted := do(t, s, http.MethodPost, msgs, bot, good)
	id := posted["id"].(string)
	long := `{"content":"` + strings.Repeat("x", 2001) + `","allowed_mentions":{"parse":[]}}`
	for _, body := range []string{`{"content":5}`, long, `{"embeds":[{"title":"` + strings.Repeat("x", 257) + `"}]}`} {
		if resp, _ := do(t, s, http.MethodPatch, msgs+"/"+id, bot, body); resp.StatusCode != 400 {
			t.Errorf("edit %.40s: %d, want 400", body, resp.StatusCode)
		}
	}
	if len(s.Rejections()) != 3 {
		t.Errorf("rejections: %q", s.Rejections())
	}
}
