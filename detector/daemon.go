package detector

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/defaults"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Options configures `layoffwatch detect`.
type Options struct {
	Kafka      kafkautil.Options `embed:""`
	ClickHouse chdb.Options      `embed:""`

	// Plans: one per province (a plan's provinces key; the plan without
	// one applies to the other provinces), as files or directories of
	// them (plans.go).
	Plans       []string      `name:"plan" help:"Risk plan file, or a directory of plan files; repeat for a plan per province (a plan's provinces key names its provinces; the one without applies to the rest). Reloaded when a file changes, and on SIGHUP." default:"deploy/plans/default.yaml" type:"path"`
	Topic       string        `help:"Topic for alert events." default:"alerts"`
	Poll        time.Duration `help:"How often to look for newly ingested reports." default:"1s"`
	Interval    time.Duration `help:"Evaluate at least this often without new reports (reporting deadlines pass)." default:"1m"`
	Window      int           `help:"Months of reports kept in memory and evaluated (history for trends and seasons)." default:"36"`
	AlertMonths int           `help:"Only firings of the latest this many months become alerts." default:"3"`
	DeadlineDay int           `help:"Reports of a month are due by the end of this day of the next month (Asia/Shanghai)." default:"5"`
	// AlertHorizon: a month's warnings are current until the end of its
	// reporting window plus this, old after (alertevent.Event.Old). The
	// default, 35 days, keeps a month current until the next month's
	// reports are due, and about five days more for late ones to land.
	AlertHorizon time.Duration `help:"Warnings about a month whose reporting deadline passed longer ago than this are old: recorded and shown, told to officials in one summary, never paged or escalated (840h: 35 days)." default:"840h"`
	MetricsAddr  string        `help:"Serve /metrics, /healthz (alive) and /readyz (ClickHouse and Kafka reachable, the last pass succeeded) here (empty: off)." default:"127.0.0.1:9103"`
	// Several replicas divide the prefectures (and the provinces' own
	// rules): each loads and evaluates only its share, with the partials
	// the others publish (share.go, sharded.go). Statically (--shards), or
	// by leases in ZooKeeper that move when a replica dies or joins.
	Shard         int           `help:"This replica's shard, 0 … shards−1 (with --shards)." default:"0"`
	Shards        int           `help:"Replicas dividing the prefectures statically, each evaluating only its own (0 or 1: one replica; no failover: see --zookeeper)." default:"1"`
	ZooKeeper     string        `help:"ZooKeeper or ClickHouse Keeper (host:port, comma-separated): replicas divide the prefectures by leases there, and take a dead replica's over." name:"zookeeper"`
	ZooKeeperRoot string        `help:"ZooKeeper path of the replicas' members and leases (default /layoffwatch/<database>/detect)." name:"zookeeper-root"`
	ReplicaID     string        `help:"This replica's name among the replicas (default: host name and process id)." name:"replica-id"`
	LeaseTimeout  time.Duration `help:"ZooKeeper session timeout: how soon a dead replica's prefectures are taken over." default:"10s"`
	JoinWait      time.Duration `help:"With --zookeeper: a replica that joins takes no prefecture for this long, so that replicas started together see each other and each loads only its share." default:"5s"`
	ShareEpoch    time.Duration `help:"Replicas of several read the reports up to the same epochs, a multiple of this, and evaluate on one epoch's data (the same on every replica); keep it longer than a replica's pass, or replicas wait for each other's epochs to meet." default:"30s"`

	// Reload asks for the plan file to be read again (the command wires
	// SIGHUP to it); nil: only a changed file reloads it.
	Reload <-chan struct{} `kong:"-"`
	// Health receives the component's readiness checks (embedding: the
	// in-process stack serves one /readyz); nil: a Health of its own.
	Health *obs.Health `kong:"-"`
	// OnPass is called after every pass, evaluated or not (embedding:
	// waiting for the first evaluation); nil: nothing.
	OnPass func(Pass) `kong:"-"`
}

// Pass is the outcome of one pass of the detector's loop.
type Pass struct {
	Evaluated bool  // the plan was evaluated (new reports, a reload, or the interval passed)
	Events    int   // alert events emitted
	Err       error // the pass failed (and is retried at the next poll)
}

