package detector

import (
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/expr-lang/expr/vm"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Firing is one rule holding for one key and month.
type Firing struct {
	Period report.Period    `json:"period"`
	Rule   string           `json:"rule"`
	Level  alertevent.Level `json:"level"`
	Scope  alertevent.Scope `json:"scope"`
	Key    string           `json:"key"`
	Values map[string]any   `json:"values"`
	// Reported and Expected give the coverage of the month behind the
	// firing: the region's firms (region rules) or the firm's county's
	// (firm rules).
	Reported int `json:"-"`
	Expected int `json:"-"`
	// Plan is the plan that raised it (PlanSet.Evaluate; nil from an
	// Evaluator's own Evaluate).
	Plan *Plan `json:"-"`
}

// EvalOptions bound an evaluation.
type EvalOptions struct {
	// From and To bound the months whose firings are returned; zero values
	// mean the dataset's window. Months before From are still evaluated as
	// history (fired(), trends).
	From, To report.Period
	// Due tells whether a month's reports are due. Nil: a month is due when
	// it is not after the latest month with data (a backtest).
	Due func(report.Period) bool
	// Firms, when set, limits firm rules to these firm ids (region rules
	// still see every firm).
	Firms map[string]bool
	// Shared, when set, evaluates one replica's share of a sharded
	// detector (share.go): the dataset holds the firms of its
	// prefectures, the province-industry peer groups come from Shared,
	// and province rules run only for Shared.Provinces, from their sums.
	Shared *Shared
}

// Evaluator is a plan compiled for evaluation. It is immutable: one
// Evaluator evaluates any number of datasets, from any number of goroutines
// at once; each Evaluate keeps its state to itself.
type Evaluator struct {
	firmRules   []*program     // in plan order
	regionRules []*program     // in plan order
	kinds       []groupKindKey // the groupings of firms the region rules need
	nvars       int            // let slots the closures need
	stats       bool           // a rule reads the expectations (stats.go)
}

// NewEvaluator returns the plan compiled for evaluation (ParsePlan compiled
// it once, when it checked the plan).
func NewEvaluator(p *Plan) (*Evaluator, error) {
	if p.compiled != nil {
		return p.compiled, nil
	}
	programs, err := compile(p)
	if err != nil {
		return nil, err
	}
	return newEvaluator(programs), nil
}

func newEvaluator(programs []*program) *Evaluator {
	e := &Evaluator{}
	seen := map[groupKindKey]bool{}
	for _, pr := range programs {
		e.nvars = max(e.nvars, pr.nvars)
		e.stats = e.stats || readsStats(pr.Rule)
		if pr.Scope == alertevent.ScopeFirm {
			e.firmRules = append(e.firmRules, pr)
			continue
		}
		e.regionRules = append(e.regionRules, pr)
		if k := groupKind(pr.Rule); !seen[k] {
			seen[k] = true
			e.kinds = append(e.kinds, k)
		}
	}
	return e
}

// readsStats says whether r reads a metric computed from the expectations,
// itself or, in a predicate over a region's firms, from each firm (.z in
// count(firms, .z < -3)). A plan none of whose rules do — the statutory
// plan's literal rules — is evaluated without them, at the first plan's cost.
func readsStats(r *Rule) bool {
	for _, name := range r.refs {
		if r.Scope == alertevent.ScopeFirm && firmMetrics.isStat(name) || r.Scope != alertevent.ScopeFirm && regionMetrics.isStat(name) {
			return true
		}
	}
	for _, name := range r.firmFields {
		if firmMetrics.isStat(name) {
			return true
		}
	}
	return false
}

// Evaluate runs the plan over the dataset and returns its firings sorted by
// period, rule and key. Month by month, in order (trends and fired() look
// back): the firm rules over every firm, the month's reporting coverage,
// then the region rules over every region.
func (e *Evaluator) Evaluate(ds *Dataset, opts EvalOptions) ([]Firing, error) {
	if sh := opts.Shared; sh != nil && (sh.Start != ds.start || sh.Months != ds.months) {
		return nil, fmt.Errorf("the partials cover %s + %d months, the dataset %s + %d", sh.Start, sh.Months, ds.start, ds.months)
	}
	ev := e.start(ds, opts)
	for m := 0; m <= ev.last; m++ {
		if err := ev.firmPass(m); err != nil {
			return nil, err
		}
		ev.coverage()
		if err := ev.regionPass(m); err != nil {
			return nil, err
		}
	}
	sort.Slice(ev.out, func(i, j int) bool {
		a, b := ev.out[i], ev.out[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Key < b.Key
	})
	return ev.out, nil
}

// evaluation is the state of one Evaluate.
type evaluation struct {
	*Evaluator
	ds        *Dataset
	from      report.Period
	last      int // the last month index evaluated
	due       func(report.Period) bool
	only      map[string]bool
	envs      []FirmEnv // this month's, per firm
	enrolled  []bool    // this month's, per firm
	history   []int     // months with a report before this one, per firm
	firedAt   map[string][]bool
	groups    map[groupKindKey][]*group
	countyOf  []int    // the firm's county slot
	countyCov [][2]int // this month's reported, expected per county slot
	workers   []*worker
	st        *firmStats
	shared    *Shared
	inSample  [][2]int // per firm, the month indexes [first, last] it is in the sample
	out       []Firing
}

func (e *Evaluator) start(ds *Dataset, opts EvalOptions) *evaluation {
	from, to := opts.From, opts.To
	if from == 0 {
		from = ds.start
	}
	if to == 0 {
		to = ds.End()
	}
	due := opts.Due
	if due == nil {
		latest := ds.latest
		due = func(p report.Period) bool { return p <= latest }
	}
	nf := len(ds.firms)
	ev := &evaluation{Evaluator: e, ds: ds, from: from, last: min(int(to-ds.start), ds.months-1), due: due, only: opts.Firms,
		envs: make([]FirmEnv, nf), enrolled: make([]bool, nf), history: make([]int, nf), firedAt: map[string][]bool{}}
	for _, pr := range e.firmRules {
		if pr.tracked {
			ev.firedAt[pr.ID] = make([]bool, nf*ds.months)
		}
	}
	if e.stats {
		ev.st = newFirmStats(ds, opts.Shared)
	}
	ev.inSample = make([][2]int, nf)
	for f := range ds.firms {
		first, last := -1, -1
		for m := range ds.months {
			if ds.firms[f].EnrolledIn(ds.start.Add(m)) {
				if first < 0 {
					first = m
				}
				last = m
			}
		}
		ev.inSample[f] = [2]int{first, last}
	}
	ev.groups = e.groups(ds, opts.Shared)
	ev.shared = opts.Shared
	var counties int
	ev.countyOf, counties = countyIndex(ds)
	ev.countyCov = make([][2]int, counties)
	// the firms of a month are split among one worker per core (from 2,000
	// firms a worker)
	n := max(1, min(runtime.GOMAXPROCS(0), nf/2000))
	per := (nf + n - 1) / n
	for i := range n {
		w := newWorker(e)
		w.ev, w.lo, w.hi, w.index = ev, min(i*per, nf), min((i+1)*per, nf), i
		ev.workers = append(ev.workers, w)
	}
	return ev
}

// firmPass computes every firm's metrics for month index m and runs the
// firm rules, each worker on its own range of firms: first every firm's
// change, then the peer groups' medians (they need every change), then the
// expectations, metrics and rules.
func (ev *evaluation) firmPass(m int) error {
	if ev.st != nil {
		ev.parallel(func(w *worker) { ev.st.changes(ev.ds, m, w.lo, w.hi) })
		ev.st.peers(m)
	}
	ev.parallel(func(w *worker) {
		if ev.st != nil {
			ev.st.expectation(m, w.lo, w.hi)
		}
		w.err = w.firmMonth(m)
	})
	for _, w := range ev.workers {
		if w.err != nil {
			return w.err
		}
	}
	return nil
}

// parallel runs fn on every worker at once and waits for them.
func (ev *evaluation) parallel(fn func(w *worker)) {
	var wg sync.WaitGroup
	for _, w := range ev.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(w)
		}()
	}
	wg.Wait()
}

