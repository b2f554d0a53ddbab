package cluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestDetectReplicas: three `layoffwatch detect` processes divide two
// provinces' prefectures by leases in ZooKeeper, each loading only its
// share from the sharded cluster, and emit together exactly the alert
// events of one detector on the same data (a single server). Then one is
// killed (SIGKILL), a new month of reports lands, and within 30 s its
// prefectures and provinces are held by the others, which emit what the
// single detector emits for the new month: no event lost, none repeated.
// Last a fourth replica joins: the others hand it its share within 30 s,
// another month lands, and again the events are exactly the single
// detector's, the newcomer's units included.
func TestDetectReplicas(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	bin := binary(t)

	// the data: Gansu and (relabelled) Guangdong, 30 months to last month;
	// the last two months are held back: one for after the kill, one for
	// after the join
	end := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1)
	var list []firms.Firm
	var reports []report.Report
	for i, p := range []struct {
		province string
		firms    int
	}{{"620000", 2500}, {"440000", 1200}} {
		opts := simulate.DefaultOptions()
		opts.Seed, opts.Firms, opts.Months, opts.Province = int64(i+1), p.firms, 30, p.province
		opts.Start = end.Add(-29)
		sim, err := simulate.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, sim.Firms()...)
		for r := range sim.Reports {
			reports = append(reports, r)
		}
	}
	var early, late, later []report.Report
	for _, r := range reports {
		switch {
		case r.Period < end.Add(-1):
			early = append(early, r)
		case r.Period < end:
			late = append(late, r)
		default:
			later = append(later, r)
		}
	}
	clusterOpts := chdb.Options{Addr: c.Addrs()[0], Database: "layoffwatch", User: "default", DialTimeout: 5 * time.Second, Cluster: "lw"}
	cl, err := chdb.Open(ctx, clusterOpts, testenv.Logger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := cl.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	single := testenv.ClickHouse(t)
	for _, ch := range []*chdb.Client{cl, single} {
		if err := firms.NewStore(ch).Upsert(ctx, list); err != nil {
			t.Fatal(err)
		}
		insertReports(t, ch, early)
	}
	for _, a := range c.Addrs() {
		syncReplica(t, a, "firms")
	}

	// a plan: the default one, and a province rule that fires every month
	// (the default plan's province rule rarely does), so that the
	// provinces' own alerts are divided too
	planB, err := os.ReadFile("../plans/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	planB = append(planB, []byte(`
  - id: province_watch
    title: {zh: 全省监测, en: province watch}
    scope: province
    level: IV
    when: headcount > 0 && z_defined
    values: [headcount, mom_change, expected_rate, z, excess_rate]
    source: "test: a province rule that fires every month"
`)...)
	if err := os.WriteFile(plan, planB, 0o600); err != nil {
		t.Fatal(err)
	}

	// the reference: one detector on the single server, its own broker
	refKafka := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	refK := kafkautil.Options{Brokers: refKafka.Addrs(), Partitions: 3, ReplicationFactor: 1}
	refOpts, err := detector.DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	refOpts.Kafka, refOpts.ClickHouse, refOpts.Plans, refOpts.MetricsAddr = refK, single.Options(), []string{plan}, ""
	refOpts.Poll = 500 * time.Millisecond
	// the first data end three months before this one: alert on four
	refOpts.AlertMonths = 4
	rctx, stopRef := context.WithCancel(ctx)
	refDone := make(chan error, 1)
	go func() { refDone <- detector.Run(rctx, refOpts, testenv.Logger(t), prometheus.NewRegistry()) }()
	t.Cleanup(func() {
		stopRef()
		if err := <-refDone; err != nil {
			t.Errorf("reference detector: %v", err)
		}
	})

	// three replicas, each through another node, with leases in ZooKeeper
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	kOpts := kafkautil.Options{Brokers: k.Addrs(), Partitions: 3, ReplicationFactor: 1}
	if err := kafkautil.EnsureTopics(ctx, kOpts, "alerts"); err != nil {
		t.Fatal(err)
	}
	root := "/layoffwatch/test/detect"
	var procs []*detectProcess
	for i := range 3 {
		addrs := c.Addrs()
		node := addrs[i%len(addrs)] + "," + addrs[(i+1)%len(addrs)]
		procs = append(procs, startDetect(t, bin, fmt.Sprintf("r%d", i+1),
			"--kafka-brokers", strings.Join(k.Addrs(), ","), "--kafka-partitions", "3",
			"--clickhouse-addr", node, "--clickhouse-database", "layoffwatch", "--clickhouse-cluster", "lw",
			"--plan", plan, "--poll", "500ms", "--metrics-addr", "", "--alert-months", "4",
			"--zookeeper", c.ZooKeeper.Addr(), "--zookeeper-root", root, "--lease-timeout", "6s", "--share-epoch", "5s",
			"--join-wait", "15s"))
	}

	want := waitEvents(t, "the reference detector", refK, 3*time.Minute, nil)
	got := waitEvents(t, "the replicas", kOpts, 3*time.Minute, want)
	compareEvents(t, want, got)
	leases, err := detector.Leases(c.ZooKeeper.Addr(), root)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string][]string{}
	for unit, id := range leases {
		held[id] = append(held[id], unit)
	}
	for id := range held {
		slices.Sort(held[id])
	}
	t.Logf("phase 1: %d events, as the single detector's; units held: %v", len(got), held)
	if len(held) != 3 {
		t.Fatalf("units held by %d replicas, want 3: %v", len(held), held)
	}
	// started together, each waited to see the others (--join-wait) and
	// took only its share: none took a unit it then gave away, so none
	// loaded more than its share
	for _, p := range procs {
		b, err := os.ReadFile(p.log)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(b), `msg="unit released"`); n > 0 {
			t.Errorf("replica %s released %d units it had taken at start: it loaded more than its share", p.id, n)
		}
	}

	// kill a replica, then a new month lands
	victim := procs[1]
	lost := held[victim.id]
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-victim.done
	killed := time.Now()
	t.Logf("replica %s killed; it held %v", victim.id, lost)
	insertReports(t, cl, late)
	insertReports(t, single, late)
	for {
		leases, err := detector.Leases(c.ZooKeeper.Addr(), root)
		if err != nil {
			t.Fatal(err)
		}
		moved := 0
		for _, u := range lost {
			if id := leases[u]; id != "" && id != victim.id {
				moved++
			}
		}
		if moved == len(lost) {
			t.Logf("the killed replica's %d units taken over in %s", len(lost), time.Since(killed).Round(100*time.Millisecond))
			break
		}
		if time.Since(killed) > 30*time.Second {
			t.Fatalf("after 30 s, %d of the killed replica's %d units are held by others: %v", moved, len(lost), leases)
		}
		time.Sleep(200 * time.Millisecond)
	}
	want2 := waitEvents(t, "the reference detector", refK, 3*time.Minute, func(es []alertevent.Event) bool { return len(es) > len(want) })
	got2 := waitEvents(t, "the replicas", kOpts, 3*time.Minute, want2)
	compareEvents(t, want2, got2)
	if n := eventsIn(got2, end.Add(-1), lost); n == 0 {
		t.Errorf("no event about %s of the killed replica's units: the takeover was not exercised", end.Add(-1))
	} else {
		t.Logf("phase 2: %d events, as the single detector's; %d about %s in the killed replica's units", len(got2), n, end.Add(-1))
	}

	// a fourth replica joins, then the last month lands
	addrs := c.Addrs()
	joined := startDetect(t, bin, "r4",
		"--kafka-brokers", strings.Join(k.Addrs(), ","), "--kafka-partitions", "3",
		"--clickhouse-addr", addrs[len(addrs)-1]+","+addrs[0], "--clickhouse-database", "layoffwatch", "--clickhouse-cluster", "lw",
		"--plan", plan, "--poll", "500ms", "--metrics-addr", "", "--alert-months", "4",
		"--zookeeper", c.ZooKeeper.Addr(), "--zookeeper-root", root, "--lease-timeout", "6s", "--share-epoch", "5s")
	started := time.Now()
	var gained []string
	for {
		leases, err := detector.Leases(c.ZooKeeper.Addr(), root)
		if err != nil {
			t.Fatal(err)
		}
		gained = gained[:0]
		holders := map[string]bool{}
		for u, id := range leases {
			holders[id] = true
			if id == joined.id {
				gained = append(gained, u)
			}
		}
		// the newcomer holds its share and every unit is held
		if len(gained) > 0 && len(holders) == 3 && len(leases) == len(held[procs[0].id])+len(held[procs[1].id])+len(held[procs[2].id]) {
			slices.Sort(gained)
			t.Logf("replica %s joined and holds %v after %s", joined.id, gained, time.Since(started).Round(100*time.Millisecond))
			break
		}
		if time.Since(started) > 30*time.Second {
			t.Fatalf("30 s after replica %s started it holds %v; leases: %v", joined.id, gained, leases)
		}
		time.Sleep(200 * time.Millisecond)
	}
	insertReports(t, cl, later)
	insertReports(t, single, later)
	want3 := waitEvents(t, "the reference detector", refK, 3*time.Minute, func(es []alertevent.Event) bool { return len(es) > len(want2) })
	got3 := waitEvents(t, "the replicas", kOpts, 3*time.Minute, want3)
	compareEvents(t, want3, got3)
	if n := eventsIn(got3, end, gained); n == 0 {
		t.Errorf("no event about %s of the joined replica's units: the hand-over was not exercised", end)
	} else {
		t.Logf("phase 3: %d events, as the single detector's; %d about %s in the joined replica's units", len(got3), n, end)
	}
}

// eventsIn counts the events about period p in the given units.
func eventsIn(es []alertevent.Event, p report.Period, units []string) int {
	n := 0
	for _, e := range es {
		if e.Period == p.String() && slices.Contains(units, unitOfRegion(e.Region)) {
			n++
		}
	}
	return n
}

func unitOfRegion(code string) string {
	if strings.HasSuffix(code, "0000") {
		return code
	}
	return code[:4] + "00"
}

func insertReports(t *testing.T, ch *chdb.Client, reports []report.Report) {
	t.Helper()
	var rows chdb.ReportRows
	at := time.Now().UTC().Truncate(time.Second)
	for i := 0; i < len(reports); i += 20000 {
		rows.Reset()
		for j, r := range reports[i:min(i+20000, len(reports))] {
			rows.Add(r, at, 0, int64(i+j))
		}
		if err := ch.InsertReports(context.Background(), &rows); err != nil {
			t.Fatal(err)
		}
	}
}

// waitEvents reads the alerts topic until it holds as many events as want
// (or, with want nil, until done says so, or it stops growing) and a
// second later no more.
func waitEvents(t *testing.T, who string, k kafkautil.Options, timeout time.Duration, want any) []alertevent.Event {
	t.Helper()
	read := func() []alertevent.Event {
		var out []alertevent.Event
		err := kafkautil.ReadAll(context.Background(), k, "alerts", func(m kafka.Message) error {
			e, err := alertevent.Decode(m.Value)
			if err != nil {
				return err
			}
			out = append(out, e)
			return nil
		})
		if err != nil {
			t.Logf("read alerts: %v", err)
		}
		return out
	}
	deadline := time.Now().Add(timeout)
	prev, stable := -1, 0
	for {
		es := read()
		enough := false
		switch w := want.(type) {
		case []alertevent.Event:
			enough = len(es) >= len(w)
		case func([]alertevent.Event) bool:
			enough = w(es) && len(es) == prev
		default:
			enough = len(es) > 0 && len(es) == prev
		}
		if len(es) == prev {
			stable++
		} else {
			stable = 0
		}
		if enough && stable >= 4 {
			return es
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d alert events after %s (want %v)", who, len(es), timeout, describe(want))
		}
		prev = len(es)
		time.Sleep(500 * time.Millisecond)
	}
}

func describe(want any) string {
	if w, ok := want.([]alertevent.Event); ok {
		return fmt.Sprintf("%d", len(w))
	}
	return "more, then no more"
}

// compareEvents: the same events — alert, version, kind, level, values and
// coverage — each once. (When and whether late are not compared: the
// replicas emit at their own times.)
func compareEvents(t *testing.T, want, got []alertevent.Event) {
	t.Helper()
	line := func(e alertevent.Event) string {
		return fmt.Sprintf("%s v%d %s %s %s %d/%d %s", e.ID, e.Version, e.Kind, e.Level, e.Region, e.Reported, e.Expected, e.Values)
	}
	var w, g []string
	for _, e := range want {
		w = append(w, line(e))
	}
	seen := map[string]bool{}
	for _, e := range got {
		key := fmt.Sprintf("%s v%d", e.ID, e.Version)
		if seen[key] {
			t.Errorf("event %s emitted twice", key)
		}
		seen[key] = true
		g = append(g, line(e))
	}
	sort.Strings(w)
	sort.Strings(g)
	if !slices.Equal(w, g) {
		n := 0
		for _, l := range w {
			if _, ok := slices.BinarySearch(g, l); !ok && n < 10 {
				t.Errorf("missing: %s", l)
				n++
			}
		}
		for _, l := range g {
			if _, ok := slices.BinarySearch(w, l); !ok && n < 20 {
				t.Errorf("extra:   %s", l)
				n++
			}
		}
		t.Fatalf("the replicas emitted %d events, the single detector %d", len(g), len(w))
	}
}

// detectProcess is `layoffwatch detect` as a child process.
type detectProcess struct {
	id   string
	cmd  *exec.Cmd
	log  string        // its stdout and stderr
	done chan struct{} // closed when the process has exited
}

func startDetect(t *testing.T, bin, id string, args ...string) *detectProcess {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), id+".log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"detect", "--replica-id", id, "--log-level", "info"}, args...)...) //nolint:gosec // the binary the test built
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &detectProcess{id: id, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); _ = out.Close(); close(p.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("replica %s log ends:\n%s", id, b)
		}
	})
	return p
}

var binPath string

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds layoffwatch once per test binary.
func binary(t testing.TB) string {
	t.Helper()
	if binPath != "" {
		return binPath
	}
	dir, err := os.MkdirTemp("", "layoffwatch-bin-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "layoffwatch")
	if out, err := exec.Command("go", "build", "-o", p, "../../cmd/layoffwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	binPath = p
	return p
}
