package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/procstat"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// scaleProvinces are the provinces of bench-scale, each simulated with
// Gansu's geography relabelled onto its codes (simulate.Options.Province):
// every province has a dominant capital prefecture, as Lanzhou is in Gansu.
var scaleProvinces = []string{"620000", "440000", "510000", "410000", "330000"}

// BenchmarkScale: 1,000,000 firms (BENCH_SCALE_FIRMS) over five provinces ×
// 24 months, simulated and loaded into a ClickHouse cluster of two shards
// (BENCH_SCALE_REPLICAS replicas each, 1 by default) through the
// Distributed table; then `layoffwatch detect` with 1, 2 and 4 replicas
// (static shards) and 4 leased in ZooKeeper, each a child process, each
// replica's peak RSS (VmHWM) and the time to its first full pass (start →
// the plan evaluated on its share). The fixed
// overhead is a detect process on an empty registry. Run it with
// `make bench-scale`; figures in docs/benchmarks.md and the sizing table of
// docs/operations.md.
func BenchmarkScale(b *testing.B) {
	nFirms := envInt(b, "BENCH_SCALE_FIRMS", 1_000_000)
	const months = 24
	replicas := envInt(b, "BENCH_SCALE_REPLICAS", 1)
	ctx := context.Background()
	bin := binary(b)
	c := startBenchCluster(b, replicas)
	cl := openCluster(b, c)
	if _, err := cl.Migrate(ctx); err != nil {
		b.Fatal(err)
	}

	// the data: the window ends this month, so that detect's window
	// (--window 24, ending at the current month) holds every month
	end := report.PeriodOf(time.Now().In(report.Shanghai()))
	start := end.Add(1 - months)
	load := loadScale(b, cl, nFirms, start, months)
	fmt.Printf("\nbench-scale: %d firms × %d months = %d reports over %d provinces, 2 shards × %d replicas (load: %s)\n",
		load.firms, months, load.reports, len(scaleProvinces), replicas, uptime())
	fmt.Printf("  load: simulate + insert %.1f s, of which insert (Distributed, insert_distributed_sync) %.1f s = %.0f reports/s; registry %.1f s\n",
		load.total.Seconds(), load.insert.Seconds(), float64(load.reports)/load.insert.Seconds(), load.registry.Seconds())

	k := testenv.Kafka(b, localstack.KafkaOptions{Partitions: 3})
	kOpts := kafkautil.Options{Brokers: k.Addrs(), Partitions: 3, ReplicationFactor: 1}

	// the fixed overhead: a detect process holding no firm (an empty
	// registry on a server of its own), after its first pass
	empty := testenv.ClickHouse(b)
	alertTopic(b, kOpts, "alerts-empty")
	over := runDetect(b, bin, 1, true, kOpts, "alerts-empty", []string{"--clickhouse-addr", empty.Options().Addr, "--clickhouse-database", empty.Options().Database}, 2*time.Minute)
	overhead := over[0].rssMiB
	fmt.Printf("  fixed overhead: detect on an empty registry, peak RSS %.0f MiB (first pass %.1f s)\n", overhead, over[0].pass.Seconds())

	var perFirm float64 // MiB per firm held, from the single replica
	var singleEvents float64
	// static shards (--shards N --shard i) hold their share from the
	// start; leased replicas (--zookeeper) are assigned over the members
	// they see, so the 4 leased ones are started together (see
	// docs/benchmarks.md on a rolling start)
	for _, run := range []struct {
		n      int
		leased bool
	}{{1, false}, {2, false}, {4, false}, {4, true}} {
		n := run.n
		clearDetectState(b, c)
		topic := fmt.Sprintf("alerts-%d-%t", n, run.leased)
		alertTopic(b, kOpts, topic)
		var nodes []string
		addrs := c.Addrs()
		for i := range addrs {
			nodes = append(nodes, addrs[i]+","+addrs[(i+1)%len(addrs)])
		}
		args := []string{"--clickhouse-database", "layoffwatch", "--clickhouse-cluster", "lw", "--clickhouse-addr", "{node}"}
		mode := "static shards"
		if run.leased {
			mode = "leases in ZooKeeper, started together"
			args = append(args, "--zookeeper", c.ZooKeeper.Addr(), "--zookeeper-root", "/bench/detect", "--lease-timeout", "10s", "--share-epoch", "30s")
		}
		ld := uptime()
		res := runDetect(b, bin, n, !run.leased, kOpts, topic, args, 30*time.Minute, nodes...)
		var held, maxPass, events float64
		for _, r := range res {
			held += r.firms
			events += r.events
			maxPass = max(maxPass, r.pass.Seconds())
		}
		if int(held) != load.firms && !run.leased {
			b.Errorf("%d replicas hold %.0f firms together, the registry has %d", n, held, load.firms)
		}
		if n == 1 {
			perFirm = (res[0].rssMiB - overhead) / res[0].firms
			singleEvents = events
		} else if events != singleEvents {
			fmt.Printf("  NOTE: %d replicas emitted %.0f events by their first pass, one replica %.0f\n", n, events, singleEvents)
		}
		fmt.Printf("  detect, %d replica(s), %s (%s before): full pass %.1f s (slowest replica), %.0f events together, %.0f firms held at the first passes\n", n, mode, ld, maxPass, events, held)
		for i, r := range res {
			target := overhead + 1.2*r.firms*perFirm
			verdict := "ok"
			if r.rssMiB > target {
				verdict = "OVER"
			}
			fmt.Printf("    replica %d/%d: %7.0f firms, %2.0f prefectures, peak RSS %5.0f MiB (target ≤ %.0f + 1.2 × share = %5.0f MiB: %s), first pass %5.1f s (evaluation %.1f s), %.0f events\n",
				i+1, n, r.firms, r.prefectures, r.rssMiB, overhead, target, verdict, r.pass.Seconds(), r.evalS, r.events)
			if !run.leased {
				b.ReportMetric(r.rssMiB, fmt.Sprintf("rss_MiB_%dr_%d", n, i+1))
			}
		}
		if !run.leased {
			b.ReportMetric(maxPass, fmt.Sprintf("pass_s_%dr", n))
		}
	}
	fmt.Printf("  per firm held (1 replica, 24 months): %.2f KiB; fixed overhead %.0f MiB\n\n", perFirm*1024, overhead)
	for b.Loop() {
		// the figures above are one run's (-benchtime=1x)
	}
}

