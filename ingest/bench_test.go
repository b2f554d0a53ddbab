package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// BenchmarkIngest pushes 1,000,000 reports through the embedded Kafka
// broker → `layoffwatch ingest` (a child process, so that its peak RSS is
// its own) → the local ClickHouse, and in the same run inserts the same rows
// with a raw clickhouse-go batch insert of the same batch size (the floor).
// Run it with `make bench-ingest`. Target: the pipeline at ≥ 50% of the raw
// rate, with peak RSS < 500 MiB.
func BenchmarkIngest(b *testing.B) {
	const nFirms, nPeriods = 50000, 20
	batchRows := 50000
	if n, err := strconv.Atoi(os.Getenv("BENCH_BATCH")); err == nil {
		batchRows = n
	}
	bin := binary(b)
	k := testenv.Kafka(b, localstack.KafkaOptions{Partitions: 3})
	setup := testenv.ClickHouse(b)
	ids := registerFirms(b, setup, nFirms)
	// Reports are generated from their index rather than held: a heap of a
	// million reports in this process (where kfake serves the fetches) would
	// slow every garbage collection here and skew the figures.
	const total = nFirms * nPeriods
	start := report.NewPeriod(2024, 1)
	gen := func(i int) report.Report {
		p, f := i/nFirms, i%nFirms
		return report.Report{FirmID: ids[f], Period: start.Add(p), Headcount: uint32(100 + (f*7+p)%900), Vacancies: uint32(f % 17), Hires: 3,
			Separations: report.Separations{Resignation: 2, Retirement: 1}, Revision: 1,
			ReportedAt: start.Add(p + 1).Start().Add(48 * time.Hour)}
	}
	t0 := time.Now()
	var size int
	w := newTestWriter(k.Addrs())
	for i := 0; i < total; i += 5000 {
		msgs := make([]kafka.Message, 0, 5000)
		for j := i; j < min(i+5000, total); j++ {
			m := reportMsg(b, gen(j))
			size += len(m.Key) + len(m.Value)
			msgs = append(msgs, m)
		}
		if err := w.WriteMessages(context.Background(), msgs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("produced %d messages (%.1f MiB) into the embedded broker in %s", total, float64(size)/(1<<20), time.Since(t0).Round(time.Millisecond))
	runtime.GC()

	var pipeRate, rawRate, rssMiB, wall, cpu float64
	iter := 0
	for b.Loop() {
		iter++
		// the pipeline, into a fresh database with a fresh consumer group
		ch := testenv.ClickHouse(b)
		waitMerges(b, ch)
		if err := firms.NewStore(ch).Upsert(context.Background(), mustFirms(b, setup)); err != nil {
			b.Fatal(err)
		}
		opts, err := newStackOptions(k, chdb.Options{Addr: testenv.ClickHouseAddr(b), Database: ch.Database(), User: "default", DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		opts.Group = fmt.Sprintf("bench-%d-%d", os.Getpid(), iter)
		opts.BatchRows, opts.BatchWait = batchRows, time.Second
		opts.ClickHouse.Compression = os.Getenv("BENCH_COMPRESSION")
		logPath := filepath.Join(b.TempDir(), "ingest.log")
		started := time.Now()
		p := startIngestProcess(b, bin, opts, logPath)
		var first time.Time
		var n0 uint64
		testenv.WaitFor(b, "1,000,000 reports in ClickHouse", 10*time.Minute, func() (bool, string) {
			n := count(b, ch, "SELECT count() FROM reports")
			if first.IsZero() && n > 0 {
				first, n0 = time.Now(), n
			}
			return n >= total, fmt.Sprintf("%d rows", n)
		})
		done := time.Now()
		// VmHWM is the process's own peak RSS; rusage's ru_maxrss is not, as
		// it keeps the high-water mark of the test process it was forked from.
		rssMiB = peakRSSMiB(b, p.cmd.Process.Pid)
		if err := p.signal(b, syscall.SIGTERM); err != nil {
			b.Fatalf("ingest exited with %v: %s", err, tail(logPath))
		}
		cpu = (p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()).Seconds()
		// the first batch landed at `first`; the rate counts the rows after it
		pipeRate = float64(total-n0) / done.Sub(first).Seconds()
		wall = done.Sub(started).Seconds()

		waitMerges(b, ch)

		// the floor: the same rows, raw batch inserts of the same size
		rawOpts := testenv.ClickHouseOptions(b)
		rawOpts.Compression = opts.ClickHouse.Compression
		raw, err := chdb.Open(context.Background(), rawOpts, testenv.Logger(b), true)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := raw.Migrate(context.Background()); err != nil {
			b.Fatal(err)
		}
		var rows chdb.ReportRows
		now := time.Now()
		var insertTime time.Duration
		for i := 0; i < total; i += batchRows {
			rows.Reset()
			for j := i; j < min(i+batchRows, total); j++ {
				rows.Add(gen(j), now, 0, int64(j))
			}
			t := time.Now()
			if err := raw.InsertReports(context.Background(), &rows); err != nil {
				b.Fatal(err)
			}
			insertTime += time.Since(t)
		}
		rawRate = float64(total) / insertTime.Seconds()
	}
	b.ReportMetric(pipeRate, "pipeline_reports/s")
	b.ReportMetric(rawRate, "raw_insert_rows/s")
	b.ReportMetric(pipeRate/rawRate, "ratio")
	b.ReportMetric(rssMiB, "ingest_peak_rss_MiB")
	fmt.Printf("\nbench-ingest: %d reports, batch %d rows, 3 partitions\n", total, batchRows)
	fmt.Printf("  pipeline (kafka → ingest → clickhouse): %10.0f reports/s  (first to last insert; %.1f s wall incl. start-up)\n", pipeRate, wall)
	fmt.Printf("  raw clickhouse-go batch insert:         %10.0f rows/s\n", rawRate)
	fmt.Printf("  ratio pipeline/raw:                     %10.2f   (target ≥ 0.50)\n", pipeRate/rawRate)
	fmt.Printf("  ingest CPU time:                        %10.1f s   (%.2f µs per report)\n", cpu, cpu*1e6/float64(total))
	fmt.Printf("  ingest peak RSS:                        %10.0f MiB (target < 500)\n\n", rssMiB)
}

// waitMerges waits until the server runs no background merge, so that one
// phase's merges do not slow the next phase down.
func waitMerges(b testing.TB, ch *chdb.Client) {
	b.Helper()
	testenv.WaitFor(b, "background merges to finish", 5*time.Minute, func() (bool, string) {
		n := count(b, ch, "SELECT count() FROM system.merges")
		return n == 0, fmt.Sprintf("%d merges", n)
	})
}

func peakRSSMiB(b testing.TB, pid int) float64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(n) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc status")
	return 0
}

func mustFirms(b testing.TB, ch *chdb.Client) []firms.Firm {
	b.Helper()
	list, err := firms.NewStore(ch).All(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return list
}
