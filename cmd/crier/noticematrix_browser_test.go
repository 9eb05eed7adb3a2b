package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testpeers/dendrite"
	"github.com/crierhq/crier/internal/testpeers/mailpit"
)

// TestMatrixChoicesInTheBrowser: with an organisers' Matrix room
// configured (a real Dendrite), the author's Notifications page offers it
// beside mail (axe-core at 1280 and 390 px, light and dark, and the
// keyboard walk); she turns "My post is approved" off for the room only.
// Her Submit is posted to the room (the editor wants it there); the
// editor's Approve mails her, and is not posted, where his Schedule is
// posted. The owner's Setup page
// names the room. With CRIER_CONSOLE_SCREENSHOTS=DIR it saves screenshots.
func TestMatrixChoicesInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	cleanEnv(t)
	const editor, author = "ed.editor@camaca.example", "ann.author@camaca.example"
	hs := dendrite.Start(t, dendrite.Options{})
	poster, reader := hs.NewUser(t), hs.NewUser(t)
	roomID := hs.CreateRoom(t, reader, "organisers", true)
	mp := mailpit.Start(t, mailpit.Options{})
	t.Setenv("ORGANISERS_MATRIX_TOKEN", poster.Token)
	dir, cfg, base := matrixNoticeConfig(t, mp, hs.URL)
	addConsoleUser(t, dir, editor, "editor", "editor's long passphrase")
	addConsoleUser(t, dir, author, "author", "author's long passphrase")
	addConsoleUser(t, dir, "owner@camaca.example", "owner", "owner's long passphrase")
	startDaemon(t, cfg, base+"/healthz", http.DefaultClient)
	b := newConsoleBrowser(t, base)
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")

	b.signIn(author, "author's long passphrase")
	b.press("Notifications")
	b.waitText("main", "Post to the organisers' Matrix room when")
	b.axe("notifications-matrix")
	b.eval(`(() => { document.getElementById('notice-matrix:approved').click(); return ''; })()`)
	b.press("Save")
	b.waitVisible(".notice")
	if b.eval(`String(document.getElementById('notice-matrix:approved').checked) + document.getElementById('notice-approved').checked`) != "falsetrue" {
		t.Fatal("approved should stay on by mail and off in the room")
	}
	if shots != "" {
		b.screenshots(shots, "notifications-matrix")
	}
	b.open("/posts/new")
	b.fill("Title", "Vigil on Friday")
	b.fill("Text", "Bring a candle.")
	b.press("Submit for review")
	b.waitText(".state", "In review")
	postURL := b.pageAddress()
	b.press("Sign out")

	waitFor(t, "the submitted notice in the room", 60*time.Second, func() bool {
		got := hs.Messages(t, reader, roomID)
		return len(got) == 1 && strings.Contains(got[0].Content.Body, `"Vigil on Friday" was submitted for review`)
	})
	b.signIn(editor, "editor's long passphrase")
	b.navigate(postURL)
	b.press("Approve")
	b.waitText("dl.facts", "Approved")
	// Then schedules it: its notice is posted after the approval's would
	// have been (one worker takes the queue's jobs in order).
	b.setValue("Schedule for", time.Now().AddDate(0, 0, 2).Format("2006-01-02")+"T09:00")
	b.press("Schedule")
	b.waitText(".state", "Scheduled")
	b.press("Sign out")
	var got []dendrite.Event
	waitFor(t, "the scheduled notice in the room", 60*time.Second, func() bool {
		got = hs.Messages(t, reader, roomID)
		return len(got) > 0 && strings.Contains(got[len(got)-1].Content.Body, `"Vigil on Friday" is scheduled`)
	})
	if len(got) != 2 {
		t.Errorf("the room holds %+v; want the submitted and scheduled notices, not the approval the author turned off there", got)
	}
	if mails := waitMail(t, mp, author, 2); !strings.Contains(mails[0].Subject+mails[1].Subject, "was approved") {
		t.Errorf("the author's mail: %+v; want the approval among them", mails)
	}

	b.signIn("owner@camaca.example", "owner's long passphrase")
	b.open("/setup")
	// (axe checks the Setup page in TestConsoleInTheBrowser; this item is text.)
	b.waitText("main", "Notices are posted to the organisers' Matrix room, #organisers:localhost on "+hs.URL)
	if shots != "" {
		b.screenshots(shots, "setup-matrix")
	}
}
