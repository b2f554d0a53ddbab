package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestAccepted: one report and an array, each answered 202 only after Kafka
// acknowledged; the messages carry the firm as key, the gateway's
// reported_at, and the source headers.
func TestAccepted(t *testing.T) {
	h := newHarness(t, nil)
	a := h.firms[0].ID
	p := currentPeriod().String()
	ans := h.postJSON(h.tokA, reportJSON(a, p, 412, `,"reported_at":"2001-01-01T00:00:00Z","note":"月报"`)).accepted(t)
	if ans.Accepted != 1 || ans.Late != 0 || len(ans.Reports) != 1 || ans.Reports[0].FirmID != a || ans.Reports[0].Revision != 1 {
		t.Fatalf("answer %+v", ans)
	}
	batch := "[" + reportJSON(a, p, 413, `,"revision":2`) + "," + reportJSON(a, currentPeriod().Add(-1).String(), 400, "") + "]"
	if ans := h.postJSON(h.tokA, batch, "Content-Type", "application/json; charset=UTF-8").accepted(t); ans.Accepted != 2 {
		t.Fatalf("batch answer %+v", ans)
	}
	msgs := h.topic()
	if len(msgs) != 3 {
		t.Fatalf("%d messages on the topic, want 3", len(msgs))
	}
	for _, m := range msgs {
		r, prob := report.Decode(m.Value, time.Now())
		if prob != nil {
			t.Fatalf("message %s: %v", m.Value, prob)
		}
		if string(m.Key) != a || r.FirmID != a {
			t.Errorf("key %q firm %q", m.Key, r.FirmID)
		}
		if r.ReportedAt.Year() < 2020 || time.Since(r.ReportedAt) > time.Minute {
			t.Errorf("reported_at %s was not set by the gateway", r.ReportedAt)
		}
		if header(m, "source") != "gateway" || header(m, "token_id") != TokenID(h.tokA) {
			t.Errorf("headers %v", m.Headers)
		}
	}
	// the submissions are recorded
	testenv.WaitFor(t, "submissions recorded", 10*time.Second, func() (bool, string) {
		n := h.count("SELECT count() FROM gateway_submissions")
		return n == 3, fmt.Sprint(n)
	})
}

