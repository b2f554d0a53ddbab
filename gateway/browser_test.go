package gateway

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/layoffwatch/layoffwatch/internal/browsertest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// TestWebFormBrowser drives the form in a real headless Chromium (chromedp
// over the DevTools protocol): sign in with the firm's token, see last
// month's figures, submit invalid then valid figures, see the inline error
// then the review and the confirmation; the report reaches Kafka.
func TestWebFormBrowser(t *testing.T) {
	h := newHarness(t, nil)
	firm := h.firms[0]
	cur := currentPeriod()
	// last month's report, as ingest would have stored it
	var rows chdb.ReportRows
	rows.Add(report.Report{FirmID: firm.ID, Period: cur.Add(-1), Headcount: 412, Vacancies: 6, Hires: 3,
		Separations: report.Separations{EconomicLayoff: 20}, Revision: 1, ReportedAt: time.Now()}, time.Now(), 0, 0)
	if err := h.ch.InsertReports(context.Background(), &rows); err != nil {
		t.Fatal(err)
	}

	br := browsertest.New(t)
	do, text, attr := br.Do, br.Text, br.Attr
	do("sign in",
		chromedp.Navigate(h.url+"/report"),
		chromedp.WaitVisible(chromedp.CSS("#token")))
	lang := attr("html", "lang")
	do("sign in",
		chromedp.SendKeys(chromedp.CSS("#token"), h.tokA),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#headcount")))
	lastMonth := text("#last-month")
	do("invalid figures",
		chromedp.SendKeys(chromedp.CSS("#headcount"), "-5"),
		chromedp.SendKeys(chromedp.CSS("#vacancies"), "2"),
		chromedp.SendKeys(chromedp.CSS("#economic_layoff"), "30"),
		chromedp.Click(chromedp.CSS("#review")),
		chromedp.WaitVisible(chromedp.CSS("#headcount-error")))
	headcountErr, summary, describedBy := text("#headcount-error"), text("#error-summary"), attr("#headcount", "aria-describedby")
	do("valid figures",
		chromedp.SetValue(chromedp.CSS("#headcount"), "380"),
		chromedp.Click(chromedp.CSS("#review")),
		chromedp.WaitVisible(chromedp.CSS("#confirm")))
	reviewTable := text("#review-table")
	do("confirm",
		chromedp.Click(chromedp.CSS("#confirm")),
		chromedp.WaitVisible(chromedp.CSS("#receipt")))
	receipt := text("#receipt")
	if lang != "zh-CN" {
		t.Errorf("page language %q, want zh-CN", lang)
	}
	if !strings.Contains(headcountErr, "超出允许范围") {
		t.Errorf("inline error not in Chinese: %q", headcountErr)
	}
	if !strings.Contains(lastMonth, "412") || !strings.Contains(lastMonth, "20") {
		t.Errorf("last month's figures: %q", lastMonth)
	}
	if headcountErr == "" || !strings.Contains(summary, headcountErr) || describedBy != "headcount-error" {
		t.Errorf("inline error %q, summary %q, aria-describedby %q", headcountErr, summary, describedBy)
	}
	if !strings.Contains(reviewTable, "380") || !strings.Contains(reviewTable, "30") {
		t.Errorf("review table %q", reviewTable)
	}
	if len(strings.TrimSpace(receipt)) != 16 {
		t.Errorf("receipt %q", receipt)
	}
	msgs := h.topic()
	if len(msgs) != 1 {
		t.Fatalf("%d messages on the topic, want 1", len(msgs))
	}
	r, prob := report.Decode(msgs[0].Value, time.Now())
	if prob != nil || r.FirmID != firm.ID || r.Period != cur || r.Headcount != 380 || r.Vacancies != 2 || r.Separations.EconomicLayoff != 30 {
		t.Fatalf("message %s (%v)", msgs[0].Value, prob)
	}
	if header(msgs[0], "token_id") != TokenID(h.tokA) {
		t.Errorf("headers %v", msgs[0].Headers)
	}
}
