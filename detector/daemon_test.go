package detector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type liveStack struct {
	kafka kafkautil.Options
	ch    *chdb.Client
	chOpt chdb.Options
	plan  string
}

func newLiveStack(t *testing.T, list []firms.Firm) *liveStack {
	t.Helper()
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	ch := testenv.ClickHouse(t)
	if err := firms.NewStore(ch).Upsert(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	plan := filepath.Join(t.TempDir(), "plan.yaml")
	b, err := os.ReadFile("../deploy/plans/statutory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plan, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := &liveStack{kafka: kafkautil.Options{Brokers: k.Addrs(), Partitions: 3, ReplicationFactor: 1}, ch: ch,
		chOpt: chdb.Options{Addr: testenv.ClickHouseAddr(t), Database: ch.Database(), User: "default", DialTimeout: 5 * time.Second}, plan: plan}
	s.start(t, "ingest", func(ctx context.Context) error {
		return ingest.Run(ctx, ingest.Options{Kafka: s.kafka, ClickHouse: s.chOpt, Topic: "reports", DLQTopic: "reports.dlq",
			Group: "ingest", BatchRows: 1000, BatchWait: 100 * time.Millisecond, SessionTimeout: 6 * time.Second,
			ShutdownGrace: 10 * time.Second, CreateTopics: true}, testenv.Logger(t), prometheus.NewRegistry())
	})
	return s
}

// start runs fn until the returned stop is called (or the test ends).
func (s *liveStack) start(t *testing.T, name string, fn func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s stopped with %v", name, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("%s did not stop", name)
		}
	}
	t.Cleanup(stop)
	return stop
}

func (s *liveStack) detect(t *testing.T) (stop func()) {
	return s.detectMonths(t, 36, 3)
}

// detectMonths runs the detector with a window and the months it alerts
// about.
func (s *liveStack) detectMonths(t *testing.T, window, alertMonths int) (stop func()) {
	return s.start(t, "detect", func(ctx context.Context) error {
		return detector.Run(ctx, detector.Options{Kafka: s.kafka, ClickHouse: s.chOpt, Plans: []string{s.plan}, Topic: "alerts",
			Poll: 200 * time.Millisecond, Interval: time.Minute, Window: window, AlertMonths: alertMonths, DeadlineDay: 5, AlertHorizon: 840 * time.Hour},
			testenv.Logger(t), prometheus.NewRegistry())
	})
}