// TestInvalid400: field-level problems as RFC 9457 problem details with the
// validation reason codes; one bad report refuses the whole request.
func TestInvalid400(t *testing.T) {
	h := newHarness(t, nil)
	a := h.firms[0].ID
	p := currentPeriod().String()
	good := reportJSON(a, p, 10, "")
	cases := []struct {
		name string
		body string
		want []FieldProblem
	}{
		{"out of range in a batch", "[" + good + "," + reportJSON(a, p, -5, "") + "]",
			[]FieldProblem{{Index: 1, Reason: report.ReasonOutOfRange, Field: "headcount"}}},
		{"unknown field and missing field", "[" + reportJSON(a, p, 1, `,"bonus":1`) + `,{"schema_version":1,"firm_id":"` + a + `","period":"` + p + `","headcount":1}]`,
			[]FieldProblem{{Index: 0, Reason: report.ReasonUnknownField, Field: "bonus"}, {Index: 1, Reason: report.ReasonMissingField, Field: "vacancies"}}},
		{"future period", reportJSON(a, "2999-01", 1, ""), []FieldProblem{{Reason: report.ReasonFuturePeriod, Field: "period"}}},
		{"bad check character", reportJSON("91620102000000001X", p, 1, ""), []FieldProblem{{Reason: report.ReasonInvalidFirmID, Field: "firm_id"}}},
		{"malformed JSON", `{"schema_version":1,`, []FieldProblem{{Reason: report.ReasonMalformedJSON}}},
		{"not an object", `42`, []FieldProblem{{Reason: report.ReasonMalformedJSON}}},
		{"empty array", `[]`, []FieldProblem{{Reason: report.ReasonMissingField}}},
		{"over 1,000 reports", "[" + strings.Repeat(`{},`, MaxBatch) + "{}]", []FieldProblem{{Reason: report.ReasonTooLarge}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := h.postJSON(h.tokA, c.body)
			if a.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", a.status, a.body)
			}
			prob := a.problem(t)
			if len(prob.Errors) != len(c.want) {
				t.Fatalf("errors %+v, want %+v", prob.Errors, c.want)
			}
			for i, w := range c.want {
				g := prob.Errors[i]
				if g.Index != w.Index || g.Reason != w.Reason || g.Field != w.Field || g.Message == "" {
					t.Errorf("error %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
	if n := len(h.topic()); n != 0 {
		t.Fatalf("%d messages reached Kafka from refused requests", n)
	}
}

// TestUnauthorized401: no token, a malformed one, an unknown one, a revoked one.
func TestUnauthorized401(t *testing.T) {
	h := newHarness(t, nil)
	body := reportJSON(h.firms[0].ID, currentPeriod().String(), 1, "")
	unknown, _, _ := NewSecret()
	revoked := h.token(Scope{FirmID: h.firms[0].ID})
	if a := h.postJSON(revoked, body); a.status != http.StatusAccepted {
		t.Fatalf("before revocation: %d %s", a.status, a.body)
	}
	if _, err := RevokeToken(context.Background(), h.ch, TokenID(revoked)); err != nil {
		t.Fatal(err)
	}
	// a revocation takes effect within --token-refresh (200 ms here)
	testenv.WaitFor(t, "revocation seen", 5*time.Second, func() (bool, string) {
		a := h.get("/v1/deadlines", revoked)
		return a.status == http.StatusUnauthorized, fmt.Sprint(a.status)
	})
	for _, c := range []struct{ name, auth string }{
		{"missing", ""},
		{"malformed", "Bearer not-a-token"},
		{"basic scheme", "Basic dXNlcjpwYXNz"},
		{"unknown", "Bearer " + unknown},
		{"revoked", "Bearer " + revoked},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := h.do(http.MethodPost, "/v1/reports", "", "application/json", []byte(body), "Authorization", c.auth)
			if a.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", a.status, a.body)
			}
			a.problem(t)
			if !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate %q", a.header.Get("WWW-Authenticate"))
			}
		})
	}
	if a := h.get("/v1/reports", ""); a.status != http.StatusUnauthorized {
		t.Errorf("GET without token: %d", a.status)
	}
	if n := len(h.topic()); n != 1 {
		t.Fatalf("%d messages on the topic, want only the one sent before revocation", n)
	}
	if got := testutil.ToFloat64(h.srv.m.authFailures.WithLabelValues(string(authRevoked))); got < 1 {
		t.Errorf("auth failures (revoked) = %v", got)
	}
}

// TestForbidden403: a token for firm A posting for firm B gets 403 and
// nothing reaches Kafka, not even A's report in the same request; a bureau's
// token acts for the firms of its region only.
func TestForbidden403(t *testing.T) {
	h := newHarness(t, nil)
	a, b, c := h.firms[0].ID, h.firms[1].ID, h.firms[2].ID
	p := currentPeriod().String()
	for _, body := range []string{
		reportJSON(b, p, 1, ""),
		"[" + reportJSON(a, p, 1, "") + "," + reportJSON(b, p, 1, "") + "]",
		reportJSON(b, p, -1, ""),                           // invalid too: still 403, nothing said about the figures
		reportJSON(testenv.FirmID("620103", 77), p, 1, ""), // not registered: 403, not unknown_firm
	} {
		ans := h.postJSON(h.tokA, body)
		if ans.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403: %s", ans.status, ans.body)
		}
		prob := ans.problem(t)
		if len(prob.Errors) != 1 || prob.Errors[0].Reason != "forbidden_firm" || prob.Errors[0].FirmID == a {
			t.Errorf("errors %+v", prob.Errors)
		}
	}
	csv := "firm_id,period,headcount,vacancies\n" + a + "," + p + ",1,0\n" + b + "," + p + ",1,0\n"
	if ans := h.do(http.MethodPost, "/v1/reports.csv", h.tokA, "text/csv", []byte(csv)); ans.status != http.StatusForbidden || ans.problem(t).Errors[0].Line != 3 {
		t.Fatalf("csv: %d %s", ans.status, ans.body)
	}
	if n := len(h.topic()); n != 0 {
		t.Fatalf("%d messages reached Kafka", n)
	}
	// Lanzhou's bureau: A and B yes, C (Baiyin) no
	lanzhou := h.token(Scope{Region: "620100"})
	if ans := h.postJSON(lanzhou, "["+reportJSON(a, p, 1, "")+","+reportJSON(b, p, 1, "")+"]"); ans.status != http.StatusAccepted {
		t.Fatalf("bureau for its firms: %d %s", ans.status, ans.body)
	}
	if ans := h.postJSON(lanzhou, reportJSON(c, p, 1, "")); ans.status != http.StatusForbidden {
		t.Fatalf("bureau for another region's firm: %d %s", ans.status, ans.body)
	}
	// an unregistered firm, even with a code of the region: 403 like any firm
	// the token may not act for (no registry oracle: TestAttackRegistryOracle)
	if ans := h.postJSON(lanzhou, reportJSON(testenv.FirmID("620102", 99), p, 1, "")); ans.status != http.StatusForbidden || ans.problem(t).Errors[0].Reason != "forbidden_firm" {
		t.Fatalf("bureau for an unregistered firm: %d %s", ans.status, ans.body)
	}
	province := h.token(Scope{Region: "620000"})
	if ans := h.postJSON(province, reportJSON(c, p, 1, "")); ans.status != http.StatusAccepted {
		t.Fatalf("province bureau: %d %s", ans.status, ans.body)
	}
	if n := len(h.topic()); n != 3 {
		t.Fatalf("%d messages on the topic, want 3", n)
	}
}

