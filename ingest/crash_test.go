package ingest_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// workload is a stream of reports with corrections, and what ClickHouse must
// hold once it has all been ingested.
type workload struct {
	msgs []kafka.Message
	want map[fp]report.Report // latest revision per firm and period
}

type fp struct {
	firm   string
	period report.Period
}

// newWorkload makes nFirms × nPeriods reports; about 2% get a correction
// (revision 2) later in the stream, and some of those are followed by a
// stale copy of revision 1, which must not win.
func newWorkload(t testing.TB, ids []string, nPeriods int, seed uint64) workload {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	w := workload{want: make(map[fp]report.Report, len(ids)*nPeriods)}
	start := report.NewPeriod(2024, 1)
	var corrections []report.Report
	for p := 0; p < nPeriods; p++ {
		for _, id := range ids {
			r := report.Report{FirmID: id, Period: start.Add(p), Headcount: uint32(200 + rng.IntN(800)), Vacancies: uint32(rng.IntN(30)), Revision: 1}
			w.msgs = append(w.msgs, reportMsg(t, r))
			w.want[fp{id, r.Period}] = r
			if rng.IntN(50) == 0 {
				c := r
				c.Revision, c.Headcount = 2, r.Headcount-uint32(1+rng.IntN(50))
				corrections = append(corrections, c)
			}
		}
		// corrections arrive a period later, interleaved with new reports
		for _, c := range corrections {
			w.msgs = append(w.msgs, reportMsg(t, c))
			w.want[fp{c.FirmID, c.Period}] = c
			if rng.IntN(3) == 0 {
				stale := c
				stale.Revision, stale.Headcount = 1, c.Headcount+1000
				w.msgs = append(w.msgs, reportMsg(t, stale))
			}
		}
		corrections = corrections[:0]
	}
	return w
}

