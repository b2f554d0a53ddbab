package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// The attack suite: each test replays one class of attack from outside, over
// TCP against the real gateway (the embedded Kafka broker, a fresh
// ClickHouse database), asserts that it is refused with a clear answer, and
// that nothing refused reached Kafka or ClickHouse. docs/api.md
// ("Controls") says what each control does.

// refused asserts a problem answer with status and, when reason is set, a
// field problem with that reason (and field, when set) among its errors.
func refused(t *testing.T, a answer, status int, reason, field string) Problem {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.body)
	}
	p := a.problem(t)
	if reason == "" {
		return p
	}
	for _, e := range p.Errors {
		if e.Reason == reason && (field == "" || e.Field == field) {
			return p
		}
	}
	t.Fatalf("no %s problem on %q in %s", reason, field, a.body)
	return p
}

// nothingProduced asserts that no refused request reached the topic.
func (h *harness) nothingProduced(t *testing.T, want int) {
	t.Helper()
	if n := len(h.topic()); n != want {
		t.Fatalf("%d messages on the topic, want %d", n, want)
	}
}

// TestAttackBulkInIgnoredField: a report's size and the types of all its
// fields are judged on the bytes received, reported_at included (the
// gateway replaces it, but only after it was judged).
func TestAttackBulkInIgnoredField(t *testing.T) {
	h := newHarness(t, nil)
	a := h.firms[0].ID
	p := currentPeriod().String()
	bulk := `,"reported_at":"` + strings.Repeat("9", 70<<10) + `"`
	refused(t, h.postJSON(h.tokA, reportJSON(a, p, 1, bulk)), http.StatusBadRequest, report.ReasonTooLarge, "")
	pr := refused(t, h.postJSON(h.tokA, "["+reportJSON(a, p, 1, "")+","+reportJSON(a, p, 2, bulk)+"]"), http.StatusBadRequest, report.ReasonTooLarge, "")
	if pr.Errors[0].Index != 1 {
		t.Errorf("too_large on report %d, want 1", pr.Errors[0].Index)
	}
	// whitespace is bytes too
	padded := reportJSON(a, p, 1, strings.Repeat(" ", 70<<10)+`,"note":"x"`)
	refused(t, h.postJSON(h.tokA, "["+padded+"]"), http.StatusBadRequest, report.ReasonTooLarge, "")
	for _, v := range []string{`1748827800`, `{"a":1}`, `["2026-01-01T00:00:00Z"]`, `true`, `"yesterday"`} {
		refused(t, h.postJSON(h.tokA, reportJSON(a, p, 1, `,"reported_at":`+v)), http.StatusBadRequest, report.ReasonMalformedJSON, "reported_at")
	}
	refused(t, h.postJSON(h.tokA, reportJSON(a, p, 1, `,"reported_at":"\ud800"`)), http.StatusBadRequest, report.ReasonInvalidEncoding, "reported_at")
	// a CSV row is judged on its bytes too: 70 KiB of blanks in a number cell
	csv := "firm_id,period,headcount,vacancies\n" + a + "," + p + "," + strings.Repeat(" ", 70<<10) + "1,0\n"
	refused(t, h.do(http.MethodPost, "/v1/reports.csv", h.tokA, "text/csv", []byte(csv)), http.StatusBadRequest, report.ReasonTooLarge, "")
	h.nothingProduced(t, 0)
	// a well-formed reported_at is replaced by the gateway's clock
	h.postJSON(h.tokA, reportJSON(a, p, 1, `,"reported_at":null`)).accepted(t)
	h.postJSON(h.tokA, reportJSON(a, p, 1, `,"reported_at":"2001-01-01T00:00:00Z"`)).accepted(t)
}

