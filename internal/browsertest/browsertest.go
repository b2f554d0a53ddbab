// Package browsertest starts Debian's headless Chromium for the browser
// tests (chromedp over the DevTools protocol): the console's and the
// gateway's web form.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium finds Debian's chromium (`make deps` installs it), or the one
// LAYOFFWATCH_CHROMIUM names.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("LAYOFFWATCH_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: run `make deps` (installs Debian's chromium) or set LAYOFFWATCH_CHROMIUM")
	return ""
}

// Context is a chromedp context on a fresh headless Chromium with its own
// profile, as a clerk's browser in Gansu sends it (Accept-Language zh-CN);
// the test's cleanup closes it.
func Context(t testing.TB) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(Chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("accept-lang", "zh-CN,zh"), // the pages follow Accept-Language
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}
