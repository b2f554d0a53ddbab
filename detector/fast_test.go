package detector

import (
	"encoding/binary"
	"testing"
)

// TestShippedPlansCompileFast: every condition of the shipped plans runs as
// closures, none falls back to the VM.
func TestShippedPlansCompileFast(t *testing.T) {
	for _, path := range []string{"../deploy/plans/default.yaml", "../deploy/plans/seasonal.yaml"} {
		p, err := LoadPlan(path)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := NewEvaluator(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range ev.programs {
			if pr.when != nil && pr.fastWhen == nil {
				t.Errorf("%s: rule %s: when runs on the VM", path, pr.ID)
			}
			for i, b := range pr.bands {
				if b != nil && pr.fastBands[i] == nil {
					t.Errorf("%s: rule %s: band %d runs on the VM", path, pr.ID, i)
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

// FuzzFastMatchesVM holds the closure backend to expr's VM: for random
// metrics, every condition of the shipped plans gives the same answer.
func FuzzFastMatchesVM(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{200, 0, 20, 0, 10, 0, 0, 0, 0, 0, 50, 1})
	var evs []*Evaluator
	for _, path := range []string{"../deploy/plans/default.yaml", "../deploy/plans/seasonal.yaml"} {
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
			ev.firedHook = func(string, int) bool { return history }
			for _, pr := range ev.programs {
				var env any = firm
				ev.ctx.firm, ev.ctx.region = firm, region
				if pr.Scope != ScopeFirm {
					env = region
				}
				ev.fast = false
				lvSlow, okSlow, errSlow := ev.run(pr, env)
				ev.fast = true
				lvFast, okFast, errFast := ev.run(pr, env)
				if errSlow != nil || errFast != nil {
					t.Fatalf("rule %s: errors %v / %v", pr.ID, errSlow, errFast)
				}
				for i := range pr.Define {
					slow, err := ev.vm.Run(pr.defines[i], env)
					if err != nil {
						t.Fatal(err)
					}
					fast := pr.fastDefines[i]
					if fast == nil {
						continue
					}
					var got any
					if fast.num != nil {
						got = fast.num(&ev.ctx)
					} else {
						got = fast.bool(&ev.ctx)
					}
					if n, ok := slow.(int); ok {
						slow = float64(n)
					}
					if got != slow {
						t.Fatalf("rule %s define %s: VM %v, closures %v", pr.ID, pr.Define[i].Name, slow, got)
					}
				}
				if lvSlow != lvFast || okSlow != okFast {
					t.Fatalf("rule %s: VM says %v %v, closures %v %v (firm %+v, region loss %v mom %v)", pr.ID, okSlow, lvSlow, okFast, lvFast, *firm, region.Loss, region.MoMChange)
				}
			}
		}
	})
}