func (s *liveStack) send(t *testing.T, reports ...report.Report) {
	t.Helper()
	w := kafkautil.NewWriter(s.kafka, "reports", slog.New(slog.DiscardHandler))
	defer w.Close()
	var msgs []kafka.Message
	for _, r := range reports {
		msgs = append(msgs, kafka.Message{Key: []byte(r.FirmID), Value: report.AppendEncode(nil, r)})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// events reads every event of the alerts topic so far.
func (s *liveStack) events(t *testing.T) []alertevent.Event {
	t.Helper()
	var out []alertevent.Event
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := kafkautil.ReadAll(ctx, s.kafka, "alerts", func(m kafka.Message) error {
		e, err := alertevent.Decode(m.Value)
		if err != nil {
			return err
		}
		if string(m.Key) != e.ID {
			return fmt.Errorf("message key %q is not the alert id %s", m.Key, e.ID)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// summary is "rule key period event level" per event, sorted.
func summary(events []alertevent.Event, rules ...string) []string {
	keep := map[string]bool{}
	for _, r := range rules {
		keep[r] = true
	}
	var out []string
	for _, e := range events {
		if keep[e.Rule] {
			out = append(out, fmt.Sprintf("%s %s %s %s %s", e.Rule, e.Key, e.Period, e.Kind, e.Level))
		}
	}
	sort.Strings(out)
	return out
}

func waitEvents(t *testing.T, s *liveStack, want []string, rules ...string) []alertevent.Event {
	t.Helper()
	sort.Strings(want)
	deadline := time.Now().Add(30 * time.Second)
	var got []string
	var events []alertevent.Event
	for time.Now().Before(deadline) {
		events = s.events(t)
		got = summary(events, rules...)
		if strings.Join(got, "\n") == strings.Join(want, "\n") {
			return events
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("alert events:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	return nil
}

// TestDetectLive runs ingest and the detector against the real local
// ClickHouse and the embedded broker: reports become alert events within
// seconds; a corrected revision resolves them; a revision that raises the
// size band changes a level; a restart emits nothing again.
func TestDetectLive(t *testing.T) {
	a, b := testenv.FirmID("620102", 1), testenv.FirmID("620402", 2)
	list := []firms.Firm{
		{ID: a, Name: "兰州重型机械有限公司", Region: "620102", Industry: "C", BaselineHeadcount: 1000},
		{ID: b, Name: "白银有色冶炼厂", Region: "620402", Industry: "C", BaselineHeadcount: 150},
	}
	s := newLiveStack(t, list)
	cur := report.PeriodOf(time.Now().In(report.Shanghai()))
	p1, p2 := cur.Add(-2), cur.Add(-1)
	stop := s.detect(t)
	start := time.Now()
	s.send(t,
		report.Report{FirmID: a, Period: p1, Headcount: 1000, Vacancies: 5, Revision: 1},
		report.Report{FirmID: a, Period: p2, Headcount: 650, Vacancies: 0, Revision: 1}, // −350: art41, mass_layoff, major_cut
		report.Report{FirmID: b, Period: p1, Headcount: 150, Vacancies: 2, Revision: 1},
		report.Report{FirmID: b, Period: p2, Headcount: 0, Vacancies: 0, Revision: 1}, // closure of a firm of 150: level IV
	)
	firmRules := []string{"art41", "mass_layoff", "major_cut", "closure"}
	waitEvents(t, s, []string{
		fmt.Sprintf("art41 %s %s firing IV", a, p2),
		fmt.Sprintf("art41 %s %s firing IV", b, p2),
		fmt.Sprintf("closure %s %s firing IV", b, p2),
		fmt.Sprintf("major_cut %s %s firing I", a, p2),
		fmt.Sprintf("mass_layoff %s %s firing III", a, p2),
		fmt.Sprintf("mass_layoff %s %s firing III", b, p2),
	}, firmRules...)
	t.Logf("reports to alert events in %s", time.Since(start).Round(time.Millisecond))

	// a correction: firm A cut 10, not 350; firm B was 650 strong before
	// it closed (closure moves from level IV to I)
	s.send(t,
		report.Report{FirmID: a, Period: p2, Headcount: 990, Vacancies: 0, Revision: 2},
		report.Report{FirmID: b, Period: p1, Headcount: 650, Vacancies: 2, Revision: 2},
	)
	events := waitEvents(t, s, []string{
		fmt.Sprintf("art41 %s %s firing IV", a, p2),
		fmt.Sprintf("art41 %s %s firing IV", b, p2),
		fmt.Sprintf("art41 %s %s resolved IV", a, p2),
		fmt.Sprintf("closure %s %s firing IV", b, p2),
		fmt.Sprintf("closure %s %s level_changed I", b, p2),
		fmt.Sprintf("major_cut %s %s firing I", a, p2),
		fmt.Sprintf("major_cut %s %s firing I", b, p2),
		fmt.Sprintf("major_cut %s %s resolved I", a, p2),
		fmt.Sprintf("mass_layoff %s %s firing III", a, p2),
		fmt.Sprintf("mass_layoff %s %s firing III", b, p2),
		fmt.Sprintf("mass_layoff %s %s resolved III", a, p2),
	}, firmRules...)
	for _, e := range events {
		if e.Rule == "closure" && e.Kind == alertevent.LevelChanged {
			if e.PreviousLevel != alertevent.LevelIV || e.Subject != "白银有色冶炼厂" || e.Region != "620402" || e.Prefecture != "620400" ||
				e.SummaryZh != "企业关闭，原有职工650人" || e.SummaryEn != "closed; it had 650 staff" {
				t.Errorf("level change event: %+v", e)
			}
			var v map[string]float64
			if err := json.Unmarshal(e.Values, &v); err != nil || v["prev_headcount"] != 650 || v["headcount"] != 0 {
				t.Errorf("values %s", e.Values)
			}
		}
	}
	before := len(s.events(t))

	// a restart re-emits nothing
	stop()
	s.detect(t)
	time.Sleep(3 * time.Second) // several passes
	if after := len(s.events(t)); after != before {
		t.Fatalf("after a restart the topic has %d events, had %d", after, before)
	}
	// and the alerts table holds every event once
	var n uint64
	if err := testenv.SQL(t, s.ch.Options()).QueryRow(context.Background(), "SELECT count() FROM alerts FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != uint64(before) {
		t.Fatalf("alerts table has %d events, the topic %d", n, before)
	}
}

// TestLiveAgreesWithPlanTest: the live detector, fed a simulated province
// through Kafka and ClickHouse, raises exactly the warnings `plan test`
// raises with the same (default) plan on the same reports — the statistics
// it computes as reports land are the backtest's.
func TestLiveAgreesWithPlanTest(t *testing.T) {
	opts := simulate.DefaultOptions()
	end := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1)
	opts.Firms, opts.Months, opts.Layoffs, opts.Start = 600, 30, 8, end.Add(-29)
	sim, err := simulate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s := newLiveStack(t, sim.Firms())
	b, err := os.ReadFile("../deploy/plans/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.plan, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var reports []report.Report
	for r := range sim.Reports {
		reports = append(reports, r)
	}
	s.send(t, reports...)
	plan, err := detector.LoadPlan(s.plan)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := detector.BuildDataset(sim.Firms(), reports)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := detector.NewEvaluator(plan)
	if err != nil {
		t.Fatal(err)
	}
	firings, err := ev.Evaluate(ds, detector.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range firings {
		want = append(want, fmt.Sprintf("%s %s %s %s", f.Rule, f.Key, f.Period, f.Level))
	}
	sort.Strings(want)
	if len(want) < 20 {
		t.Fatalf("plan test raises only %d warnings: the province is too quiet to compare", len(want))
	}
	// the detector starts once every report is stored (as after a bureau's
	// migration), and alerts about every month of the window
	months := map[string]bool{}
	for _, r := range reports {
		months[r.FirmID+r.Period.String()] = true
	}
	testenv.WaitFor(t, "every report stored", 2*time.Minute, func() (bool, string) {
		var n uint64
		_ = testenv.SQL(t, s.ch.Options()).QueryRow(context.Background(), "SELECT count() FROM reports_latest").Scan(&n)
		return n == uint64(len(months)), fmt.Sprintf("%d of %d", n, len(months))
	})
	s.detectMonths(t, 36, 36)
	var got []string
	testenv.WaitFor(t, "the live detector's warnings", time.Minute, func() (bool, string) {
		state := map[string]alertevent.Event{}
		for _, e := range s.events(t) {
			state[e.ID] = e
		}
		got = got[:0]
		for _, e := range state {
			if e.Kind != alertevent.Resolved {
				got = append(got, fmt.Sprintf("%s %s %s %s", e.Rule, e.Key, e.Period, e.Level))
			}
		}
		sort.Strings(got)
		return len(got) >= len(want), fmt.Sprintf("%d of %d", len(got), len(want))
	})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the live detector raised %d warnings, plan test %d:\nlive %v\ntest %v", len(got), len(want), first(got, 10), first(want, 10))
	}
	t.Logf("live and plan test agree on %d warnings", len(got))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }

// TestDetectLiveOldMonths: a detector started on 36 months of stored
// history marks the events about months past the alert horizon as old
// history, on the topic and in the alerts table, and the recent ones not;
// a late report about an old month raises an event marked late_data.
func TestDetectLiveOldMonths(t *testing.T) {
	a, b := testenv.FirmID("620102", 1), testenv.FirmID("620402", 2)
	s := newLiveStack(t, []firms.Firm{
		{ID: a, Name: "兰州重型机械有限公司", Region: "620102", Industry: "C", BaselineHeadcount: 1000},
		{ID: b, Name: "白银有色冶炼厂", Region: "620402", Industry: "C", BaselineHeadcount: 1000},
	})
	cur := report.PeriodOf(time.Now().In(report.Shanghai()))
	var history []report.Report
	for p := cur.Add(-36); p < cur; p++ {
		ha, hb := uint32(1000), uint32(1000)
		if p >= cur.Add(-20) {
			ha = 700 // a cut 20 months ago
		}
		if p == cur.Add(-1) {
			hb = 600 // a cut last month
		}
		history = append(history, report.Report{FirmID: a, Period: p, Headcount: ha, Revision: 1}, report.Report{FirmID: b, Period: p, Headcount: hb, Revision: 1})
	}
	s.send(t, history...)
	testenv.WaitFor(t, "the history stored", time.Minute, func() (bool, string) {
		var n uint64
		_ = testenv.SQL(t, s.ch.Options()).QueryRow(context.Background(), "SELECT count() FROM reports FINAL").Scan(&n)
		return n == uint64(len(history)), fmt.Sprint(n)
	})
	s.detectMonths(t, 37, 37)
	want := []string{
		fmt.Sprintf("art41 %s %s firing IV history", a, cur.Add(-20)),
		fmt.Sprintf("art41 %s %s firing IV ", b, cur.Add(-1)),
	}
	old := func(events []alertevent.Event) []string {
		var out []string
		for _, e := range events {
			if e.Rule == "art41" {
				out = append(out, fmt.Sprintf("%s %s %s %s %s %s", e.Rule, e.Key, e.Period, e.Kind, e.Level, e.Old))
			}
		}
		sort.Strings(out)
		return out
	}
	var events []alertevent.Event
	testenv.WaitFor(t, "art41 events", 30*time.Second, func() (bool, string) {
		events = s.events(t)
		got := old(events)
		return strings.Join(got, "\n") == strings.Join(want, "\n"), strings.Join(got, "; ")
	})
	for _, e := range events {
		p, _ := report.ParsePeriod(e.Period)
		until := report.Deadline(p, 5).Add(840 * time.Hour)
		if !e.UrgentUntil.Equal(until) || (e.Old != "") != !e.At.Before(until) {
			t.Errorf("%s %s %s: old %q, urgent until %s (want %s), at %s", e.Rule, e.Key, e.Period, e.Old, e.UrgentUntil, until, e.At)
		}
	}
	// the table says the same
	testenv.WaitFor(t, "the events recorded", 30*time.Second, func() (bool, string) {
		var n, marked uint64
		_ = testenv.SQL(t, s.ch.Options()).QueryRow(context.Background(), "SELECT count(), countIf(old = 'history') FROM alerts_latest").Scan(&n, &marked)
		var want uint64
		for _, e := range events {
			if e.Old == alertevent.OldHistory {
				want++
			}
		}
		return n == uint64(len(events)) && marked == want, fmt.Sprintf("%d rows, %d old, want %d and %d", n, marked, len(events), want)
	})
	// a late correction of an old month: a cut of 100, 30 months ago
	s.send(t, report.Report{FirmID: b, Period: cur.Add(-30), Headcount: 900, Revision: 2})
	want = append(want, fmt.Sprintf("art41 %s %s firing IV late_data", b, cur.Add(-30)))
	sort.Strings(want)
	testenv.WaitFor(t, "the late report's event", 30*time.Second, func() (bool, string) {
		got := old(s.events(t))
		return strings.Join(got, "\n") == strings.Join(want, "\n"), strings.Join(got, "; ")
	})
}
