package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/csvcell"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestAttackSuite replays, against one running stack — the gateway on a TCP
// port, the embedded Kafka broker, ingest, ClickHouse, and the alert
// component's acknowledge links — every class of attack the black-box test
// of issue 12 tried, those that held as well as those fixed since (each of
// which also has its own TestAttack… test). Every attack must be refused
// with a clear answer; at the end, ClickHouse must hold exactly the reports
// the suite sent legitimately: nothing refused stored, nothing half-stored.
func TestAttackSuite(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ReadHeaderTimeout, o.ReadTimeout = time.Second, 3*time.Second })
	ctx := context.Background()
	hostile := firms.Firm{ID: testenv.FirmID(countyA, 9), Name: `<img src=x onerror=alert(1)>=HYPERLINK("http://evil.example","x")`,
		Region: countyA, Industry: "C", BaselineHeadcount: 50}
	if err := firms.NewStore(h.ch).Upsert(ctx, []firms.Firm{hostile}); err != nil {
		t.Fatal(err)
	}
	_ = h.srv.firms.refresh(ctx)
	a, b, c := h.firms[0].ID, h.firms[1].ID, h.firms[2].ID
	tokHostile := h.token(Scope{FirmID: hostile.ID})
	lanzhou := h.token(Scope{Region: "620100"})
	cur := currentPeriod()
	h.startIngest()
	ack := startAlerts(t, h, hostile)

	// the ledger: what the suite sends legitimately, and so what must be stored
	var mu sync.Mutex
	want := map[revKey]uint32{} // headcount by revision
	messages := 0
	legit := func(ans answer, reports ...report.Report) {
		t.Helper()
		ans.accepted(t)
		mu.Lock()
		defer mu.Unlock()
		for _, r := range reports {
			want[keyOf(r)] = r.Headcount
		}
		messages += len(reports)
	}
	rep := func(firm string, p report.Period, headcount uint32) report.Report {
		return report.Report{FirmID: firm, Period: p, Headcount: headcount, Vacancies: 4, Hires: 2, Separations: report.Separations{Resignation: 1}, Revision: 1}
	}
	body := func(r report.Report, extra string) string {
		return reportJSON(r.FirmID, r.Period.String(), int(r.Headcount), extra)
	}
	post := func(tok, b string, hdr ...string) answer { return h.postJSON(tok, b, hdr...) }
	valid := body(rep(a, cur, 1), "")

	t.Run("auth", func(t *testing.T) {
		unknown, _, _ := NewSecret()
		revoked := h.token(Scope{FirmID: a})
		if _, err := RevokeToken(ctx, h.ch, TokenID(revoked)); err != nil {
			t.Fatal(err)
		}
		_ = h.srv.tokens.refresh(ctx)
		for _, auth := range []string{"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer lw_short", "Bearer " + unknown,
			"Bearer " + revoked, "Bearer " + h.tokA + "x", "Bearer " + strings.ToUpper(h.tokA), "Token " + h.tokA} {
			a := h.do(http.MethodPost, "/v1/reports", "", "application/json", []byte(valid), "Authorization", auth)
			refused(t, a, http.StatusUnauthorized, "", "")
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%q: no WWW-Authenticate", auth)
			}
		}
		// a token anywhere but the Authorization header is not a token
		refused(t, h.do(http.MethodPost, "/v1/reports?access_token="+h.tokA, "", "application/json", []byte(valid)), http.StatusUnauthorized, "", "")
		refused(t, h.do(http.MethodPost, "/v1/reports", "", "application/json", []byte(valid), "Cookie", "token="+h.tokA), http.StatusUnauthorized, "", "")
		for _, path := range []string{"/v1/reports", "/v1/deadlines"} {
			ans := h.get(path, unknown)
			refused(t, ans, http.StatusUnauthorized, "", "")
			if strings.Contains(string(ans.body), a[:8]) {
				t.Errorf("401 on %s tells firm ids: %s", path, ans.body)
			}
		}
		req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/reports", nil)
		req.Header["Authorization"] = []string{"Bearer " + h.tokA, "Bearer " + unknown}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		refused(t, h.read(resp), http.StatusBadRequest, "", "")
		wc := newWebClient(h)
		if ans := wc.signIn(unknown); ans.status != http.StatusUnauthorized || setsSession(ans) {
			t.Errorf("web sign-in with an unknown token: %d", ans.status)
		}
	})

	t.Run("scope", func(t *testing.T) {
		for _, bd := range []string{
			body(rep(b, cur, 1), ""),
			"[" + valid + "," + body(rep(b, cur, 1), "") + "]",
			body(rep(testenv.FirmID("620103", 55), cur, 1), ""),
			body(rep(b, cur, 1), `,"revision":0`), // invalid too: still 403, nothing said about the figures
		} {
			refused(t, post(h.tokA, bd), http.StatusForbidden, "forbidden_firm", "firm_id")
		}
		refused(t, post(lanzhou, body(rep(c, cur, 1), "")), http.StatusForbidden, "forbidden_firm", "firm_id")
		upload := "firm_id,period,headcount,vacancies\n" + b + "," + cur.String() + ",1,0\n"
		refused(t, h.do(http.MethodPost, "/v1/reports.csv", h.tokA, "text/csv", []byte(upload)), http.StatusForbidden, "forbidden_firm", "firm_id")
		// reading back: a firm's token sees its own firm only, whatever it asks
		for _, q := range []string{"", "&firm_id=" + b, "&firm=" + b, "&scope=region"} {
			ans := h.get("/v1/deadlines?period="+cur.String()+q, h.tokA)
			if ans.status != http.StatusOK || strings.Contains(string(ans.body), b) || strings.Contains(string(ans.body), c) {
				t.Errorf("deadlines%s: %d %s", q, ans.status, ans.body)
			}
		}
		wc := newWebClient(h)
		csrf := csrfOf(t, wc.signIn(h.tokA))
		if ans := wc.get("/report?firm=" + b); ans.status != http.StatusForbidden {
			t.Errorf("form for another firm: %d", ans.status)
		}
		for _, path := range []string{"/report", "/report/confirm"} {
			ans := wc.post(path, url.Values{"csrf": {csrf}, "firm_id": {b}, "headcount": {"1"}, "vacancies": {"1"}})
			if ans.status != http.StatusForbidden {
				t.Errorf("%s for another firm: %d", path, ans.status)
			}
		}
	})

	t.Run("csrf", func(t *testing.T) {
		wc, other := newWebClient(h), newWebClient(h)
		csrf := csrfOf(t, wc.signIn(h.tokA))
		otherCSRF := csrfOf(t, other.signIn(h.tokA))
		form := url.Values{"firm_id": {a}, "headcount": {"5"}, "vacancies": {"1"}}
		for name, token := range map[string][]string{"none": nil, "forged": {"forged"}, "another session's": {otherCSRF}, "empty": {""}} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if token != nil {
				f["csrf"] = token
			}
			if ans := wc.post("/report/confirm", f); ans.status != http.StatusForbidden {
				t.Errorf("confirmation with %s csrf token: %d", name, ans.status)
			}
		}
		f := url.Values{"csrf": {csrf}}
		for k, v := range form {
			f[k] = v
		}
		req, _ := http.NewRequest(http.MethodPost, h.url+"/report/confirm", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		if ans := wc.read(wc.c.Do(req)); ans.status != http.StatusForbidden {
			t.Errorf("cross-origin confirmation: %d", ans.status)
		}
	})

	t.Run("xss", func(t *testing.T) {
		note := `<script>alert(1)</script>"><img src=x onerror=alert(2)>` + "\u2028" + `'); DROP TABLE reports; --`
		r := rep(a, cur.Add(-1), 41)
		r.Note = note
		nj, _ := json.Marshal(note)
		legit(post(h.tokA, body(r, `,"note":`+string(nj))), r)
		ans := h.get("/v1/reports?period="+cur.Add(-1).String(), h.tokA)
		if ans.status != http.StatusOK || bytes.Contains(ans.body, []byte("<script>")) || bytes.Contains(ans.body, []byte("<img")) {
			t.Errorf("GET /v1/reports: %d %s", ans.status, ans.body)
		}
		// the form escapes a hostile firm name, and a hostile note on review
		wc := newWebClient(h)
		page := wc.signIn(tokHostile)
		if page.status != http.StatusOK || bytes.Contains(page.body, []byte("<img src=x")) || !bytes.Contains(page.body, []byte("&lt;img src=x onerror=alert(1)&gt;")) {
			t.Fatalf("form of a firm with a hostile name: %d %s", page.status, page.body)
		}
		if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
			t.Errorf("CSP %q", csp)
		}
		review := wc.post("/report", url.Values{"csrf": {csrfOf(t, page)}, "firm_id": {hostile.ID}, "headcount": {"3"}, "vacancies": {"0"}, "note": {note}})
		if review.status != http.StatusOK || bytes.Contains(review.body, []byte("<script>")) || !bytes.Contains(review.body, []byte("&lt;script&gt;")) {
			t.Errorf("review of a hostile note: %d %s", review.status, review.body)
		}
		for _, hdr := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if review.header.Get(hdr) == "" {
				t.Errorf("no %s on the form", hdr)
			}
		}
	})

	t.Run("framing headers", func(t *testing.T) {
		auth := "Authorization: Bearer " + h.tokA + "\r\nContent-Type: application/json\r\n"
		for _, c := range []struct {
			name, raw string
			status    int
		}{
			{"two different lengths", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n" + valid, 400},
			{"length not a number", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 1e3\r\n\r\n" + valid, 400},
			{"negative length", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: -1\r\n\r\n" + valid, 400},
			{"unknown coding", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: gzip\r\n\r\n" + valid, 501},
			{"chunked twice", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 501},
			{"two codings", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", 501},
			{"length and chunked", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
			{"bad chunk size", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\nzz\r\n" + valid + "\r\n0\r\n\r\n", 400},
			{"no Host", "POST /v1/reports HTTP/1.1\r\n" + auth + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(valid)) + valid, 400},
			{"two Hosts", "GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
			{"space before colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length : 0\r\n\r\n", 400},
			{"length and a folded chunked", "POST /v1/reports HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 3\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400},
			{"header over 32 KiB", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", 431},
			{"HTTP/2 preface on HTTP/1", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
			{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
		} {
			answers, closed := h.rawExchange(t, c.raw)
			if len(answers) != 1 || answers[0].StatusCode != c.status || !closed {
				codes := []int{}
				for _, a := range answers {
					codes = append(codes, a.StatusCode)
				}
				t.Errorf("%s: answers %v (closed %v), want one %d and the connection closed", c.name, codes, closed, c.status)
			}
		}
	})

	t.Run("body limits", func(t *testing.T) {
		answers, _ := h.rawExchange(t, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+h.tokA+
			"\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n[")
		if len(answers) != 1 || answers[0].StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("declared 2 MiB: %v", answers)
		}
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat(" ", 64<<10))
		answers, closed := h.rawExchange(t, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+h.tokA+
			"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"+strings.Repeat(chunk, 20))
		if len(answers) != 1 || answers[0].StatusCode != http.StatusRequestEntityTooLarge || !closed {
			t.Errorf("1.25 MiB streamed: %v (closed %v)", answers, closed)
		}
		refused(t, post(h.tokA, "["+strings.Repeat(valid+",", MaxBatch)+valid+"]"), http.StatusBadRequest, report.ReasonTooLarge, "")
		refused(t, post(h.tokA, body(rep(a, cur, 1), `,"note":"`+strings.Repeat("长", 22<<10)+`"`)), http.StatusBadRequest, report.ReasonTooLarge, "")
		refused(t, post(h.tokA, body(rep(a, cur, 1), `,"note":"`+strings.Repeat("长", 501)+`"`)), http.StatusBadRequest, report.ReasonOutOfRange, "note")
		wc := newWebClient(h)
		csrf := csrfOf(t, wc.get("/report"))
		if ans := wc.post("/report/signin", url.Values{"csrf": {csrf}, "token": {h.tokA}, "pad": {strings.Repeat("x", 70<<10)}}); ans.status != http.StatusBadRequest || setsSession(ans) {
			t.Errorf("sign-in form over 64 KiB: %d", ans.status)
		}
	})

	t.Run("malformed and deep JSON", func(t *testing.T) {
		for _, bd := range []string{
			"", " ", "{", `{"schema_version":1,`, valid + "x", valid + valid, "[" + valid + ",]", "[" + valid,
			strings.Repeat("[", 100_000), strings.Repeat(`{"a":`, 50_000), `{"note":` + strings.Repeat("[", 100_000) + `}`,
			"\ufeff" + valid, `{'schema_version':1}`, `{"schema_version":1 /* c */}`, `{"headcount":NaN}`, `{"headcount":Infinity}`,
			"null", "true", `"report"`, "[[" + valid + "]]", `[null]`, `[1,2,3]`, "{}",
			body(rep(a, cur, 1), `,"note":{"text":"x"}`), body(rep(a, cur, 1), `,"note":["x"]`),
			body(rep(a, cur, 1), `,"x":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)),
			body(rep(a, cur, 1), `,"separations":{"other":{"n":1}}`),
		} {
			refused(t, post(h.tokA, bd), http.StatusBadRequest, "", "")
		}
	})

	t.Run("huge numbers", func(t *testing.T) {
		for _, c := range []struct{ extra, reason, field string }{
			{`,"headcount":1e400`, report.ReasonMalformedJSON, "headcount"},
			{`,"headcount":99999999999999999999999`, report.ReasonOutOfRange, "headcount"},
			{`,"headcount":10000001`, report.ReasonOutOfRange, "headcount"},
			{`,"headcount":-1`, report.ReasonOutOfRange, "headcount"},
			{`,"headcount":1.0`, report.ReasonMalformedJSON, "headcount"},
			{`,"revision":4294967296`, report.ReasonOutOfRange, "revision"},
			{`,"revision":-9223372036854775808`, report.ReasonOutOfRange, "revision"},
			{`,"schema_version":18446744073709551617`, report.ReasonOutOfRange, "schema_version"},
		} {
			bd := `{"firm_id":"` + a + `","period":"` + cur.String() + `","vacancies":1` + c.extra
			if !strings.Contains(c.extra, "headcount") {
				bd += `,"headcount":1`
			}
			if !strings.Contains(c.extra, "schema_version") {
				bd += `,"schema_version":1`
			}
			refused(t, post(h.tokA, bd+"}"), http.StatusBadRequest, c.reason, c.field)
		}
		refused(t, post(h.tokA, body(rep(a, cur, 1), `,"separations":{"other":1e10}`)), http.StatusBadRequest, report.ReasonMalformedJSON, "")
		refused(t, post(h.tokA, `{"schema_version":1,"firm_id":"`+a+`","period":"`+cur.String()+`","headcount":0x10,"vacancies":1}`), http.StatusBadRequest, report.ReasonMalformedJSON, "")
	})

	t.Run("duplicate keys", func(t *testing.T) {
		for _, bd := range []string{
			body(rep(a, cur, 1), `,"headcount":2`),
			body(rep(a, cur, 1), `,"head\u0063ount":2`),
			body(rep(a, cur, 1), `,"firm_id":"`+b+`"`), // a second firm behind the first: neither is taken
			body(rep(b, cur, 1), `,"firm_id":"`+a+`"`),
			body(rep(a, cur, 1), `,"separations":{"other":1,"other":2}`),
			body(rep(a, cur, 1), `,"note":"a","note":"b"`),
		} {
			ans := post(h.tokA, bd)
			if ans.status != http.StatusBadRequest && ans.status != http.StatusForbidden {
				t.Errorf("%s: %d %s", bd, ans.status, ans.body)
			}
		}
	})

	t.Run("csv abuse", func(t *testing.T) {
		r := rep(a, cur.Add(-2), 43)
		r.Note = "=cmd|' /C calc'!A0"
		upload := "\ufefffirm_id,period,headcount,vacancies,hires,resignation,note\r\n" + a + "," + r.Period.String() + ",43,4,2,1,\"=cmd|' /C calc'!A0\"\r\n"
		legit(h.do(http.MethodPost, "/v1/reports.csv", h.tokA, "text/csv; charset=utf-8", []byte(upload)), r)
		head := "firm_id,period,headcount,vacancies\n"
		for _, c := range []struct{ upload, reason string }{
			{head + "\"" + a[:9] + "\n" + a[9:] + "\"," + cur.String() + ",1,0\n", report.ReasonInvalidFirmID},
			{head + a + "\x00," + cur.String() + ",1,0\n", report.ReasonInvalidFirmID},
			{"firm_id,firm_id\n" + a + "," + a + "\n", report.ReasonMalformedJSON},
			{head + a + "," + cur.String() + ",1\n", report.ReasonMalformedJSON},
			{head + a + "," + cur.String() + ",\"1,0\n", report.ReasonMalformedJSON},
			{"firm_id,period,headcount,vacancies,reported_at\n", report.ReasonUnknownField},
			{"firm_id,period,headcount,vacancies,=HYPERLINK(1)\n", report.ReasonUnknownField},
			{head + strings.Repeat(a+","+cur.String()+",1,0\n", MaxBatch+1), report.ReasonTooLarge},
			{head + a + "," + cur.String() + ",\"=1+1\",0\n", report.ReasonMalformedJSON},
			{head + a + "," + cur.String() + ",1,0,extra\n", report.ReasonMalformedJSON},
			{"firm_id,period,headcount,vacancies,note\n" + a + "," + cur.String() + ",1,0,\"\xff\"\n", report.ReasonInvalidEncoding},
			{"", report.ReasonMissingField},
		} {
			refused(t, h.do(http.MethodPost, "/v1/reports.csv", h.tokA, "text/csv", []byte(c.upload)), http.StatusBadRequest, c.reason, "")
		}
		// the registry's export neutralises the hostile name; ParseCSV reads it back
		var buf bytes.Buffer
		if err := firms.WriteCSV(&buf, []firms.Firm{hostile, {ID: a, Name: "=1+1", Region: countyA, Industry: "C"}}); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs[1:] {
			for _, cell := range rec {
				if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
					t.Errorf("exported cell %q starts a formula", cell)
				}
			}
			if rec[1] != csvcell.Neutralize(rec[1][1:]) && rec[1] != csvcell.Neutralize(rec[1]) {
				t.Errorf("exported name %q", rec[1])
			}
		}
	})

	t.Run("content types", func(t *testing.T) {
		for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
			"application/json; charset=latin1", "application/json; charset=utf-16", "application/json-patch+json", "application/json, text/csv", "text/csv"} {
			refused(t, h.do(http.MethodPost, "/v1/reports", h.tokA, ct, []byte(valid)), http.StatusUnsupportedMediaType, "", "")
		}
		refused(t, h.do(http.MethodPost, "/v1/reports.csv", h.tokA, "application/json", []byte(valid)), http.StatusUnsupportedMediaType, "", "")
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		fw, _ := mw.CreateFormFile("file", "reports.csv")
		_, _ = io.WriteString(fw, "firm_id,period,headcount,vacancies\n"+a+","+cur.String()+",1,0\n")
		_ = mw.Close()
		refused(t, h.do(http.MethodPost, "/v1/reports.csv", h.tokA, mw.FormDataContentType(), mp.Bytes()), http.StatusUnsupportedMediaType, "", "")
		r := rep(a, cur.Add(-3), 44)
		legit(h.do(http.MethodPost, "/v1/reports", h.tokA, "Application/JSON; Charset=\"UTF-8\"", []byte(body(r, ""))), r)
		// the API never answers HTML that a browser could sniff into script
		for _, path := range []string{"/v1/reports", "/v1/deadlines", "/nope"} {
			ans := h.get(path, "")
			if ct, _, _ := mime.ParseMediaType(ans.header.Get("Content-Type")); ct == "text/html" || ans.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: content type %q, nosniff %q", path, ans.header.Get("Content-Type"), ans.header.Get("X-Content-Type-Options"))
			}
		}
	})

	t.Run("methods", func(t *testing.T) {
		for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "TRACE", "PROPFIND"} {
			ans := h.do(m, "/v1/reports", h.tokA, "application/json", []byte(valid))
			if ans.status != http.StatusMethodNotAllowed && ans.status != http.StatusNotFound {
				t.Errorf("%s /v1/reports: %d", m, ans.status)
			}
			if ans.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s: CORS header %q", m, ans.header.Get("Access-Control-Allow-Origin"))
			}
		}
		for _, p := range []string{"/v1/reports/../../etc/passwd", "/static/../web.go", "/static/%2e%2e/web.go", "//v1/reports", "/v1/reports%00"} {
			ans := h.do(http.MethodGet, p, h.tokA, "", nil)
			if ans.status == http.StatusOK && strings.Contains(string(ans.body), "package gateway") {
				t.Errorf("GET %s served source", p)
			}
		}
	})

	t.Run("smuggling", func(t *testing.T) {
		answers, closed := h.rawExchange(t, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "+h.tokA+
			"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n"+
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(valid), valid)+"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		if len(answers) != 1 || answers[0].StatusCode != http.StatusBadRequest || !closed {
			t.Errorf("CL+TE: %d answers, closed %v", len(answers), closed)
		}
	})

	t.Run("slow clients", func(t *testing.T) {
		// headers a byte at a time: cut off by the read-header timeout
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		head := "POST /v1/reports HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 300)
		cut := false
		for i := 0; i < len(head) && !cut; i++ {
			_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := conn.Write([]byte{head[i]}); err != nil {
				cut = true
			}
			_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, err := conn.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
				cut = true
			}
		}
		if !cut {
			t.Error("a client sending its headers a byte every 50 ms was never cut off")
		}
		// a body trickled in: cut off by the read timeout, nothing accepted
		conn2, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn2.Close()
		fmt.Fprintf(conn2, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", h.tokA, len(valid))
		cut = false
		for i := 0; i < len(valid) && !cut; i++ {
			if _, err := conn2.Write([]byte{valid[i]}); err != nil {
				cut = true
			}
			_ = conn2.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := conn2.Read(make([]byte, 512)); err == nil || !isTimeout(err) {
				cut = true
			}
		}
		if !cut {
			t.Error("a client trickling its body a byte every 100 ms was never cut off")
		}
	})

	t.Run("idempotency keys", func(t *testing.T) {
		r := rep(a, cur.Add(-4), 45)
		first := post(h.tokA, body(r, ""), "Idempotency-Key", "suite-1")
		legit(first, r)
		again := post(h.tokA, body(r, ""), "Idempotency-Key", "suite-1")
		if again.status != first.status || !bytes.Equal(again.body, first.body) || again.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %s", again.status, again.body)
		}
		refused(t, post(h.tokA, body(rep(a, cur.Add(-4), 46), ""), "Idempotency-Key", "suite-1"), http.StatusUnprocessableEntity, "", "")
		for _, key := range []string{strings.Repeat("k", 256), "ключ", "a\tb"} {
			refused(t, post(h.tokA, body(rep(a, cur.Add(-4), 47), ""), "Idempotency-Key", key), http.StatusBadRequest, "", "")
		}
		// ten concurrent requests with one key produce once
		before := len(h.topic())
		var wg sync.WaitGroup
		codes := make([]int, 10)
		r2 := rep(a, cur.Add(-5), 48)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i] = post(h.tokA, body(r2, ""), "Idempotency-Key", "suite-concurrent").status
			}()
		}
		wg.Wait()
		if n := len(h.topic()) - before; n != 1 {
			t.Errorf("ten concurrent requests with one key produced %d messages (answers %v)", n, codes)
		}
		mu.Lock()
		want[keyOf(r2)] = r2.Headcount
		messages++
		mu.Unlock()
	})

	t.Run("ack links", func(t *testing.T) { ack.attack(t) })

	// Nothing refused was stored, nothing half-stored: ClickHouse holds
	// exactly the ledger, and ingest refused nothing (the gateway did).
	mu.Lock()
	defer mu.Unlock()
	if n := len(h.topic()); n != messages {
		t.Errorf("%d messages reached Kafka, the suite sent %d legitimately", n, messages)
	}
	testenv.WaitFor(t, "the legitimate reports stored", 60*time.Second, func() (bool, string) {
		n := h.count("SELECT count() FROM reports_latest")
		return n == uint64(len(want)), fmt.Sprintf("%d of %d", n, len(want))
	})
	rows, err := testenv.SQL(h.t, h.ch.Options()).Query(ctx, "SELECT firm_id, period, revision, headcount FROM reports_latest")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k revKey
		var period time.Time
		var head uint32
		if err := rows.Scan(&k.firm, &period, &k.revision, &head); err != nil {
			t.Fatal(err)
		}
		k.period = report.PeriodOf(period)
		if w, ok := want[k]; !ok || w != head {
			t.Errorf("stored %+v with headcount %d, the suite sent %d (sent: %v)", k, head, w, ok)
		}
	}
	if n := h.count("SELECT count() FROM rejects FINAL"); n != 0 {
		t.Errorf("%d messages reached ingest and were refused there: the gateway let them through", n)
	}
	if n := h.count("SELECT uniqExact(firm_id, period, revision) FROM gateway_submissions"); n != uint64(len(want)) {
		t.Errorf("gateway_submissions holds %d revisions, want %d", n, len(want))
	}
	var note string
	if err := testenv.SQL(h.t, h.ch.Options()).QueryRow(ctx, "SELECT note FROM reports_latest WHERE firm_id = ? AND period = toDate(?)", a, cur.Add(-2).Start().Format(time.DateOnly)).Scan(&note); err != nil || note != "=cmd|' /C calc'!A0" {
		t.Errorf("the formula note is stored as %q (%v), want it raw", note, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := errors.AsType[net.Error](err)
	return ok && ne.Timeout()
}

// ackStack is the alert component, running with the harness's Kafka and
// ClickHouse, with one alert emailed and its acknowledge link.
type ackStack struct {
	h      *harness
	base   string
	link   string
	secret string
	alert  alertevent.Event
}

const ackSecret = "attack-suite-ack-secret-0123456789"

// startAlerts runs the alert component, sends it a level I alert about firm
// f (whose name is hostile) and waits for the email with its link.
func startAlerts(t *testing.T, h *harness, f firms.Firm) *ackStack {
	t.Helper()
	smtp := smtptest.Start(t, smtptest.Options{})
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &ackStack{h: h, base: fmt.Sprintf("http://127.0.0.1:%d", port), secret: ackSecret}
	cfg := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true, timeout: 5s}
links: {ack_base_url: %q, grafana_base_url: "http://grafana.example"}
ack: {secret: %s, expiry: 168h}
group_wait: 100ms
recipients:
  - {name: 城关区人社局, email: chengguan@gs.example.cn, region: "620102"}
`, smtp.Port, s.base, ackSecret)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- alerts.Run(ctx, alerts.Options{Kafka: h.opts.Kafka, ClickHouse: h.opts.ClickHouse, Config: cfg,
			Topic: "alerts", Group: "attack-suite", HTTPAddr: strings.TrimPrefix(s.base, "http://"), EscalationCheck: time.Minute,
			SessionTimeout: 6 * time.Second}, testenv.Logger(t), prometheus.NewRegistry())
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("alert component: %v", err)
		}
	})
	testenv.WaitFor(t, "alert component up", 30*time.Second, func() (bool, string) {
		resp, err := http.Get(s.base + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	p := currentPeriod().Add(-1).String()
	s.alert = alertevent.Event{ID: alertevent.ID("major_cut", alertevent.ScopeFirm, f.ID, p), Version: 1, Kind: alertevent.Firing, Rule: "major_cut", Scope: alertevent.ScopeFirm,
		Key: f.ID, Period: p, Level: alertevent.LevelI, LevelFacts: alertevent.DefaultLevelFacts(alertevent.LevelI), Values: json.RawMessage(`{"loss":320,"rate":0.4,"prev_headcount":800}`), Region: f.Region,
		Prefecture: f.Region[:4] + "00", Industry: f.Industry, Subject: f.Name, TitleZh: "测试规则", TitleEn: "Test rule",
		SummaryZh: "减员320人", SummaryEn: "cut 320 staff", Reported: 1, Expected: 1, At: time.Now().UTC()}
	// as the detector does: the event in ClickHouse (the ack page reads it
	// there) and on the topic (the alert component emails it)
	if err := detector.NewStore(h.ch).InsertAlertEvents(context.Background(), []alertevent.Event{s.alert}); err != nil {
		t.Fatal(err)
	}
	ev, _ := json.Marshal(s.alert)
	w := kafkautilWriter(h, "alerts")
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte(s.alert.ID), Value: ev}); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	msgs := smtp.Wait(t, 1)
	m, err := mail.ReadMessage(bytes.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(m.Body)
	s.link = findAckLink(t, m.Header.Get("Content-Type"), raw)
	return s
}

// signature is the s parameter of an acknowledge link.
func signature(link string) string {
	u, _ := url.Parse(link)
	return u.Query().Get("s")
}

var ackLinkRe = regexp.MustCompile(`https?://[^\s"<>]+/ack\?[^\s"<>]+`)

// findAckLink finds the acknowledge link in an email body (any part,
// quoted-printable or not).
func findAckLink(t *testing.T, contentType string, body []byte) string {
	t.Helper()
	var text strings.Builder
	var walk func(ct string, r io.Reader)
	walk = func(ct string, r io.Reader) {
		mt, params, _ := mime.ParseMediaType(ct)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(r, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					return
				}
				var r io.Reader = p // multipart decodes quoted-printable itself
				if strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
					r = base64.NewDecoder(base64.StdEncoding, p)
				}
				walk(p.Header.Get("Content-Type"), r)
			}
		}
		b, _ := io.ReadAll(r)
		text.Write(b)
	}
	walk(contentType, bytes.NewReader(body))
	link := ackLinkRe.FindString(strings.ReplaceAll(text.String(), "&amp;", "&"))
	if link == "" {
		t.Fatalf("no acknowledge link in the email:\n%s", text.String())
	}
	return link
}

func kafkautilWriter(h *harness, topic string) *kafka.Writer {
	w := kafkaWriter(h)
	w.Topic = topic
	return w
}

// attack replays tampered acknowledge links: each is refused, and nothing
// is recorded until the one genuine POST.
func (s *ackStack) attack(t *testing.T) {
	ctx := context.Background()
	acks := func() uint64 { return s.h.count("SELECT count() FROM acks") }
	u, err := url.Parse(s.link)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	do := func(method string, vals url.Values) answer {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodGet {
			resp, err = http.Get(s.base + "/ack?" + vals.Encode())
		} else {
			resp, err = http.PostForm(s.base+"/ack", vals)
		}
		if err != nil {
			t.Fatal(err)
		}
		return s.h.read(resp)
	}
	// the genuine link shows the alert, the hostile firm name escaped, and
	// records nothing on GET (mail scanners follow links)
	page := do(http.MethodGet, q)
	if page.status != http.StatusOK || bytes.Contains(page.body, []byte("<img src=x")) || !bytes.Contains(page.body, []byte("&lt;img src=x onerror=alert(1)&gt;")) {
		t.Fatalf("ack page: %d %s", page.status, page.body)
	}
	if csp := page.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("ack page CSP %q", csp)
	}
	tamper := func(key, value string) url.Values {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		if value == "" {
			v.Del(key)
		} else {
			v.Set(key, value)
		}
		return v
	}
	sig := q.Get("s")
	flipped := string(sig[0]^1) + sig[1:]
	e := q.Get("e")
	for name, vals := range map[string]url.Values{
		"signature altered":      tamper("s", flipped),
		"signature of another":   tamper("s", signature(alerts.NewSigner([]byte("another-secret-0123456789"), time.Hour, time.Now).Link("http://x", q.Get("a"), q.Get("r")))),
		"alert altered":          tamper("a", alertevent.ID("major_cut", alertevent.ScopeFirm, s.h.firms[0].ID, s.alert.Period)),
		"recipient altered":      tamper("r", "attacker@evil.example"),
		"recipient with CRLF":    tamper("r", q.Get("r")+"\r\nBcc: x@evil.example"),
		"expiry extended":        tamper("e", e+"0"),
		"expiry not a number":    tamper("e", "never"),
		"signature missing":      tamper("s", ""),
		"alert missing":          tamper("a", ""),
		"signature in two parts": func() url.Values { v := tamper("s", ""); v["s"] = []string{flipped, sig}; return v }(),
	} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if ans := do(m, vals); ans.status != http.StatusForbidden && ans.status != http.StatusBadRequest {
				t.Errorf("%s, %s: %d", name, m, ans.status)
			}
		}
	}
	// a genuine signature that has expired
	expired := alerts.NewSigner([]byte(s.secret), -time.Hour, time.Now).Link(s.base, q.Get("a"), q.Get("r"))
	eu, _ := url.Parse(expired)
	if ans := do(http.MethodPost, eu.Query()); ans.status != http.StatusGone {
		t.Errorf("expired link: %d", ans.status)
	}
	// a comment that is too long or not UTF-8, on the genuine link
	for _, comment := range []string{strings.Repeat("长", 501), "ok\xff"} {
		v := tamper("comment", comment)
		if ans := do(http.MethodPost, v); ans.status != http.StatusBadRequest {
			t.Errorf("comment %.20q: %d", comment, ans.status)
		}
	}
	// other methods
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, s.base+"/ack?"+q.Encode(), nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("PUT /ack: %d", resp.StatusCode)
		}
	}
	if n := acks(); n != 0 {
		t.Fatalf("%d acknowledgements recorded by refused requests", n)
	}
	// the genuine POST is recorded: the check above could see one
	v := tamper("comment", "已核实 <b>派员</b>")
	if ans := do(http.MethodPost, v); ans.status != http.StatusOK {
		t.Fatalf("genuine acknowledgement: %d %s", ans.status, ans.body)
	}
	if n := acks(); n != 1 {
		t.Errorf("%d acknowledgements after the genuine one", n)
	}
	var who, comment string
	if err := testenv.SQL(s.h.t, s.h.ch.Options()).QueryRow(ctx, "SELECT recipient, comment FROM acks FINAL WHERE alert_id = ?", q.Get("a")).Scan(&who, &comment); err != nil || comment != "已核实 <b>派员</b>" {
		t.Errorf("ack stored as %q %q (%v)", who, comment, err)
	}
}