// coverage counts, per county, the firms enrolled this month and those that
// reported, and moves the workers' firings of the month to the output with
// the coverage of the firm's county.
func (ev *evaluation) coverage() {
	clear(ev.countyCov)
	for f := range ev.ds.firms {
		if !ev.enrolled[f] {
			continue
		}
		c := &ev.countyCov[ev.countyOf[f]]
		c[1]++
		if ev.envs[f].Reported {
			c[0]++
		}
	}
	for _, w := range ev.workers {
		for i := range w.out {
			fr := &w.out[i]
			c := ev.countyCov[ev.countyOf[ev.ds.index[fr.Key]]]
			fr.Reported, fr.Expected = c[0], c[1]
		}
		ev.out = append(ev.out, w.out...)
		w.out = w.out[:0]
	}
}

// regionPass aggregates every region's month m — every month, whether its
// firings are wanted or not, for the trend series — and runs the region
// rules.
func (ev *evaluation) regionPass(m int) error {
	t := ev.ds.start.Add(m)
	w := ev.workers[0]
	for _, kind := range ev.kinds {
		list := ev.groups[kind]
		envs := make([]*RegionEnv, len(list))
		// the groups are independent: each worker takes every n-th
		ev.parallel(func(w *worker) {
			for i := w.index; i < len(list); i += len(ev.workers) {
				if ev.shared != nil && kind.scope == alertevent.ScopeProvince {
					envs[i] = list[i].fromSums(ev.shared.provinceSums(list[i].region, list[i].industry, kind.industry, m), m)
					continue
				}
				envs[i] = list[i].metrics(ev.envs, ev.enrolled, m)
				if ev.st != nil {
					list[i].expectation(ev.st, ev.ds, ev.enrolled, kind.scope, m, envs[i])
				}
			}
		})
		if t < ev.from {
			continue
		}
		for _, pr := range ev.regionRules {
			if groupKind(pr.Rule) != kind || m < pr.MinHistory {
				continue
			}
			for i, env := range envs {
				w.ctx.region = env
				lv, ok, err := w.level(pr)
				if err != nil {
					return fmt.Errorf("rule %s, region %s, %s: %w", pr.ID, list[i].key, t, err)
				}
				if !ok {
					continue
				}
				fr, err := w.firing(pr, t, lv, list[i].key)
				if err != nil {
					return err
				}
				fr.Reported, fr.Expected = int(env.FirmsReported), int(env.FirmsExpected)
				ev.out = append(ev.out, fr)
			}
		}
	}
	return nil
}

