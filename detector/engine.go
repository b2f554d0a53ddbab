package detector

import (
	"fmt"
	"reflect"
	"runtime"
	"sort"
	"sync"

	"github.com/expr-lang/expr/vm"

	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Firing is one rule holding for one key and month.
type Firing struct {
	Period report.Period  `json:"period"`
	Rule   string         `json:"rule"`
	Level  Level          `json:"level"`
	Scope  Scope          `json:"scope"`
	Key    string         `json:"key"`
	Values map[string]any `json:"values"`
	// Reported and Expected give the coverage of the month behind the
	// firing: the region's firms (region rules) or the firm's county's
	// (firm rules).
	Reported int `json:"-"`
	Expected int `json:"-"`
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
}

// Evaluator evaluates one plan. It is not safe for concurrent use; make one
// per goroutine.
type Evaluator struct {
	plan     *Plan
	programs []*program
	firmRule []*program
	regRule  []*program
	vm       vm.VM
	fast     bool    // use the compiled closures where a rule has them
	ctx      evalCtx // what the closures read
	// state of the evaluation under way, read by fired()
	ds      *Dataset
	curFirm int
	curM    int
	firedAt map[string][]bool // tracked rule id → [firm*months+m]
	// firedHook, when set, answers fired() instead (tests)
	firedHook firedFunc
	// parallel evaluation of firm rules
	helpers []*Evaluator
	lo, hi  int
	out     []Firing
	err     error
}

// NewEvaluator compiles the plan for a new evaluator.
func NewEvaluator(p *Plan) (*Evaluator, error) {
	e := &Evaluator{plan: p, fast: true}
	progs, err := p.compile(e.fired)
	if err != nil {
		return nil, err
	}
	e.programs = progs
	nvars := 0
	for _, pr := range progs {
		nvars = max(nvars, pr.nvars)
	}
	e.ctx = evalCtx{vars: make([]value, nvars), fired: e.fired}
	for _, pr := range progs {
		if pr.Scope == ScopeFirm {
			e.firmRule = append(e.firmRule, pr)
		} else {
			e.regRule = append(e.regRule, pr)
		}
	}
	return e, nil
}

func (e *Evaluator) fired(rule string, k int) bool {
	if e.firedHook != nil {
		return e.firedHook(rule, k)
	}
	m := e.curM - k
	if m < 0 {
		return false
	}
	bits := e.firedAt[rule]
	return bits != nil && bits[e.curFirm*e.ds.months+m]
}

// group is the firms of one region key of one scope.
type group struct {
	key, region, industry string
	members               []int
	// per month of the dataset: g(t), m(t) for the trend metrics
	g, m     []float64
	gOK, mOK []bool
	mom      []float64
	momOK    []bool
	firms    []*FirmEnv // reused month to month
}

// Evaluate runs the plan over the dataset and returns its firings sorted by
// period, rule and key.
func (e *Evaluator) Evaluate(ds *Dataset, opts EvalOptions) ([]Firing, error) {
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
	e.ds = ds
	e.firedAt = map[string][]bool{}
	for _, pr := range e.programs {
		if pr.tracked {
			e.firedAt[pr.ID] = make([]bool, len(ds.firms)*ds.months)
		}
	}
	groups := e.groups(ds)
	nf := len(ds.firms)
	envs := make([]FirmEnv, nf)
	enrolled := make([]bool, nf)
	history := make([]int, nf) // months with a report before the current one
	workers := e.workers(nf)
	// coverage per county, indexed: countyOf[f] is the firm's county slot
	countyOf, nCounties := countyIndex(ds)
	countyCov := make([][2]int, nCounties)
	var out []Firing
	last := min(int(to-ds.start), ds.months-1)
	for m := 0; m <= last; m++ {
		t := ds.start.Add(m)
		emit := t >= from
		isDue := due(t)
		// firm metrics and firm rules: each worker takes a range of firms
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.firmMonth(ds, m, t, emit, isDue, envs, enrolled, history, opts.Firms)
			}()
		}
		wg.Wait()
		clear(countyCov)
		for f := range ds.firms {
			if !enrolled[f] {
				continue
			}
			c := &countyCov[countyOf[f]]
			c[1]++
			if envs[f].Reported {
				c[0]++
			}
		}
		for _, w := range workers {
			if w.err != nil {
				return nil, w.err
			}
			for i := range w.out {
				fr := &w.out[i]
				c := countyCov[countyOf[ds.index[fr.Key]]]
				fr.Reported, fr.Expected = c[0], c[1]
			}
			out = append(out, w.out...)
			w.out = w.out[:0]
		}
		for kind, list := range groups {
			regionEnvs := make([]*RegionEnv, len(list))
			for i, g := range list {
				regionEnvs[i] = g.metrics(envs, enrolled, m)
			}
			if !emit {
				continue
			}
			for _, pr := range e.regRule {
				if groupKind(pr.Rule) != kind || m < pr.MinHistory {
					continue
				}
				for i, env := range regionEnvs {
					e.ctx.region = env
					lv, ok, err := e.run(pr, env)
					if err != nil {
						return nil, fmt.Errorf("rule %s, region %s, %s: %w", pr.ID, list[i].key, t, err)
					}
					if !ok {
						continue
					}
					fr, err := e.firing(pr, env, t, lv, list[i].key)
					if err != nil {
						return nil, err
					}
					fr.Reported, fr.Expected = int(env.FirmsReported), int(env.FirmsExpected)
					out = append(out, fr)
				}
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Key < b.Key
	})
	return out, nil
}

