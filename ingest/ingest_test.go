package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stack is one test's servers and options.
type stack struct {
	kafka *localstack.Kafka
	ch    *chdb.Client
	opts  ingest.Options
}

func newStack(t testing.TB, nFirms int) (*stack, []string) {
	t.Helper()
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	ch := testenv.ClickHouse(t)
	ids := make([]string, nFirms)
	list := make([]firms.Firm, nFirms)
	for i := range ids {
		ids[i] = testenv.FirmID("620102", i+1)
		list[i] = firms.Firm{ID: ids[i], Name: fmt.Sprintf("企业%d", i), Region: "620102", Industry: "C", BaselineHeadcount: 500}
	}
	if err := firms.NewStore(ch).Upsert(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	opts, _ := newStackOptions(k, chdb.Options{Addr: testenv.ClickHouseAddr(t), Database: ch.Database(), User: "default", DialTimeout: 5 * time.Second})
	return &stack{kafka: k, ch: ch, opts: opts}, ids
}

func newStackOptions(k *localstack.Kafka, ch chdb.Options) (ingest.Options, error) {
	opts := ingest.Options{
		Kafka:          kafkautil.Options{Brokers: k.Addrs(), Partitions: 3, ReplicationFactor: 1},
		ClickHouse:     ch,
		Topic:          "reports",
		DLQTopic:       "reports.dlq",
		Group:          "ingest-test",
		BatchRows:      1000,
		BatchWait:      200 * time.Millisecond,
		SessionTimeout: 6 * time.Second,
		ShutdownGrace:  10 * time.Second,
		CreateTopics:   true,
	}
	return opts, opts.Validate()
}

func newTestWriter(brokers []string) *kafka.Writer {
	return kafkautil.NewWriter(kafkautil.Options{Brokers: brokers}, "reports", slog.New(slog.DiscardHandler))
}

func produce(t testing.TB, brokers []string, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := newTestWriter(brokers)
	w.Topic = topic
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for len(msgs) > 0 {
		n := min(len(msgs), 5000)
		if err := w.WriteMessages(ctx, msgs[:n]...); err != nil {
			t.Fatalf("produce: %v", err)
		}
		msgs = msgs[n:]
	}
}

func reportMsg(t testing.TB, r report.Report) kafka.Message {
	t.Helper()
	b, err := report.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.Message{Key: []byte(r.FirmID), Value: b}
}

func startIngest(t testing.TB, opts ingest.Options) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ingest.Run(ctx, opts, testenv.Logger(t), prometheus.NewRegistry()) }()
	var once bool
	var err error
	stop = func() error {
		if !once {
			once = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = errors.New("ingest did not stop within 60s")
			}
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func count(t testing.TB, ch *chdb.Client, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := testenv.SQL(t, ch.Options()).QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestPoisonMessages puts malformed, oversized and invalid messages between
// valid ones: every valid one lands, every invalid one is in the DLQ and in
// rejects with its reason, and the partition keeps flowing.
func TestPoisonMessages(t *testing.T) {
	s, ids := newStack(t, 50)
	p := report.NewPeriod(2025, 6)
	var msgs []kafka.Message
	valid := 0
	wantReasons := map[string]int{}
	poison := []struct {
		reason string
		key    string
		value  string
	}{
		{report.ReasonMalformedJSON, ids[0], `{"schema_version":1,`},
		{report.ReasonMalformedJSON, ids[1], `not json at all`},
		{report.ReasonTooLarge, ids[2], `{"note":"` + strings.Repeat("x", 70<<10) + `"}`},
		{report.ReasonUnknownField, ids[3], fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":"2025-06","headcount":1,"vacancies":0,"bonus":1}`, ids[3])},
		{report.ReasonUnsupportedSchema, ids[4], fmt.Sprintf(`{"schema_version":2,"firm_id":%q,"period":"2025-06","headcount":1,"vacancies":0}`, ids[4])},
		{report.ReasonUnknownFirm, "", fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":"2025-06","headcount":1,"vacancies":0}`, testenv.FirmID("620103", 9))},
		{report.ReasonInvalidFirmID, "", `{"schema_version":1,"firm_id":"91620102000000001X","period":"2025-06","headcount":1,"vacancies":0}`},
		{report.ReasonOutOfRange, ids[5], fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":"2025-06","headcount":-5,"vacancies":0}`, ids[5])},
		{report.ReasonFuturePeriod, ids[6], fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":"2999-01","headcount":1,"vacancies":0}`, ids[6])},
		{report.ReasonMissingField, ids[7], fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":"2025-06","vacancies":0}`, ids[7])},
		{report.ReasonInvalidEncoding, ids[8], fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":"2025-06","headcount":1,"vacancies":0,"note":"\ud800"}`, ids[8])},
		{report.ReasonInvalidEncoding, ids[9], fmt.Sprintf("{\"schema_version\":1,\"firm_id\":%q,\"period\":\"2025-06\",\"headcount\":1,\"vacancies\":0,\"note\":\"\xff\"}", ids[9])},
	}
	for round := 0; round < 3; round++ {
		for i, id := range ids {
			msgs = append(msgs, reportMsg(t, report.Report{FirmID: id, Period: p.Add(-round), Headcount: uint32(100 + i), Vacancies: 3, Revision: 1}))
			valid++
			if i < len(poison) {
				pm := poison[(i+round)%len(poison)]
				msgs = append(msgs, kafka.Message{Key: []byte(pm.key), Value: []byte(pm.value)})
				wantReasons[pm.reason]++
			}
		}
	}
	produce(t, s.kafka.Addrs(), "reports", msgs...)
	stop := startIngest(t, s.opts)
	nBad := len(msgs) - valid
	testenv.WaitFor(t, "all messages written", 60*time.Second, func() (bool, string) {
		r := count(t, s.ch, "SELECT count() FROM reports_latest")
		j := count(t, s.ch, "SELECT count() FROM rejects FINAL")
		return r == uint64(valid) && j == uint64(nBad), fmt.Sprintf("reports=%d/%d rejects=%d/%d", r, valid, j, nBad)
	})
	if err := stop(); err != nil {
		t.Fatalf("ingest stopped with %v", err)
	}
	for reason, n := range wantReasons {
		if got := count(t, s.ch, "SELECT count() FROM rejects FINAL WHERE reason = ?", reason); got != uint64(n) {
			t.Errorf("rejects with reason %s = %d, want %d", reason, got, n)
		}
	}
	// the DLQ holds every refused message, bytes intact, reason in headers
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: s.kafka.Addrs(), GroupID: "dlq-check", Topic: "reports.dlq", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	got := map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < nBad; i++ {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("read dlq message %d of %d: %v", i+1, nBad, err)
		}
		reason := ""
		for _, h := range m.Headers {
			if h.Key == "reason" {
				reason = string(h.Value)
			}
		}
		if reason == report.ReasonTooLarge && len(m.Value) <= report.MaxMessageBytes {
			t.Errorf("too_large message arrived in the DLQ with %d bytes, not the original", len(m.Value))
		}
		got[reason]++
	}
	for reason, n := range wantReasons {
		if got[reason] != n {
			t.Errorf("dlq messages with reason %s = %d, want %d", reason, got[reason], n)
		}
	}
	_ = io.EOF
}