type scaleLoad struct {
	firms, reports          int
	total, insert, registry time.Duration
}

// loadScale simulates nFirms firms spread evenly over scaleProvinces, one
// province at a time (so that only one province's simulation is in memory),
// and inserts the registry and the reports through the cluster.
func loadScale(b *testing.B, cl *chdb.Client, nFirms int, start report.Period, months int) scaleLoad {
	ctx := context.Background()
	var out scaleLoad
	t0 := time.Now()
	at := time.Now().Add(-time.Hour) // before any share epoch of the replicas
	var rows chdb.ReportRows
	flush := func() {
		t := time.Now()
		if err := cl.InsertReports(ctx, &rows); err != nil {
			b.Fatal(err)
		}
		out.insert += time.Since(t)
		rows.Reset()
	}
	for i, prov := range scaleProvinces {
		opts := simulate.DefaultOptions()
		opts.Seed, opts.Firms, opts.Months, opts.Province, opts.Start = int64(i+1), nFirms/len(scaleProvinces), months, prov, start
		sim, err := simulate.New(opts)
		if err != nil {
			b.Fatal(err)
		}
		list := sim.Firms()
		t := time.Now()
		for j := 0; j < len(list); j += 100_000 {
			if err := firms.NewStore(cl).Upsert(ctx, list[j:min(j+100_000, len(list))]); err != nil {
				b.Fatal(err)
			}
		}
		out.registry += time.Since(t)
		out.firms += len(list)
		for r := range sim.Reports {
			rows.Add(r, at, 0, int64(out.reports))
			out.reports++
			if rows.Len() == 100_000 {
				flush()
			}
		}
		flush()
	}
	out.total = time.Since(t0)
	return out
}

// detectRun is what one detect replica did until its first full pass.
type detectRun struct {
	firms, prefectures float64
	rssMiB             float64 // VmHWM after the first pass
	pass               time.Duration
	evalS, events      float64
}