// worker evaluates on one goroutine: the compiled rules are shared, what
// they read and the VM are its own.
type worker struct {
	ev     *evaluation // the evaluation under way
	ctx    evalCtx     // what the closures read
	vm     vm.VM
	vmEnv  map[string]any // the VM's environment, refilled for each condition it runs
	lo, hi int            // the firms of this worker
	index  int            // its place among the evaluation's workers
	firm   int            // the firm and month index under evaluation, for fired()
	month  int
	out    []Firing
	err    error
}

func newWorker(e *Evaluator) *worker {
	w := &worker{ctx: evalCtx{vars: make([]value, e.nvars)}}
	w.ctx.fired = w.firedBefore
	return w
}

// firedBefore answers fired(rule, k) for the firm and month under
// evaluation. Workers share the history and write only their own firms'.
func (w *worker) firedBefore(rule string, k int) bool {
	m := w.month - k
	if m < 0 {
		return false
	}
	bits := w.ev.firedAt[rule]
	return bits != nil && bits[w.firm*w.ev.ds.months+m]
}

// firmMonth computes the metrics of this worker's firms for month index m
// and runs the firm rules on them.
func (w *worker) firmMonth(m int) error {
	ev, ds := w.ev, w.ev.ds
	t := ds.start.Add(m)
	due := ev.due(t)
	for f := w.lo; f < w.hi; f++ {
		fm := &ds.firms[f]
		in := ev.inSample[f]
		ev.enrolled[f] = m >= in[0] && m <= in[1] && in[0] >= 0
		if ev.enrolled[f] {
			env := &ev.envs[f]
			computeFirm(ds, f, m, ev.history[f], due, env)
			env.lazy = firmLazy{st: ev.st, ds: ds, f: f, m: m}
			if ev.only == nil || ev.only[fm.ID] {
				if err := w.firmRules(f, m, env); err != nil {
					return err
				}
			}
		}
		if ds.rec(f, m).ok {
			ev.history[f]++
		}
	}
	return nil
}

