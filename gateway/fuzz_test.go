package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// Fuzz targets of the HTTP handlers with whole requests — method, target,
// headers, body — not only the decoders behind them. Seeds name live
// credentials by placeholders ($TOKEN, $SESSION, …) that the target fills in,
// so the fuzzer starts from requests that get past authentication.

// countingProducer stands in for Kafka: it counts what the gateway hands over.
type countingProducer struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (p *countingProducer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return nil
}

func (p *countingProducer) Close() error { return nil }

func (p *countingProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.msgs)
}

// buildRequest makes a server-side request from fuzz input, or nil when
// net/http would never hand such a request to a handler.
func buildRequest(method, target, header string, body []byte) *http.Request {
	if method == "" || strings.ContainsAny(method, " \t\r\n") || !strings.HasPrefix(target, "/") {
		return nil
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil
	}
	h := http.Header{}
	for _, line := range strings.Split(header, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(k), strings.TrimSpace(v))
	}
	host := h.Get("Host")
	if host == "" {
		host = "gateway.example"
	}
	h.Del("Host")
	return (&http.Request{Method: method, URL: u, RequestURI: target, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Host: host, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
		RemoteAddr: "192.0.2.10:40000"}).WithContext(context.Background())
}

// FuzzGatewayRequest drives the gateway's handler (API, CSV, web form) with
// whole requests against a real ClickHouse and a counting stand-in for Kafka.
// Invariants: no panic, no 5xx, every answer nosniff; nothing reaches
// Kafka unless the answer is 2xx, and what reaches it is a valid report.
func FuzzGatewayRequest(f *testing.F) {
	ch := testenv.ClickHouse(f)
	ctx := context.Background()
	a := firms.Firm{ID: testenv.FirmID(countyA, 1), Name: "兰州甲公司", Region: countyA, Industry: "C", BaselineHeadcount: 500}
	b := firms.Firm{ID: testenv.FirmID(countyA, 2), Name: "<b>乙</b>", Region: countyA, Industry: "E", BaselineHeadcount: 300}
	if err := firms.NewStore(ch).Upsert(ctx, []firms.Firm{a, b}); err != nil {
		f.Fatal(err)
	}
	tokA, _, err := CreateToken(ctx, ch, Scope{FirmID: a.ID}, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	bureau, _, err := CreateToken(ctx, ch, Scope{Region: countyA}, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	opts := Options{
		Kafka:      kafkautil.Options{Brokers: []string{"127.0.0.1:1"}, Partitions: 1, ReplicationFactor: 1}, // never dialled: the producer is replaced
		ClickHouse: chdb.Options{Addr: testenv.ClickHouseAddr(f), Database: ch.Database(), User: "default", DialTimeout: 5 * time.Second},
		Listen:     "127.0.0.1:0", Topic: "reports", DeadlineDay: 5, Rate: 1e6, Burst: 1e6,
		AuthFailRate: 1e6, AuthFailBurst: 1e6, AuthFailAddrRate: 1e6, AuthFailAddrBurst: 1e6,
		ProduceTimeout: 3 * time.Second, ReadHeaderTimeout: time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second,
		IdleTimeout: 30 * time.Second, TokenRefresh: time.Minute, RegistryRefresh: time.Minute, ShutdownGrace: time.Second,
	}
	// (a test logger may not be used from inside the fuzz function)
	srv, err := New(ctx, opts, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	prod := &countingProducer{}
	srv.prod = prod
	handler := srv.Handler()
	// a web session, as a clerk would have one
	serve := func(req *http.Request) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	page := serve(buildRequest(http.MethodGet, "/report", "", nil))
	pre := page.Result().Cookies()[0]
	csrf := csrfRe.FindStringSubmatch(page.Body.String())[1]
	signin := serve(buildRequest(http.MethodPost, "/report/signin", "Content-Type: application/x-www-form-urlencoded\nCookie: "+pre.Name+"="+pre.Value,
		[]byte(url.Values{"csrf": {csrf}, "token": {tokA}}.Encode())))
	var session string
	for _, c := range signin.Result().Cookies() {
		if c.Name == sessionCookie {
			session = c.Value
		}
	}
	form := serve(buildRequest(http.MethodGet, "/report", "Cookie: "+sessionCookie+"="+session, nil))
	sessCSRF := csrfRe.FindStringSubmatch(form.Body.String())[1]
	period := currentPeriod().String()
	fill := strings.NewReplacer("$TOKEN", tokA, "$BUREAU", bureau, "$FIRM", a.ID, "$OTHER", b.ID, "$PERIOD", period,
		"$SESSION", session, "$CSRF", sessCSRF)

	rep := `{"schema_version":1,"firm_id":"$FIRM","period":"$PERIOD","headcount":12,"vacancies":1,"separations":{"economic_layoff":2},"note":"<i>x</i>"}`
	jsonHdr := "Authorization: Bearer $TOKEN\nContent-Type: application/json"
	for _, s := range []struct{ method, target, header, body string }{
		{"POST", "/v1/reports", jsonHdr, rep},
		{"POST", "/v1/reports", jsonHdr, "[" + rep + "," + strings.Replace(rep, "12", "13", 1) + "]"},
		{"POST", "/v1/reports", jsonHdr + "\nIdempotency-Key: k1", strings.Replace(rep, `"note"`, `"revision":2,"note"`, 1)},
		{"POST", "/v1/reports", "Authorization: Bearer $BUREAU\nContent-Type: application/json; charset=utf-8", strings.Replace(rep, "$FIRM", "$OTHER", 1)},
		{"POST", "/v1/reports", jsonHdr, `{"schema_version":1,"firm_id":"$FIRM","period":"$PERIOD","headcount":1e400,"vacancies":1,"note":"\ud800"}`},
		{"POST", "/v1/reports", jsonHdr + "\nAuthorization: Bearer x", rep},
		{"POST", "/v1/reports", "Authorization: Basic eDp5\nContent-Type: application/json", rep},
		{"POST", "/v1/reports.csv", "Authorization: Bearer $TOKEN\nContent-Type: text/csv",
			"firm_id,period,headcount,vacancies,economic_layoff,note\n$FIRM,$PERIOD,14,0,3,\"=1+1\"\n"},
		{"GET", "/v1/reports?period=$PERIOD", "Authorization: Bearer $TOKEN", ""},
		{"GET", "/v1/deadlines?period=9999-12", "Authorization: Bearer $BUREAU", ""},
		{"GET", "/report?lang=en&firm=$OTHER", "Cookie: lw_session=$SESSION", ""},
		{"POST", "/report", "Cookie: lw_session=$SESSION\nContent-Type: application/x-www-form-urlencoded",
			"csrf=$CSRF&firm_id=$FIRM&headcount=15&vacancies=1&note=%3Cscript%3E"},
		{"POST", "/report/confirm", "Cookie: lw_session=$SESSION\nContent-Type: application/x-www-form-urlencoded\nSec-Fetch-Site: same-origin",
			"csrf=$CSRF&firm_id=$FIRM&headcount=16&vacancies=1&economic_layoff=4"},
		{"POST", "/report/confirm", "Cookie: lw_session=$SESSION\nContent-Type: application/x-www-form-urlencoded\nOrigin: https://evil.example",
			"csrf=$CSRF&firm_id=$FIRM&headcount=17&vacancies=1"},
		{"POST", "/report/signin", "Content-Type: application/x-www-form-urlencoded\nCookie: lw_pre=x", "csrf=x&token=$TOKEN"},
		{"POST", "/report/signout", "Cookie: lw_session=$SESSION\nContent-Type: application/x-www-form-urlencoded", "csrf=nope"},
		{"GET", "/static/style.css", "", ""},
		{"GET", "/openapi.yaml", "", ""},
		{"DELETE", "/v1/reports", jsonHdr, ""},
		{"GET", "/%2e%2e/%2e%2e/etc/passwd", "", ""},
	} {
		f.Add(s.method, s.target, s.header, []byte(s.body))
	}
	// the seeds get past authentication: the first one is accepted
	if rec := serve(buildRequest(http.MethodPost, "/v1/reports", fill.Replace(jsonHdr), []byte(fill.Replace(rep)))); rec.Code != http.StatusAccepted || prod.count() != 1 {
		f.Fatalf("a valid report: %d %s, %d produced", rec.Code, rec.Body.String(), prod.count())
	}
	f.Fuzz(func(t *testing.T, method, target, header string, body []byte) {
		req := buildRequest(method, fill.Replace(target), fill.Replace(header), []byte(fill.Replace(string(body))))
		if req == nil {
			return
		}
		before := prod.count()
		rec := serve(req)
		produced := prod.count() - before
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", method, target, rec.Code, rec.Body.String())
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s %s: %d without nosniff", method, target, rec.Code)
		}
		if produced > 0 && (rec.Code < 200 || rec.Code > 299) {
			t.Fatalf("%s %s: answered %d but produced %d messages", method, target, rec.Code, produced)
		}
		if rec.Code == http.StatusAccepted {
			var ans Accepted
			if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil || ans.Accepted != produced && rec.Header().Get("Idempotent-Replayed") == "" {
				t.Fatalf("%s %s: 202 %s after producing %d", method, target, rec.Body.String(), produced)
			}
		}
		prod.mu.Lock()
		defer prod.mu.Unlock()
		for _, m := range prod.msgs[before:] {
			if _, p := report.Decode(m.Value, time.Now()); p != nil {
				t.Fatalf("produced an invalid report %s: %v", m.Value, p)
			}
		}
	})
}

// FuzzAckRequest sends whole requests to the alert component's HTTP server
// (acknowledge links and the API), running with a real ClickHouse and
// Kafka. Invariants: no 5xx, and no acknowledgement is recorded unless a
// POST to /ack was answered 200 — which needs a link signed with the
// server's secret for someone the alert was emailed to (the seeds hold one
// genuine link).
func FuzzAckRequest(f *testing.F) {
	k := testenv.Kafka(f, localstack.KafkaOptions{Partitions: 1})
	ch := testenv.ClickHouse(f)
	smtp := smtptest.Start(f, smtptest.Options{})
	port, err := localstack.FreePort()
	if err != nil {
		f.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cfg := filepath.Join(f.TempDir(), "alerts.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true, timeout: 5s}
links: {ack_base_url: %q, grafana_base_url: "http://grafana.example"}
ack: {secret: %s, expiry: 168h}
group_wait: 100ms
recipients:
  - {name: 城关区人社局, email: chengguan@gs.example.cn, region: "620102"}
`, smtp.Port, base, ackSecret)), 0o600); err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- alerts.Run(ctx, alerts.Options{Kafka: kafkautil.Options{Brokers: k.Addrs(), Partitions: 1, ReplicationFactor: 1},
			ClickHouse: chdb.Options{Addr: testenv.ClickHouseAddr(f), Database: ch.Database(), User: "default", DialTimeout: 5 * time.Second},
			Config:     cfg, Topic: "alerts", Group: "fuzz", HTTPAddr: strings.TrimPrefix(base, "http://"),
			EscalationCheck: time.Minute, SessionTimeout: 6 * time.Second}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	}()
	f.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			f.Logf("alert component: %v", err)
		}
	})
	testenv.WaitFor(f, "alert component up", 30*time.Second, func() (bool, string) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	firm := testenv.FirmID(countyA, 1)
	alert := alertevent.Event{ID: alertevent.ID("major_cut", alertevent.ScopeFirm, firm, "2026-10"), Version: 1, Kind: alertevent.Firing, Rule: "major_cut",
		Scope: alertevent.ScopeFirm, Key: firm, Period: "2026-10", Level: alertevent.LevelI, LevelFacts: alertevent.DefaultLevelFacts(alertevent.LevelI), Values: json.RawMessage(`{}`), Region: countyA, Prefecture: "620100",
		Subject: `<script>alert(1)</script>`, TitleZh: "测试", TitleEn: "Test", SummaryZh: "减员", SummaryEn: "cut", At: time.Now().UTC()}
	// as the detector does: the event in ClickHouse and on the topic; a
	// link is good only once the alert component has emailed it to the
	// recipient (and logged so)
	if err := detector.NewStore(ch).InsertAlertEvents(context.Background(), []alertevent.Event{alert}); err != nil {
		f.Fatal(err)
	}
	ev, _ := json.Marshal(alert)
	w := kafkautil.NewWriter(kafkautil.Options{Brokers: k.Addrs(), Partitions: 1, ReplicationFactor: 1}, "alerts", slog.New(slog.DiscardHandler))
	if err := w.WriteMessages(context.Background(), kafka.Message{Key: []byte(alert.ID), Value: ev}); err != nil {
		f.Fatal(err)
	}
	_ = w.Close()
	sqlConn := testenv.SQL(f, ch.Options()) // got here: f's methods may not be called inside the fuzz target
	testenv.WaitFor(f, "the alert emailed to the county and logged", 60*time.Second, func() (bool, string) {
		var n uint64
		err := sqlConn.QueryRow(context.Background(), "SELECT count() FROM notifications WHERE alert_id = ? AND status = 'sent'", alert.ID).Scan(&n)
		return err == nil && n > 0, fmt.Sprint(n, " sent rows, ", err)
	})
	link, _ := url.Parse(alerts.NewSigner([]byte(ackSecret), 168*time.Hour, time.Now).Link(base, alert.ID, "chengguan@gs.example.cn"))
	q := link.Query()
	fill := strings.NewReplacer("$A", url.QueryEscape(q.Get("a")), "$R", url.QueryEscape(q.Get("r")), "$E", q.Get("e"), "$S", q.Get("s"))
	acks := func(tb testing.TB) uint64 {
		var n uint64
		if err := sqlConn.QueryRow(context.Background(), "SELECT count() FROM acks").Scan(&n); err != nil {
			tb.Fatal(err)
		}
		return n
	}
	// the genuine link acknowledges (so the invariant below can see one)
	if resp, err := http.PostForm(base+"/ack", q); err != nil || resp.StatusCode != http.StatusOK || acks(f) != 1 {
		f.Fatalf("genuine acknowledgement: %v %v, %d recorded", resp, err, acks(f))
	} else {
		resp.Body.Close()
	}
	form := "Content-Type: application/x-www-form-urlencoded"
	for _, s := range []struct{ method, target, header, body string }{
		{"GET", "/ack?a=$A&r=$R&e=$E&s=$S", "", ""},
		{"POST", "/ack", form, "a=$A&r=$R&e=$E&s=$S&comment=%E5%B7%B2%E6%A0%B8%E5%AE%9E"},
		{"POST", "/ack", form, "a=$A&r=$R&e=9$E&s=$S"},
		{"POST", "/ack?a=$A", form, "a=x&r=$R&e=$E&s=$S"},
		{"POST", "/ack", "Content-Type: multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n$A\r\n--x--\r\n"},
		{"GET", "/api/alerts", "Authorization: Bearer x", ""},
		{"POST", "/api/alerts/$A/ack", "Content-Type: application/json", `{"by":"x"}`},
		{"PUT", "/ack", "", ""},
		{"GET", "/metrics", "", ""},
	} {
		f.Add(s.method, s.target, s.header, []byte(s.body))
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	f.Fuzz(func(t *testing.T, method, target, header string, body []byte) {
		if !strings.HasPrefix(target, "/") {
			return
		}
		req, err := http.NewRequest(method, base+fill.Replace(target), bytes.NewReader([]byte(fill.Replace(string(body)))))
		if err != nil {
			return // not a request a client could send
		}
		for _, line := range strings.Split(header, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				req.Header.Add(k, strings.TrimSpace(v))
			}
		}
		before := acks(t)
		resp, err := client.Do(req)
		if err != nil {
			return // refused by the client (an invalid header) or the connection closed
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %d", method, target, resp.StatusCode)
		}
		u, _ := url.Parse(fill.Replace(target))
		if after := acks(t); after != before && (resp.StatusCode != http.StatusOK || method != http.MethodPost || u == nil || u.Path != "/ack") {
			t.Fatalf("%s %s answered %d and recorded %d acknowledgements", method, target, resp.StatusCode, after-before)
		}
	})
}
