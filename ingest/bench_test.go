package ingest_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
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
	"github.com/layoffwatch/layoffwatch/internal/ingestbench"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/procstat"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// BenchmarkIngest pushes 1,000,000 reports through the embedded Kafka
// broker → `layoffwatch ingest` (a child process, so that its peak RSS is
// its own) → the local ClickHouse, and in the same run measures the floors
// of internal/ingestbench on the same topic and rows with the same batch
// size: raw insert alone, consume alone, both at once. Run it with
// `make bench-ingest`. Targets: the pipeline at ≥ 0.5 of the raw insert
// rate and ≥ 0.8 of the combined floor, with peak RSS < 500 MiB.
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

	var pipeRate, rssMiB, wall, cpu float64
	var floors ingestbench.Floors
	var cpuFirst, pipeCPU cpuSample
	var pipeRows0 uint64
	var steps string
	var marks []cpuSample // before each floor, and after the last
	load0 := loadAvg()
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
		b.Setenv("INGEST_TEST_LOG_LEVEL", "debug") // the flush steps' times
		p := startIngestProcess(b, bin, opts, logPath)
		profiled := profileIngest(b, iter)
		var first time.Time
		var n0 uint64
		testenv.WaitFor(b, "1,000,000 reports in ClickHouse", 10*time.Minute, func() (bool, string) {
			n := count(b, ch, "SELECT count() FROM reports")
			if first.IsZero() && n > 0 {
				first, n0 = time.Now(), n
				pipeRows0 = n
				cpuFirst = sampleCPU(p.cmd.Process.Pid)
			}
			return n >= total, fmt.Sprintf("%d rows", n)
		})
		done := time.Now()
		pipeCPU = sampleCPU(p.cmd.Process.Pid).since(cpuFirst, done.Sub(first))
		// VmHWM is the process's own peak RSS; rusage's ru_maxrss is not, as
		// it keeps the high-water mark of the test process it was forked from.
		rssMiB = peakRSSMiB(b, p.cmd.Process.Pid)
		<-profiled
		if err := p.signal(b, syscall.SIGTERM); err != nil {
			b.Fatalf("ingest exited with %v: %s", err, tail(logPath))
		}
		cpu = (p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()).Seconds()
		steps = batchSteps(b, logPath)
		// the first batch landed at `first`; the rate counts the rows after it
		pipeRate = float64(total-n0) / done.Sub(first).Seconds()
		wall = done.Sub(started).Seconds()

		waitMerges(b, ch)

		// the floors: the same rows, the same reader and batch size, into a
		// database of their own
		fch := testenv.ClickHouse(b)
		fopts := fch.Options()
		fopts.Compression = opts.ClickHouse.Compression
		floors, err = ingestbench.Measure(context.Background(), ingestbench.Options{
			Kafka: opts.Kafka, Topic: opts.Topic, Group: fmt.Sprintf("bench-floor-%d-%d", os.Getpid(), iter),
			ClickHouse: fopts, Rows: total, BatchRows: batchRows, Report: gen, Log: testenv.Logger(b),
			Settle: func(context.Context) error {
				waitMerges(b, fch)
				marks = append(marks, sampleCPU(0))
				return nil
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		marks = append(marks, sampleCPU(0))
		if n := count(b, fch, "SELECT count() FROM reports"); n < total {
			b.Fatalf("the floors inserted %d rows, want at least %d", n, total)
		}
	}
	raw, cons, comb := floors.Raw.PerSecond(), floors.Consume.PerSecond(), floors.Combined.PerSecond()
	b.ReportMetric(pipeRate, "pipeline_reports/s")
	b.ReportMetric(raw, "raw_insert_rows/s")
	b.ReportMetric(cons, "consume_msgs/s")
	b.ReportMetric(comb, "combined_rows/s")
	b.ReportMetric(pipeRate/raw, "ratio_raw")
	b.ReportMetric(pipeRate/comb, "ratio_combined")
	b.ReportMetric(rssMiB, "ingest_peak_rss_MiB")
	fmt.Printf("\nbench-ingest: %d reports, batch %d rows, 3 partitions; load average before: %s, after: %s\n", total, batchRows, load0, loadAvg())
	fmt.Printf("  floor (a) raw clickhouse-go batch insert:      %10.0f rows/s\n", raw)
	fmt.Printf("  floor (b) kafka-go consume only:               %10.0f msgs/s\n", cons)
	fmt.Printf("  floor (c) consume + raw insert, one process:   %10.0f rows/s\n", comb)
	fmt.Printf("  pipeline (kafka → ingest → clickhouse):        %10.0f reports/s  (first to last insert; %.1f s wall incl. start-up)\n", pipeRate, wall)
	fmt.Printf("    against (a) raw insert:                      %10.2f   (target ≥ 0.50)\n", pipeRate/raw)
	fmt.Printf("    against (b) consume:                         %10.2f\n", pipeRate/cons)
	fmt.Printf("    against (c) combined:                        %10.2f   (target ≥ 0.80)\n", pipeRate/comb)
	fmt.Printf("  ingest CPU time:                               %10.1f s   (%.2f µs per report)\n", cpu, cpu*1e6/float64(total))
	fmt.Printf("  ingest peak RSS (VmHWM):                       %10.0f MiB (target < 500)\n", rssMiB)
	fmt.Printf("  ingest, mean per batch:                        %s\n", steps)
	fmt.Printf("  CPU used, in cores (of 2), while each ran:     clickhouse server | bench process (broker, floors) | ingest | other processes\n")
	fmt.Printf("    pipeline, first to last insert:              %s\n", pipeCPU.cores(float64(total-pipeRows0)))
	for i, name := range []string{"floor (a), incl. building rows", "floor (b), incl. group join", "floor (c), incl. group join"} {
		if i+1 < len(marks) {
			fmt.Printf("    %-44s %s\n", name+":", marks[i+1].since(marks[i], marks[i+1].at.Sub(marks[i].at)).cores(total))
		}
	}
	fmt.Println()
}

// batchSteps reads the ingest log's "batch committed" lines (debug level)
// and returns the mean time per batch of each step: collect (first message
// to handed over), queued (handed over to flush started: flush is the
// slower stage when this is not near 0), and the flush's steps.
func batchSteps(b *testing.B, logPath string) string {
	data, err := os.ReadFile(logPath)
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"collect", "queued", "check_revisions", "insert_revisions", "insert_reports", "flush"}
	sum := map[string]time.Duration{}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "batch committed") {
			continue
		}
		n++
		for _, f := range strings.Fields(line) {
			k, v, ok := strings.Cut(f, "=")
			if d, err := time.ParseDuration(v); ok && err == nil {
				sum[k] += d
			}
		}
	}
	if n == 0 {
		return "(no batch in the log)"
	}
	var out []string
	for _, k := range names {
		out = append(out, fmt.Sprintf("%s %s", k, (sum[k]/time.Duration(n)).Round(100*time.Microsecond)))
	}
	return fmt.Sprintf("%s (%d batches)", strings.Join(out, ", "), n)
}

