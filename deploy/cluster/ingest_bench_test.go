package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/ingestbench"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// BenchmarkScaleIngest is bench-scale's ingest figure: a slice of the
// national load — one simulated province of BENCH_INGEST_FIRMS firms
// (100,000 by default) × 24 months, about 2.3 M reports — through the
// embedded Kafka broker (6 partitions) → one `layoffwatch ingest` (a child
// process) → the 2-shard cluster through reports_all, against the floors of
// internal/ingestbench measured in the same run on the same topic, rows and
// batch size into a database of their own on the same cluster. (A slice,
// not the 24 M reports: the broker holds the topic in this process's
// memory, and the whole would take about ten times as long.) Run by
// `make bench-scale`.
func BenchmarkScaleIngest(b *testing.B) {
	nFirms := envInt(b, "BENCH_INGEST_FIRMS", 100_000)
	const months, batchRows, partitions = 24, 50_000, 6
	ctx := context.Background()
	bin := binary(b)
	c := startBenchCluster(b, envInt(b, "BENCH_SCALE_REPLICAS", 1))
	cl := openCluster(b, c)
	if _, err := cl.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	floorOpts := cl.Options()
	floorOpts.Database = "floors"
	fl, err := chdb.Open(ctx, floorOpts, testenv.Logger(b), true)
	if err != nil {
		b.Fatal(err)
	}
	defer fl.Close()
	if _, err := fl.Migrate(ctx); err != nil {
		b.Fatal(err)
	}

	end := report.PeriodOf(time.Now().In(report.Shanghai()))
	opts := simulate.DefaultOptions()
	opts.Seed, opts.Firms, opts.Months, opts.Start = 7, nFirms, months, end.Add(1-months)
	sim, err := simulate.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := firms.NewStore(cl).Upsert(ctx, sim.Firms()); err != nil {
		b.Fatal(err)
	}
	for _, a := range c.Addrs() {
		syncReplica(b, a, "firms")
	}
	reports := onePerFirmMonth(sim)
	sim = nil
	total := len(reports)

	k := testenv.Kafka(b, localstack.KafkaOptions{Partitions: partitions})
	kOpts := kafkautil.Options{Brokers: k.Addrs(), Partitions: partitions, ReplicationFactor: 1}
	if err := kafkautil.EnsureTopics(ctx, kOpts, "reports", "reports.dlq"); err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	w := kafkautil.NewWriter(kOpts, "reports", testenv.Logger(b))
	var size int
	for i := 0; i < total; i += 10_000 {
		msgs := make([]kafka.Message, 0, 10_000)
		for _, r := range reports[i:min(i+10_000, total)] {
			m := kafka.Message{Key: []byte(r.FirmID), Value: report.AppendEncode(nil, r)}
			size += len(m.Key) + len(m.Value)
			msgs = append(msgs, m)
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.Logf("produced %d messages (%.0f MiB) in %s", total, float64(size)/(1<<20), time.Since(t0).Round(time.Millisecond))
	runtime.GC()

	settle := func(context.Context) error {
		for _, a := range c.Addrs() {
			testenv.WaitFor(b, "background merges to finish on "+a, 10*time.Minute, func() (bool, string) {
				var n uint64
				if err := open(b, a).QueryRow(ctx, "SELECT count() FROM system.merges").Scan(&n); err != nil {
					return false, err.Error()
				}
				return n == 0, fmt.Sprintf("%d merges", n)
			})
		}
		return nil
	}
	_ = settle(ctx)
	load0 := uptime()

	// the pipeline
	logPath := filepath.Join(b.TempDir(), "ingest.log")
	out, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--log-level=warn", "ingest", //nolint:gosec // the binary the benchmark built
		"--kafka-brokers="+strings.Join(k.Addrs(), ","), "--kafka-partitions=6",
		"--clickhouse-addr="+strings.Join(c.Addrs(), ","), "--clickhouse-database=layoffwatch", "--clickhouse-cluster=lw",
		fmt.Sprintf("--batch-rows=%d", batchRows), "--batch-wait=1s", "--group=bench-scale", "--metrics-addr=")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = out.Close(); close(done) }()
	node := open(b, c.Addrs()[0])
	var first time.Time
	var n0 uint64
	testenv.WaitFor(b, "every report in reports_all", 30*time.Minute, func() (bool, string) {
		select {
		case <-done:
			tail, _ := os.ReadFile(logPath)
			b.Fatalf("ingest exited: %s", tail)
		default:
		}
		var n uint64
		if err := node.QueryRow(ctx, "SELECT count() FROM layoffwatch.reports_all").Scan(&n); err != nil {
			return false, err.Error()
		}
		if first.IsZero() && n > 0 {
			first, n0 = time.Now(), n
		}
		return n >= uint64(total), fmt.Sprintf("%d rows", n)
	})
	landed := time.Now()
	rss := vmHWM(b, cmd.Process.Pid)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		<-done
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	pipe := float64(uint64(total)-n0) / landed.Sub(first).Seconds()

	// the floors, on the same topic and rows, into the database "floors"
	floors, err := ingestbench.Measure(ctx, ingestbench.Options{
		Kafka: kOpts, Topic: "reports", Group: fmt.Sprintf("bench-scale-floor-%d", os.Getpid()),
		ClickHouse: floorOpts, Rows: total, BatchRows: batchRows, Report: func(i int) report.Report { return reports[i] },
		Log: testenv.Logger(b), Settle: settle,
	})
	if err != nil {
		b.Fatal(err)
	}
	raw, cons, comb := floors.Raw.PerSecond(), floors.Consume.PerSecond(), floors.Combined.PerSecond()
	fmt.Printf("\nbench-scale, ingest: %d reports (%d firms × %d months, %.0f MiB of messages), 6 partitions, batch %d rows, into 2 shards through reports_all (%s before, %s after)\n",
		total, nFirms, months, float64(size)/(1<<20), batchRows, load0, uptime())
	fmt.Printf("  floor (a) raw clickhouse-go batch insert:      %10.0f rows/s\n", raw)
	fmt.Printf("  floor (b) kafka-go consume only:               %10.0f msgs/s\n", cons)
	fmt.Printf("  floor (c) consume + raw insert, one process:   %10.0f rows/s\n", comb)
	fmt.Printf("  pipeline (kafka → ingest → reports_all):       %10.0f reports/s (first to last rows landing; %.1f s wall incl. start-up)\n", pipe, landed.Sub(started).Seconds())
	fmt.Printf("    against (a) raw insert:                      %10.2f   (target ≥ 0.50)\n", pipe/raw)
	fmt.Printf("    against (b) consume:                         %10.2f\n", pipe/cons)
	fmt.Printf("    against (c) combined:                        %10.2f   (target ≥ 0.80)\n", pipe/comb)
	fmt.Printf("  ingest CPU %.1f s (%.2f µs per report), peak RSS (VmHWM) %.0f MiB\n\n", cpu, cpu*1e6/float64(total), rss)
	b.ReportMetric(pipe, "pipeline_reports/s")
	b.ReportMetric(pipe/raw, "ratio_raw")
	b.ReportMetric(pipe/comb, "ratio_combined")
	for b.Loop() {
		// the figures above are one run's (-benchtime=1x)
	}
}

// onePerFirmMonth is the simulation's reports without its corrections
// (about 1%), so that the pipeline is done when reports_all holds every
// message (ingest keeps only the latest revision of a firm-month within a
// batch).
func onePerFirmMonth(sim *simulate.Simulation) []report.Report {
	var out []report.Report
	seen := map[string]bool{}
	for r := range sim.Reports {
		key := r.FirmID + r.Period.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, r)
	}
	return out
}