func (w *worker) firmRules(f, m int, env *FirmEnv) error {
	ev := w.ev
	t := ev.ds.start.Add(m)
	w.firm, w.month, w.ctx.firm = f, m, env
	for _, pr := range ev.firmRules {
		if env.Reported == pr.OnMissing || float64(pr.MinHistory) > env.HistoryMonths {
			continue
		}
		lv, ok, err := w.level(pr)
		if err != nil {
			return fmt.Errorf("rule %s, firm %s, %s: %w", pr.ID, ev.ds.firms[f].ID, t, err)
		}
		if !ok {
			continue
		}
		if pr.tracked {
			ev.firedAt[pr.ID][f*ev.ds.months+m] = true
		}
		if t >= ev.from {
			fr, err := w.firing(pr, t, lv, ev.ds.firms[f].ID)
			if err != nil {
				return err
			}
			w.out = append(w.out, fr)
		}
	}
	return nil
}

// level applies a rule to the firm or region in w.ctx: its condition, then
// its bands, the first that holds giving the level.
func (w *worker) level(pr *program) (alertevent.Level, bool, error) {
	if pr.when != nil {
		ok, err := w.holds(pr, pr.when)
		if err != nil || !ok {
			return 0, false, err
		}
	}
	if len(pr.bands) == 0 {
		return pr.Level, true, nil
	}
	for i, b := range pr.bands {
		if b == nil {
			return pr.Bands[i].Level, true, nil
		}
		ok, err := w.holds(pr, b)
		if err != nil {
			return 0, false, err
		}
		if ok {
			return pr.Bands[i].Level, true, nil
		}
	}
	return 0, false, nil
}