// TestTooLarge413: a declared length over 1 MiB is refused unread; a 50 MiB
// streamed body is cut off at 1 MiB and the connection closed.
func TestTooLarge413(t *testing.T) {
	h := newHarness(t, nil)
	big := `[` + strings.Repeat(" ", MaxBodyBytes) + `]`
	if a := h.postJSON(h.tokA, big); a.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared length: %d", a.status)
	} else {
		a.problem(t)
	}
	// exactly at the limit is read (and judged on its content)
	atLimit := `[` + strings.Repeat(" ", MaxBodyBytes-2) + `]`
	if a := h.postJSON(h.tokA, atLimit); a.status != http.StatusBadRequest {
		t.Fatalf("1 MiB body: %d", a.status)
	}
	// 50 MiB, chunked, from a raw connection that keeps writing
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n", h.tokA)
	written := make(chan int64, 1)
	go func() {
		chunk := []byte(fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat(" ", 64<<10)))
		var n int64
		for n < 50<<20 {
			_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			if _, err := conn.Write(chunk); err != nil {
				break
			}
			n += 64 << 10
		}
		written <- n
	}()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("streamed body: %d", resp.StatusCode)
	}
	if n := <-written; n >= 50<<20 {
		t.Errorf("the server let the client write all %d bytes", n)
	} else {
		t.Logf("client wrote %.1f MiB before the server closed the connection", float64(n)/(1<<20))
	}
}

// TestUnsupportedMediaType415: the content type must match the route.
func TestUnsupportedMediaType415(t *testing.T) {
	h := newHarness(t, nil)
	body := []byte(reportJSON(h.firms[0].ID, currentPeriod().String(), 1, ""))
	for _, c := range []struct{ path, ct string }{
		{"/v1/reports", "text/plain"},
		{"/v1/reports", ""},
		{"/v1/reports", "application/json; charset=latin1"},
		{"/v1/reports", "application/x-www-form-urlencoded"},
		{"/v1/reports.csv", "application/json"},
	} {
		a := h.do(http.MethodPost, c.path, h.tokA, c.ct, body)
		if a.status != http.StatusUnsupportedMediaType {
			t.Errorf("%s with %q: %d", c.path, c.ct, a.status)
			continue
		}
		a.problem(t)
	}
}

