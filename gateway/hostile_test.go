package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// webClient is a cookie-keeping HTTP client for the form pages.
type webClient struct {
	h *harness
	c *http.Client
}

func newWebClient(h *harness) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{h: h, c: &http.Client{Jar: jar}}
}

func (w *webClient) read(resp *http.Response, err error) answer {
	w.h.t.Helper()
	if err != nil {
		w.h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		w.h.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (w *webClient) get(path string) answer { return w.read(w.c.Get(w.h.url + path)) }

func (w *webClient) post(path string, vals url.Values) answer {
	return w.read(w.c.PostForm(w.h.url+path, vals))
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t testing.TB, a answer) string {
	t.Helper()
	m := csrfRe.FindSubmatch(a.body)
	if m == nil {
		t.Fatalf("no csrf field in page (%d): %s", a.status, a.body)
	}
	return string(m[1])
}

// signIn signs in and returns the form page.
func (w *webClient) signIn(token string) answer {
	w.h.t.Helper()
	page := w.get("/report")
	return w.post("/report/signin", url.Values{"csrf": {csrfOf(w.h.t, page)}, "token": {token}})
}

const hostileNote = "=cmd|' /C calc'!A0\r\nBcc: victim@example.com\r\n<script>alert(\"x\")</script>'); DROP TABLE reports; --"

// TestHostileInput: formula-injection and CRLF cells are stored as text and
// come back escaped (JSON, HTML) and never in a header; SQL metacharacters
// in every field are data; a hostile firm name is escaped in the form.
func TestHostileInput(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	d := firms.Firm{ID: testenv.FirmID(countyA, 9), Name: `<script>alert(1)</script>&"' 公司`, Region: countyA, Industry: "C", BaselineHeadcount: 50}
	if err := firms.NewStore(h.ch).Upsert(ctx, []firms.Firm{d}); err != nil {
		t.Fatal(err)
	}
	_ = h.srv.firms.refresh(ctx)
	tokD := h.token(Scope{FirmID: d.ID})
	cur := currentPeriod()
	last := cur.Add(-1)

	// last month's report by CSV, this month's by JSON, both with the note
	csv := "firm_id,period,headcount,vacancies,note\n" + d.ID + "," + last.String() + ",41,1,\"" + strings.ReplaceAll(hostileNote, `"`, `""`) + "\"\n"
	if a := h.do(http.MethodPost, "/v1/reports.csv", tokD, "text/csv; charset=utf-8", []byte(csv)); a.status != http.StatusAccepted {
		t.Fatalf("csv: %d %s", a.status, a.body)
	}
	noteJSON, _ := json.Marshal(hostileNote)
	if a := h.postJSON(tokD, reportJSON(d.ID, cur.String(), 42, `,"note":`+string(noteJSON))); a.status != http.StatusAccepted {
		t.Fatalf("json: %d %s", a.status, a.body)
	}
	// SQL metacharacters where the format allows no such value: refused as data
	for _, c := range []struct{ body, reason string }{
		{reportJSON(d.ID+"' OR '1'='1", cur.String(), 1, ""), report.ReasonInvalidFirmID},
		{reportJSON(d.ID, cur.String()+"'; DROP TABLE reports; --", 1, ""), report.ReasonInvalidPeriod},
		{`{"schema_version":1,"firm_id":"` + d.ID + `","period":"` + cur.String() + `","headcount":"1; DROP TABLE reports","vacancies":0}`, report.ReasonMalformedJSON},
		{`{"schema_version":1,"firm_id":"` + d.ID + `","period":"` + cur.String() + `","headcount":1,"vacancies":0,"separations":{"other' OR 1=1 --":1}}`, report.ReasonUnknownField},
	} {
		a := h.postJSON(tokD, c.body)
		if a.status != http.StatusBadRequest || a.problem(t).Errors[0].Reason != c.reason {
			t.Errorf("%s: %d %s", c.body, a.status, a.body)
		}
	}
	if a := h.get("/v1/reports?period="+url.QueryEscape("2026-03'; DROP TABLE reports; --"), tokD); a.status != http.StatusBadRequest {
		t.Errorf("GET with a hostile period: %d", a.status)
	}
	label := `clerk'); DROP TABLE gateway_tokens; -- "quoted"`
	if _, _, err := CreateToken(ctx, h.ch, Scope{FirmID: d.ID}, label); err != nil {
		t.Fatal(err)
	}
	list, err := ListTokens(ctx, h.ch)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tk := range list {
		found = found || tk.Label == label
	}
	if !found {
		t.Errorf("label %q not stored verbatim", label)
	}

	// through ingest into ClickHouse: the notes are stored as text
	h.startIngest()
	testenv.WaitFor(t, "ingest", 60*time.Second, func() (bool, string) {
		n := h.count("SELECT count() FROM reports_latest WHERE firm_id = ?", d.ID)
		return n == 2, fmt.Sprint(n)
	})
	var csvNote, jsonNote string
	if err := testenv.SQL(t, h.ch.Options()).QueryRow(ctx, "SELECT note FROM reports_latest WHERE firm_id = ? AND period = toDate(?)", d.ID, last.Start().Format(time.DateOnly)).Scan(&csvNote); err != nil {
		t.Fatal(err)
	}
	if err := testenv.SQL(t, h.ch.Options()).QueryRow(ctx, "SELECT note FROM reports_latest WHERE firm_id = ? AND period = toDate(?)", d.ID, cur.Start().Format(time.DateOnly)).Scan(&jsonNote); err != nil {
		t.Fatal(err)
	}
	if jsonNote != hostileNote {
		t.Errorf("JSON note stored as %q", jsonNote)
	}
	if want := strings.ReplaceAll(hostileNote, "\r\n", "\n"); csvNote != want {
		t.Errorf("CSV note stored as %q, want %q", csvNote, want)
	}
	for _, table := range []string{"reports", "rejects", "firms", "gateway_tokens", "gateway_submissions", "gateway_idempotency"} {
		if n := h.count("SELECT count() FROM system.tables WHERE database = ? AND name = ?", h.ch.Database(), table); n != 1 {
			t.Errorf("table %s: %d", table, n)
		}
	}

	// the API answers JSON with the text escaped
	a := h.get("/v1/reports?period="+cur.String(), tokD)
	if a.status != 200 || strings.Contains(string(a.body), "<script>") || strings.Contains(string(a.body), "\r\n") {
		t.Fatalf("GET /v1/reports: %d %s", a.status, a.body)
	}
	var got Reports
	_ = json.Unmarshal(a.body, &got)
	if len(got.Reports) != 1 || got.Reports[0].Report.Note != hostileNote {
		t.Errorf("GET /v1/reports note: %+v", got.Reports)
	}
	for k, v := range a.header {
		if strings.Contains(k+strings.Join(v, ""), "victim") {
			t.Errorf("header %s: %v", k, v)
		}
	}

	// the form shows last month's note and the firm's name escaped
	wc := newWebClient(h)
	page := wc.signIn(tokD)
	if page.status != 200 || !strings.Contains(string(page.body), `id="last-month"`) {
		t.Fatalf("form: %d %s", page.status, page.body)
	}
	body := string(page.body)
	if strings.Contains(body, "<script>") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") ||
		!strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("unescaped or missing text in the form:\n%s", body)
	}
	for k, v := range page.header {
		if strings.Contains(k+strings.Join(v, ""), "victim") {
			t.Errorf("header %s: %v", k, v)
		}
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
}

// TestWebFormHTTP drives the form without a browser: CSRF, sign-in
// failures, inline errors, review, confirmation, language, sign-out.
func TestWebFormHTTP(t *testing.T) {
	h := newHarness(t, nil)
	a := h.firms[0]
	wc := newWebClient(h)
	first := wc.get("/report")
	if first.status != 200 || !strings.Contains(string(first.body), `<html lang="zh-CN">`) || !strings.Contains(string(first.body), `<label for="token">`) {
		t.Fatalf("sign-in page: %d %s", first.status, first.body)
	}
	// a sign-in without the page's CSRF token is refused
	if r := wc.post("/report/signin", url.Values{"csrf": {"forged"}, "token": {h.tokA}}); r.status != http.StatusForbidden {
		t.Fatalf("forged csrf: %d", r.status)
	}
	// a wrong token
	if r := wc.post("/report/signin", url.Values{"csrf": {csrfOf(t, wc.get("/report"))}, "token": {"lw_wrong"}}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", r.status)
	}
	form := wc.signIn(h.tokA)
	if form.status != 200 || !strings.Contains(string(form.body), a.Name) {
		t.Fatalf("form: %d %s", form.status, form.body)
	}
	csrf := csrfOf(t, form)
	vals := url.Values{"csrf": {csrf}, "firm_id": {a.ID}, "headcount": {"abc"}, "vacancies": {""}, "economic_layoff": {"3"}}
	bad := wc.post("/report", vals)
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(string(bad.body), `id="headcount-error"`) || !strings.Contains(string(bad.body), `aria-invalid="true"`) {
		t.Fatalf("invalid figures: %d %s", bad.status, bad.body)
	}
	vals.Set("headcount", "-5")
	vals.Set("vacancies", "1")
	if bad := wc.post("/report", vals); bad.status != http.StatusUnprocessableEntity || !strings.Contains(string(bad.body), `id="headcount-error"`) {
		t.Fatalf("negative headcount: %d", bad.status)
	}
	vals.Set("headcount", "120")
	review := wc.post("/report", vals)
	if review.status != 200 || !strings.Contains(string(review.body), `id="confirm"`) {
		t.Fatalf("review: %d %s", review.status, review.body)
	}
	// another firm in a forged post: 403, nothing produced
	forged := url.Values{"csrf": {csrf}, "firm_id": {h.firms[1].ID}, "headcount": {"1"}, "vacancies": {"1"}}
	if r := wc.post("/report/confirm", forged); r.status != http.StatusForbidden {
		t.Fatalf("confirm for another firm: %d", r.status)
	}
	// a confirm without the session's CSRF token: refused
	noCSRF := url.Values{"firm_id": {a.ID}, "headcount": {"1"}, "vacancies": {"1"}}
	if r := wc.post("/report/confirm", noCSRF); r.status != http.StatusForbidden {
		t.Fatalf("confirm without csrf: %d", r.status)
	}
	if n := len(h.topic()); n != 0 {
		t.Fatalf("%d messages before confirmation", n)
	}
	done := wc.post("/report/confirm", vals)
	if done.status != 200 || !strings.Contains(string(done.body), `id="receipt"`) {
		t.Fatalf("confirm: %d %s", done.status, done.body)
	}
	msgs := h.topic()
	if len(msgs) != 1 {
		t.Fatalf("%d messages after confirmation", len(msgs))
	}
	r, prob := report.Decode(msgs[0].Value, time.Now())
	if prob != nil || r.FirmID != a.ID || r.Headcount != 120 || r.Vacancies != 1 || r.Separations.EconomicLayoff != 3 || r.Revision != 1 {
		t.Fatalf("message %s (%v)", msgs[0].Value, prob)
	}
	// English on request, remembered
	if en := wc.get("/report?lang=en"); !strings.Contains(string(en.body), `<html lang="en">`) || !strings.Contains(string(en.body), "Headcount at month end") {
		t.Fatalf("english: %s", en.body)
	}
	// the next submission is a correction
	testenv.WaitFor(t, "revision on file", 10*time.Second, func() (bool, string) {
		p := wc.get("/report")
		return strings.Contains(string(p.body), `id="on-file"`), ""
	})
	// signing out ends the session
	wc.post("/report/signout", url.Values{"csrf": {csrf}})
	if p := wc.get("/report"); !strings.Contains(string(p.body), `id="token"`) {
		t.Fatalf("after sign-out: %s", p.body)
	}
}
