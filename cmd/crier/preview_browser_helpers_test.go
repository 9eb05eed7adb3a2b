package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crierhq/crier/internal/testnet"
)

// authorWriting starts `crier run` with channel (one line under channels:,
// no credentials, so it renders to the outbox) and the campaign's extra
// fields, signs an author in and opens the write form: the set-up of each
// network's preview test. It returns the browser, already writing a post
// titled "Vigil for the victims on Friday", and a folder for pictures.
func authorWriting(t *testing.T, campaignExtra, channel string) (*consoleBrowser, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	crier := setup(t, "")
	os.MkdirAll(filepath.Join(crier.dir, "posts"), 0o755)
	addr := testnet.FreeAddr(t)
	base := "http://" + addr
	crier.write("config.yaml", fmt.Sprintf(`campaign: {name: CAMACA, website: https://camaca.example, timezone: Europe/London%s}
http: {listen: %q, public_url: %q}
sources:
  markdown: {dir: posts}
channels:
  %s
  email: {mode: outbox, from: "CAMACA <news@camaca.example>"}
`, campaignExtra, addr, base, channel))
	crier.addUser("ann.author@camaca.example", "author", "author's long passphrase")
	crier.startDaemon(base+"/healthz", &http.Client{Timeout: 20 * time.Second})
	b := newConsoleBrowser(t, base)
	b.signIn("ann.author@camaca.example", "author's long passphrase")
	b.open("/posts/new")
	b.fill("Title", "Vigil for the victims on Friday")
	return b, crier.dir
}

// screenshotsIf saves the page's screenshots under name when
// CRIER_CONSOLE_SCREENSHOTS names a folder.
func screenshotsIf(b *consoleBrowser, name string) {
	if shots := os.Getenv("CRIER_CONSOLE_SCREENSHOTS"); shots != "" {
		b.screenshots(shots, name)
	}
}