// TestRateLimit429: 1,000 wrong tokens from one client are cut off after
// the burst of its address (and then even a right token from it waits); a
// token over its own rate gets 429 with Retry-After. (The limit per token
// id and address: TestAttackFailureLimitsBehindNAT.)
func TestRateLimit429(t *testing.T) {
	h := newHarness(t, func(o *Options) {
		o.Rate, o.Burst = 1, 5
		o.AuthFailAddrRate, o.AuthFailAddrBurst = 0.01, 20
	})
	body := []byte(reportJSON(h.firms[0].ID, currentPeriod().String(), 1, ""))
	codes := map[int]int{}
	for i := 0; i < 1000; i++ {
		wrong, _, _ := NewSecret()
		a := h.do(http.MethodPost, "/v1/reports", wrong, "application/json", body)
		codes[a.status]++
		if a.status == http.StatusTooManyRequests && a.header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[401] != 20 || codes[429] != 980 {
		t.Fatalf("answers to 1,000 wrong tokens: %v, want 20×401 then 980×429", codes)
	}
	if a := h.postJSON(h.tokA, string(body)); a.status != http.StatusTooManyRequests {
		t.Fatalf("right token from a blocked address: %d", a.status)
	}
	// per token: a fresh server (fresh limiters), burst 5 at 1/s
	h.restart()
	codes = map[int]int{}
	for i := 0; i < 8; i++ {
		codes[h.postJSON(h.tokA, string(body)).status]++
	}
	if codes[202] != 5 || codes[429] != 3 {
		t.Fatalf("answers to 8 quick requests of one token: %v", codes)
	}
	if got := testutil.ToFloat64(h.srv.m.rateLimited.WithLabelValues("token")); got != 3 {
		t.Errorf("rate limited (token) = %v", got)
	}
}

// TestKafkaDown503: with the broker gone the answer is 503, nothing is
// recorded as submitted and the idempotency key stays free.
func TestKafkaDown503(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ProduceTimeout = 2 * time.Second })
	body := reportJSON(h.firms[0].ID, currentPeriod().String(), 1, "")
	h.kafka.Close()
	start := time.Now()
	a := h.postJSON(h.tokA, body, "Idempotency-Key", "k-503")
	if a.status != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503: %s", a.status, a.body)
	}
	a.problem(t)
	if a.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	t.Logf("503 after %s", time.Since(start).Round(time.Millisecond))
	time.Sleep(300 * time.Millisecond) // two flush intervals
	if n := h.count("SELECT count() FROM gateway_submissions"); n != 0 {
		t.Errorf("%d submissions recorded for a refused request", n)
	}
	if n := h.count("SELECT count() FROM gateway_idempotency"); n != 0 {
		t.Errorf("the 503 was stored for replay")
	}
	if st, _, _ := h.srv.idem.begin(context.Background(), TokenID(h.tokA), "k-503", "x", time.Now()); st != idemNew {
		t.Errorf("idempotency key after a 503: state %d, want new", st)
	}
	if got := testutil.ToFloat64(h.srv.m.produceErrors); got != 1 {
		t.Errorf("produce errors = %v", got)
	}
}