// holds evaluates one condition: with its closures when it has them, on the
// VM otherwise.
func (w *worker) holds(pr *program, c *condition) (bool, error) {
	if c.fast != nil {
		return c.fast(&w.ctx), nil
	}
	v, err := w.run(pr, c.vm)
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

// run runs a program on the VM, over the metrics of the firm or region in
// w.ctx.
func (w *worker) run(pr *program, prog *vm.Program) (any, error) {
	if pr.Scope == alertevent.ScopeFirm {
		w.vmEnv = firmMetrics.env(w.ctx.firm, w.vmEnv)
	} else {
		w.vmEnv = regionMetrics.env(w.ctx.region, w.vmEnv)
	}
	w.vmEnv["fired"] = w.ctx.fired
	return w.vm.Run(prog, w.vmEnv)
}

// firing describes a rule holding for key: the metrics its conditions read
// and its definitions.
func (w *worker) firing(pr *program, t report.Period, lv alertevent.Level, key string) (Firing, error) {
	values := make(map[string]any, len(pr.values)+len(pr.defines))
	for _, r := range pr.values {
		values[r.name] = r.get(&w.ctx)
	}
	for _, d := range pr.defines {
		v, err := w.defined(pr, d)
		if err != nil {
			return Firing{}, fmt.Errorf("rule %s, %s, define %s: %w", pr.ID, key, d.name, err)
		}
		values[d.name] = v
	}
	return Firing{Period: t, Rule: pr.ID, Level: lv, Scope: pr.Scope, Key: key, Values: values}, nil
}

// defined evaluates a definition, with its closures when it has them.
func (w *worker) defined(pr *program, d define) (any, error) {
	switch {
	case d.fast != nil && d.fast.num != nil:
		return d.fast.num(&w.ctx), nil
	case d.fast != nil:
		return d.fast.bool(&w.ctx), nil
	}
	return w.run(pr, d.vm)
}

// computeFirm fills env for firm f in month index m.
func computeFirm(ds *Dataset, f, m, history int, due bool, env *FirmEnv) {
	fm := &ds.firms[f]
	cur := ds.rec(f, m)
	*env = FirmEnv{
		Reported: cur.ok, Due: due, Baseline: float64(fm.BaselineHeadcount), HistoryMonths: float64(history),
		Industry: fm.Industry, County: fm.Region, Prefecture: ds.pref[f],
	}
	if cur.ok {
		env.Headcount, env.Vacancies, env.Hires = float64(cur.h), float64(cur.v), float64(cur.hires)
		var total uint32
		for _, s := range cur.sep {
			total += s
		}
		env.SepTotal = float64(total)
		env.SepEconomicLayoff, env.SepClosureBankruptcy = float64(cur.sep[0]), float64(cur.sep[1])
		env.SepSuspension, env.SepContractExpiry = float64(cur.sep[2]), float64(cur.sep[3])
		env.SepResignation, env.SepRetirement = float64(cur.sep[4]), float64(cur.sep[5])
		env.SepTransfer, env.SepOther = float64(cur.sep[6]), float64(cur.sep[7])
		env.LayoffSeparations = env.SepEconomicLayoff + env.SepClosureBankruptcy + env.SepSuspension
		if fm.BaselineHeadcount > 0 {
			env.Index = env.Headcount / env.Baseline * 100
		}
	}
	if r := ds.rec(f, m-1); r.ok {
		env.Has1m, env.Headcount1m = true, float64(r.h)
	}
	for k := 1; k <= 3; k++ {
		if r := ds.rec(f, m-k); r.ok {
			env.HasPrev, env.PrevGap, env.PrevHeadcount, env.PrevVacancies = true, float64(k), float64(r.h), float64(r.v)
			break
		}
	}
	if r := ds.rec(f, m-3); r.ok {
		env.Has3m, env.Headcount3m = true, float64(r.h)
	}
	if r := ds.rec(f, m-12); r.ok {
		env.Has12m, env.Headcount12m = true, float64(r.h)
	}
	if !cur.ok {
		return
	}
	if env.HasPrev {
		env.Change = env.Headcount - env.PrevHeadcount
		env.Loss = max(-env.Change, 0)
		if env.PrevHeadcount > 0 {
			env.Rate = env.Loss / env.PrevHeadcount
		}
	}
	if env.Has3m {
		env.Net3 = env.Headcount3m - env.Headcount
		if env.Headcount3m > 0 {
			env.Net3Rate = env.Net3 / env.Headcount3m
		}
	}
	if env.Has12m && env.Headcount12m > 0 {
		env.YoYRate = (env.Headcount - env.Headcount12m) / env.Headcount12m
	}
	var vsum, vn float64
	for k := 1; k <= 6; k++ {
		if r := ds.rec(f, m-k); r.ok {
			vsum += float64(r.v)
			vn++
		}
	}
	if vn > 0 {
		env.VacancyReports6m, env.VacancyMean6m = vn, vsum/vn
	}
	computeSeasonal(ds, f, m, env)
}

// computeSeasonal fills the seasonal metrics: the usual change into this
// calendar month in earlier years, robust to one past layoff.
func computeSeasonal(ds *Dataset, f, m int, env *FirmEnv) {
	var changes [16]float64
	n := 0
	for y := 1; m-12*y-1 >= 0 && n < len(changes); y++ {
		a, b := ds.rec(f, m-12*y-1), ds.rec(f, m-12*y)
		if a.ok && b.ok && a.h > 0 {
			changes[n] = (float64(b.h) - float64(a.h)) / float64(a.h)
			n++
		}
	}
	env.SeasonalYears = float64(n)
	if n >= 2 {
		env.SeasonalChange = robustTypical(changes[:n])
	}
	if env.HasPrev {
		// only a usual dip is forgiven: a usual rise that did not come is
		// not a loss
		expected := env.PrevHeadcount * (1 + min(env.SeasonalChange, 0))
		env.SeasonalLoss = max(expected-env.Headcount, 0)
		if env.PrevHeadcount > 0 {
			env.SeasonalRate = env.SeasonalLoss / env.PrevHeadcount
		}
	}
}

// robustTypical is the typical value of c (at least two values, changed in
// place): drop the lowest, which one past layoff would be, and take the
// median of the rest.
func robustTypical(c []float64) float64 {
	sort.Float64s(c)
	rest := c[1:]
	if len(rest)%2 == 1 {
		return rest[len(rest)/2]
	}
	return (rest[len(rest)/2-1] + rest[len(rest)/2]) / 2
}

// countyIndex numbers the counties of the dataset's firms.
func countyIndex(ds *Dataset) (countyOf []int, n int) {
	slots := map[string]int{}
	countyOf = make([]int, len(ds.firms))
	for f, fm := range ds.firms {
		i, ok := slots[fm.Region]
		if !ok {
			i = len(slots)
			slots[fm.Region] = i
		}
		countyOf[f] = i
	}
	return countyOf, len(slots)
}

// groupKindKey is a way of grouping firms into regions: by the region of a
// scope, and optionally by industry within it.
type groupKindKey struct {
	scope    alertevent.Scope
	industry bool
}

func groupKind(r *Rule) groupKindKey { return groupKindKey{r.Scope, r.ByIndustry} }

// group is the firms of one region key of one kind.
type group struct {
	key, region, industry string
	members               []int
	// per month of the dataset: g(t), m(t) for the trend metrics
	g, m     []float64
	gOK, mOK []bool
	mom      []float64
	momOK    []bool
	firms    []*FirmEnv // reused month to month
	stats    *regionStats
}

// groups builds the region groups every region rule needs. A share
// (shared set) has the province groups of its owned provinces, without
// members: their months come from the shared sums.
func (e *Evaluator) groups(ds *Dataset, shared *Shared) map[groupKindKey][]*group {
	out := map[groupKindKey][]*group{}
	for _, kind := range e.kinds {
		byKey := map[string]*group{}
		newGroup := func(key, reg, ind string) *group {
			return &group{key: key, region: reg, industry: ind,
				g: make([]float64, ds.months), m: make([]float64, ds.months),
				gOK: make([]bool, ds.months), mOK: make([]bool, ds.months),
				mom: make([]float64, ds.months), momOK: make([]bool, ds.months), stats: newRegionStats(ds.months)}
		}
		if shared != nil && kind.scope == alertevent.ScopeProvince {
			for prov, inds := range shared.Provinces {
				if !kind.industry {
					byKey[prov] = newGroup(prov, prov, "")
					continue
				}
				for ind := range inds {
					byKey[prov+"/"+ind] = newGroup(prov+"/"+ind, prov, ind)
				}
			}
		}
		for f, fm := range ds.firms {
			if shared != nil && kind.scope == alertevent.ScopeProvince {
				break
			}
			var reg string
			switch kind.scope {
			case alertevent.ScopeCounty:
				reg = fm.Region
			case alertevent.ScopePrefecture:
				reg = ds.pref[f]
			case alertevent.ScopeProvince:
				reg = region.ProvinceOf(fm.Region)
			}
			key, ind := reg, ""
			if kind.industry {
				ind = fm.Industry
				key = reg + "/" + ind
			}
			g := byKey[key]
			if g == nil {
				g = newGroup(key, reg, ind)
				byKey[key] = g
			}
			g.members = append(g.members, f)
		}
		list := make([]*group, 0, len(byKey))
		for _, g := range byKey {
			list = append(list, g)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].key < list[j].key })
		out[kind] = list
	}
	return out
}