// DefaultOptions returns the options of `layoffwatch detect` with every
// flag at its default (the kong tags above are the one place defaults are
// written), for callers that run the detector in process.
func DefaultOptions() (Options, error) { return defaults.Of[Options]("detect") }

// Validate checks the options without network I/O.
func (o Options) Validate() error {
	if err := o.Kafka.Validate(); err != nil {
		return err
	}
	if err := o.ClickHouse.Validate(); err != nil {
		return err
	}
	switch {
	case len(o.Plans) == 0:
		return errors.New("no risk plan given (--plan)")
	case o.Topic == "":
		return errors.New("alert topic is empty")
	case o.Poll <= 0 || o.Interval <= 0:
		return errors.New("poll and interval must be positive")
	case o.Window < 15:
		return fmt.Errorf("window must be at least 15 months (the trend rule needs them), got %d", o.Window)
	case o.AlertMonths < 1 || o.AlertMonths > o.Window:
		return fmt.Errorf("alert months must be between 1 and the window (%d), got %d", o.Window, o.AlertMonths)
	case o.DeadlineDay < 1 || o.DeadlineDay > 28:
		return fmt.Errorf("deadline day must be between 1 and 28, got %d", o.DeadlineDay)
	case o.AlertHorizon <= 0:
		return fmt.Errorf("alert horizon must be positive, got %s", o.AlertHorizon)
	case o.Shards < 0 || o.Shard < 0 || (o.Shards > 0 && o.Shard >= o.Shards) || (o.Shards == 0 && o.Shard != 0):
		return fmt.Errorf("shard %d of %d: want 0 ≤ shard < shards (0 shards: one replica)", o.Shard, o.Shards)
	case o.ZooKeeper != "" && o.Shards > 1:
		return errors.New("--zookeeper and --shards both divide the prefectures: give one")
	case o.JoinWait < 0:
		return fmt.Errorf("join wait must not be negative, got %s", o.JoinWait)
	case o.sharded() && o.LeaseTimeout < time.Second:
		// also bounds a sharded replica's alert writes (a third of it)
		return fmt.Errorf("lease timeout must be at least 1s, got %s", o.LeaseTimeout)
	case o.sharded() && o.ShareEpoch < time.Second:
		return fmt.Errorf("share epoch must be at least 1s, got %s", o.ShareEpoch)
	case o.ZooKeeperRoot != "" && !strings.HasPrefix(o.ZooKeeperRoot, "/"):
		return fmt.Errorf("zookeeper root %q must start with /", o.ZooKeeperRoot)
	}
	return nil
}

// sharded reports whether this replica is one of several.
func (o Options) sharded() bool { return o.ZooKeeper != "" || o.Shards > 1 }

// store is what the daemon needs of ClickHouse; *Store is one.
type store interface {
	Firms(ctx context.Context) ([]firms.Firm, error)
	ReportsSince(ctx context.Context, from, to report.Period, since time.Time, fn func(*MonthRow)) error
	InsertAlertEvents(ctx context.Context, events []alertevent.Event) error
	AlertStates(ctx context.Context) (map[string]alertevent.Event, error)
}

// producer sends alert events; *kafka.Writer is one.
type producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// daemon turns newly ingested reports into alert state changes:
//
//	ClickHouse reports ──poll──▶ Dataset ──Evaluator──▶ firings
//	firings ──diff with alert state──▶ events ──▶ Kafka "alerts" (first) ──▶ ClickHouse alerts
//
// The alert state survives restarts: it is rebuilt from the alerts topic and
// the alerts table, so an event is never emitted twice.
type daemon struct {
	opts    Options
	log     *slog.Logger
	m       *detectMetrics
	store   store
	out     producer
	now     func() time.Time
	regions *region.Table

	plans     *PlanSet
	planStamp string // the plan files and their modification times
	uncovered string // provinces of the registry no plan applies to, last logged

	ds        *Dataset
	firmsAt   time.Time
	firmsHash [32]byte
	since     time.Time // reports ingested at or after this are read next
	swept     time.Time // when the last readOverlap was last read again
	dirty     bool

	state   map[string]*alertevent.Event // the latest event of every alert
	pending []alertevent.Event           // produced to Kafka, not yet in ClickHouse
	lastRun time.Time
	// startedEmpty: no alert was known at start (a first start), so what
	// the first evaluation finds about old months is history.
	startedEmpty bool
	// share: this replica's part when it is one of several (nil: one
	// replica evaluates everything)
	share       *shareState
	planChanged bool // the plan was reloaded since the last evaluation

	passed   Pass                 // what the current pass did (evaluate fills it)
	lastPass atomic.Pointer[Pass] // for readiness; nil before the first pass
}

