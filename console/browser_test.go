package console

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"github.com/layoffwatch/layoffwatch/internal/browsertest"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

var screenshots = flag.Bool("screenshots", false, "write the console's screenshots for the README into docs/img")

// TestBrowser drives the console in Debian's headless Chromium (chromedp)
// without a line of JavaScript of ours: sign in, find the warning in the
// inbox, work the whole case (acknowledge, verify, respond, close), look at
// the reporting status, and download the monthly report; screenshots of
// each page go to docs/img with -screenshots.
func TestBrowser(t *testing.T) {
	h := newHarness(t)
	shots := t.TempDir()
	if *screenshots {
		shots = filepath.Join("..", "docs", "img")
	}
	downloads := t.TempDir()
	br := browsertest.New(t)
	ctx, do, text := br.Ctx, br.Do, br.Text
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	axe, err := os.ReadFile("testdata/axe/axe.min.js")
	if err != nil {
		t.Fatal(err)
	}
	// audit runs axe-core's WCAG 2 A/AA rules on the page; any violation
	// fails the test
	audit := func(page string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(axe)+";true")); err != nil {
			t.Fatalf("load axe-core: %v", err)
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa"]}})
			.then(r => JSON.stringify(r.violations.map(v => v.id + " (" + v.impact + ", " + v.nodes.length + "): " + v.help + " — " + v.nodes.slice(0, 2).map(n => n.target.join(" ")).join(", "))))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("axe on %s: %v", page, err)
		}
		var violations []string
		if err := json.Unmarshal([]byte(out), &violations); err != nil {
			t.Fatalf("axe on %s: %v", page, err)
		}
		for _, v := range violations {
			t.Errorf("accessibility of %s: %s", page, v)
		}
	}
	shot := func(name string) {
		t.Helper()
		audit(name)
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644); err != nil { //nolint:gosec // a picture for the README
			t.Fatal(err)
		}
	}
	id := h.alerts["cg"]

	do("sign-in page", chromedp.Navigate(h.url+"/inbox"), chromedp.WaitVisible(chromedp.CSS("#username")))
	shot("console-signin")
	do("sign in",
		chromedp.SendKeys(chromedp.CSS("#username"), "cg"),
		chromedp.SendKeys(chromedp.CSS("#password"), testPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#warnings")))
	if who := text("#whoami"); !strings.Contains(who, "城关区经办人") {
		t.Errorf("signed in as %q", who)
	}
	inbox := text("#warnings")
	if !strings.Contains(inbox, "兰州示例机械有限公司") || strings.Contains(inbox, "七里河示例食品有限公司") || !strings.Contains(inbox, "已超时") {
		t.Errorf("inbox: %q", inbox)
	}
	shot("console-inbox")

	do("open the warning", chromedp.Navigate(h.url+"/warnings/"+id), chromedp.WaitVisible(chromedp.CSS("#form-ack")))
	shot("console-warning")
	do("acknowledge",
		chromedp.SendKeys(chromedp.CSS("#ack-comment"), "已收到，今日联系企业"),
		chromedp.Click(chromedp.CSS("#ack")),
		chromedp.WaitVisible(chromedp.CSS("#acked-by")))
	do("verify",
		chromedp.SetValue(chromedp.CSS("#method"), "visit"),
		chromedp.SetValue(chromedp.CSS("#finding"), "economic_layoff"),
		chromedp.SendKeys(chromedp.CSS("#verify-note"), "订单下降，确认裁员120人"),
		chromedp.Click(chromedp.CSS("#verify")),
		chromedp.WaitVisible(chromedp.CSS("#form-respond")))
	do("respond",
		chromedp.SetValue(chromedp.CSS("#measure"), "retention_refund"),
		chromedp.SendKeys(chromedp.CSS("#workers"), "300"),
		chromedp.Click(chromedp.CSS("#respond")),
		chromedp.WaitVisible(chromedp.CSS("#measures")))
	do("respond again",
		chromedp.SetValue(chromedp.CSS("#measure"), "job_matching"),
		chromedp.SendKeys(chromedp.CSS("#workers"), "120"),
		chromedp.SendKeys(chromedp.CSS("#respond-note"), "专场招聘会"),
		chromedp.Click(chromedp.CSS("#respond")),
		chromedp.WaitVisible(chromedp.CSS("#measures tbody tr:nth-child(2)")))
	shot("console-case")
	do("close",
		chromedp.SetValue(chromedp.CSS("#verdict"), "true_warning"),
		chromedp.SendKeys(chromedp.CSS("#close-note"), "企业已申领稳岗返还，被裁员工参加招聘会"),
		chromedp.Click(chromedp.CSS("#close")),
		chromedp.WaitVisible(chromedp.CSS("#closed")))
	if st := text("#case-status"); !strings.Contains(st, "已办结") {
		t.Errorf("status after closing: %q", st)
	}
	if tl := text("#timeline"); !strings.Contains(tl, "稳岗返还") || !strings.Contains(tl, "邮件已发送") || !strings.Contains(tl, "办结") {
		t.Errorf("timeline: %q", tl)
	}
	if n := h.count("SELECT count() FROM console_audit WHERE object_kind = 'case' AND object_id = ?", id); n != 5 {
		t.Errorf("%d audit rows after 5 actions in the browser", n)
	}

	do("reporting", chromedp.Navigate(h.url+"/reporting"), chromedp.WaitVisible(chromedp.CSS("#missing")))
	if m := text("#missing"); !strings.Contains(m, "城关示例商贸有限公司") {
		t.Errorf("reporting: %q", m)
	}
	shot("console-reporting")

	progress := chromedp.Events(ctx, browser.DownloadProgress)
	yes := true
	do("monthly report",
		chromedp.Navigate(h.url+"/reports?period="+h.alertPeriod()),
		chromedp.WaitVisible(chromedp.CSS("#xlsx")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
				Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes})
			return err
		}))
	shot("console-reports")
	do("download", chromedp.Click(chromedp.CSS("#xlsx")))
	var file string
	deadline := time.After(60 * time.Second)
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(downloads, ev.GUID)
			break
		}
		select {
		case <-deadline:
			t.Fatal("no download")
		default:
		}
	}
	f, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatalf("the downloaded report: %v", err)
	}
	defer func() { _ = f.Close() }()
	rows, err := f.GetRows("明细")
	if err != nil || len(rows) < 2 {
		t.Fatalf("downloaded report rows: %v %d", err, len(rows))
	}
	found := false
	for _, r := range rows {
		if r[0] == id && strings.Contains(strings.Join(r, ","), "预警属实") {
			found = true
		}
	}
	if !found {
		t.Errorf("the closed case is not in the downloaded report: %v", rows)
	}
}

// alertPeriod is the month of the test warnings.
func (h *harness) alertPeriod() string {
	return report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1).String()
}
