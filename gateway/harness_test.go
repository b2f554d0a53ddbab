package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"gopkg.in/yaml.v3"

	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// clock is a settable test clock; zero means the real time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.t.IsZero() {
		return time.Now()
	}
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// harness is one test's real servers: the embedded Kafka broker, a fresh
// ClickHouse database, and a gateway listening on a loopback port.
type harness struct {
	t     testing.TB
	kafka *localstack.Kafka
	ch    *chdb.Client
	srv   *Server
	reg   *prometheus.Registry
	opts  Options
	url   string
	clock *clock
	firms []firms.Firm // A, B: Chengguan (620102); C: Baiyin district (620402)
	tokA  string       // firm A's token
	stop  func()
	http  *http.Client // nil: http.DefaultClient
}

const (
	countyA = "620102"
	countyC = "620402"
)

func newHarness(t testing.TB, mod func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, clock: &clock{}}
	h.kafka = testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	h.ch = testenv.ClickHouse(t)
	h.firms = []firms.Firm{
		{ID: testenv.FirmID(countyA, 1), Name: "兰州甲公司", Region: countyA, Industry: "C", BaselineHeadcount: 500},
		{ID: testenv.FirmID(countyA, 2), Name: "兰州乙公司", Region: countyA, Industry: "E", BaselineHeadcount: 300},
		{ID: testenv.FirmID(countyC, 1), Name: "白银丙公司", Region: countyC, Industry: "C", BaselineHeadcount: 800},
	}
	ctx := context.Background()
	if err := firms.NewStore(h.ch).Upsert(ctx, h.firms); err != nil {
		t.Fatal(err)
	}
	h.opts = Options{
		Kafka:             kafkautil.Options{Brokers: h.kafka.Addrs(), Partitions: 3, ReplicationFactor: 1},
		ClickHouse:        chdb.Options{Addr: testenv.ClickHouseAddr(t), Database: h.ch.Database(), User: "default", DialTimeout: 5 * time.Second},
		Listen:            "127.0.0.1:0",
		Topic:             "reports",
		DeadlineDay:       5,
		Rate:              1000,
		Burst:             1000,
		AuthFailRate:      0.5,
		AuthFailBurst:     20,
		AuthFailAddrRate:  5,
		AuthFailAddrBurst: 200,
		ProduceTimeout:    3 * time.Second,
		ReadHeaderTimeout: time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       30 * time.Second,
		TokenRefresh:      200 * time.Millisecond,
		RegistryRefresh:   time.Minute,
		ShutdownGrace:     5 * time.Second,
		CreateTopics:      true,
		Now:               h.clock.Now,
		FlushInterval:     100 * time.Millisecond,
	}
	if mod != nil {
		mod(&h.opts)
	}
	var err error
	h.tokA, _, err = CreateToken(ctx, h.ch, Scope{FirmID: h.firms[0].ID}, "clerk of A")
	if err != nil {
		t.Fatal(err)
	}
	h.start()
	return h
}

// start runs a gateway on the harness's options.
func (h *harness) start() {
	t := h.t
	t.Helper()
	h.reg = prometheus.NewRegistry()
	srv, err := New(context.Background(), h.opts, testenv.Logger(t), h.reg)
	if err != nil {
		t.Fatalf("gateway: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("gateway serve: %v", err)
			}
			_ = srv.Close()
		})
	}
	t.Cleanup(h.stop)
	h.srv = srv
	h.url = "http://" + ln.Addr().String()
	if h.opts.TLSCert != "" {
		h.url = "https://" + ln.Addr().String()
	}
}

// restart stops the gateway and starts a new one on the same stores.
func (h *harness) restart() {
	h.stop()
	h.start()
}

func (h *harness) token(scope Scope) string {
	h.t.Helper()
	tok, _, err := CreateToken(context.Background(), h.ch, scope, "test")
	if err != nil {
		h.t.Fatal(err)
	}
	// A running gateway sees a new token on its next miss-triggered reload
	// (at most every 250 ms); reload now rather than wait.
	if err := h.srv.tokens.refresh(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// answer is an HTTP answer, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) problem(t testing.TB) Problem {
	t.Helper()
	if ct := a.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, a.body)
	}
	var p Problem
	if err := json.Unmarshal(a.body, &p); err != nil {
		t.Fatalf("problem: %v: %s", err, a.body)
	}
	if p.Status != a.status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v does not match status %d", p, a.status)
	}
	return p
}