// check asserts that reports_latest holds exactly the wanted rows.
func (w workload) check(t testing.TB, ch *chdb.Client) {
	t.Helper()
	ctx := context.Background()
	rows, err := testenv.SQL(t, ch.Options()).Query(ctx, "SELECT firm_id, period, revision, headcount, count() FROM reports_latest GROUP BY firm_id, period, revision, headcount")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := make(map[fp]bool, len(w.want))
	bad := 0
	for rows.Next() {
		var (
			id        string
			period    time.Time
			rev, head uint32
			n         uint64
		)
		if err := rows.Scan(&id, &period, &rev, &head, &n); err != nil {
			t.Fatal(err)
		}
		k := fp{id, report.PeriodOf(period)}
		want, ok := w.want[k]
		switch {
		case !ok:
			t.Errorf("unexpected report %s %s", id, k.period)
		case seen[k] || n != 1:
			t.Errorf("report %s %s appears more than once", id, k.period)
		case rev != want.Revision || head != want.Headcount:
			t.Errorf("report %s %s has revision %d headcount %d, want revision %d headcount %d", id, k.period, rev, head, want.Revision, want.Headcount)
		}
		seen[k] = true
		if t.Failed() {
			bad++
			if bad > 20 {
				t.Fatal("too many errors")
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(w.want) {
		t.Errorf("ClickHouse has %d (firm, period) pairs, want %d: %d lost", len(seen), len(w.want), len(w.want)-len(seen))
	}
}

func registerFirms(t testing.TB, ch *chdb.Client, n int) []string {
	t.Helper()
	ids := make([]string, n)
	list := make([]firms.Firm, n)
	for i := range ids {
		county := []string{"620102", "620402", "620502", "621102"}[i%4]
		ids[i] = testenv.FirmID(county, i+1)
		list[i] = firms.Firm{ID: ids[i], Name: fmt.Sprintf("企业%d", i), Region: county, Industry: "C", BaselineHeadcount: 500}
	}
	if err := firms.NewStore(ch).Upsert(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	return ids
}

// produceSlowly sends msgs in chunks spread over about d, so that the
// consumer is killed while reports are still flowing.
func produceSlowly(t testing.TB, brokers []string, msgs []kafka.Message, d time.Duration) <-chan error {
	done := make(chan error, 1)
	const chunk = 4000
	pause := d / time.Duration(len(msgs)/chunk+1)
	go func() {
		w := newTestWriter(brokers)
		defer w.Close()
		for len(msgs) > 0 {
			n := min(len(msgs), chunk)
			if err := w.WriteMessages(context.Background(), msgs[:n]...); err != nil {
				done <- fmt.Errorf("produce: %w", err)
				return
			}
			msgs = msgs[n:]
			time.Sleep(pause)
		}
		done <- nil
	}()
	return done
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds cmd/layoffwatch once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "layoffwatch-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "layoffwatch")
		out, err := exec.Command("go", "build", "-o", binPath, "../cmd/layoffwatch").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// ingestProcess runs `layoffwatch ingest` as a child process.
type ingestProcess struct {
	cmd  *exec.Cmd
	done chan error
	log  string
}

func startIngestProcess(t testing.TB, bin string, opts ingest.Options, logPath string) *ingestProcess {
	t.Helper()
	args := []string{"--log-level=" + cmp.Or(os.Getenv("INGEST_TEST_LOG_LEVEL"), "info"), "ingest",
		"--kafka-brokers=" + strings.Join(opts.Kafka.Brokers, ","),
		"--clickhouse-addr=" + opts.ClickHouse.Addr,
		"--clickhouse-database=" + opts.ClickHouse.Database,
		"--batch-rows=" + fmt.Sprint(opts.BatchRows),
		"--batch-wait=" + opts.BatchWait.String(),
		"--session-timeout=" + opts.SessionTimeout.String(),
		"--group=" + opts.Group,
		"--metrics-addr=" + os.Getenv("INGEST_TEST_METRICS_ADDR"),
		"--clickhouse-compression=" + cmp.Or(opts.ClickHouse.Compression, "lz4"),
	}
	if os.Getenv("INGEST_TEST_METRICS_ADDR") != "" {
		args = append(args, "--pprof")
	}
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "LAYOFFWATCH_LOG_FORMAT=text")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ingestProcess{cmd: cmd, done: make(chan error, 1), log: logPath}
	go func() { p.done <- cmd.Wait(); _ = f.Close() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

func (p *ingestProcess) signal(t testing.TB, sig syscall.Signal) error {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("ingest did not exit within 60s of %v; log: %s", sig, tail(p.log))
		return nil
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// TestCrashKill9 kills the ingest process with SIGKILL at random moments
// while 200,000 reports flow, five times, restarting it each time; then
// every (firm, period) produced is in ClickHouse exactly once with its
// latest revision, and a final SIGTERM exits 0.
func TestCrashKill9(t *testing.T) {
	bin := binary(t)
	s, _ := newStack(t, 0)
	ids := registerFirms(t, s.ch, 10000)
	w := newWorkload(t, ids, 20, 42)
	if n := len(w.want); n != 200000 {
		t.Fatalf("workload has %d reports, want 200000", n)
	}
	opts := s.opts
	opts.BatchRows, opts.BatchWait, opts.SessionTimeout = 5000, 300*time.Millisecond, 3*time.Second
	logPath := filepath.Join(t.TempDir(), "ingest.log")
	produced := produceSlowly(t, s.kafka.Addrs(), w.msgs, 15*time.Second)
	rng := rand.New(rand.NewPCG(7, 7))
	for round := 1; round <= 5; round++ {
		p := startIngestProcess(t, bin, opts, logPath)
		time.Sleep(time.Duration(1500+rng.IntN(2500)) * time.Millisecond)
		n := count(t, s.ch, "SELECT count() FROM reports")
		_ = p.signal(t, syscall.SIGKILL)
		t.Logf("round %d: killed with %d rows in reports", round, n)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	p := startIngestProcess(t, bin, opts, logPath)
	testenv.WaitFor(t, "every report in ClickHouse", 120*time.Second, func() (bool, string) {
		n := count(t, s.ch, "SELECT count() FROM reports_latest")
		return n == uint64(len(w.want)), fmt.Sprintf("%d of %d", n, len(w.want))
	})
	if err := p.signal(t, syscall.SIGTERM); err != nil {
		t.Fatalf("ingest exited with %v after SIGTERM; log: %s", err, tail(p.log))
	}
	w.check(t, s.ch)
	raw := count(t, s.ch, "SELECT count() FROM reports")
	t.Logf("reports holds %d raw rows for %d messages (repeats from redelivery collapse in reports_latest)", raw, len(w.msgs))
}

// TestClickHouseRestart stops a ClickHouse server for 20 s while reports
// flow and starts it again: ingest retries, commits nothing meanwhile, and
// resumes by itself; nothing is lost or counted twice.
func TestClickHouseRestart(t *testing.T) {
	ctx := context.Background()
	server, ch := testenv.OwnClickHouse(t, "restart_test")
	chOpts := ch.Options()
	ids := registerFirms(t, ch, 5000)
	w := newWorkload(t, ids, 12, 3)
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	s := &stack{kafka: k, ch: ch}
	opts, err := newStackOptions(k, chOpts)
	if err != nil {
		t.Fatal(err)
	}
	stop := startIngest(t, opts)
	produced := produceSlowly(t, k.Addrs(), w.msgs, 10*time.Second)

	time.Sleep(2 * time.Second)
	if err := server.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse killed; reports keep flowing into kafka")
	time.Sleep(20 * time.Second)
	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse started again")
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "every report in ClickHouse", 120*time.Second, func() (bool, string) {
		n := count(t, s.ch, "SELECT count() FROM reports_latest")
		return n == uint64(len(w.want)), fmt.Sprintf("%d of %d", n, len(w.want))
	})
	if err := stop(); err != nil {
		t.Fatalf("ingest stopped with %v", err)
	}
	w.check(t, s.ch)
}
