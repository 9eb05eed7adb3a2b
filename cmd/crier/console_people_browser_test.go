package main

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestConsolePeopleInTheBrowser: in Chromium, an owner invites an editor
// by mail; the editor follows the mailed link, chooses a password, changes
// it on the Password page, forgets it, and sets a new one through the
// mailed reset link. axe-core checks each page at 1280 and 390 px, light
// and dark. With CRIER_CONSOLE_SCREENSHOTS=DIR it saves screenshots.
func TestConsolePeopleInTheBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	// Not parallel: it drives Chromium, whose waits need an idle machine.
	const owner, editor = "owner@camaca.example", "ed.editor@camaca.example"
	base, mp := startMailingConsole(t, owner, "owner", "owner's long passphrase")
	b := newConsoleBrowser(t, base)
	shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS")
	linkIn := func(to, kind string, n int) string {
		t.Helper()
		got := waitMail(t, mp, to, n)
		// Mailpit lists the newest first.
		msg, err := mp.Message(context.Background(), got[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		link := regexp.MustCompile(regexp.QuoteMeta(base) + `/` + kind + `/[A-Za-z0-9_-]+`).FindString(msg.Text)
		if link == "" {
			t.Fatalf("no %s link in the mail:\n%s", kind, msg.Text)
		}
		return link
	}

	b.signIn(owner, "owner's long passphrase")
	b.open("/users")
	b.fill("Email", editor)
	b.selectOption("Role", "editor")
	b.press("Send invitation")
	b.waitText(".notice", "Invitation sent to "+editor)
	b.waitText(".invitations", editor)
	b.axe("users-invited")
	if shots != "" {
		b.screenshots(shots, "users-invite")
	}
	b.press("Sign out")

	b.navigate(linkIn(editor, "invite", 1))
	b.waitText("h1", "Join the console")
	b.axe("invite")
	b.fill("New password", "editor's chosen passphrase")
	b.fill("New password again", "editor's chosen passphrase")
	b.press("Join")
	if !strings.HasSuffix(b.location(), "/posts") {
		t.Fatalf("after joining the editor is at %s, want the posts", b.location())
	}

	b.press("Password")
	b.fill("Current password", "editor's chosen passphrase")
	b.fill("New password", "editor's second passphrase")
	b.fill("New password again", "editor's second passphrase")
	b.press("Change password")
	b.waitText(".notice", "Your password is changed")
	b.axe("password")
	if shots != "" {
		b.screenshots(shots, "password")
	}
	b.press("Sign out")

	b.open("/login")
	b.press("Forgot your password?")
	b.fill("Email", editor)
	b.press("Send me a link")
	b.waitText(".notice", "a link is on its way")
	b.axe("forgot-sent")
	b.navigate(linkIn(editor, "reset", 2))
	b.waitText("h1", "Choose a new password")
	b.axe("reset")
	b.fill("New password", "editor's third passphrase")
	b.fill("New password again", "editor's third passphrase")
	b.press("Set password")
	b.waitText(".notice", "is changed")
	b.signIn(editor, "editor's third passphrase")
	if !strings.HasSuffix(b.location(), "/posts") {
		t.Errorf("signing in with the reset password leads to %s", b.location())
	}
}
