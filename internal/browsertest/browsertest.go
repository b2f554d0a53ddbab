// Package browsertest starts Debian's headless Chromium for the browser
// tests (chromedp over the DevTools protocol): the console's and the
// gateway's web form.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

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
	// start the browser on this context: the first Run allocates it on the
	// context it is given, and a step's timeout context would end it
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// Browser is a headless Chromium of a test, with the steps the browser
// tests take; each fails the test with what it was doing.
type Browser struct {
	t   testing.TB
	Ctx context.Context
}

// New starts a Browser (Context) for t.
func New(t testing.TB) *Browser {
	t.Helper()
	return &Browser{t: t, Ctx: Context(t)}
}

// Do runs steps (at most a minute), failing the test with what on error.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Text is the text of the element sel selects.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return v
}

// Attr is attribute name of the element sel selects.
func (b *Browser) Attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.Ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("browser: attribute %s of %s: %v", name, sel, err)
	}
	return v.Value
}