// TestIdempotencyKey: a retry with the same key and body gets the same
// answer and produces nothing more, also after a restart; the same key for
// another body is refused.
func TestIdempotencyKey(t *testing.T) {
	h := newHarness(t, nil)
	p := currentPeriod().String()
	body := reportJSON(h.firms[0].ID, p, 7, "")
	key := `retry-'1"; DROP TABLE gateway_idempotency; --`
	first := h.postJSON(h.tokA, body, "Idempotency-Key", key)
	first.accepted(t)
	second := h.postJSON(h.tokA, body, "Idempotency-Key", key)
	if second.status != first.status || string(second.body) != string(first.body) || second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry answered %d %s (replayed %q), first %d %s", second.status, second.body, second.header.Get("Idempotent-Replayed"), first.status, first.body)
	}
	if a := h.postJSON(h.tokA, reportJSON(h.firms[0].ID, p, 8, ""), "Idempotency-Key", key); a.status != http.StatusUnprocessableEntity {
		t.Fatalf("same key, other body: %d", a.status)
	}
	// another token's same key is its own
	if a := h.postJSON(h.token(Scope{FirmID: h.firms[0].ID}), body, "Idempotency-Key", key); a.status != http.StatusAccepted || a.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("other token, same key: %d", a.status)
	}
	// a restarted gateway replays from ClickHouse
	testenv.WaitFor(t, "idempotency record written", 10*time.Second, func() (bool, string) {
		n := h.count("SELECT count() FROM gateway_idempotency")
		return n == 2, fmt.Sprint(n)
	})
	h.restart()
	third := h.postJSON(h.tokA, body, "Idempotency-Key", key)
	if third.status != http.StatusAccepted || string(third.body) != string(first.body) {
		t.Fatalf("after restart: %d %s", third.status, third.body)
	}
	if a := h.postJSON(h.tokA, body, "Idempotency-Key", strings.Repeat("k", 256)); a.status != http.StatusBadRequest {
		t.Errorf("overlong key: %d", a.status)
	}
	if n := len(h.topic()); n != 2 {
		t.Fatalf("%d messages on the topic, want 2 (one per token)", n)
	}
	if got := testutil.ToFloat64(h.srv.m.idemReplays); got != 1 {
		t.Errorf("replays after restart = %v", got)
	}
}

// TestLateMarking: a report after its period's deadline (the 5th of the next
// month, 24:00 Asia/Shanghai by default) is accepted and marked late: in the
// answer, in a Kafka header, in gateway_submissions and in the metric.
func TestLateMarking(t *testing.T) {
	sh := report.Shanghai()
	for _, c := range []struct {
		name string
		day  int
		now  time.Time
		late bool
	}{
		{"just before the deadline", 5, time.Date(2026, 4, 5, 23, 59, 59, 0, sh), false},
		{"at the deadline", 5, time.Date(2026, 4, 6, 0, 0, 0, 0, sh), true},
		{"a month later", 5, time.Date(2026, 5, 20, 9, 0, 0, 0, sh), true},
		{"configured deadline day 10", 10, time.Date(2026, 4, 8, 12, 0, 0, 0, sh), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(o *Options) { o.DeadlineDay = c.day })
			h.clock.Set(c.now)
			ans := h.postJSON(h.tokA, reportJSON(h.firms[0].ID, "2026-03", 5, "")).accepted(t)
			if ans.Reports[0].Late != c.late || (ans.Late == 1) != c.late {
				t.Fatalf("answer %+v, want late=%v", ans, c.late)
			}
			wantDeadline := time.Date(2026, 4, c.day+1, 0, 0, 0, 0, sh)
			if !ans.Reports[0].Deadline.Equal(wantDeadline) {
				t.Errorf("deadline %s, want %s", ans.Reports[0].Deadline, wantDeadline)
			}
			msgs := h.topic()
			if len(msgs) != 1 || (header(msgs[0], "late") == "true") != c.late {
				t.Fatalf("late header on %d messages: %v", len(msgs), msgs[0].Headers)
			}
			r, _ := report.Decode(msgs[0].Value, c.now)
			if !r.ReportedAt.Equal(c.now) {
				t.Errorf("reported_at %s, want the gateway clock %s", r.ReportedAt, c.now)
			}
			testenv.WaitFor(t, "submission", 10*time.Second, func() (bool, string) {
				n := h.count("SELECT count() FROM gateway_submissions WHERE late = ?", map[bool]uint8{false: 0, true: 1}[c.late])
				return n == 1, fmt.Sprint(n)
			})
			if got := testutil.ToFloat64(h.srv.m.late); (got == 1) != c.late {
				t.Errorf("late metric %v", got)
			}
		})
	}
}

