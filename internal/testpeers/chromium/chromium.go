// Package chromium provides a headless Chromium for browser tests, driven
// through chromedp: a fresh profile per test, no network but loopback, and a
// clear skip when the browser is not installed.
package chromium

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian's chromium package puts the browser; the
// CRIER_CHROMIUM environment variable overrides it.
const DefaultPath = "/usr/bin/chromium"

// Path returns the browser binary the tests use.
func Path() string {
	if p := os.Getenv("CRIER_CHROMIUM"); p != "" {
		return p
	}
	return DefaultPath
}

// Options tune the browser.
type Options struct {
	// Width and Height are the window size in CSS pixels; zero means
	// 1280x900.
	Width, Height int
	// Timeout bounds the whole browser session; zero means one minute.
	Timeout time.Duration
}

// New starts a headless Chromium with a fresh profile and returns a context
// for one tab, ready for chromedp.Run. The browser is stopped when the test
// ends. The test is skipped, with a message saying so, when the browser
// binary is absent.
func New(t testing.TB, opts Options) context.Context {
	t.Helper()
	path := Path()
	if _, err := os.Stat(path); err != nil {
		msg := fmt.Sprintf("no Chromium at %s (install the chromium package or set CRIER_CHROMIUM)", path)
		if os.Getenv("CRIER_REQUIRE_PEERS") != "" {
			t.Fatal("CRIER_REQUIRE_PEERS is set but there is " + msg)
		}
		t.Skip("browser test skipped: " + msg)
	}
	if opts.Width == 0 || opts.Height == 0 {
		opts.Width, opts.Height = 1280, 900
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	alloc := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		// Tests talk to 127.0.0.1 only: every other host name fails to
		// resolve, so a stray link can never reach the outside.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.WindowSize(opts.Width, opts.Height),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), opts.Timeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, alloc...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	// Start the browser now, so a failure to launch is reported as such.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting Chromium %s: %v", path, err)
	}
	return bctx
}