// TestAttackInvalidEncoding: a string that is not UTF-8 or escapes a lone
// surrogate is refused as invalid_encoding by the JSON API, the CSV upload
// and the web form, never stored altered.
func TestAttackInvalidEncoding(t *testing.T) {
	h := newHarness(t, nil)
	a := h.firms[0].ID
	p := currentPeriod().String()
	for _, note := range []string{"\"ok\xff\"", `"\ud800"`, `"\udc00\ud800"`, `"\ud800\u0041"`} {
		refused(t, h.postJSON(h.tokA, reportJSON(a, p, 1, `,"note":`+note)), http.StatusBadRequest, report.ReasonInvalidEncoding, "note")
		refused(t, h.postJSON(h.tokA, "["+reportJSON(a, p, 1, "")+","+reportJSON(a, p, 1, `,"note":`+note)+"]"), http.StatusBadRequest, report.ReasonInvalidEncoding, "note")
	}
	csv := "firm_id,period,headcount,vacancies,note\n" + a + "," + p + ",1,0,\"ok\xff\"\n"
	refused(t, h.do(http.MethodPost, "/v1/reports.csv", h.tokA, "text/csv", []byte(csv)), http.StatusBadRequest, report.ReasonInvalidEncoding, "note")

	wc := newWebClient(h)
	csrf := csrfOf(t, wc.signIn(h.tokA))
	vals := url.Values{"csrf": {csrf}, "firm_id": {a}, "headcount": {"10"}, "vacancies": {"1"}, "note": {"ok\xff"}}
	for _, path := range []string{"/report", "/report/confirm"} {
		ans := wc.post(path, vals)
		if ans.status != http.StatusUnprocessableEntity || !strings.Contains(string(ans.body), `id="note-error"`) {
			t.Fatalf("%s with a note that is not UTF-8: %d %s", path, ans.status, ans.body)
		}
	}
	h.nothingProduced(t, 0)
}

// TestAttackImpossiblePeriods: a period no report can have is a 400 with a
// reason, never a 5xx (a 503 with Retry-After makes clients retry forever);
// a period or a scope with no firm due is an empty answer.
func TestAttackImpossiblePeriods(t *testing.T) {
	h := newHarness(t, nil)
	next := report.PeriodOf(time.Now().In(report.Shanghai())).Add(1)
	for _, path := range []string{"/v1/reports", "/v1/deadlines"} {
		for _, c := range []struct{ period, reason string }{
			{"9999-12", report.ReasonFuturePeriod},
			{next.String(), report.ReasonFuturePeriod},
			{"1999-12", report.ReasonInvalidPeriod},
			{"0000-01", report.ReasonInvalidPeriod},
			{"2026-13", report.ReasonInvalidPeriod},
		} {
			a := h.get(path+"?period="+c.period, h.tokA)
			refused(t, a, http.StatusBadRequest, c.reason, "period")
			if a.header.Get("Retry-After") != "" {
				t.Errorf("%s?period=%s: Retry-After on a 400", path, c.period)
			}
		}
		if a := h.get(path+"?period=2000-01", h.tokA); a.status != http.StatusOK {
			t.Errorf("%s?period=2000-01: %d %s", path, a.status, a.body)
		}
	}
	// a bureau whose region has no firm yet
	empty := h.token(Scope{Region: "620103"})
	for _, path := range []string{"/v1/reports", "/v1/deadlines", "/v1/deadlines?period=2000-01"} {
		if a := h.get(path, empty); a.status != http.StatusOK {
			t.Errorf("%s for a region without firms: %d %s", path, a.status, a.body)
		}
	}
}

