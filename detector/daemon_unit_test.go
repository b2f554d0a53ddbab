package detector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

type fakeStore struct {
	firms    []firms.Firm
	rows     []MonthRow
	recorded []alertevent.Event
	states   map[string]alertevent.Event
	failRec  bool
	partials map[string]*Partial
	asOf     map[string]time.Time // prefecture → the epoch of its partial
}

func (f *fakeStore) Firms(context.Context) ([]firms.Firm, error) { return f.firms, nil }
func (f *fakeStore) ReportsSince(_ context.Context, from, to report.Period, since time.Time, fn func(*MonthRow)) error {
	for i := range f.rows {
		r := f.rows[i]
		if r.Period >= from && r.Period <= to && !r.IngestedAt.Before(since) {
			fn(&r)
		}
	}
	return nil
}
func (f *fakeStore) InsertAlertEvents(_ context.Context, e []alertevent.Event) error {
	if f.failRec {
		return errors.New("clickhouse down")
	}
	f.recorded = append(f.recorded, e...)
	return nil
}
func (f *fakeStore) AlertStates(context.Context) (map[string]alertevent.Event, error) {
	return f.states, nil
}

// the share store: the registry by prefecture, and partials in memory
func (f *fakeStore) Directory(context.Context) (map[string]int, error) {
	out := map[string]int{}
	for _, fm := range f.firms {
		out[fm.Prefecture()]++
	}
	return out, nil
}

func (f *fakeStore) FirmsIn(_ context.Context, prefs []string) ([]firms.Firm, error) {
	var out []firms.Firm
	for _, fm := range f.firms {
		if slices.Contains(prefs, fm.Prefecture()) {
			out = append(out, fm)
		}
	}
	return out, nil
}

func (f *fakeStore) ReportsIn(ctx context.Context, prefs []string, from, to report.Period, since, until time.Time, fn func(*MonthRow)) error {
	in, _ := f.FirmsIn(ctx, prefs)
	ids := map[string]bool{}
	for _, fm := range in {
		ids[fm.ID] = true
	}
	return f.ReportsSince(ctx, from, to, since, func(r *MonthRow) {
		if ids[r.FirmID] && r.IngestedAt.Before(until) {
			fn(r)
		}
	})
}

func (f *fakeStore) PublishPartials(_ context.Context, _ string, parts, heads []*Partial, asOf, _ time.Time) error {
	if f.partials == nil {
		f.partials, f.asOf = map[string]*Partial{}, map[string]time.Time{}
	}
	for _, p := range parts {
		f.partials[p.Prefecture] = p
	}
	for _, p := range append(parts, heads...) {
		f.asOf[p.Prefecture] = asOf
	}
	return nil
}

func (f *fakeStore) PartialHeads(_ context.Context, provinces []string) ([]PartialHead, error) {
	var out []PartialHead
	for _, p := range f.partials {
		if slices.Contains(provinces, p.Province()) {
			out = append(out, PartialHead{Prefecture: p.Prefecture, Generation: p.Hash(), Start: p.Start, Months: p.Months, AsOf: f.asOf[p.Prefecture]})
		}
	}
	return out, nil
}