// workers returns the evaluators that share the firms of a month: this one
// and one more per core, each with its own compiled programs (expr's
// functions and the closures read per-evaluator state), sharing the dataset
// and the fired() history, whose entries each writes only for its own firms.
func (e *Evaluator) workers(nf int) []*Evaluator {
	n := max(1, min(runtime.GOMAXPROCS(0), nf/2000))
	for len(e.helpers) < n-1 {
		h, err := NewEvaluator(e.plan)
		if err != nil {
			break // compiled once already; cannot fail now
		}
		e.helpers = append(e.helpers, h)
	}
	all := append([]*Evaluator{e}, e.helpers[:n-1]...)
	per := (nf + n - 1) / n
	for i, w := range all {
		w.lo, w.hi = min(i*per, nf), min((i+1)*per, nf)
		w.ds, w.firedAt, w.firedHook, w.fast = e.ds, e.firedAt, e.firedHook, e.fast
		w.out, w.err = w.out[:0], nil
	}
	return all
}

// firmMonth computes the metrics of this worker's firms for month index m
// and runs the firm rules on them.
func (e *Evaluator) firmMonth(ds *Dataset, m int, t report.Period, emit, due bool, envs []FirmEnv, enrolled []bool, history []int, only map[string]bool) {
	for f := e.lo; f < e.hi; f++ {
		fm := &ds.firms[f]
		enrolled[f] = fm.EnrolledIn(t)
		if enrolled[f] {
			env := &envs[f]
			e.firmMetrics(ds, f, m, history[f], due, env)
			if only == nil || only[fm.ID] {
				e.curFirm, e.curM, e.ctx.firm = f, m, env
				for _, pr := range e.firmRule {
					if env.Reported == pr.OnMissing || float64(pr.MinHistory) > env.HistoryMonths {
						continue
					}
					lv, ok, err := e.run(pr, env)
					if err != nil {
						e.err = fmt.Errorf("rule %s, firm %s, %s: %w", pr.ID, fm.ID, t, err)
						return
					}
					if !ok {
						continue
					}
					if pr.tracked {
						e.firedAt[pr.ID][f*ds.months+m] = true
					}
					if emit {
						fr, err := e.firing(pr, env, t, lv, fm.ID)
						if err != nil {
							e.err = err
							return
						}
						e.out = append(e.out, fr)
					}
				}
			}
		}
		if ds.rec(f, m).ok {
			history[f]++
		}
	}
}

// run evaluates a rule's condition and bands; it returns the level. e.ctx
// must point at env.
func (e *Evaluator) run(pr *program, env any) (Level, bool, error) {
	if pr.when != nil {
		ok, err := e.cond(pr.when, pr.fastWhen, env)
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
		ok, err := e.cond(b, pr.fastBands[i], env)
		if err != nil {
			return 0, false, err
		}
		if ok {
			return pr.Bands[i].Level, true, nil
		}
	}
	return 0, false, nil
}

func (e *Evaluator) cond(prog *vm.Program, fast boolFn, env any) (bool, error) {
	if fast != nil && e.fast {
		return fast(&e.ctx), nil
	}
	v, err := e.vm.Run(prog, env)
	if err != nil {
		return false, err
	}
	return v.(bool), nil
}