// metrics aggregates the group's firms for month index m and records g(t)
// and m(t) in its trend series. It is called for every month in order.
func (g *group) metrics(envs []FirmEnv, enrolled []bool, m int) *RegionEnv {
	env := &RegionEnv{Region: g.region, Industry: g.industry, Firms: g.firms[:0]}
	defer func() { g.firms = env.Firms }()
	for _, f := range g.members {
		if !enrolled[f] {
			continue
		}
		fe := &envs[f]
		env.Firms = append(env.Firms, fe)
		env.FirmsExpected++
		if !fe.Reported {
			continue
		}
		env.FirmsReported++
		env.Headcount += fe.Headcount
		env.Baseline += fe.Baseline
		env.Loss += fe.Loss
		if fe.HasPrev {
			env.PrevHeadcount += fe.PrevHeadcount
		}
		if fe.Has1m {
			env.MoMFirms++
			env.MoMHeadcount += fe.Headcount
			env.MoMPrevHeadcount += fe.Headcount1m
			if loss := fe.Headcount1m - fe.Headcount; worseLoss(loss, fe.Headcount1m, env.MoMWorstLoss, env.MoMWorstPrev) {
				env.MoMWorstLoss, env.MoMWorstPrev = loss, fe.Headcount1m
			}
		}
	}
	g.derive(env, m)
	return env
}