// TestAttackTwoAuthorizationHeaders: a request with two Authorization
// headers is ambiguous (a proxy may check one, the gateway use the other):
// 400, whatever the tokens.
func TestAttackTwoAuthorizationHeaders(t *testing.T) {
	h := newHarness(t, nil)
	other, _, _ := NewSecret()
	body := reportJSON(h.firms[0].ID, currentPeriod().String(), 1, "")
	for _, pair := range [][]string{
		{"Bearer " + h.tokA, "Bearer " + other},
		{"Bearer " + other, "Bearer " + h.tokA},
		{"Bearer " + h.tokA, "Bearer " + h.tokA},
		{"Bearer " + h.tokA, ""},
	} {
		for _, method := range []string{http.MethodPost, http.MethodGet} {
			req, err := http.NewRequest(method, h.url+"/v1/reports", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header["Authorization"] = pair
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			a := h.read(resp)
			refused(t, a, http.StatusBadRequest, "", "")
		}
	}
	h.nothingProduced(t, 0)
}

// TestAttackRegistryOracle: a bureau's token gets the same 403 for a firm
// outside its region whether or not the firm is registered (and for an
// unregistered firm inside it), so the answers tell nothing about the
// registry beyond the token's own firms.
func TestAttackRegistryOracle(t *testing.T) {
	h := newHarness(t, nil)
	p := currentPeriod().String()
	lanzhou := h.token(Scope{Region: "620100"})
	registeredOutside := h.firms[2].ID // Baiyin
	shape := func(a answer, firm string) string {
		t.Helper()
		pr := refused(t, a, http.StatusForbidden, "forbidden_firm", "firm_id")
		pr.Instance = ""
		b, _ := json.Marshal(pr)
		return strings.ReplaceAll(string(b), firm, "F")
	}
	for _, c := range []struct{ name, extra string }{{"valid", ""}, {"invalid figures", `,"revision":0`}} {
		body := func(firm string) string { return reportJSON(firm, p, 1, c.extra) }
		want := shape(h.postJSON(lanzhou, body(registeredOutside)), registeredOutside)
		for _, firm := range []string{testenv.FirmID("620402", 77), testenv.FirmID("620102", 99), testenv.FirmID("620103", 5)} {
			if got := shape(h.postJSON(lanzhou, body(firm)), firm); got != want {
				t.Errorf("%s report for unregistered %s:\n got  %s\n want %s", c.name, firm, got, want)
			}
			csv := "firm_id,period,headcount,vacancies\n" + firm + "," + p + ",1,0\n"
			a := h.do(http.MethodPost, "/v1/reports.csv", lanzhou, "text/csv", []byte(csv))
			refused(t, a, http.StatusForbidden, "forbidden_firm", "firm_id")
		}
	}
	// the web form: choosing such a firm is forbidden alike
	wc := newWebClient(h)
	wc.signIn(lanzhou)
	for _, firm := range []string{registeredOutside, testenv.FirmID("620402", 77), testenv.FirmID("620102", 99)} {
		if a := wc.get("/report?firm=" + firm); a.status != http.StatusForbidden {
			t.Errorf("form for %s: %d", firm, a.status)
		}
	}
	h.nothingProduced(t, 0)
}

// TestAttackFailureLimitsBehindNAT: failed authentications are limited per
// (address, token id) and, more loosely, per address: clients behind one
// NAT address are not locked out by a neighbour's bad tokens, while
// guessing the secret of one token id is cut off quickly.
func TestAttackFailureLimitsBehindNAT(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.AuthFailRate, o.AuthFailBurst = 0.01, 20
		o.AuthFailAddrRate, o.AuthFailAddrBurst = 0.01, 100
	})
	tokB := h.token(Scope{FirmID: h.firms[1].ID})
	get := func(tok string) int { return h.get("/v1/deadlines", tok).status }
	// 20 neighbours with wrong tokens, each its own id
	for i := 0; i < 20; i++ {
		wrong, _, _ := NewSecret()
		if s := get(wrong); s != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i, s)
		}
	}
	if s := get(h.tokA); s != http.StatusOK {
		t.Fatalf("a valid token after 20 bad ones from its address: %d, want 200", s)
	}
	// guessing the secret of A's token id: cut off after 20
	prefix := h.tokA[:len(TokenPrefix)+IDLen]
	codes := map[int]int{}
	for i := 0; i < 25; i++ {
		guess, _, _ := NewSecret()
		codes[get(prefix+guess[len(TokenPrefix)+IDLen:])]++
	}
	if codes[http.StatusUnauthorized] != 20 || codes[http.StatusTooManyRequests] != 5 {
		t.Fatalf("25 guesses of one token id: %v, want 20×401 then 5×429", codes)
	}
	if s := get(h.tokA); s != http.StatusTooManyRequests {
		t.Errorf("the guessed token id from the guessing address: %d, want 429 until the limit refills", s)
	}
	if s := get(tokB); s != http.StatusOK {
		t.Fatalf("another valid token from the same address: %d, want 200", s)
	}
	// the looser limit of the address still bounds everything from it
	for i := 0; i < 60; i++ {
		wrong, _, _ := NewSecret()
		if s := get(wrong); s != http.StatusUnauthorized {
			t.Fatalf("wrong token %d of the last 60: %d", i, s)
		}
	}
	a := h.get("/v1/deadlines", tokB)
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Fatalf("after 100 failures from one address: %d (Retry-After %q), want 429", a.status, a.header.Get("Retry-After"))
	}
}