func (e *Evaluator) firing(pr *program, env any, t report.Period, lv Level, key string) (Firing, error) {
	values := make(map[string]any, len(pr.refs))
	rv := reflect.ValueOf(env).Elem()
	fields := envFields(rv.Type())
	for _, name := range pr.refs {
		if i, ok := fields[name]; ok {
			values[name] = rv.Field(i).Interface()
		}
	}
	for i, d := range pr.Define {
		if fast := pr.fastDefines[i]; fast != nil && e.fast {
			if fast.num != nil {
				values[d.Name] = fast.num(&e.ctx)
			} else {
				values[d.Name] = fast.bool(&e.ctx)
			}
			continue
		}
		v, err := e.vm.Run(pr.defines[i], env)
		if err != nil {
			return Firing{}, fmt.Errorf("rule %s, %s, define %s: %w", pr.ID, key, d.Name, err)
		}
		values[d.Name] = v
	}
	return Firing{Period: t, Rule: pr.ID, Level: lv, Scope: pr.Scope, Key: key, Values: values}, nil
}

var (
	firmFields   = fieldIndex(reflect.TypeOf(FirmEnv{}))
	regionFields = fieldIndex(reflect.TypeOf(RegionEnv{}))
)

func fieldIndex(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			m[tag] = i
		}
	}
	return m
}

func envFields(t reflect.Type) map[string]int {
	if t == reflect.TypeOf(FirmEnv{}) {
		return firmFields
	}
	return regionFields
}

// firmMetrics fills env for firm f in month index m.
func (e *Evaluator) firmMetrics(ds *Dataset, f, m, history int, due bool, env *FirmEnv) {
	fm := &ds.firms[f]
	cur := ds.rec(f, m)
	*env = FirmEnv{
		Reported: cur.ok, Due: due, Baseline: float64(fm.BaselineHeadcount), HistoryMonths: float64(history),
		Industry: fm.Industry, County: fm.Region, Prefecture: region.PrefectureOf(fm.Region),
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
	e.seasonal(ds, f, m, env)
}

// seasonal fills the seasonal metrics: the usual change into this calendar
// month in earlier years, robust to one past layoff.
func (e *Evaluator) seasonal(ds *Dataset, f, m int, env *FirmEnv) {
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

type groupKindKey struct {
	scope    Scope
	industry bool
}

func groupKind(r *Rule) groupKindKey { return groupKindKey{r.Scope, r.ByIndustry} }

// groups builds the region groups every region rule needs.
func (e *Evaluator) groups(ds *Dataset) map[groupKindKey][]*group {
	out := map[groupKindKey][]*group{}
	for _, pr := range e.regRule {
		kind := groupKind(pr.Rule)
		if _, done := out[kind]; done {
			continue
		}
		byKey := map[string]*group{}
		for f, fm := range ds.firms {
			var reg string
			switch kind.scope {
			case ScopeCounty:
				reg = fm.Region
			case ScopePrefecture:
				reg = region.PrefectureOf(fm.Region)
			case ScopeProvince:
				reg = region.ProvinceOf(fm.Region)
			}
			key, ind := reg, ""
			if kind.industry {
				ind = fm.Industry
				key = reg + "/" + ind
			}
			g := byKey[key]
			if g == nil {
				g = &group{key: key, region: reg, industry: ind,
					g: make([]float64, ds.months), m: make([]float64, ds.months),
					gOK: make([]bool, ds.months), mOK: make([]bool, ds.months),
					mom: make([]float64, ds.months), momOK: make([]bool, ds.months)}
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
	var lossPrevBase float64
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
			lossPrevBase += fe.PrevHeadcount
		}
		if fe.Has1m {
			env.MoMFirms++
			env.MoMHeadcount += fe.Headcount
			env.MoMPrevHeadcount += fe.Headcount1m
		}
	}
	if env.FirmsExpected > 0 {
		env.Coverage = env.FirmsReported / env.FirmsExpected
	}
	if env.Baseline > 0 {
		env.Index = env.Headcount / env.Baseline * 100
	}
	if env.MoMPrevHeadcount > 0 {
		env.MoMChange = (env.MoMHeadcount - env.MoMPrevHeadcount) / env.MoMPrevHeadcount
		g.mom[m], g.momOK[m] = env.MoMChange, true
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
	return env
}
