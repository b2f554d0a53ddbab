package detector

import (
	"encoding/binary"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// TestShippedPlansCompileFast: every condition of the shipped plans runs as
// closures, none falls back to the VM.
func TestShippedPlansCompileFast(t *testing.T) {
	for _, path := range []string{"../deploy/plans/default.yaml", "../deploy/plans/statutory.yaml", "../deploy/plans/seasonal.yaml"} {
		p, err := LoadPlan(path)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := NewEvaluator(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range ev.programs() {
			if pr.when != nil && pr.when.fast == nil {
				t.Errorf("%s: rule %s: when runs on the VM", path, pr.ID)
			}
			for i, b := range pr.bands {
				if b != nil && b.fast == nil {
					t.Errorf("%s: rule %s: band %d runs on the VM", path, pr.ID, i)
				}
			}
			for _, d := range pr.defines {
				if d.fast == nil {
					t.Errorf("%s: rule %s: define %s runs on the VM", path, pr.ID, d.name)
				}
			}
		}
	}
}

// fuzzNums turns fuzz bytes into metric values that hit thresholds often:
// small integers, round numbers, and ratios.
type fuzzNums struct {
	b []byte
	i int
}

func (f *fuzzNums) next() float64 {
	if f.i+2 > len(f.b) {
		f.i = 0
		if len(f.b) < 2 {
			return 0
		}
	}
	v := binary.LittleEndian.Uint16(f.b[f.i:])
	f.i += 2
	switch v % 4 {
	case 0:
		return float64(v >> 2 % 700)
	case 1:
		return float64(v>>2%101) / 100
	case 2:
		return -float64(v>>2%11) / 100
	default:
		return float64(v >> 2)
	}
}

func (f *fuzzNums) flag() bool { return f.next() > 0.5 }

func (f *fuzzNums) firm() *FirmEnv {
	return &FirmEnv{
		Reported: f.flag(), Due: f.flag(), Headcount: f.next(), Vacancies: f.next(), Hires: f.next(),
		Baseline: f.next(), HasPrev: f.flag(), PrevHeadcount: f.next(), Loss: f.next(), Rate: f.next(),
		Has1m: f.flag(), Headcount1m: f.next(), Has3m: f.flag(), Headcount3m: f.next(), Net3: f.next(), Net3Rate: f.next(),
		Has12m: f.flag(), Headcount12m: f.next(), VacancyReports6m: f.next(), VacancyMean6m: f.next(),
		HistoryMonths: f.next(), SeasonalYears: f.next(), SeasonalChange: f.next(), SeasonalLoss: f.next(), SeasonalRate: f.next(),
		Industry: []string{"C", "E", "H"}[int(f.next())%3],
	}
}

// programs are the evaluator's rules, firm rules first.
func (e *Evaluator) programs() []*program {
	return append(append([]*program(nil), e.firmRules...), e.regionRules...)
}

// onVM is a copy of pr whose conditions and definitions all run on the VM.
func onVM(pr *program) *program {
	c := *pr
	vmOnly := func(cond *condition) *condition {
		if cond == nil {
			return nil
		}
		return &condition{vm: cond.vm}
	}
	c.when = vmOnly(pr.when)
	c.bands = nil
	for _, b := range pr.bands {
		c.bands = append(c.bands, vmOnly(b))
	}
	c.defines = nil
	for _, d := range pr.defines {
		c.defines = append(c.defines, define{name: d.name, vm: d.vm})
	}
	return &c
}

// FuzzFastMatchesVM holds the closure backend to expr's VM: for random
// metrics, every condition and definition of the shipped plans gives the
// same answer.
func FuzzFastMatchesVM(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{200, 0, 20, 0, 10, 0, 0, 0, 0, 0, 50, 1})
	var evs []*Evaluator
	for _, path := range []string{"../deploy/plans/default.yaml", "../deploy/plans/statutory.yaml", "../deploy/plans/seasonal.yaml"} {
		p, err := LoadPlan(path)
		if err != nil {
			f.Fatal(err)
		}
		ev, err := NewEvaluator(p)
		if err != nil {
			f.Fatal(err)
		}
		evs = append(evs, ev)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		nums := &fuzzNums{b: data}
		firm := nums.firm()
		region := &RegionEnv{Loss: nums.next(), MoMChange: nums.next(), MoMExcess: nums.next(), TrendDefined: nums.flag(),
			TrendRise: nums.next(), SeasonalMoMChange: nums.next()}
		for range int(nums.next()) % 8 {
			region.Firms = append(region.Firms, nums.firm())
		}
		history := nums.flag()
		for _, ev := range evs {
			// a worker outside any evaluation: fired() answers from the fuzz
			w := newWorker(ev)
			w.ctx.fired = func(string, int) bool { return history }
			w.ctx.firm, w.ctx.region = firm, region
			for _, pr := range ev.programs() {
				slow := onVM(pr)
				lvSlow, okSlow, errSlow := w.level(slow)
				lvFast, okFast, errFast := w.level(pr)
				if errSlow != nil || errFast != nil {
					t.Fatalf("rule %s: errors %v / %v", pr.ID, errSlow, errFast)
				}
				if lvSlow != lvFast || okSlow != okFast {
					t.Fatalf("rule %s: VM says %v %v, closures %v %v (firm %+v, region loss %v mom %v)", pr.ID, okSlow, lvSlow, okFast, lvFast, *firm, region.Loss, region.MoMChange)
				}
				for i, d := range pr.defines {
					want, err := w.defined(slow, slow.defines[i])
					if err != nil {
						t.Fatal(err)
					}
					got, err := w.defined(pr, d)
					if err != nil {
						t.Fatal(err)
					}
					if n, ok := want.(int); ok {
						want = float64(n)
					}
					if got != want {
						t.Fatalf("rule %s define %s: VM %v, closures %v", pr.ID, d.name, want, got)
					}
				}
			}
		}
	})
}

