package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// TestConsoleListsInTheBrowser walks, in Chromium, the console flows issue
// 20 added besides the main journey: an author saves a draft and chooses
// their notifications; an editor searches the posts, sends a post back
// with a comment, adds a comment, duplicates the post and deletes the copy
// after its confirmation page, schedules the post and moves it with the
// calendar's "Move to…" form, and finds a supporter by part of a name.
// axe-core checks each page at 1280 and 390 px, light and dark, with the
// keyboard walk. With CRIER_CONSOLE_SCREENSHOTS=DIR it saves screenshots.
func TestConsoleListsInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	const editor, author = "ed.editor@camaca.example", "ann.author@camaca.example"
	base, _ := startMailingConsole(t, editor, "editor", "editor's long passphrase",
		[3]string{author, "author", "author's long passphrase"})
	b := newConsoleBrowser(t, base)
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")
	shoot := func(name string) {
		if shots != "" {
			b.screenshots(shots, name)
		}
	}

	// The author submits one post, keeps another as a draft, and chooses
	// which notices to get by mail.
	b.signIn(author, "author's long passphrase")
	b.open("/posts/new")
	b.fill("Title", "Vigil on Friday")
	b.fill("Text", "Bring a candle; the town hall steps are step-free.")
	b.press("Submit for review")
	b.waitText(".state", "In review")
	postURL := b.pageAddress()
	b.open("/posts/new")
	b.fill("Title", "Leaflet run in the market")
	b.fill("Text", "Meet at 10am by the fountain.")
	b.press("Save draft")
	b.waitText("h1", "Leaflet run in the market")
	b.press("Notifications")
	b.waitText("h1", "Notifications")
	b.axe("notifications")
	b.eval(`(() => { document.querySelector('main input[type=checkbox]').click(); return ''; })()`)
	b.press("Save")
	b.waitVisible(".notice")
	if b.eval(`String(document.querySelector('main input[type=checkbox]').checked)`) != "false" {
		t.Fatal("the notice turned off does not stay off")
	}
	shoot("notifications")
	b.press("Sign out")

	// The editor finds the post by a word of its text.
	b.signIn(editor, "editor's long passphrase")
	b.open("/posts")
	b.fill("Search title and text", "candle")
	b.press("Show")
	b.waitText("table.posts", "Vigil on Friday")
	if got := b.text("table.posts"); strings.Contains(got, "Leaflet") {
		t.Fatalf("searching for candle lists %q", got)
	}
	b.axe("posts-search")
	shoot("posts-search")
	// On a phone the rows are cards, each value under its label.
	labelShown := `(() => { const l = document.querySelector('table.posts tbody .cell-label');
		return getComputedStyle(l).display + ' ' + (l.getBoundingClientRect().width > 0) + ' ' + l.textContent; })()`
	b.emulate(390, false)
	if got := b.eval(labelShown); got != "block true Title" {
		t.Errorf("at 390 px the posts card's label: %q", got)
	}
	b.emulate(1280, false)
	if got := b.eval(labelShown); !strings.HasPrefix(got, "none false") {
		t.Errorf("at 1280 px the column header is the label, yet: %q", got)
	}

	// Sends it back with a comment, and adds another.
	b.press("Vigil on Friday")
	b.waitText(".state", "In review")
	b.eval(`(() => { document.querySelector('details.send-back').open = true; return ''; })()`)
	b.axe("post-review")
	b.fill("What should the author change?", "Please say when it starts: 6pm.")
	b.press("Send back with this comment")
	b.waitText(".sent-back", "Please say when it starts: 6pm.")
	b.fill("Comment", "I asked the town hall about the ramp.")
	b.press("Add comment")
	b.waitText(".history", "I asked the town hall about the ramp.")
	b.axe("post-comments")
	shoot("post-comments")

	// Duplicates it, then deletes the copy after its confirmation page.
	b.press("Duplicate")
	b.waitText("main", "Vigil on Friday")
	copyURL := strings.TrimSuffix(b.pageAddress(), "/edit")
	if copyURL == postURL || !strings.Contains(copyURL, "/posts/") {
		t.Fatalf("Duplicate leads to %s", b.location())
	}
	b.navigate(copyURL)
	b.press("Delete draft…")
	b.waitText("h1", "Delete the draft")
	b.axe("delete-draft")
	shoot("delete-draft")
	b.press("Delete the draft for good")
	b.waitVisible(".notice")
	b.open("/posts?q=Vigil")
	if n := b.eval(`String(document.querySelectorAll('table.posts tbody tr').length)`); n != "1" {
		t.Fatalf("after deleting the copy the posts list shows %s rows: %q", n, b.text("table.posts"))
	}

	// Approves and schedules it two days ahead, then moves it a day later
	// with the calendar's form (no dragging).
	b.navigate(postURL)
	b.press("Approve")
	b.waitText("dl.facts", "Approved")
	day := time.Now().AddDate(0, 0, 2)
	// The schedule field follows the campaign's locale (en, Europe/London:
	// dd/mm/yyyy hh:mm), not the browser's, and says in words what it
	// reads as the editor types (issue 20).
	if ph := b.attr("#schedule_for", "placeholder"); ph != "dd/mm/yyyy hh:mm" {
		t.Fatalf("the schedule field's placeholder is %q", ph)
	}
	b.fill("Schedule for", "31/31/2031 09:00")
	b.waitText("#when-echo.when-bad", "is not a day and time that exists: write it dd/mm/yyyy hh:mm")
	b.fill("Schedule for", day.Format("2/1/2006")+" 9:00")
	b.waitText("#when-echo", day.Format("Monday 2 January 2006")+", 09:00 ")
	b.axe("schedule-echo")
	shoot("schedule-echo")
	b.press("Schedule")
	b.waitText(".state", "Scheduled")
	b.open("/calendar?view=week&date=" + day.Format("2006-01-02"))
	b.waitText("table.calendar", "Vigil on Friday")
	b.eval(`(() => { document.querySelector('details.move').open = true; return ''; })()`)
	b.axe("calendar-move")
	shoot("calendar-move")
	next := day.AddDate(0, 0, 1).Format("2006-01-02")
	b.setValue("Day", next)
	b.press("Move")
	// It lands on the calendar around the new day, keeping 09:00.
	b.waitText(`td[data-date="`+next+`"]`, "09:00 Vigil on Friday")
	// And says so, as the other actions do, in a status region.
	b.waitText(`p.notice[role=status]`, "Moved “Vigil on Friday” to "+day.AddDate(0, 0, 1).Format("Mon 2 Jan 2006")+" 09:00")
	b.axe("calendar-moved")
	shoot("calendar-moved")

	// Finds a supporter by part of their name.
	b.open("/supporters")
	b.fill("Email", "sam.smith@example.org")
	b.fill("Name", "Sam Smith")
	b.eval(`(() => { document.getElementById('consent').click(); return ''; })()`)
	b.press("Add")
	b.waitVisible(".notice")
	b.fill("Find by address or name", "smith")
	b.press("Find")
	b.waitText(".found", "sam.smith@example.org")
	b.axe("supporters-search")
	shoot("supporters-search")
}