// derive computes the region's month m from its sums (the fields metrics
// adds up) and records g(t), m(t) and the month-on-month change in its
// series. It is called for every month in order.
func (g *group) derive(env *RegionEnv, m int) {
	lossPrevBase := env.PrevHeadcount
	if env.FirmsExpected > 0 {
		env.Coverage = env.FirmsReported / env.FirmsExpected
	}
	if env.Baseline > 0 {
		env.Index = env.Headcount / env.Baseline * 100
	}
	if env.MoMPrevHeadcount > 0 {
		env.MoMChange = (env.MoMHeadcount - env.MoMPrevHeadcount) / env.MoMPrevHeadcount
		g.mom[m], g.momOK[m] = env.MoMChange, true
		env.MoMChangeRest = env.MoMChange
		if rest := env.MoMPrevHeadcount - env.MoMWorstPrev; env.MoMWorstLoss > 0 && rest > 0 {
			env.MoMChangeRest = (env.MoMHeadcount - env.MoMPrevHeadcount + env.MoMWorstLoss) / rest
		}
	}
	var changes [16]float64
	n := 0
	for y := 1; m-12*y >= 0 && n < len(changes); y++ {
		if g.momOK[m-12*y] {
			changes[n] = g.mom[m-12*y]
			n++
		}
	}
	env.SeasonalYears = float64(n)
	env.MoMExcess = env.MoMChange
	if n >= 2 {
		env.SeasonalMoMChange = robustTypical(changes[:n])
		env.MoMExcess = env.MoMChange - min(env.SeasonalMoMChange, 0)
	}
	if lossPrevBase > 0 {
		env.LossRate, env.LossRateOK = env.Loss/lossPrevBase, true
	}
	g.g[m], g.gOK[m] = env.LossRate, env.LossRateOK
	if m >= 2 && g.gOK[m] && g.gOK[m-1] && g.gOK[m-2] {
		g.m[m], g.mOK[m] = (g.g[m]+g.g[m-1]+g.g[m-2])/3, true
	} else {
		g.m[m], g.mOK[m] = 0, false
	}
	env.LossRate3m, env.LossRate3mOK = g.m[m], g.mOK[m]
	if g.mOK[m] && m >= 12 {
		defined, lo := true, g.m[m-12]
		for k := 1; k <= 12; k++ {
			if !g.mOK[m-k] {
				defined = false
				break
			}
			lo = min(lo, g.m[m-k])
		}
		if defined {
			env.TrendDefined, env.LossRate3mMin12, env.TrendRise = true, lo, g.m[m]-lo
		}
	}
}