// runDetect starts n `layoffwatch detect` processes (with static and n > 1
// dividing the prefectures statically, --shards n --shard i; else as args
// say), waits until each has evaluated once, reads
// each one's VmHWM and metrics, and stops them. "{node}" in args becomes
// nodes[i % len(nodes)].
func runDetect(b *testing.B, bin string, n int, static bool, k kafkautil.Options, topic string, args []string, timeout time.Duration, nodes ...string) []detectRun {
	b.Helper()
	type proc struct {
		cmd     *exec.Cmd
		metrics string
		done    chan struct{}
		log     string
	}
	var procs []*proc
	t0 := time.Now()
	for i := range n {
		port, err := localstack.FreePort()
		if err != nil {
			b.Fatal(err)
		}
		a := []string{"detect", "--replica-id", fmt.Sprintf("r%d", i+1), "--log-level", "warn",
			"--kafka-brokers", strings.Join(k.Brokers, ","), "--kafka-partitions", "3",
			"--plan", "../plans/default.yaml", "--topic", topic, "--poll", "1s", "--window", "24",
			"--metrics-addr", fmt.Sprintf("127.0.0.1:%d", port)}
		if static && n > 1 {
			// a share epoch longer than a pass at this scale: with the
			// default 5 s, replicas whose passes take longer wait minutes
			// for their epochs to meet (docs/benchmarks.md)
			a = append(a, "--shards", strconv.Itoa(n), "--shard", strconv.Itoa(i), "--share-epoch", "30s")
		}
		for _, x := range args {
			if x == "{node}" {
				x = nodes[i%len(nodes)]
			}
			a = append(a, x)
		}
		logPath := filepath.Join(b.TempDir(), fmt.Sprintf("detect-%d-%d.log", n, i+1))
		out, err := os.Create(logPath)
		if err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, a...) //nolint:gosec // the binary the benchmark built
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		p := &proc{cmd: cmd, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", port), done: make(chan struct{}), log: logPath}
		go func() { _ = cmd.Wait(); _ = out.Close(); close(p.done) }()
		procs = append(procs, p)
	}
	stop := func() {
		for _, p := range procs {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, p := range procs {
			select {
			case <-p.done:
			case <-time.After(30 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
	}
	defer stop()
	out := make([]detectRun, n)
	passed := make([]bool, n)
	for left := n; left > 0; {
		if time.Since(t0) > timeout {
			for _, p := range procs {
				tail, _ := os.ReadFile(p.log)
				if len(tail) > 3000 {
					tail = tail[len(tail)-3000:]
				}
				b.Logf("%s log ends:\n%s", p.log, tail)
			}
			b.Fatalf("%d of %d detect replicas evaluated within %s", n-left, n, timeout)
		}
		for i, p := range procs {
			select {
			case <-p.done:
				tail, _ := os.ReadFile(p.log)
				b.Fatalf("detect replica %d exited: %s", i+1, tail)
			default:
			}
			if passed[i] {
				continue
			}
			m, err := scrape(p.metrics)
			if err != nil || m["layoffwatch_detect_passes_total"] < 1 {
				continue
			}
			passed[i] = true
			left--
			out[i] = detectRun{firms: m["layoffwatch_detect_firms_evaluated"], prefectures: m[`layoffwatch_detect_units_held{kind="prefecture"}`],
				pass: time.Since(t0), evalS: m["layoffwatch_detect_evaluation_seconds_sum"], rssMiB: vmHWM(b, p.cmd.Process.Pid)}
		}
		time.Sleep(200 * time.Millisecond)
	}
	// the first pass's events are counted once emitted, after the
	// evaluation: wait until the count stops growing (5 s alike, at most
	// 3 minutes), then read the peak after every replica's first pass
	events := func() []float64 {
		out := make([]float64, n)
		for i, p := range procs {
			m, err := scrape(p.metrics)
			if err != nil {
				b.Fatal(err)
			}
			for key, v := range m {
				if strings.HasPrefix(key, "layoffwatch_detect_events_total") {
					out[i] += v
				}
			}
		}
		return out
	}
	prev, same := events(), 0
	for deadline := time.Now().Add(3 * time.Minute); same < 5 && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		cur := events()
		if slices.Equal(cur, prev) {
			same++
		} else {
			same = 0
		}
		prev = cur
	}
	for i, p := range procs {
		out[i].rssMiB = max(out[i].rssMiB, vmHWM(b, p.cmd.Process.Pid))
		out[i].events = prev[i]
	}
	return out
}

// alertTopic creates an alerts topic with the broker's default settings:
// the first pass over a million firms emits tens of thousands of events,
// which the detector's writer must split into batches a default broker
// accepts (1 MiB; kafkautil.NewWriter). Until it did, every write was
// refused (docs/benchmarks.md, "Scale").
func alertTopic(b *testing.B, k kafkautil.Options, topic string) {
	b.Helper()
	if err := kafkautil.EnsureTopics(context.Background(), k, topic); err != nil {
		b.Fatal(err)
	}
}

// scrape reads a Prometheus text exposition into name{labels} → value.
func scrape(url string) (map[string]float64, error) {
	resp, err := http.Get(url) //nolint:gosec // a loopback address the benchmark chose
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// vmHWM is a process's peak resident set (Linux), MiB.
func vmHWM(b testing.TB, pid int) float64 {
	v, err := procstat.PeakRSS(pid)
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// clearDetectState empties the alert state and the partials between runs,
// so that each run starts as a first deployment (every node: the tables are
// replicated on every node).
func clearDetectState(b *testing.B, c *localstack.Cluster) {
	for _, a := range c.Addrs() {
		sql := open(b, a)
		for _, tbl := range []string{"alerts", "detector_partials"} {
			if err := sql.Exec(context.Background(), "TRUNCATE TABLE layoffwatch."+tbl); err != nil {
				b.Logf("truncate %s on %s: %v", tbl, a, err)
			}
		}
	}
}

func startBenchCluster(b *testing.B, replicas int) *localstack.Cluster {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := localstack.StartCluster(ctx, b.TempDir(), localstack.ClusterConfig{Name: "lw", Shards: 2, Replicas: replicas, MaxMemory: 2 << 30}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if b.Failed() {
			b.Logf("the servers' error logs end:\n%s", c.Logs(3000))
		}
		c.Stop()
	})
	return c
}

func openCluster(b *testing.B, c *localstack.Cluster) *chdb.Client {
	b.Helper()
	opts := chdb.Options{Addr: strings.Join(c.Addrs(), ","), Database: "layoffwatch", User: "default", DialTimeout: 5 * time.Second, Cluster: "lw"}
	cl, err := chdb.Open(context.Background(), opts, testenv.Logger(b), true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cl.Close() })
	return cl
}

func envInt(b testing.TB, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive number", name, s)
	}
	return n
}

// uptime is the machine's load averages, recorded with every figure.
func uptime() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return "load " + strings.Join(f[:3], " ")
}