// TestStatsOnlyWhenRead: the statutory plan's literal rules are evaluated
// without the expectations, the default plan with them, and a region rule
// that looks into its firms' metrics gets them too.
func TestStatsOnlyWhenRead(t *testing.T) {
	for _, c := range []struct {
		plan string
		want bool
	}{{"../deploy/plans/statutory.yaml", false}, {"../deploy/plans/default.yaml", true}} {
		p, err := LoadPlan(c.plan)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := NewEvaluator(p)
		if err != nil {
			t.Fatal(err)
		}
		if ev.stats != c.want {
			t.Errorf("%s: statistics computed %v, want %v", c.plan, ev.stats, c.want)
		}
	}
	for _, c := range []struct {
		scope alertevent.Scope
		refs  []string
		want  bool
	}{
		{alertevent.ScopeFirm, []string{"loss", "rate"}, false},
		{alertevent.ScopeFirm, []string{"loss", "z3"}, true},
		{alertevent.ScopeFirm, []string{"peer_z"}, true},
		{alertevent.ScopePrefecture, []string{"loss_rate", "coverage"}, false},
		{alertevent.ScopePrefecture, []string{"firms_z"}, true},
		{alertevent.ScopePrefecture, []string{"panel_share"}, true},
	} {
		if got := readsStats(&Rule{Scope: c.scope, refs: c.refs}); got != c.want {
			t.Errorf("%s rule reading %v: statistics %v, want %v", c.scope, c.refs, got, c.want)
		}
	}
	// a region rule that reads the statistics only through its firms, as
	// compiled from a plan
	for _, c := range []struct {
		define string
		want   bool
	}{
		{"count(firms, .reported && .z <= -4)", true},
		{"count(firms, .peer_z < -3)", true},
		{"count(firms, .reported && .rate >= 0.3)", false},
	} {
		src := `version: 1
name: {zh: 测试, en: test}
levels:
  I: {name: {zh: 红色, en: red}}
  II: {name: {zh: 橙色, en: orange}}
  III: {name: {zh: 黄色, en: yellow}}
  IV: {name: {zh: 蓝色, en: blue}}
rules:
  - id: cluster
    title: {zh: 测试, en: test}
    scope: county
    level: IV
    define: {n: "` + c.define + `"}
    when: n >= 5
    summary: {zh: "{{.n}}", en: "{{.n}}"}
    source: test
`
		p, err := ParsePlan("test.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := NewEvaluator(p)
		if err != nil {
			t.Fatal(err)
		}
		if ev.stats != c.want {
			t.Errorf("a county rule defining %s: statistics %v, want %v", c.define, ev.stats, c.want)
		}
	}
}
