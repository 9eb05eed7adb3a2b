package outbox

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierhq/crier/channels"
)

func TestSendWritesJSONAndRenderings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := New(dir)
	d := channels.Delivery{PostID: "md:call to/action", Channel: "email"}
	p := channels.Payload{Channel: "email", PostID: d.PostID, Body: testBody{"subject": "Call to Action"},
		Files: []channels.File{{Name: "message.eml", Data: []byte("Subject: Call to Action\r\n\r\nhi")}}}
	for range 2 { // a retry overwrites, never duplicates
		if _, err := s.Send(context.Background(), d, p); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "email"))
	if len(entries) != 2 {
		t.Fatalf("want one .json and one .eml, got %v", entries)
	}
	base := FileBase(d.PostID)
	if strings.ContainsAny(base, "/ :") {
		t.Errorf("unsafe file name %q", base)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "email", base+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		PostID string `json:"post_id"`
		Body   testBody
	}
	if err := json.Unmarshal(raw, &got); err != nil || got.PostID != d.PostID || got.Body["subject"] != "Call to Action" {
		t.Fatalf("payload did not round-trip: %v %+v", err, got)
	}
}

func TestFileBaseDistinguishesIDs(t *testing.T) {
	t.Parallel()
	if FileBase("md:a/b") == FileBase("md:a-b") {
		t.Fatal("ids that differ only in unsafe characters collide")
	}
}

type testBody map[string]string

func (testBody) ChannelType() string { return "test" }