// TestReportStates runs ingest in process: reports go API → Kafka → ingest →
// ClickHouse, and GET /v1/reports tells each one's state: pending before
// ingest, then accepted, superseded by a revision, rejected with reason.
func TestReportStates(t *testing.T) {
	h := newHarness(t, nil)
	a, b := h.firms[0].ID, h.firms[1].ID
	p := currentPeriod().String()
	bureau := h.token(Scope{Region: countyA})
	h.postJSON(h.tokA, reportJSON(a, p, 100, "")).accepted(t)
	testenv.WaitFor(t, "pending state", 10*time.Second, func() (bool, string) {
		a := h.get("/v1/reports?period="+p, h.tokA)
		return a.status == 200 && contains(string(a.body), `"state":"pending"`), string(a.body)
	})
	h.postJSON(h.tokA, reportJSON(a, p, 90, `,"revision":2`)).accepted(t)
	// a message straight to Kafka that ingest refuses
	w := kafkaWriter(h)
	bad := fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":%q,"headcount":5,"vacancies":0,"bonus":1}`, b, p)
	if err := w.WriteMessages(context.Background(), kafkaMessage(b, bad)); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	h.startIngest()
	testenv.WaitFor(t, "ingest", 60*time.Second, func() (bool, string) {
		r, j := h.count("SELECT count() FROM reports"), h.count("SELECT count() FROM rejects")
		return r == 2 && j == 1, fmt.Sprintf("reports %d rejects %d", r, j)
	})
	// a merge keeps only the latest revision in reports (ClickHouse 20+
	// collapses an insert block at once): revision 1 must not turn pending
	if err := testenv.SQL(t, h.ch.Options()).Exec(context.Background(), "OPTIMIZE TABLE reports FINAL"); err != nil {
		t.Fatal(err)
	}
	ans := h.get("/v1/reports?period="+p, bureau)
	if ans.status != 200 {
		t.Fatalf("GET: %d %s", ans.status, ans.body)
	}
	var got Reports
	if err := json.Unmarshal(ans.body, &got); err != nil {
		t.Fatal(err)
	}
	states := map[string]ReportState{}
	for _, r := range got.Reports {
		states[fmt.Sprintf("%s/%d", r.FirmID, r.Revision)] = r
	}
	if len(got.Reports) != 3 {
		t.Fatalf("reports %s", ans.body)
	}
	// a superseded revision's figures are not kept (the reports table keeps
	// a firm-month's latest revision only, once merged)
	if s := states[a+"/1"]; s.State != "superseded" || s.SupersededBy != 2 || s.Report != nil || s.IngestedAt == nil {
		t.Errorf("A rev 1: %+v", s)
	}
	if s := states[a+"/2"]; s.State != "accepted" || s.Report == nil || s.Report.Headcount != 90 || s.IngestedAt == nil {
		t.Errorf("A rev 2: %+v", s)
	}
	if s := states[b+"/1"]; s.State != "rejected" || s.Problem == nil || s.Problem.Reason != report.ReasonUnknownField || s.Problem.Field != "bonus" {
		t.Errorf("B: %+v", s)
	}
	// firm A's own token sees A only
	var own Reports
	_ = json.Unmarshal(h.get("/v1/reports?period="+p, h.tokA).body, &own)
	for _, r := range own.Reports {
		if r.FirmID != a {
			t.Errorf("firm A's token sees %s", r.FirmID)
		}
	}
	if a := h.get("/v1/reports?period=2026-13", h.tokA); a.status != http.StatusBadRequest {
		t.Errorf("bad period: %d", a.status)
	}
}