// Run runs the detector until ctx ends.
func Run(ctx context.Context, opts Options, log *slog.Logger, reg *prometheus.Registry) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	plans, err := LoadPlans(opts.Plans...)
	if err != nil {
		return err
	}
	if opts.sharded() {
		if err := plans.CheckSharded(); err != nil {
			return err
		}
	}
	ch, err := chdb.Open(ctx, opts.ClickHouse, log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.RequireSchema(ctx); err != nil {
		return err
	}
	if err := kafkautil.EnsureTopics(ctx, opts.Kafka, opts.Topic); err != nil {
		return err
	}
	w := kafkautil.NewWriter(opts.Kafka, opts.Topic, log)
	defer w.Close()
	st := NewStore(ch)
	d, err := newDaemon(opts, plans, st, w, time.Now, log, reg)
	if err != nil {
		return err
	}
	readFrom := func(ctx context.Context, from map[int]int64, fn func(kafka.Message) error) (map[int]int64, error) {
		return kafkautil.ReadFrom(ctx, opts.Kafka, opts.Topic, from, fn)
	}
	if opts.sharded() {
		var own owner = staticOwner{shard: opts.Shard, shards: opts.Shards}
		id := opts.ReplicaID
		if id == "" {
			host, _ := os.Hostname()
			id = replicaID(host, os.Getpid())
		}
		if opts.ZooKeeper != "" {
			root := opts.ZooKeeperRoot
			if root == "" {
				root = "/layoffwatch/" + opts.ClickHouse.Database + "/detect"
			}
			z, err := newZKOwner(ctx, opts.ZooKeeper, root, id, opts.LeaseTimeout, opts.JoinWait, log)
			if err != nil {
				return err
			}
			defer z.close()
			own = z
		} else {
			id = fmt.Sprintf("shard-%d", opts.Shard)
		}
		d.shareWith(st, own, id, readFrom)
		log.Info("detect replica of several", "replica", id, "zookeeper", opts.ZooKeeper, "shards", opts.Shards)
	}
	if err := d.loadState(ctx, readFrom); err != nil {
		return err
	}
	health := opts.Health
	if health == nil {
		health = &obs.Health{}
	}
	health.Check("clickhouse", ch.Ping)
	health.Check("kafka", func(ctx context.Context) error { return kafkautil.Ping(ctx, opts.Kafka) })
	health.Check("last pass", func(context.Context) error { return d.passHealth() })
	health.SetReady(true)
	defer health.SetReady(false)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return obs.Serve(gctx, opts.MetricsAddr, reg, health, false, log) })
	g.Go(func() error { return d.loop(gctx, opts.Reload) })
	return g.Wait()
}

// passHealth is nil when the last pass succeeded.
func (d *daemon) passHealth() error {
	p := d.lastPass.Load()
	switch {
	case p == nil:
		return errors.New("no pass yet")
	case p.Err != nil:
		return fmt.Errorf("last pass failed: %w", p.Err)
	}
	return nil
}

func newDaemon(opts Options, plans *PlanSet, st store, out producer, now func() time.Time, log *slog.Logger, reg prometheus.Registerer) (*daemon, error) {
	for _, p := range plans.Plans {
		if _, err := NewEvaluator(p); err != nil {
			return nil, err
		}
	}
	d := &daemon{opts: opts, log: log, m: newDetectMetrics(reg), store: st, out: out, now: now, regions: region.China(),
		plans: plans, state: map[string]*alertevent.Event{}}
	d.planStamp = planStamp(opts.Plans)
	log.Info("risk plans", "plans", plans.describe())
	return d, nil
}

// planStamp fingerprints the plan files of paths (a directory's too): their
// names and modification times ("" when one cannot be read).
func planStamp(paths []string) string {
	files, err := PlanFiles(paths)
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return ""
		}
		fmt.Fprintf(&b, "%s@%d\n", f, fi.ModTime().UnixNano())
	}
	return b.String()
}

