package ingest_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// syncBuffer is a log destination the test reads while ingest writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gathered sums the samples of a metric, by the value of one label ("" for
// all), and says whether the metric exists at all.
func gathered(t testing.TB, reg *prometheus.Registry, name, label, value string) (float64, int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum, n := 0.0, 0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					match = true
				}
			}
			if !match {
				continue
			}
			n++
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum, n
}

func failing(h *obs.Health, name string) string {
	for _, r := range h.Ready(context.Background()) {
		if r.Name == name && r.Err != nil {
			return r.Err.Error()
		}
	}
	return ""
}

// TestFrozenClickHouse freezes the ClickHouse server (SIGSTOP: connections
// stay open, nothing answers) before ingest's first insert and sends
// reports. Ingest must say so: the consumer lag counts every waiting
// message although nothing was ever committed, each insert attempt is
// abandoned after --insert-timeout with a WARN log line and a metric,
// /readyz names ClickHouse; and once the server runs again, every report
// lands. A restarted ingest with nothing new exports the lag (0), not
// nothing.
func TestFrozenClickHouse(t *testing.T) {
	ctx := context.Background()
	server, ch := testenv.OwnClickHouse(t, "frozen_test")
	chOpts := ch.Options()
	ids := registerFirms(t, ch, 300)
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})

	opts, err := ingest.DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Kafka.Brokers, opts.ClickHouse, opts.MetricsAddr = k.Addrs(), chOpts, ""
	opts.BatchWait, opts.InsertTimeout = 200*time.Millisecond, time.Second
	opts.Health = &obs.Health{}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	reg := prometheus.NewRegistry()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ingest.Run(runCtx, opts, log, reg) }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(60 * time.Second):
			return fmt.Errorf("ingest did not stop within 60 s")
		}
	}
	t.Cleanup(func() { _ = server.Thaw(); _ = stop() })

	testenv.WaitFor(t, "ingest ready", 30*time.Second, func() (bool, string) {
		res := opts.Health.Ready(ctx)
		return failing(opts.Health, "clickhouse") == "" && failing(opts.Health, "started") == "", fmt.Sprint(res)
	})
	// the lag is exported before anything was read or committed
	testenv.WaitFor(t, "consumer lag exported", 30*time.Second, func() (bool, string) {
		v, n := gathered(t, reg, "layoffwatch_ingest_consumer_lag", "", "")
		return n == 3 && v == 0, fmt.Sprintf("%d partitions, lag %v", n, v)
	})

	if err := server.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse frozen")
	var msgs []kafka.Message
	for i, id := range ids {
		msgs = append(msgs, reportMsg(t, report.Report{FirmID: id, Period: report.NewPeriod(2025, 6), Headcount: uint32(100 + i), Revision: 1}))
	}
	produce(t, k.Addrs(), "reports", msgs...)

	testenv.WaitFor(t, "the lag to count every waiting message", 60*time.Second, func() (bool, string) {
		v, _ := gathered(t, reg, "layoffwatch_ingest_consumer_lag", "", "")
		return v == float64(len(msgs)), fmt.Sprintf("lag %v of %d", v, len(msgs))
	})
	// a flush's first ClickHouse call is the duplicate check's lookup of
	// the batch's revisions (revisions.go): it hangs first
	testenv.WaitFor(t, "a timed-out ClickHouse call, logged and retried", 60*time.Second, func() (bool, string) {
		timeouts, _ := gathered(t, reg, "layoffwatch_ingest_timeouts_total", "step", "check_revisions")
		retries, _ := gathered(t, reg, "layoffwatch_ingest_retries_total", "step", "check_revisions")
		logged := strings.Contains(logs.String(), `level=WARN msg="write failed, retrying" step=check_revisions`) &&
			strings.Contains(logs.String(), "no answer within 1s")
		return timeouts >= 1 && retries >= 1 && logged, fmt.Sprintf("timeouts %v, retries %v, logged %v", timeouts, retries, logged)
	})
	if msg := failing(opts.Health, "clickhouse"); msg == "" {
		t.Error("/readyz says ClickHouse is fine while it is frozen")
	} else {
		t.Logf("readiness while frozen: clickhouse: %s", msg)
	}

	if err := server.Thaw(); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse running again")
	testenv.WaitFor(t, "every report in ClickHouse", 120*time.Second, func() (bool, string) {
		n := count(t, ch, "SELECT count() FROM reports_latest")
		return n == uint64(len(msgs)), fmt.Sprintf("%d of %d", n, len(msgs))
	})
	testenv.WaitFor(t, "lag back to 0 and ready", 60*time.Second, func() (bool, string) {
		v, _ := gathered(t, reg, "layoffwatch_ingest_consumer_lag", "", "")
		return v == 0 && failing(opts.Health, "clickhouse") == "", fmt.Sprintf("lag %v, clickhouse %q", v, failing(opts.Health, "clickhouse"))
	})
	if err := stop(); err != nil {
		t.Fatalf("ingest stopped with %v", err)
	}

	// restarted with nothing new: the lag is there, at 0
	reg2 := prometheus.NewRegistry()
	ctx2, cancel2 := context.WithCancel(ctx)
	done2 := make(chan error, 1)
	opts.Health = nil
	go func() { done2 <- ingest.Run(ctx2, opts, testenv.Logger(t), reg2) }()
	testenv.WaitFor(t, "the lag after a restart", 30*time.Second, func() (bool, string) {
		v, n := gathered(t, reg2, "layoffwatch_ingest_consumer_lag", "", "")
		return n == 3 && v == 0, fmt.Sprintf("%d partitions, lag %v", n, v)
	})
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("restarted ingest stopped with %v", err)
	}
}

// TestStoppedWithErrorLogsError: ingest that cannot go on says so at ERROR.
func TestStoppedWithErrorLogsError(t *testing.T) {
	s, _ := newStack(t, 1)
	opts := s.opts
	opts.MetricsAddr = "256.0.0.1:1" // the metrics server cannot listen: ingest stops
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := ingest.Run(ctx, opts, log, prometheus.NewRegistry())
	if err == nil {
		t.Fatal("ingest ran with a metrics address it cannot listen on")
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="ingest stopped" err=`) {
		t.Errorf("no ERROR line for the stop; log:\n%s", logs.String())
	}
}