// setsSession reports whether an answer starts a web session.
func setsSession(a answer) bool {
	for _, c := range a.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, sessionCookie+"=") && !strings.HasPrefix(c, sessionCookie+"=;") {
			return true
		}
	}
	return false
}

// TestAttackSigninCSRF: the sign-in form's CSRF token is bound to a
// pre-session the server created (one use, expiring), not to a cookie the
// client chooses; form posts that a browser marks cross-site are refused.
func TestAttackSigninCSRF(t *testing.T) {
	h := newHarness(t, nil)
	base, _ := url.Parse(h.url + "/report")
	signedIn := func(a answer) bool {
		return a.status == http.StatusSeeOther || strings.Contains(string(a.body), `id="signout"`)
	}

	// login CSRF by an injected double-submit cookie: the attacker sets the
	// cookie (a sibling subdomain, plain HTTP) and posts the same value
	victim := newWebClient(h)
	victim.get("/report")
	victim.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, name := range []string{"lw_csrf", "lw_pre"} {
		victim.c.Jar.SetCookies(base, []*http.Cookie{{Name: name, Value: "attacker-chosen", Path: "/report"}})
	}
	a := victim.post("/report/signin", url.Values{"csrf": {"attacker-chosen"}, "token": {h.tokA}})
	if signedIn(a) || setsSession(a) || a.status != http.StatusForbidden {
		t.Fatalf("sign-in with an injected cookie: %d", a.status)
	}

	// a token from another pre-session (the attacker's own) is refused
	attacker := newWebClient(h)
	attackerCSRF := csrfOf(t, attacker.get("/report"))
	victim = newWebClient(h)
	victim.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	victim.get("/report")
	if a := victim.post("/report/signin", url.Values{"csrf": {attackerCSRF}, "token": {h.tokA}}); signedIn(a) || a.status != http.StatusForbidden {
		t.Fatalf("sign-in with another pre-session's token: %d", a.status)
	}

	// a pre-session signs in once
	c := newWebClient(h)
	c.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	csrf := csrfOf(t, c.get("/report"))
	if a := c.post("/report/signin", url.Values{"csrf": {csrf}, "token": {h.tokA}}); a.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", a.status, a.body)
	}
	replay := newWebClient(h)
	replay.c.CheckRedirect = c.c.CheckRedirect
	replay.c.Jar.SetCookies(base, c.c.Jar.Cookies(base))
	if a := replay.post("/report/signin", url.Values{"csrf": {csrf}, "token": {h.tokA}}); a.status != http.StatusForbidden || setsSession(a) {
		t.Fatalf("the pre-session signed in twice: %d", a.status)
	}

	// a genuine pre-session, posted cross-site from a browser: refused
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		c := newWebClient(h)
		c.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		form := url.Values{"csrf": {csrfOf(t, c.get("/report"))}, "token": {h.tokA}}
		req, _ := http.NewRequest(http.MethodPost, h.url+"/report/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set(hdr[0], hdr[1])
		if a := c.read(c.c.Do(req)); a.status != http.StatusForbidden || setsSession(a) {
			t.Fatalf("cross-site sign-in (%s): %d %v", hdr[0], a.status, a.header.Values("Set-Cookie"))
		}
	}
	// and so is a cross-site confirmation in a live session
	s := newWebClient(h)
	page := s.signIn(h.tokA)
	vals := url.Values{"csrf": {csrfOf(t, page)}, "firm_id": {h.firms[0].ID}, "headcount": {"10"}, "vacancies": {"1"}}
	req, _ := http.NewRequest(http.MethodPost, h.url+"/report/confirm", strings.NewReader(vals.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if a := s.read(s.c.Do(req)); a.status != http.StatusForbidden {
		t.Fatalf("cross-site confirmation: %d", a.status)
	}
	h.nothingProduced(t, 0)
}

// rawExchange writes raw bytes on a fresh TCP connection and reads every
// answer until the server closes it (or the deadline passes: closed is
// then false).
func (h *harness) rawExchange(t *testing.T, raw string) (answers []*http.Response, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			var ne net.Error
			return answers, !errors.As(err, &ne) || !ne.Timeout()
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		answers = append(answers, resp)
	}
}