// cpuSample is the CPU time so far of the test ClickHouse server, of this
// process (the embedded broker and the floors) and of the ingest child.
type cpuSample struct {
	at                   time.Time
	server, self, ingest float64       // seconds
	machine              float64       // seconds busy, all processes
	wall                 time.Duration // since: the interval
}

func sampleCPU(ingestPID int) cpuSample {
	s := cpuSample{at: time.Now(), self: procCPU(os.Getpid()), machine: machineBusy()}
	if pid := childNamed("clickhouse"); pid > 0 {
		s.server = procCPU(pid)
	}
	if ingestPID > 0 {
		s.ingest = procCPU(ingestPID)
	}
	return s
}

// since is the CPU used from prev to s, over wall.
func (s cpuSample) since(prev cpuSample, wall time.Duration) cpuSample {
	return cpuSample{server: s.server - prev.server, self: s.self - prev.self, ingest: s.ingest - prev.ingest,
		machine: s.machine - prev.machine, wall: wall}
}

// cores is the sample as cores used, and the CPU time of ours (server,
// bench process, ingest) per row of rows.
func (s cpuSample) cores(rows float64) string {
	w := s.wall.Seconds()
	ours := s.server + s.self + s.ingest
	return fmt.Sprintf("%4.2f | %4.2f | %4.2f | %4.2f  (over %.1f s; %.2f µs CPU of ours per row)",
		s.server/w, s.self/w, s.ingest/w, max(s.machine-ours, 0)/w, w, ours*1e6/rows)
}

// procCPU is the user+system CPU time of a process, all threads, in
// seconds (0 when unreadable).
func procCPU(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// fields after the command, which is in parentheses and may hold spaces
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

// machineBusy is the CPU time all processes have used, in seconds
// (/proc/stat: user, nice, system, irq, softirq, steal).
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	busy := 0.0
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		if i < len(f) {
			v, _ := strconv.ParseFloat(f[i], 64)
			busy += v
		}
	}
	return busy / 100 // USER_HZ
}

// childNamed is the pid of a child process of this one whose command name
// contains name (the test ClickHouse server), or 0.
func childNamed(name string) int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		st := string(b)
		open, end := strings.IndexByte(st, '('), strings.LastIndexByte(st, ')')
		if open < 0 || end < open {
			continue
		}
		f := strings.Fields(st[end+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) && strings.Contains(st[open+1:end], name) {
			return pid
		}
	}
	return 0
}

// profileIngest saves a CPU profile of the ingest process to
// $BENCH_CPUPROFILE (with "-<iteration>" before the extension) when set: it
// needs INGEST_TEST_METRICS_ADDR (the child then serves /debug/pprof/) and
// covers BENCH_CPUPROFILE_SECONDS (default 20) from the child's start. The
// returned channel closes when the profile is written.
func profileIngest(b *testing.B, iter int) <-chan struct{} {
	done := make(chan struct{})
	path, addr := os.Getenv("BENCH_CPUPROFILE"), os.Getenv("INGEST_TEST_METRICS_ADDR")
	if path == "" || addr == "" {
		close(done)
		return done
	}
	secs := cmp.Or(os.Getenv("BENCH_CPUPROFILE_SECONDS"), "20")
	ext := filepath.Ext(path)
	path = fmt.Sprintf("%s-%d%s", strings.TrimSuffix(path, ext), iter, ext)
	go func() {
		defer close(done)
		var resp *http.Response
		var err error
		for range 50 { // until the metrics server listens
			if resp, err = http.Get("http://" + addr + "/debug/pprof/profile?seconds=" + secs); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			b.Logf("cpu profile: %v", err)
			return
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err == nil {
			err = os.WriteFile(path, data, 0o600)
		}
		b.Logf("cpu profile of ingest: %s (%d bytes, err %v)", path, len(data), err)
	}()
	return done
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
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
	v, err := procstat.PeakRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

func mustFirms(b testing.TB, ch *chdb.Client) []firms.Firm {
	b.Helper()
	list, err := firms.NewStore(ch).All(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return list
}