// TestDeadlines: the current period, its deadline, and the token's firms
// that have not reported; a firm that left the sample is not due.
func TestDeadlines(t *testing.T) {
	h := newHarness(t, nil)
	sh := report.Shanghai()
	h.clock.Set(time.Date(2026, 4, 3, 10, 0, 0, 0, sh)) // before March's deadline
	left := h.firms[1]
	left.EnrolledTo = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) // B left the sample in February
	if err := firms.NewStore(h.ch).Upsert(context.Background(), []firmsFirm{left}); err != nil {
		t.Fatal(err)
	}
	_ = h.srv.firms.refresh(context.Background())
	province := h.token(Scope{Region: "620000"})
	var d Deadlines
	if err := json.Unmarshal(h.get("/v1/deadlines", province).body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Period != "2026-03" || !d.Deadline.Equal(time.Date(2026, 4, 6, 0, 0, 0, 0, sh)) || d.Passed || d.Due != 2 || len(d.Missing) != 2 {
		t.Fatalf("deadlines %+v", d)
	}
	h.postJSON(h.tokA, reportJSON(h.firms[0].ID, "2026-03", 3, "")).accepted(t)
	testenv.WaitFor(t, "A reported", 10*time.Second, func() (bool, string) {
		a := h.get("/v1/deadlines", province)
		_ = json.Unmarshal(a.body, &d)
		return d.Reported == 1 && len(d.Missing) == 1 && d.Missing[0].FirmID == h.firms[2].ID, string(a.body)
	})
	// after the deadline the current period is April
	h.clock.Set(time.Date(2026, 4, 10, 10, 0, 0, 0, sh))
	_ = json.Unmarshal(h.get("/v1/deadlines", h.tokA).body, &d)
	if d.Period != "2026-04" || d.Due != 1 || len(d.Missing) != 1 {
		t.Fatalf("after the deadline: %+v", d)
	}
	_ = json.Unmarshal(h.get("/v1/deadlines?period=2026-03", h.tokA).body, &d)
	if !d.Passed || d.Reported != 1 {
		t.Fatalf("March after its deadline: %+v", d)
	}
}

// TestSlowLoris: a client that sends its headers a byte at a time is cut
// off by the read-header timeout.
func TestSlowLoris(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.ReadHeaderTimeout = 500 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 512)
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			if _, err := conn.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	req := "POST /v1/reports HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200)
	for i := 0; i < len(req); i++ {
		if _, err := conn.Write([]byte{req[i]}); err != nil {
			break
		}
		select {
		case d := <-closed:
			t.Logf("connection closed after %s and %d header bytes", d.Round(time.Millisecond), i+1)
			if d > 5*time.Second {
				t.Fatalf("closed only after %s", d)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("the server kept the slow connection open")
}

// TestOpenAPIDescribesEveryRoute keeps openapi.yaml and the handler in step,
// and checks the document is served.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newHarness(t, nil)
	a := h.get("/openapi.yaml", "")
	if a.status != 200 || string(a.body) != string(openAPI) {
		t.Fatalf("GET /openapi.yaml: %d", a.status)
	}
	paths, err := openAPIPaths(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rt := range h.srv.routeTable() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.TrimSuffix(path, "{$}")
		if path == "" {
			path = "/"
		}
		key := strings.ToLower(method) + " " + path
		seen[key] = true
		if !paths[key] {
			t.Errorf("route %s is not in openapi.yaml", rt.pattern)
		}
	}
	for k := range paths {
		if !seen[k] {
			t.Errorf("openapi.yaml describes %s, which is not a route", k)
		}
	}
}

// TestMetrics: requests by route and status, auth failures, late reports,
// produce latency.
func TestMetrics(t *testing.T) {
	h := newHarness(t, nil)
	h.postJSON(h.tokA, reportJSON(h.firms[0].ID, "2024-01", 1, "")).accepted(t) // long past: late
	h.postJSON("", "{}")
	if got := testutil.ToFloat64(h.srv.m.requests.WithLabelValues("POST /v1/reports", "202")); got != 1 {
		t.Errorf("requests 202 = %v", got)
	}
	if got := testutil.ToFloat64(h.srv.m.requests.WithLabelValues("POST /v1/reports", "401")); got != 1 {
		t.Errorf("requests 401 = %v", got)
	}
	if got := testutil.ToFloat64(h.srv.m.authFailures.WithLabelValues("missing")); got != 1 {
		t.Errorf("auth failures = %v", got)
	}
	if got := testutil.ToFloat64(h.srv.m.late); got != 1 {
		t.Errorf("late = %v", got)
	}
	if n := testutil.CollectAndCount(h.srv.m.produceSeconds); n != 1 {
		t.Errorf("produce histogram series = %d", n)
	}
	names := map[string]bool{}
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		names[mf.GetName()] = true
	}
	for _, n := range []string{"layoffwatch_gateway_requests_total", "layoffwatch_gateway_auth_failures_total",
		"layoffwatch_gateway_late_reports_total", "layoffwatch_gateway_kafka_produce_seconds"} {
		if !names[n] {
			t.Errorf("metric %s not registered", n)
		}
	}
}