// expectation measures the group's month m against its expectation: the
// change of its panel (firms reporting t−1 and t), the expected change from
// its firms' peers one level up, and the z-scores (stats.go).
func (g *group) expectation(st *firmStats, ds *Dataset, enrolled []bool, scope alertevent.Scope, m int, env *RegionEnv) {
	var hNow, hPrev, wPeer, wPeerExp float64
	var score float64
	scored, below := 0, 0
	// the firm that lost most beyond its peers' change (beyond none, for a
	// firm without peers), to leave out
	worst, worstNow, worstPrev := 0.0, 0.0, 0.0
	for _, f := range g.members {
		cur, prev := ds.rec(f, m), ds.rec(f, m-1)
		if !cur.ok || !prev.ok || !enrolled[f] {
			continue
		}
		env.PanelFirms++
		hNow += float64(cur.h)
		hPrev += float64(prev.h)
		ep := nan32 // e^P, the expected ratio from the peers one level up
		switch scope {
		case alertevent.ScopeCounty:
			ep = st.expPeer[m*st.nf+f]
		case alertevent.ScopePrefecture:
			ep = st.expMedB[st.grpB[f]][m]
		}
		expected := float64(prev.h) // a firm without peers: no change expected
		if !isNaN32(ep) {
			expected = float64(prev.h) * float64(ep)
			wPeer += float64(prev.h)
			wPeerExp += expected
		}
		if d := expected - float64(cur.h); worseLoss(d, float64(prev.h), worst, worstPrev) {
			worst, worstNow, worstPrev = d, float64(cur.h), float64(prev.h)
		}
		// the firm against its peers one level up: a county's firms against
		// their prefecture's industry, a prefecture's against the province's
		r, spread := st.residB[m*st.nf+f], st.sprB[st.grpB[f]][m]
		if scope == alertevent.ScopeCounty {
			r, spread = st.residA(f, m)
		}
		if !isNaN32(r) && !isNaN32(spread) {
			score += max(-clipZ, min(clipZ, float64(r)/max(float64(spread), sigmaFloor)))
			scored++
			if r < 0 {
				below++
			}
		}
	}
	if scope != alertevent.ScopeProvince {
		g.stats.firms(m, score, scored, below, env)
	}
	g.judge(m, env, hNow, hPrev, wPeer, wPeerExp, worst, worstNow, worstPrev)
}

// judge measures the group's month m against its expectation from the
// panel's sums: ΣH(t) and ΣH(t−1) over the panel, and over the part of it
// with peers one level up, the weight and the expected headcount; worst is
// the firm that lost most beyond its peers (its headcounts now and before).
func (g *group) judge(m int, env *RegionEnv, hNow, hPrev, wPeer, wPeerExp, worst, worstNow, worstPrev float64) {
	if env.FirmsExpected > 0 {
		env.PanelShare = env.PanelFirms / env.FirmsExpected
	}
	env.PanelPrevHeadcount = hPrev
	c, cOK := 0.0, hPrev > 0 && hNow > 0
	if cOK {
		c = math.Log(hNow / hPrev)
	}
	ePeer, peerOK := 0.0, wPeer > 0 && wPeer >= hPrev/2
	if peerOK {
		ePeer = math.Log(wPeerExp / wPeer)
	}
	g.stats.month(m, c, cOK, ePeer, peerOK, env)
	// the panel's change without that firm, as a difference of log-changes
	rs := g.stats
	rs.dw[m] = 0
	env.ExcessRateRest = env.ExcessRate
	if cOK && worst > 0 && hPrev > worstPrev && hNow > worstNow {
		rest := math.Log((hNow - worstNow) / (hPrev - worstPrev))
		rs.dw[m] = rest - c
		if env.ZDefined {
			// the same expectation, on the panel without that firm
			env.ExcessRateRest = math.Exp(math.Log1p(env.ExpectedRate)) - math.Exp(rest)
		}
	}
	env.ExcessRate3Rest = env.ExcessRate3
	if env.Z3Defined {
		// three months, each without the firm that lost most in it
		c3 := rs.c[m] + rs.c[m-1] + rs.c[m-2] + rs.dw[m] + rs.dw[m-1] + rs.dw[m-2]
		env.ExcessRate3Rest = math.Exp(rs.e[m]+rs.e[m-1]+rs.e[m-2]) - math.Exp(c3)
	}
}
