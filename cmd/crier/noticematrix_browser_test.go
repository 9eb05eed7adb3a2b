package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
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
	const editor, author = "ed.editor@camaca.example", "ann.author@camaca.example"
	hs := dendrite.Start(t, dendrite.Options{})
	poster, reader := hs.NewUser(t), hs.NewUser(t)
	roomID := hs.CreateRoom(t, reader, "organisers", true)
	mp := mailpit.Start(t, mailpit.Options{})
	matrixToken := poster.Token
	b, base := matrixNoticeConfig(t, mp, hs.URL, matrixToken)
	b.addUser(editor, "editor", "editor's long passphrase")
	b.addUser(author, "author", "author's long passphrase")
	b.addUser("owner@camaca.example", "owner", "owner's long passphrase")
	b.startDaemon(base+"/healthz", http.DefaultClient)
	br := newConsoleBrowser(t, base)
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")

	br.signIn(author, "author's long passphrase")
	br.press("Notifications")
	br.waitText("main", "Post to the organisers' Matrix room when")
	br.axe("notifications-matrix")
	br.eval(`(() => { document.getElementById('notice-matrix:approved').click(); return ''; })()`)
	br.press("Save")
	br.waitVisible(".notice")
	if br.eval(`String(document.getElementById('notice-matrix:approved').checked) + document.getElementById('notice-approved').checked`) != "falsetrue" {
		t.Fatal("approved should stay on by mail and off in the room")
	}
	if shots != "" {
		br.screenshots(shots, "notifications-matrix")
	}
	br.open("/posts/new")
	br.fill("Title", "Vigil on Friday")
	br.fill("Text", "Bring a candle.")
	br.press("Submit for review")
	br.waitText(".state", "In review")
	postURL := br.pageAddress()
	br.press("Sign out")

	testnet.WaitFor(t, "the submitted notice in the room", 60*time.Second, func() bool {
		got := hs.Messages(t, reader, roomID)
		return len(got) == 1 && strings.Contains(got[0].Content.Body, `"Vigil on Friday" was submitted for review`)
	})
	br.signIn(editor, "editor's long passphrase")
	br.navigate(postURL)
	br.press("Approve")
	br.waitText("dl.facts", "Approved")
	// Then schedules it: its notice is posted after the approval's would
	// have been (one worker takes the queue's jobs in order).
	br.setValue("Schedule for", time.Now().AddDate(0, 0, 2).Format("2006-01-02")+"T09:00")
	br.press("Schedule")
	br.waitText(".state", "Scheduled")
	br.press("Sign out")
	var got []dendrite.Event
	testnet.WaitFor(t, "the scheduled notice in the room", 60*time.Second, func() bool {
		got = hs.Messages(t, reader, roomID)
		return len(got) > 0 && strings.Contains(got[len(got)-1].Content.Body, `"Vigil on Friday" is scheduled`)
	})
	if len(got) != 2 {
		t.Errorf("the room holds %+v; want the submitted and scheduled notices, not the approval the author turned off there", got)
	}
	if mails := waitMail(t, mp, author, 2); !strings.Contains(mails[0].Subject+mails[1].Subject, "was approved") {
		t.Errorf("the author's mail: %+v; want the approval among them", mails)
	}

	br.signIn("owner@camaca.example", "owner's long passphrase")
	br.open("/setup")
	// (axe checks the Setup page in TestConsoleInTheBrowser; this item is text.)
	br.waitText("main", "Notices are posted to the organisers' Matrix room, #organisers:localhost on "+hs.URL)
	if shots != "" {
		br.screenshots(shots, "setup-matrix")
	}
}