// shareWith makes the daemon one replica of several (sharded.go).
func (d *daemon) shareWith(st shardStore, own owner, replica string, readFrom func(context.Context, map[int]int64, func(kafka.Message) error) (map[int]int64, error)) {
	d.share = &shareState{store: st, owner: own, replica: replica, units: map[string]bool{}, readFrom: readFrom}
}

// loadState rebuilds the alert state from the alerts table and the alerts
// topic (whichever knows a later version wins), and records in ClickHouse any
// event the topic has that the table lacks (a crash between the two writes).
// A replica of several remembers where it stopped reading the topic, to
// catch up from there when it takes units over.
func (d *daemon) loadState(ctx context.Context, readFrom func(context.Context, map[int]int64, func(kafka.Message) error) (map[int]int64, error)) error {
	stored, err := d.store.AlertStates(ctx)
	if err != nil {
		return err
	}
	for id, e := range stored {
		d.state[id] = &e
	}
	var missing []alertevent.Event
	next, err := readFrom(ctx, nil, func(m kafka.Message) error {
		e, err := alertevent.Decode(m.Value)
		if err != nil {
			d.log.Warn("skipping an undecodable alert event", "offset", m.Offset, "err", err)
			return nil
		}
		if s, ok := d.state[e.ID]; !ok || e.Version > s.Version {
			d.state[e.ID] = &e
		}
		if s, ok := stored[e.ID]; !ok || e.Version > s.Version {
			missing = append(missing, e)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if d.share != nil {
		d.share.offsets = next
	}
	d.pending = missing
	d.startedEmpty = len(d.state) == 0
	d.log.Info("alert state loaded", "alerts", len(d.state), "events_to_record", len(missing))
	return nil
}

func (d *daemon) loop(ctx context.Context, reload <-chan struct{}) error {
	tick := time.NewTicker(d.opts.Poll)
	defer tick.Stop()
	for {
		d.passed = Pass{}
		err := d.pass(ctx)
		p := d.passed
		if err != nil {
			p = Pass{Err: err}
		}
		if p.Err != nil {
			if ctx.Err() != nil {
				return nil
			}
			d.log.Warn("detector pass failed; retrying", "err", p.Err)
		}
		d.lastPass.Store(&p)
		if d.opts.OnPass != nil {
			d.opts.OnPass(p)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-reload:
			d.reloadPlan("asked (SIGHUP)")
		case <-tick.C:
			d.checkPlanFile()
		}
	}
}

// pass reads what is new and, when anything changed or the interval passed,
// evaluates and emits the state changes.
func (d *daemon) pass(ctx context.Context) error {
	now := d.now()
	if err := d.refresh(ctx, now); err != nil {
		return err
	}
	if len(d.pending) > 0 {
		if err := d.store.InsertAlertEvents(ctx, d.pending); err != nil {
			return fmt.Errorf("record alert events: %w", err)
		}
		d.pending = nil
	}
	if d.share != nil {
		ready, err := d.exchange(ctx, now)
		if err != nil || !ready {
			return err
		}
	}
	if !d.dirty && now.Sub(d.lastRun) < d.opts.Interval {
		return nil
	}
	return d.evaluate(ctx, now)
}

// refresh keeps the dataset current: the registry every minute, the window
// on a new month, and the reports ingested since the last pass.
func (d *daemon) refresh(ctx context.Context, now time.Time) error {
	if d.share != nil {
		return d.refreshShare(ctx, now)
	}
	end := report.PeriodOf(now.In(report.Shanghai()))
	start := end.Add(1 - d.opts.Window)
	rebuild := d.ds == nil || d.ds.Start() != start
	if rebuild || now.Sub(d.firmsAt) >= time.Minute {
		list, err := d.store.Firms(ctx)
		if err != nil {
			return err
		}
		d.firmsAt = now
		if h := hashFirms(list); h != d.firmsHash || rebuild {
			d.firmsHash = h
			ds, err := NewDataset(list, start, end)
			if err != nil {
				return err
			}
			d.ds, d.since, d.dirty = ds, time.Time{}, true
			d.m.firms.Set(float64(len(list)))
		}
	}
	newest := d.since
	// ingested_at is when ingest began a batch, not when its rows became
	// visible: with two ingest replicas, one's batch can land after the
	// other's later-stamped one was read (or an insert is retried while
	// ClickHouse restarts). Once a sweep interval, read the last
	// readOverlap again (Set ignores what it holds), so such rows are
	// late by at most the sweep interval, never lost.
	from := d.since
	switch {
	case d.swept.IsZero() || from.IsZero():
		d.swept = now
	case now.Sub(d.swept) >= sweepEvery:
		from, d.swept = from.Add(-readOverlap), now
	}
	err := d.store.ReportsSince(ctx, d.ds.Start(), d.ds.End(), from, func(r *MonthRow) {
		if d.ds.Set(r.FirmID, r.Period, r.Revision, r.Headcount, r.Vacancies, r.Hires, r.Sep) {
			d.dirty = true
		}
		if r.IngestedAt.After(newest) {
			newest = r.IngestedAt
		}
	})
	if err != nil {
		return err
	}
	// ingested_at has whole seconds: the newest second is read again next
	// time (Set ignores what it already has), so a row landing later in
	// the same second is not missed
	d.since = newest
	return nil
}

// sweepEvery is how often a single detector reads the last readOverlap
// of reports again (refresh).
const sweepEvery = time.Minute

// owns reports whether this replica emits the alerts of region (a firm's
// county, a county, prefecture or province): one replica owns everything;
// one of several the units it holds.
func (d *daemon) owns(regionCode string) bool {
	return d.share == nil || d.share.units[unitOf(regionCode)]
}

func hashFirms(list []firms.Firm) [32]byte {
	h := sha256.New()
	for _, f := range list {
		fmt.Fprintf(h, "%s|%s|%s|%d|%s|%s\n", f.ID, f.Region, f.Industry, f.BaselineHeadcount, f.EnrolledFrom, f.EnrolledTo)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// evaluate runs the plan and emits what changed.
func (d *daemon) evaluate(ctx context.Context, now time.Time) error {
	start := time.Now()
	end := d.ds.End()
	from := end.Add(1 - d.opts.AlertMonths)
	day := d.opts.DeadlineDay
	opts := EvalOptions{From: from, To: end, Due: func(p report.Period) bool { return !now.Before(report.Deadline(p, day)) }}
	if d.share != nil {
		opts.Shared = d.share.shared
	}
	firings, err := d.plans.Evaluate(d.ds, opts)
	if err != nil {
		return err
	}
	if u := strings.Join(d.plans.Uncovered(d.ds), ","); u != d.uncovered {
		d.uncovered = u
		if u != "" {
			d.log.Warn("firms of provinces no risk plan applies to are not evaluated: give a plan without a provinces key, or name them in one", "provinces", u)
		}
	}
	d.m.evalSeconds.Observe(time.Since(start).Seconds())
	d.m.passes.Inc()
	d.m.lastEval.SetToCurrentTime()
	events := d.diff(firings, from, end, now)
	old := 0
	for _, e := range events {
		if e.Old != "" {
			old++
			d.m.oldEvents.WithLabelValues(e.Old).Inc()
		}
	}
	if len(events) > 0 && d.share != nil && !d.share.owner.valid() {
		// the leases may have moved on (a session lost): another replica
		// may be emitting for these units now
		return errors.New("leases not valid (zookeeper session lost): not emitting; retrying")
	}
	if len(events) > 0 {
		msgs := make([]kafka.Message, len(events))
		for i, e := range events {
			b, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode alert event: %w", err)
			}
			msgs[i] = kafka.Message{Key: []byte(e.ID), Value: b}
		}
		wctx := ctx
		if d.share != nil {
			// a write slower than the lease could land after another
			// replica took these units over: give up well before
			var cancel context.CancelFunc
			wctx, cancel = context.WithTimeout(ctx, d.opts.LeaseTimeout/3)
			defer cancel()
		}
		if err := d.out.WriteMessages(wctx, msgs...); err != nil {
			return fmt.Errorf("emit alert events: %w", err)
		}
		// emitted: the state moves on even if recording fails below
		for i := range events {
			e := events[i]
			d.state[e.ID] = &e
			d.m.events.WithLabelValues(e.Kind, e.Rule, e.Level.String()).Inc()
		}
		d.pending = append(d.pending, events...)
		if err := d.store.InsertAlertEvents(ctx, d.pending); err != nil {
			d.log.Warn("record alert events failed; retrying next pass", "events", len(d.pending), "err", err)
		} else {
			d.pending = nil
		}
		d.log.Info("alert events emitted", "events", len(events), "old", old)
	}
	d.dirty, d.planChanged = false, false
	d.lastRun = now
	d.observe(firings, end)
	d.passed = Pass{Evaluated: true, Events: len(events)}
	return nil
}

// diff compares the firings of months from … to with the known state and
// returns the events that bring the state up to date, in a stable order.
func (d *daemon) diff(firings []Firing, from, to report.Period, now time.Time) []alertevent.Event {
	var events []alertevent.Event
	firing := make(map[string]bool, len(firings))
	for _, f := range firings {
		if !d.owns(d.firingRegion(f)) {
			continue
		}
		id := alertevent.ID(f.Rule, f.Scope, f.Key, f.Period.String())
		firing[id] = true
		s := d.state[id]
		var kind string
		var prev alertevent.Level
		switch {
		case s == nil || s.Kind == alertevent.Resolved:
			kind = alertevent.Firing
		case s.Level != f.Level:
			kind, prev = alertevent.LevelChanged, s.Level
		default:
			continue
		}
		version := uint32(1)
		if s != nil {
			version = s.Version + 1
		}
		e := d.event(f, id, version, kind, prev, now)
		d.judge(&e, now)
		events = append(events, e)
	}
	var resolved []string
	for id, s := range d.state {
		if !d.owns(s.Region) {
			continue
		}
		p, err := report.ParsePeriod(s.Period)
		if err == nil && s.Kind != alertevent.Resolved && p >= from && p <= to && !firing[id] {
			resolved = append(resolved, id)
		}
	}
	sort.Strings(resolved)
	for _, id := range resolved {
		// a resolved event repeats the alert's last description, with what
		// the plan now says about its level
		e := *d.state[id]
		e.Version++
		e.Kind, e.PreviousLevel, e.PreviousLevelFacts, e.At = alertevent.Resolved, 0, alertevent.LevelFacts{}, now.UTC()
		if p := d.plans.For(e.Region); p != nil {
			// the plan now in force for the alert's province
			e.Plan, e.LevelFacts = p.File, p.Levels[e.Level]
		}
		d.judge(&e, now)
		events = append(events, e)
	}
	return events
}

func (d *daemon) event(f Firing, id string, version uint32, kind string, prev alertevent.Level, now time.Time) alertevent.Event {
	fm, _ := d.ds.firm(f.Key)
	e := f.Plan.Event(f, fm, d.regions, now)
	e.ID, e.Version, e.Kind = id, version, kind
	if prev != 0 {
		e.PreviousLevel, e.PreviousLevelFacts = prev, f.Plan.Levels[prev]
	}
	return e
}

// judge says until when e's month is urgent — the end of its reporting
// window plus the alert horizon — and, once that has passed, why e comes
// so late (alertevent.Event.Old): the alert component needs no horizon of
// its own.
func (d *daemon) judge(e *alertevent.Event, now time.Time) {
	e.Old, e.UrgentUntil = "", time.Time{}
	p, err := report.ParsePeriod(e.Period)
	if err != nil {
		return
	}
	e.UrgentUntil = report.Deadline(p, d.opts.DeadlineDay).Add(d.opts.AlertHorizon).UTC()
	if now.Before(e.UrgentUntil) {
		return
	}
	switch {
	case d.lastRun.IsZero() && d.startedEmpty:
		e.Old = alertevent.OldHistory
	case d.planChanged:
		e.Old = alertevent.OldPlanChanged
	default:
		e.Old = alertevent.OldLateData
	}
}

// firingRegion is the county of a firm firing or the region of a region one.
func (d *daemon) firingRegion(f Firing) string {
	if f.Scope == alertevent.ScopeFirm {
		fm, _ := d.ds.firm(f.Key)
		return fm.Region
	}
	reg, _, _ := strings.Cut(f.Key, "/")
	return reg
}

func (d *daemon) observe(firings []Firing, end report.Period) {
	d.m.open.Reset()
	for _, s := range d.state {
		if s.Kind != alertevent.Resolved && d.owns(s.Region) {
			d.m.open.WithLabelValues(s.Level.String()).Inc()
		}
	}
	d.m.coverage.Reset()
	reported, expected := map[string]int{}, map[string]int{}
	for i := range d.ds.firms {
		f := &d.ds.firms[i]
		if !f.EnrolledIn(end) {
			continue
		}
		p := region.PrefectureOf(f.Region)
		expected[p]++
		if d.ds.rec(i, int(end-d.ds.start)).ok {
			reported[p]++
		}
	}
	for p, n := range expected {
		d.m.coverage.WithLabelValues(p).Set(float64(reported[p]) / float64(n))
	}
}

// checkPlanFile reloads the plans when a file changed, or a directory's
// files did.
func (d *daemon) checkPlanFile() {
	st := planStamp(d.opts.Plans)
	if st == "" || st == d.planStamp {
		return
	}
	d.planStamp = st
	d.reloadPlan("file changed")
}

// reloadPlan loads the plans again, all of them as one set; a bad plan (or
// two plans claiming one province) is refused and the old set kept.
func (d *daemon) reloadPlan(why string) {
	plans, err := LoadPlans(d.opts.Plans...)
	if err == nil && d.share != nil {
		err = plans.CheckSharded()
	}
	if err == nil {
		d.plans, d.dirty, d.planChanged = plans, true, true
		d.log.Info("plans reloaded", "why", why, "plans", plans.describe())
		return
	}
	d.m.reloadFailures.Inc()
	d.log.Error("plans refused; keeping the previous ones", "why", why, "files", strings.Join(d.opts.Plans, ","), "err", err)
}

type detectMetrics struct {
	passes         prometheus.Counter
	evalSeconds    prometheus.Histogram
	lastEval       prometheus.Gauge
	firms          prometheus.Gauge
	events         *prometheus.CounterVec
	oldEvents      *prometheus.CounterVec
	open           *prometheus.GaugeVec
	coverage       *prometheus.GaugeVec
	reloadFailures prometheus.Counter
	// a replica of several
	units    *prometheus.GaugeVec
	partials prometheus.Counter
	waiting  prometheus.Gauge
}

func newDetectMetrics(reg prometheus.Registerer) *detectMetrics {
	m := &detectMetrics{
		passes: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_detect_passes_total", Help: "Evaluations of the plan."}),
		evalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "layoffwatch_detect_evaluation_seconds",
			Help: "Time to evaluate the plan over the window.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}),
		lastEval: prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_detect_last_evaluation_timestamp_seconds", Help: "Unix time of the last evaluation."}),
		firms:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_detect_firms_evaluated", Help: "Firms in the registry the detector evaluates."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_detect_events_total",
			Help: "Alert state changes emitted, by event (firing, level_changed, resolved), rule and level."}, []string{"event", "rule", "level"}),
		oldEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_detect_old_events_total",
			Help: "Alert events about months past the alert horizon (told in summaries, never paged), by why they came late (history, late_data, plan_changed)."}, []string{"reason"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layoffwatch_detect_open_alerts",
			Help: "Alerts firing now, by level."}, []string{"level"}),
		coverage: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layoffwatch_detect_coverage_ratio",
			Help: "Share of the prefecture's enrolled firms that reported for the current month."}, []string{"prefecture"}),
		reloadFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_detect_plan_reload_failures_total",
			Help: "Plan reloads refused because the new plan did not load."}),
		units: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layoffwatch_detect_units_held",
			Help: "Prefectures and provinces this replica evaluates (a replica of several), by kind."}, []string{"kind"}),
		partials: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_detect_partials_published_total",
			Help: "Prefecture partials this replica published (a replica of several)."}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "layoffwatch_detect_waiting_for_partials",
			Help: "1 while this replica cannot evaluate because a prefecture of its provinces has no partial for the current window yet."}),
	}
	reg.MustRegister(m.passes, m.evalSeconds, m.lastEval, m.firms, m.events, m.oldEvents, m.open, m.coverage, m.reloadFailures,
		m.units, m.partials, m.waiting)
	return m
}
