package matrix_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels/matrix"
	"github.com/crierhq/crier/internal/testpeers/dendrite"
)

// TestMeasureEventLimit measures on Dendrite the largest m.room.message
// content it takes (its 65,536-byte event limit less the event's own
// fields), and checks that a message at both of the formatter's budgets,
// as a thread reply with the transaction key, is taken: the figures in
// docs/matrix.md come from here (go test -run TestMeasureEventLimit -v).
func TestMeasureEventLimit(t *testing.T) {
	t.Parallel()
	hs := dendrite.Start(t, dendrite.Options{})
	bot := hs.NewUser(t)
	room := hs.CreateRoom(t, bot, "", true)
	n := 0
	send := func(content map[string]any) (int, string) {
		n++
		js, _ := json.Marshal(content)
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/measure-%d", hs.URL, url.PathEscape(room), n), bytes.NewReader(js))
		req.Header.Set("Authorization", "Bearer "+bot.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(answer)
	}
	// A body of ASCII filler whose content JSON is exactly size bytes.
	ofSize := func(size int) map[string]any {
		skeleton, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": ""})
		return map[string]any{"msgtype": "m.text", "body": strings.Repeat("a", size-len(skeleton))}
	}
	lo, hi := 1000, 70000
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if status, _ := send(ofSize(mid)); status == http.StatusOK {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	status, answer := send(ofSize(lo + 1))
	t.Logf("Dendrite %s takes m.room.message content of at most %d bytes of JSON (sender %s, room %s); one byte more: %d %s",
		dendrite.Version, lo, bot.ID, room, status, answer)

	root, _ := send(ofSize(100))
	if root != http.StatusOK {
		t.Fatal("a small message was refused")
	}
	full := map[string]any{
		"msgtype": "m.text", "format": "org.matrix.custom.html",
		"body":           strings.Repeat("é", matrix.MaxBodyBytes/2),
		"formatted_body": "<p>" + strings.Repeat("é", (matrix.MaxHTMLBytes-7)/2) + "</p>",
		"m.relates_to": map[string]any{"rel_type": "m.thread", "event_id": "$" + strings.Repeat("x", 43), "is_falling_back": true,
			"m.in_reply_to": map[string]string{"event_id": "$" + strings.Repeat("y", 43)}},
		"org.crierhq.txn": matrix.TxnID("post-instance-part"),
	}
	js, _ := json.Marshal(full)
	if status, answer := send(full); status != http.StatusOK {
		t.Errorf("a thread reply at both budgets (%d bytes of content) is refused: %d %s", len(js), status, answer)
	}
	if margin := lo - len(js); margin < 3000 {
		t.Errorf("a message at both budgets leaves %d bytes for longer room IDs and server names, want at least 3,000", margin)
	} else {
		t.Logf("a thread reply at both budgets is %d bytes of content, %d under the measured limit", len(js), margin)
	}
}
