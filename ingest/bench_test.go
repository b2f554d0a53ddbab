package ingest_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	const nFirms, nPeriods, batchRows = 50000, 20, 50000
	bin := binary(b)
	k := testenv.Kafka(b, localstack.KafkaOptions{Partitions: 3})
	setup := testenv.ClickHouse(b)
	ids := registerFirms(b, setup, nFirms)
	reports := make([]report.Report, 0, nFirms*nPeriods)
	msgs := make([]kafka.Message, 0, nFirms*nPeriods)
	start := report.NewPeriod(2024, 1)
	for p := 0; p < nPeriods; p++ {
		for i, id := range ids {
			r := report.Report{FirmID: id, Period: start.Add(p), Headcount: uint32(100 + (i*7+p)%900), Vacancies: uint32(i % 17), Hires: 3,
				Separations: report.Separations{Resignation: 2, Retirement: 1}, Revision: 1,
				ReportedAt: start.Add(p + 1).Start().Add(48 * time.Hour)}
			reports = append(reports, r)
			msgs = append(msgs, reportMsg(b, r))
		}
	}
	t0 := time.Now()
	produce(b, k.Addrs(), "reports", msgs...)
	b.Logf("produced %d messages (%.1f MiB) into the embedded broker in %s", len(msgs), float64(totalBytes(msgs))/(1<<20), time.Since(t0).Round(time.Millisecond))
	msgs = nil

	var pipeRate, rawRate, rssMiB, wall, cpu float64
	iter := 0
	for b.Loop() {
		iter++
		// the pipeline, into a fresh database with a fresh consumer group
		ch := testenv.ClickHouse(b)
		if err := ch.UpsertFirms(context.Background(), mustFirms(b, setup)); err != nil {
			b.Fatal(err)
		}
		opts, err := newStackOptions(k, chdb.Options{Addr: testenv.ClickHouseAddr(b), Database: ch.Database(), User: "default", DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		opts.Group = fmt.Sprintf("bench-%d-%d", os.Getpid(), iter)
		opts.BatchRows, opts.BatchWait = batchRows, time.Second
		logPath := filepath.Join(b.TempDir(), "ingest.log")
		started := time.Now()
		p := startIngestProcess(b, bin, opts, logPath)
		var first time.Time
		var n0 uint64
		waitFor(b, "1,000,000 reports in ClickHouse", 10*time.Minute, func() (bool, string) {
			n := count(b, ch, "SELECT count() FROM reports")
			if first.IsZero() && n > 0 {
				first, n0 = time.Now(), n
			}
			return n >= uint64(len(reports)), fmt.Sprintf("%d rows", n)
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
		pipeRate = float64(uint64(len(reports))-n0) / done.Sub(first).Seconds()
		wall = done.Sub(started).Seconds()

		// the floor: the same rows, raw batch inserts of the same size
		raw := testenv.ClickHouse(b)
		var rows chdb.ReportRows
		now := time.Now()
		var insertTime time.Duration
		for i := 0; i < len(reports); i += batchRows {
			rows.Reset()
			for j, r := range reports[i:min(i+batchRows, len(reports))] {
				rows.Add(r, now, 0, int64(i+j))
			}
			t := time.Now()
			if err := raw.InsertReports(context.Background(), &rows); err != nil {
				b.Fatal(err)
			}
			insertTime += time.Since(t)
		}
		rawRate = float64(len(reports)) / insertTime.Seconds()
	}
	b.ReportMetric(pipeRate, "pipeline_reports/s")
	b.ReportMetric(rawRate, "raw_insert_rows/s")
	b.ReportMetric(pipeRate/rawRate, "ratio")
	b.ReportMetric(rssMiB, "ingest_peak_rss_MiB")
	fmt.Printf("\nbench-ingest: %d reports, batch %d rows, 3 partitions\n", len(reports), batchRows)
	fmt.Printf("  pipeline (kafka → ingest → clickhouse): %10.0f reports/s  (first to last insert; %.1f s wall incl. start-up)\n", pipeRate, wall)
	fmt.Printf("  raw clickhouse-go batch insert:         %10.0f rows/s\n", rawRate)
	fmt.Printf("  ratio pipeline/raw:                     %10.2f   (target ≥ 0.50)\n", pipeRate/rawRate)
	fmt.Printf("  ingest CPU time:                        %10.1f s   (%.2f µs per report)\n", cpu, cpu*1e6/float64(len(reports)))
	fmt.Printf("  ingest peak RSS:                        %10.0f MiB (target < 500)\n\n", rssMiB)
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

func totalBytes(msgs []kafka.Message) (n int) {
	for _, m := range msgs {
		n += len(m.Value) + len(m.Key)
	}
	return n
}

func mustFirms(b testing.TB, ch *chdb.Client) []firms.Firm {
	b.Helper()
	list, err := ch.Firms(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return list
}