func TestMessageCatalogues(t *testing.T) {
	for k := range messages[langZH] {
		if _, ok := messages[langEN][k]; !ok {
			t.Errorf("key %q has no English", k)
		}
	}
	for k := range messages[langEN] {
		if _, ok := messages[langZH][k]; !ok {
			t.Errorf("key %q has no Chinese", k)
		}
	}
	for _, c := range []struct{ accept, want string }{
		{"", langZH}, {"en-US,en;q=0.9", langEN}, {"zh-CN,zh;q=0.9,en;q=0.8", langZH}, {"fr, en;q=0.5", langEN}, {"de", langZH},
	} {
		r, _ := http.NewRequest("GET", "/report", nil)
		r.Header.Set("Accept-Language", c.accept)
		if got, _ := pickLang(r); got != c.want {
			t.Errorf("Accept-Language %q: %s, want %s", c.accept, got, c.want)
		}
	}
}

func TestDeadlineRule(t *testing.T) {
	sh := report.Shanghai()
	d := deadlines{day: 5}
	for _, c := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 4, 1, 0, 0, 0, 0, sh), "2026-03"},
		{time.Date(2026, 4, 5, 23, 59, 59, 0, sh), "2026-03"},
		{time.Date(2026, 4, 6, 0, 0, 0, 0, sh), "2026-04"},
		{time.Date(2026, 1, 3, 0, 0, 0, 0, sh), "2025-12"},
		{time.Date(2026, 4, 5, 17, 0, 0, 0, time.UTC), "2026-04"}, // 01:00 on the 6th in Shanghai
	} {
		if got := d.current(c.now).String(); got != c.want {
			t.Errorf("current at %s = %s, want %s", c.now, got, c.want)
		}
	}
}

func TestDefaultOptions(t *testing.T) {
	o, err := DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	if o.Listen != "127.0.0.1:8080" || o.DeadlineDay != 5 || o.Topic != "reports" || !o.CreateTopics || o.ReadHeaderTimeout != 5*time.Second ||
		o.Kafka.Brokers[0] != "127.0.0.1:19092" || o.ClickHouse.Database != "layoffwatch" {
		t.Fatalf("defaults %+v", o)
	}
}

// TestRun is `layoffwatch gateway`: it serves the API and the metrics on
// their addresses until its context ends.
func TestRun(t *testing.T) {
	h := newHarness(t, nil)
	h.stop()
	opts := h.opts
	apiPort, _ := localstack.FreePort()
	metricsPort, _ := localstack.FreePort()
	opts.Listen, opts.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", apiPort), fmt.Sprintf("127.0.0.1:%d", metricsPort)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, opts, testenv.Logger(t), prometheus.NewRegistry()) }()
	h.url = "http://" + opts.Listen
	testenv.WaitFor(t, "gateway ready", 20*time.Second, func() (bool, string) {
		resp, err := http.Get("http://" + opts.MetricsAddr + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	h.postJSON(h.tokA, reportJSON(h.firms[0].ID, currentPeriod().String(), 1, "")).accepted(t)
	resp, err := http.Get("http://" + opts.MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `layoffwatch_gateway_requests_total{code="202",route="POST /v1/reports"} 1`) {
		t.Errorf("metrics:\n%s", b)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