func (a answer) accepted(t testing.TB) Accepted {
	t.Helper()
	if a.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202; body %s", a.status, a.body)
	}
	var ans Accepted
	if err := json.Unmarshal(a.body, &ans); err != nil {
		t.Fatalf("accepted: %v: %s", err, a.body)
	}
	return ans
}

func (h *harness) do(method, path, token, contentType string, body []byte, hdr ...string) answer {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := h.http
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	return h.read(resp)
}

// read reads an answer whole and closes its body.
func (h *harness) read(resp *http.Response) answer {
	h.t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: b}
}

func (h *harness) postJSON(token string, body string, hdr ...string) answer {
	h.t.Helper()
	return h.do(http.MethodPost, "/v1/reports", token, "application/json", []byte(body), hdr...)
}

func (h *harness) get(path, token string) answer {
	h.t.Helper()
	return h.do(http.MethodGet, path, token, "", nil)
}

// reportJSON is a valid report of firm for period.
func reportJSON(firm, period string, headcount int, extra string) string {
	return fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":%q,"headcount":%d,"vacancies":4,"hires":2,"separations":{"resignation":1}%s}`,
		firm, period, headcount, extra)
}

// topic reads every message on the reports topic.
func (h *harness) topic() []kafka.Message {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []kafka.Message
	for p := 0; p < 3; p++ {
		conn, err := kafka.DialLeader(ctx, "tcp", h.kafka.Addrs()[0], "reports", p)
		if err != nil {
			h.t.Fatalf("dial partition %d: %v", p, err)
		}
		first, last, err := conn.ReadOffsets()
		_ = conn.Close()
		if err != nil {
			h.t.Fatalf("offsets of partition %d: %v", p, err)
		}
		if last <= first {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: h.kafka.Addrs(), Topic: "reports", Partition: p, MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond})
		if err := r.SetOffset(first); err != nil {
			h.t.Fatal(err)
		}
		for i := first; i < last; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				h.t.Fatalf("read partition %d: %v", p, err)
			}
			out = append(out, m)
		}
		_ = r.Close()
	}
	return out
}

func header(m kafka.Message, key string) string {
	for _, hd := range m.Headers {
		if hd.Key == key {
			return string(hd.Value)
		}
	}
	return ""
}

// startIngest runs ingest in this process, as `layoffwatch ingest` would,
// so that reports go the whole way into ClickHouse.
func (h *harness) startIngest() {
	t := h.t
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ingest.Run(ctx, ingest.Options{
			Kafka: h.opts.Kafka, ClickHouse: h.opts.ClickHouse, Topic: "reports", DLQTopic: "reports.dlq", Group: "gateway-test",
			BatchRows: 1000, BatchWait: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, ShutdownGrace: 10 * time.Second, CreateTopics: true,
		}, testenv.Logger(t), prometheus.NewRegistry())
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("ingest: %v", err)
		}
	})
}

func (h *harness) count(query string, args ...any) uint64 {
	h.t.Helper()
	var n uint64
	if err := testenv.SQL(h.t, h.ch.Options()).QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// period returns a period that is open (not future, deadline not passed) at
// the real clock: the current one.
func currentPeriod() report.Period { return deadlines{day: 5}.current(time.Now()) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

type firmsFirm = firms.Firm

func kafkaWriter(h *harness) *kafka.Writer {
	return kafkautil.NewWriter(h.opts.Kafka, "reports", testenv.Logger(h.t))
}

func kafkaMessage(key, value string) kafka.Message {
	return kafka.Message{Key: []byte(key), Value: []byte(value)}
}

// openAPIPaths lists "method path" of every operation in the document.
func openAPIPaths(doc []byte) (map[string]bool, error) {
	var d struct {
		OpenAPI string                               `yaml:"openapi"`
		Paths   map[string]map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("parse openapi.yaml: %w", err)
	}
	if !strings.HasPrefix(d.OpenAPI, "3.") {
		return nil, fmt.Errorf("openapi version %q", d.OpenAPI)
	}
	out := map[string]bool{}
	for path, ops := range d.Paths {
		for method := range ops {
			out[method+" "+path] = true
		}
	}
	return out, nil
}