func (f *fakeStore) PartialData(_ context.Context, province, industry string, fn func(string, uint64, *PartialIndustry) error) error {
	for _, p := range f.partials {
		if p.Province() != province {
			continue
		}
		for i := range p.Industries {
			if p.Industries[i].Industry == industry {
				if err := fn(p.Prefecture, p.Hash(), &p.Industries[i]); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

type fakeProducer struct{ msgs []kafka.Message }

func (p *fakeProducer) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	p.msgs = append(p.msgs, msgs...)
	return nil
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func firmID(body string) string { return body + string(report.CreditCheckChar(body)) }

func newTestDaemon(t *testing.T, st *fakeStore, out *fakeProducer, c *clock, planSrc string) (*daemon, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "plan.yaml")
	if err := os.WriteFile(path, []byte(planSrc), 0o600); err != nil {
		t.Fatal(err)
	}
	plan, err := LoadPlan(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(Options{Plans: []string{path}, Topic: "alerts", Poll: time.Second, Interval: time.Minute, Window: 36, AlertMonths: 3, DeadlineDay: 5,
		AlertHorizon: 840 * time.Hour}, SinglePlan(plan), st, out, c.now, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if err := d.loadState(context.Background(), out.readFrom); err != nil {
		t.Fatal(err)
	}
	return d, path
}

// readFrom reads the producer's messages as one partition from offset
// from[0].
func (p *fakeProducer) readFrom(_ context.Context, from map[int]int64, fn func(kafka.Message) error) (map[int]int64, error) {
	for i := int(from[0]); i < len(p.msgs); i++ {
		m := p.msgs[i]
		m.Offset = int64(i)
		if err := fn(m); err != nil {
			return nil, err
		}
	}
	return map[int]int64{0: int64(len(p.msgs))}, nil
}

func defaultPlan(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../deploy/plans/statutory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func kinds(msgs []kafka.Message) []string {
	var out []string
	for _, m := range msgs {
		e, _ := alertevent.Decode(m.Value)
		out = append(out, e.Rule+" "+e.Kind+" "+e.Level.String())
	}
	return out
}

// TestMissingReportOnDeadlineClock: a report missing for October fires once
// the deadline (5 November, 24:00 Asia/Shanghai) has passed, not before.
func TestMissingReportOnDeadlineClock(t *testing.T) {
	id := firmID("91620102MA0000001")
	sep, oct := report.NewPeriod(2026, time.September), report.NewPeriod(2026, time.October)
	st := &fakeStore{firms: []firms.Firm{{ID: id, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 100}},
		rows: []MonthRow{{FirmID: id, Period: sep, Revision: 1, Headcount: 100, IngestedAt: time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)}}}
	c := &clock{t: time.Date(2026, 11, 5, 23, 59, 0, 0, report.Shanghai())}
	out := &fakeProducer{}
	d, _ := newTestDaemon(t, st, out, c, defaultPlan(t))
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(out.msgs) != 0 {
		t.Fatalf("before the deadline: %v", kinds(out.msgs))
	}
	c.t = time.Date(2026, 11, 6, 0, 0, 1, 0, report.Shanghai())
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kinds(out.msgs), ";"); got != "missing_report firing IV" {
		t.Fatalf("after the deadline: %s", got)
	}
	e, _ := alertevent.Decode(out.msgs[0].Value)
	if e.Period != oct.String() || e.Key != id {
		t.Fatalf("event %+v", e)
	}
	// the report arrives late: the alert resolves
	st.rows = append(st.rows, MonthRow{FirmID: id, Period: oct, Revision: 1, Headcount: 100, IngestedAt: c.t})
	c.t = c.t.Add(time.Second)
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kinds(out.msgs), ";"); got != "missing_report firing IV;missing_report resolved IV" {
		t.Fatalf("after the late report: %s", got)
	}
}

// TestBadPlanIsRefused: a broken plan is refused with a metric, the old one
// keeps working; a good one replaces it.
func TestBadPlanIsRefused(t *testing.T) {
	st := &fakeStore{}
	d, path := newTestDaemon(t, st, &fakeProducer{}, &clock{t: time.Now()}, defaultPlan(t))
	if err := os.WriteFile(path, []byte(strings.Replace(defaultPlan(t), "loss >= 20", "los >= 20", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	old := d.plans
	d.reloadPlan("test")
	if d.plans != old || testutil.ToFloat64(d.m.reloadFailures) != 1 {
		t.Fatalf("a bad plan replaced the old one (failures %v)", testutil.ToFloat64(d.m.reloadFailures))
	}
	if err := os.WriteFile(path, []byte(strings.Replace(defaultPlan(t), "loss >= 20", "loss >= 25", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reloadPlan("test")
	if d.plans == old {
		t.Fatal("a good plan was not loaded")
	}
}

// TestCrashBetweenEmitAndRecord: events reached Kafka but not ClickHouse;
// a restarted daemon rebuilds its state from the topic, emits nothing again,
// and records the missing events.
func TestCrashBetweenEmitAndRecord(t *testing.T) {
	id := firmID("91620102MA0000001")
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, report.Shanghai())
	st := &fakeStore{firms: []firms.Firm{{ID: id, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1000}},
		rows: []MonthRow{
			{FirmID: id, Period: report.NewPeriod(2026, time.September), Revision: 1, Headcount: 1000, IngestedAt: now.Add(-time.Hour)},
			{FirmID: id, Period: report.NewPeriod(2026, time.October), Revision: 1, Headcount: 600, IngestedAt: now.Add(-time.Hour)},
		}, failRec: true}
	out := &fakeProducer{}
	d, _ := newTestDaemon(t, st, out, &clock{t: now}, defaultPlan(t))
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	emitted := len(out.msgs)
	if emitted == 0 || len(st.recorded) != 0 {
		t.Fatalf("emitted %d, recorded %d", emitted, len(st.recorded))
	}
	// crash; ClickHouse is back; a new daemon starts from the topic
	st.failRec = false
	d2, _ := newTestDaemon(t, st, out, &clock{t: now.Add(time.Minute)}, defaultPlan(t))
	if err := d2.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(out.msgs) != emitted {
		t.Fatalf("the restarted daemon emitted %d events again", len(out.msgs)-emitted)
	}
	if len(st.recorded) != emitted {
		t.Fatalf("recorded %d of %d events after the restart", len(st.recorded), emitted)
	}
}

// TestShardsSplitWithoutDuplicates: two replicas dividing the prefectures
// statically (--shards 2) — each loading only its firms and exchanging
// partials through the store — emit together exactly what one replica
// emits, and never the same event.
func TestShardsSplitWithoutDuplicates(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, report.Shanghai())
	st := &fakeStore{}
	for i, county := range []string{"620102", "620402", "620502", "620702", "621002", "622901", "440103", "440304"} {
		for j := range 8 {
			id := firmID(fmt.Sprintf("91%sMA%07d", county, 10*i+j))
			st.firms = append(st.firms, firms.Firm{ID: id, Name: "x", Region: county, Industry: "C", BaselineHeadcount: 1000})
			st.rows = append(st.rows,
				MonthRow{FirmID: id, Period: report.NewPeriod(2026, time.September), Revision: 1, Headcount: 1000, IngestedAt: now.Add(-time.Hour)},
				MonthRow{FirmID: id, Period: report.NewPeriod(2026, time.October), Revision: 1, Headcount: uint32(600 + 50*j), IngestedAt: now.Add(-time.Hour)})
		}
	}
	single := &fakeProducer{}
	d, _ := newTestDaemon(t, st, single, &clock{t: now}, defaultPlan(t))
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	shared := &fakeProducer{} // one alerts topic for both replicas
	var replicas []*daemon
	for shard := range 2 {
		d, _ := newTestDaemon(t, st, shared, &clock{t: now}, defaultPlan(t))
		d.opts.Shard, d.opts.Shards = shard, 2
		d.shareWith(st, staticOwner{shard: shard, shards: 2}, fmt.Sprintf("shard-%d", shard), shared.readFrom)
		replicas = append(replicas, d)
	}
	// the first replica waits for the second's partials, then both evaluate
	var emitted [2]int
	for round := range 3 {
		for i, d := range replicas {
			before := len(shared.msgs)
			if err := d.pass(context.Background()); err != nil {
				t.Fatal(err)
			}
			emitted[i] += len(shared.msgs) - before
			if round == 0 && i == 0 && d.share.waiting == "" {
				t.Error("replica 0 evaluated before replica 1 published its partials")
			}
		}
	}
	if emitted[0] == 0 || emitted[1] == 0 {
		t.Fatalf("a replica emitted nothing: %v", emitted)
	}
	if len(replicas[0].ds.firms)+len(replicas[1].ds.firms) != len(st.firms) || len(replicas[0].ds.firms) == len(st.firms) {
		t.Fatalf("the replicas hold %d and %d of %d firms", len(replicas[0].ds.firms), len(replicas[1].ds.firms), len(st.firms))
	}
	seen := map[string]bool{}
	for _, m := range shared.msgs {
		if seen[string(m.Key)] {
			t.Fatalf("event %s emitted twice", m.Key)
		}
		seen[string(m.Key)] = true
	}
	if len(seen) != len(single.msgs) {
		t.Fatalf("the replicas emitted %d events together, one replica %d", len(seen), len(single.msgs))
	}
	for _, m := range single.msgs {
		if !seen[string(m.Key)] {
			t.Fatalf("event %s emitted by no replica", m.Key)
		}
	}
}

// TestEventsCarryLevelFacts: every event carries what the plan in force
// says about its level (and the previous level, for a level change), so a
// plan reload reaches the next events; resolved events take the facts of
// the plan in force when they resolve.
func TestEventsCarryLevelFacts(t *testing.T) {
	id := firmID("91620102MA0000001")
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, report.Shanghai())
	sep, oct := report.NewPeriod(2026, time.September), report.NewPeriod(2026, time.October)
	st := &fakeStore{firms: []firms.Firm{{ID: id, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1000}},
		rows: []MonthRow{
			{FirmID: id, Period: sep, Revision: 1, Headcount: 1000, IngestedAt: now.Add(-time.Hour)},
			{FirmID: id, Period: oct, Revision: 1, Headcount: 900, IngestedAt: now.Add(-time.Hour)}, // −100: art41 IV
		}}
	out := &fakeProducer{}
	c := &clock{t: now}
	d, path := newTestDaemon(t, st, out, c, defaultPlan(t))
	events := func() []alertevent.Event { // art41's (prefecture_rate fires too)
		var list []alertevent.Event
		for _, m := range out.msgs {
			e, err := alertevent.Decode(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if e.LevelFacts.IsZero() {
				t.Errorf("%s v%d without level facts", e.Rule, e.Version)
			}
			if e.Rule == "art41" {
				list = append(list, e)
			}
		}
		out.msgs = nil
		return list
	}
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := events()
	if len(first) != 1 || first[0].LevelFacts != d.plans.Plans[0].Levels[alertevent.LevelIV] || !first[0].PreviousLevelFacts.IsZero() {
		t.Fatalf("first pass: %+v", first)
	}
	// the plan now names level IV differently and makes art41 level III
	edited := strings.Replace(defaultPlan(t), "name: {zh: 蓝色, en: blue}", "name: {zh: 深蓝, en: navy}", 1)
	edited = strings.Replace(edited, "    level: IV\n    when: loss >= 20 || rate >= 0.10", "    level: III\n    when: loss >= 20 || rate >= 0.10", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reloadPlan("test")
	c.t = c.t.Add(time.Second)
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	changed := events()
	if len(changed) != 1 || changed[0].Kind != alertevent.LevelChanged || changed[0].PreviousLevel != alertevent.LevelIV ||
		changed[0].LevelFacts != d.plans.Plans[0].Levels[alertevent.LevelIII] || changed[0].PreviousLevelFacts.NameEn != "navy" {
		t.Fatalf("after the reload: %+v", changed)
	}
	// a corrected report resolves the alert, under the plan in force
	st.rows = append(st.rows, MonthRow{FirmID: id, Period: oct, Revision: 2, Headcount: 995, IngestedAt: c.t})
	c.t = c.t.Add(time.Second)
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	resolved := events()
	if len(resolved) != 1 || resolved[0].Kind != alertevent.Resolved || resolved[0].LevelFacts != d.plans.Plans[0].Levels[alertevent.LevelIII] ||
		resolved[0].PreviousLevel != 0 || !resolved[0].PreviousLevelFacts.IsZero() {
		t.Fatalf("resolved: %+v", resolved)
	}
	for _, e := range st.recorded {
		if e.LevelFacts.IsZero() {
			t.Errorf("recorded event %s v%d without level facts", e.Rule, e.Version)
		}
	}
}

// TestOldMonths: warnings about months past the alert horizon (the end of
// the month's reporting window plus --alert-horizon) are marked old with
// why they came late — history on a first start, late_data when a late
// report raises, changes or resolves them, plan_changed after a reload —
// and every event says until when its month is urgent.
func TestOldMonths(t *testing.T) {
	id := firmID("91620102MA0000001")
	now := time.Date(2026, 12, 10, 12, 0, 0, 0, report.Shanghai())
	st := &fakeStore{firms: []firms.Firm{{ID: id, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1000}}}
	head := map[time.Month]uint32{time.January: 600, time.October: 500, time.November: 400} // cuts of 400, 100, 100
	st.rows = append(st.rows, MonthRow{FirmID: id, Period: report.NewPeriod(2025, time.December), Revision: 1, Headcount: 1000, IngestedAt: now.Add(-time.Hour)})
	hc := uint32(1000)
	for m := time.January; m <= time.November; m++ {
		if h, ok := head[m]; ok {
			hc = h
		}
		st.rows = append(st.rows, MonthRow{FirmID: id, Period: report.NewPeriod(2026, m), Revision: 1, Headcount: hc, IngestedAt: now.Add(-time.Hour)})
	}
	out := &fakeProducer{}
	c := &clock{t: now}
	d, path := newTestDaemon(t, st, out, c, defaultPlan(t))
	d.opts.AlertMonths = 13
	// art41 events by period: "old reason/urgent until (Beijing date)"
	art41 := func() map[string]string {
		got := map[string]string{}
		for _, m := range out.msgs {
			e, err := alertevent.Decode(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if e.Rule != "art41" {
				continue
			}
			got[e.Period+" "+e.Kind] = e.Old + "/" + e.UrgentUntil.In(report.Shanghai()).Format(time.DateTime)
		}
		out.msgs = nil
		return got
	}
	pass := func() {
		t.Helper()
		if err := d.pass(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want map[string]string) {
		t.Helper()
		got := art41()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
		}
	}

	// a first start on the year's history: January is history (current
	// until 13 March: its window closed 5 February, plus 35 days); October
	// is current until 11 December (its window closed 5 November, plus 35
	// days), November until 10 January
	pass()
	check("first start", map[string]string{
		"2026-01 firing": "history/2026-03-13 00:00:00",
		"2026-10 firing": "/2026-12-11 00:00:00",
		"2026-11 firing": "/2027-01-10 00:00:00",
	})

	// a late correction: March lost 100 after all (late_data); January's
	// cut was 450, not 400 — no change of level, no event
	st.rows = append(st.rows,
		MonthRow{FirmID: id, Period: report.NewPeriod(2026, time.March), Revision: 2, Headcount: 500, IngestedAt: c.t},
		MonthRow{FirmID: id, Period: report.NewPeriod(2026, time.January), Revision: 2, Headcount: 550, IngestedAt: c.t})
	c.t = c.t.Add(time.Second)
	pass()
	check("late report", map[string]string{"2026-03 firing": "late_data/2026-05-11 00:00:00"})

	// the plan changes art41's level: old alerts change level as
	// plan_changed, current ones stay current
	edited := strings.Replace(defaultPlan(t), "    level: IV\n    when: loss >= 20 || rate >= 0.10", "    level: III\n    when: loss >= 20 || rate >= 0.10", 1)
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	d.reloadPlan("test")
	c.t = c.t.Add(time.Second)
	pass()
	check("plan reload", map[string]string{
		"2026-01 level_changed": "plan_changed/2026-03-13 00:00:00",
		"2026-03 level_changed": "plan_changed/2026-05-11 00:00:00",
		"2026-10 level_changed": "/2026-12-11 00:00:00",
		"2026-11 level_changed": "/2027-01-10 00:00:00",
	})

	// at the horizon October becomes old: a correction that resolves it
	// then is late data, and so is one resolving March; November (now 200
	// below October's corrected 600) keeps firing at its level: no event
	c.t = time.Date(2026, 12, 11, 0, 0, 0, 0, report.Shanghai())
	st.rows = append(st.rows,
		MonthRow{FirmID: id, Period: report.NewPeriod(2026, time.October), Revision: 2, Headcount: 600, IngestedAt: c.t},
		MonthRow{FirmID: id, Period: report.NewPeriod(2026, time.March), Revision: 3, Headcount: 600, IngestedAt: c.t})
	pass()
	check("at the horizon", map[string]string{
		"2026-03 resolved": "late_data/2026-05-11 00:00:00",
		"2026-10 resolved": "late_data/2026-12-11 00:00:00",
	})

	// a restarted daemon knows alerts: what its first evaluation finds
	// about old months is late data, not history
	st.rows = append(st.rows, MonthRow{FirmID: id, Period: report.NewPeriod(2026, time.May), Revision: 2, Headcount: 500, IngestedAt: c.t})
	st.states = map[string]alertevent.Event{}
	for _, e := range st.recorded {
		if s, ok := st.states[e.ID]; !ok || e.Version > s.Version {
			st.states[e.ID] = e
		}
	}
	d2, _ := newTestDaemon(t, st, &fakeProducer{}, &clock{t: c.t.Add(time.Minute)}, edited)
	d2.opts.AlertMonths = 13
	d, out = d2, d2.out.(*fakeProducer)
	pass()
	check("after a restart", map[string]string{"2026-05 firing": "late_data/2026-07-11 00:00:00"})
}

// TestLateVisibleRowsAreRead: a row stamped before the newest one already
// read (two ingest replicas: one's batch lands after the other's
// later-stamped one was read) is not lost: the next sweep reads the last
// readOverlap again, and its alert follows.
func TestLateVisibleRowsAreRead(t *testing.T) {
	a, b := firmID("91620102MA0000001"), firmID("91620102MA0000002")
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, report.Shanghai())
	sep, oct := report.NewPeriod(2026, time.September), report.NewPeriod(2026, time.October)
	st := &fakeStore{
		firms: []firms.Firm{{ID: a, Region: "620102", Industry: "C", BaselineHeadcount: 1000}, {ID: b, Region: "620102", Industry: "C", BaselineHeadcount: 1000}},
		rows: []MonthRow{
			{FirmID: a, Period: sep, Revision: 1, Headcount: 1000, IngestedAt: now.Add(-time.Hour)},
			{FirmID: b, Period: sep, Revision: 1, Headcount: 1000, IngestedAt: now.Add(-time.Hour)},
			{FirmID: a, Period: oct, Revision: 1, Headcount: 1000, IngestedAt: now},
		}}
	out := &fakeProducer{}
	c := &clock{t: now}
	d, _ := newTestDaemon(t, st, out, c, defaultPlan(t))
	// b's loss in October: an alert other than the missing report's
	lossAlert := func() bool {
		for _, m := range out.msgs {
			e, err := alertevent.Decode(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if e.Key == b && e.Period == oct.String() && e.Rule != "missing_report" && e.Kind != alertevent.Resolved {
				return true
			}
		}
		return false
	}
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	// b's October lands now, stamped before a's (read already)
	st.rows = append(st.rows, MonthRow{FirmID: b, Period: oct, Revision: 1, Headcount: 600, IngestedAt: now.Add(-10 * time.Second)})
	c.t = now.Add(5 * time.Second)
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if lossAlert() {
		t.Fatal("b's loss alerted before the sweep: the test does not exercise it")
	}
	c.t = now.Add(sweepEvery + time.Second)
	if err := d.pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !lossAlert() {
		t.Fatalf("no alert for %s's October loss after the sweep (%d events)", b, len(out.msgs))
	}
}

// TestPlanDirectoryReload: with --plan a directory, a plan file added to it
// is loaded (a plan per province), one that claims a province another plan
// has is refused and the set in force kept, and removing it is a change too.
func TestPlanDirectoryReload(t *testing.T) {
	d, path := newTestDaemon(t, &fakeStore{}, &fakeProducer{}, &clock{t: time.Now()}, defaultPlan(t))
	dir := filepath.Dir(path)
	d.opts.Plans = []string{dir}
	d.planStamp = planStamp(d.opts.Plans)
	hubei := filepath.Join(dir, "hubei.yaml")
	withHubei := strings.Replace(defaultPlan(t), "version: 1\n", "version: 1\nprovinces: [\"420000\"]\n", 1)
	if err := os.WriteFile(hubei, []byte(withHubei), 0o600); err != nil {
		t.Fatal(err)
	}
	d.checkPlanFile()
	if len(d.plans.Plans) != 2 || d.plans.For("420102").File != hubei || d.plans.For("620102").File != path {
		t.Fatalf("after adding hubei.yaml: %s", d.plans.describe())
	}
	kept := d.plans
	bad := filepath.Join(dir, "hubei2.yaml")
	if err := os.WriteFile(bad, []byte(withHubei), 0o600); err != nil {
		t.Fatal(err)
	}
	d.checkPlanFile()
	if d.plans != kept || testutil.ToFloat64(d.m.reloadFailures) != 1 {
		t.Fatalf("two plans claiming Hubei replaced the set (failures %v): %s", testutil.ToFloat64(d.m.reloadFailures), d.plans.describe())
	}
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	d.checkPlanFile()
	if d.plans == kept || len(d.plans.Plans) != 2 {
		t.Fatalf("after removing the bad file: %s", d.plans.describe())
	}
}