// TestAttackSmuggling: a request with both Content-Length and
// Transfer-Encoding is answered 400 and its connection closed (RFC 9112
// §6.1), so bytes a front proxy would frame differently are never read as
// a request; ordinary framing (pipelined, chunked, fixed length) still works.
func TestAttackSmuggling(t *testing.T) {
	h := newHarness(t, nil)
	p := currentPeriod().String()
	rep := reportJSON(h.firms[0].ID, p, 7, "")
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(rep), rep)
	smuggled := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	head := "POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + h.tokA + "\r\nContent-Type: application/json\r\n"
	for _, c := range []struct{ name, raw string }{
		{"CL then TE", head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + smuggled},
		{"TE then CL", head + "Transfer-Encoding: chunked\r\nContent-Length: " + fmt.Sprint(len(chunked)) + "\r\n\r\n" + chunked + smuggled},
		{"case and spaces", head + "content-length: 0\r\ntransfer-encoding:  Chunked \r\n\r\n" + chunked + smuggled},
		{"bare LF line ends", strings.ReplaceAll(head+"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "\r\n", "\n") + chunked + smuggled},
		{"HTTP/1.0", strings.Replace(head, "HTTP/1.1", "HTTP/1.0", 1) + "Connection: keep-alive\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + smuggled},
		{"second of two pipelined", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + smuggled},
	} {
		t.Run(c.name, func(t *testing.T) {
			answers, closed := h.rawExchange(t, c.raw)
			codes := []int{}
			for _, a := range answers {
				codes = append(codes, a.StatusCode)
			}
			want := []int{http.StatusBadRequest}
			if strings.HasPrefix(c.name, "second") {
				want = []int{http.StatusOK, http.StatusBadRequest}
			}
			if fmt.Sprint(codes) != fmt.Sprint(want) || !closed {
				t.Fatalf("answers %v (connection closed: %v), want %v and the connection closed", codes, closed, want)
			}
		})
	}
	h.nothingProduced(t, 0)
	// ordinary framing is untouched: pipelined GETs, a chunked POST, then a
	// POST with a length, on one connection
	raw := "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" +
		head + "Transfer-Encoding: chunked\r\n\r\n" + chunked +
		head + "Content-Length: " + fmt.Sprint(len(rep)) + "\r\nConnection: close\r\n\r\n" + rep
	answers, closed := h.rawExchange(t, raw)
	codes := []int{}
	for _, a := range answers {
		codes = append(codes, a.StatusCode)
	}
	if fmt.Sprint(codes) != fmt.Sprint([]int{200, 200, 202, 202}) || !closed {
		t.Fatalf("ordinary requests: %v (closed %v)", codes, closed)
	}
	h.nothingProduced(t, 2)
}

// TestAttackDuplicateRevision: the same (firm, period, revision) with other
// content is a 409 — twice in one request, on a resend (before or after
// ingest stored the first, across a gateway restart, from another token
// or path), or from two web-form confirmations at once — so a receipt is
// never contradicted by what is stored; identical content stays
// idempotent; GET /v1/reports never shows a replaced revision as pending,
// even once the reports table has merged it away.
func TestAttackDuplicateRevision(t *testing.T) {
	h := newHarness(t, nil)
	a := h.firms[0].ID
	p := currentPeriod().String()
	conflict := func(a answer) Problem {
		t.Helper()
		return refused(t, a, http.StatusConflict, report.ReasonDuplicateRevision, "revision")
	}
	// twice in one request
	pr := conflict(h.postJSON(h.tokA, "["+reportJSON(a, p, 10, "")+","+reportJSON(a, p, 11, "")+"]"))
	if pr.Errors[0].Index != 1 {
		t.Errorf("conflict on report %d, want 1", pr.Errors[0].Index)
	}
	h.nothingProduced(t, 0)
	h.postJSON(h.tokA, "["+reportJSON(a, p, 10, "")+","+reportJSON(a, p, 10, "")+"]").accepted(t)
	// resends: other figures refused, the same accepted, a new revision accepted
	conflict(h.postJSON(h.tokA, reportJSON(a, p, 12, "")))
	h.postJSON(h.tokA, reportJSON(a, p, 10, `,"reported_at":"2001-01-01T00:00:00Z"`)).accepted(t)
	h.postJSON(h.tokA, reportJSON(a, p, 12, `,"revision":2`)).accepted(t)
	bureau := h.token(Scope{Region: countyA})
	conflict(h.postJSON(bureau, reportJSON(a, p, 13, `,"revision":2`)))
	csv := "firm_id,period,headcount,vacancies,revision\n" + a + "," + p + ",13,4,2\n"
	conflict(h.do(http.MethodPost, "/v1/reports.csv", bureau, "text/csv", []byte(csv)))
	h.nothingProduced(t, 4)

	// a restarted gateway remembers what it accepted (gateway_revisions)
	testenv.WaitFor(t, "accepted revisions recorded", 10*time.Second, func() (bool, string) {
		n := h.count("SELECT count() FROM gateway_revisions")
		return n >= 2, fmt.Sprint(n)
	})
	h.restart()
	conflict(h.postJSON(h.tokA, reportJSON(a, p, 11, "")))
	h.postJSON(h.tokA, reportJSON(a, p, 10, "")).accepted(t)

	// two confirmations of the web form at once: one receipt, one 409
	wa, wb := newWebClient(h), newWebClient(h)
	csrfA, csrfB := csrfOf(t, wa.signIn(h.tokA)), csrfOf(t, wb.signIn(bureau))
	var wg sync.WaitGroup
	answers := make([]answer, 2)
	for i, c := range []struct {
		wc   *webClient
		csrf string
		n    string
	}{{wa, csrfA, "20"}, {wb, csrfB, "21"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			answers[i] = c.wc.post("/report/confirm", url.Values{"csrf": {c.csrf}, "firm_id": {a}, "headcount": {c.n}, "vacancies": {"1"}})
		}()
	}
	wg.Wait()
	receipts := 0
	for _, ans := range answers {
		switch {
		case ans.status == http.StatusOK && strings.Contains(string(ans.body), `id="receipt"`):
			receipts++
		case ans.status == http.StatusConflict && strings.Contains(string(ans.body), `id="on-file"`):
		default:
			t.Fatalf("confirmation: %d %s", ans.status, ans.body)
		}
	}
	if receipts != 1 {
		t.Fatalf("%d receipts for two confirmations of revision 3 with different figures, want 1", receipts)
	}
	msgs := h.topic()
	if len(msgs) != 6 {
		t.Fatalf("%d messages on the topic, want 6", len(msgs))
	}

	// through ingest: the stored revisions are the accepted ones; a copy
	// with other figures sent straight to Kafka is refused there
	w := kafkaWriter(h)
	if err := w.WriteMessages(context.Background(), kafkaMessage(a, reportJSON(a, p, 99, ""))); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	h.startIngest()
	testenv.WaitFor(t, "ingest", 60*time.Second, func() (bool, string) {
		r, j := h.count("SELECT uniqExact(revision) FROM report_revisions"), h.count("SELECT count() FROM rejects FINAL")
		return r == 3 && j == 1, fmt.Sprintf("revisions %d rejects %d", r, j)
	})
	if err := testenv.SQL(h.t, h.ch.Options()).Exec(context.Background(), "OPTIMIZE TABLE reports FINAL"); err != nil {
		t.Fatal(err)
	}
	var got Reports
	ans := h.get("/v1/reports?period="+p, h.tokA)
	if err := json.Unmarshal(ans.body, &got); err != nil || ans.status != http.StatusOK {
		t.Fatalf("GET /v1/reports: %d %s", ans.status, ans.body)
	}
	states := map[string]int{}
	for _, r := range got.Reports {
		states[fmt.Sprintf("%d:%s", r.Revision, r.State)]++
		if r.State == "pending" {
			t.Errorf("revision %d shown as pending after ingest: %+v", r.Revision, r)
		}
	}
	if states["1:superseded"] != 1 || states["2:superseded"] != 1 || states["3:accepted"] != 1 || states["1:rejected"] != 1 {
		t.Errorf("states %v: want revisions 1 and 2 superseded, 3 accepted, the Kafka copy of 1 rejected", states)
	}
	for _, r := range got.Reports {
		if r.State == "accepted" && (r.Report == nil || (r.Report.Headcount != 20 && r.Report.Headcount != 21)) {
			t.Errorf("accepted revision: %+v", r.Report)
		}
	}
}

// TestAttackFailureLimitsBehindProxy: behind a load balancer every request
// comes from its address. With the balancer named in --trusted-proxies,
// failed authentications are counted per client address it reports in
// X-Forwarded-For, so one client's bad tokens do not lock out the others;
// without it the header is ignored, so a client cannot pick a fresh
// address for each guess.
func TestAttackFailureLimitsBehindProxy(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprintf("trusted=%v", trusted), func(t *testing.T) {
			h := newHarness(t, func(o *Options) {
				o.AuthFailAddrRate, o.AuthFailAddrBurst = 0.01, 10
				if trusted {
					o.TrustedProxies = "127.0.0.1,::1"
				}
			})
			get := func(tok, client string) int {
				return h.do(http.MethodGet, "/v1/deadlines", tok, "", nil, "X-Forwarded-For", client).status
			}
			// one client behind the balancer sends bad tokens, each a new
			// id, and a forged header entry to the left of the balancer's
			for i := 0; i < 10; i++ {
				wrong, _, _ := NewSecret()
				if s := get(wrong, fmt.Sprintf("10.%d.0.1, 198.51.100.1", i)); s != http.StatusUnauthorized {
					t.Fatalf("wrong token %d: %d", i, s)
				}
			}
			wrong, _, _ := NewSecret()
			if s := get(wrong, "198.51.100.1"); s != http.StatusTooManyRequests {
				t.Fatalf("the 11th failure of one client: %d, want 429", s)
			}
			s := get(h.tokA, "198.51.100.2")
			switch {
			case trusted && s != http.StatusOK:
				t.Errorf("another client's valid token behind the trusted balancer: %d, want 200", s)
			case !trusted && s != http.StatusTooManyRequests:
				t.Errorf("the header of an untrusted peer was believed: %d, want 429 (one address, one limit)", s)
			}
		})
	}
}
