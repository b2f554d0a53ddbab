package simulate

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// EventKind names a planted layoff pattern.
type EventKind string

// Planted event kinds. Each is sized to cross the published threshold it is
// meant to exercise (see /work/shared/domain.md).
const (
	// MassLayoff: a firm of ≥ 600 staff cuts ≥ 300 (and ≥ 35%) in one month
	// (Hangzhou level I; Shandong's ≥ 200 at once).
	MassLayoff EventKind = "mass_layoff"
	// Closure: a firm of ≥ 600 staff closes (headcount 0, separations by
	// closure_bankruptcy) and stops reporting; its EnrolledTo is the first
	// day of the next month (Hangzhou level I: a closure with ≥ 600
	// unemployed).
	Closure EventKind = "closure"
	// CountyCluster: 5–6 firms in one county each cut 33–45% of staff in the
	// same month (Shandong: ≥ 5 firms each cutting > 50 or ≥ 30%).
	CountyCluster EventKind = "county_cluster"
	// Gradual: a firm of ≥ 300 staff sheds ~8% a month for 3 months, about
	// 22% in all: each month stays under 10% of staff, only rules that sum
	// over 60–90 days (WARN, EU 98/59/EC, Taiwan) see it whole.
	Gradual EventKind = "gradual"
)

// maxEventBaseline keeps the province's giants out of the planted events:
// a firm of 10,000 halving its staff would be a caricature.
const maxEventBaseline = 5000

// eventOrder is the rotation used when planting Options.Layoffs events.
var eventOrder = [...]EventKind{MassLayoff, CountyCluster, Closure, Gradual}

// Event is one planted layoff, listed so that users can check that the
// detector finds it.
type Event struct {
	Kind   EventKind     `json:"kind"`
	Region string        `json:"region"` // county code
	Period report.Period `json:"period"` // first month of the cut
	Months int           `json:"months"` // months the cut is spread over
	Firms  []EventFirm   `json:"firms"`  // one firm, or the cluster's members
}

// EventFirm is the headcount of one firm around an event: the report of the
// month before Period says Before, the report of the event's last month
// (Period + Months − 1) says After.
type EventFirm struct {
	FirmID string `json:"firm_id"`
	Before uint32 `json:"headcount_before"`
	After  uint32 `json:"headcount_after"`
}

// Before is the total headcount of the event's firms in the month before it.
func (e Event) Before() uint32 {
	var n uint32
	for _, f := range e.Firms {
		n += f.Before
	}
	return n
}

// After is their total headcount in the event's last month.
func (e Event) After() uint32 {
	var n uint32
	for _, f := range e.Firms {
		n += f.After
	}
	return n
}

// cutPlan is an event as one firm lives it.
type cutPlan struct {
	kind   EventKind
	start  report.Period
	months int
	frac   float64 // share cut (per month for Gradual)
	minCut int     // at least this many (MassLayoff)
}

// apply is step for an event month: no hires, the cut as economic layoff (or
// closure), a few resignations, vacancies near zero for three months.
func (c *cutPlan) apply(seed int64, i int, p *firmParams, per report.Period, st *firmState) month {
	r := newRNG(seed, uint64(i), uint64(per), saltStep)
	h0 := int(st.head)
	var out month
	resign := min(r.poisson(float64(h0)*p.attrition*0.3), h0/50)
	switch c.kind {
	case Closure:
		out.sep.Resignation = uint32(resign)
		out.sep.ClosureBankruptcy = uint32(h0 - resign)
		out.note = "企业破产，停止经营"
	case Gradual:
		drop := int(math.Round(float64(h0) * c.frac))
		resign = min(resign, drop/4)
		out.sep.Resignation = uint32(resign)
		out.sep.EconomicLayoff = uint32(drop - resign)
		out.note = "经济性裁员（分批）"
	default: // MassLayoff, CountyCluster
		cut := min(max(c.minCut, int(math.Round(float64(h0)*c.frac))), h0-resign)
		out.sep.Resignation = uint32(resign)
		out.sep.EconomicLayoff = uint32(cut)
		out.note = "经济性裁员"
	}
	out.head = uint32(h0) - out.sep.Total()
	st.head = out.head
	st.level = float64(out.head) / p.season(per.Month())
	st.quiet = 3
	if out.head > 0 {
		out.vacancies = uint32(r.intn(3))
	}
	return out
}

// trajectory replays firm i alone from its first period to upTo and returns
// the headcount of every month, starting with the month before first.
func (s *Simulation) trajectory(i int, upTo report.Period) []uint32 {
	p := &s.params[i]
	st := p.initState()
	out := []uint32{st.head}
	for per := p.first; per <= upTo && per <= p.last; per++ {
		step(s.opts.Seed, i, p, per, &st)
		out = append(out, st.head)
	}
	return out
}

// headAt is firm i's true headcount at the end of period per.
func (s *Simulation) headAt(i int, per report.Period) uint32 {
	t := s.trajectory(i, per)
	return t[len(t)-1]
}

// plantEvents chooses firms and months for opts.Layoffs events, installs
// their plans, and records what the reports will show. Event firms are
// firms enrolled before the run, outside the seasonal industries (so a
// planted drop is never confused with a winter dip), and are exempt from
// missing reports and corrections so the event is always visible.
func (s *Simulation) plantEvents() error {
	n := s.opts.Layoffs
	if n == 0 {
		return nil
	}
	r := newRNG(s.opts.Seed, 0, 0, saltEvents)
	start, end := s.opts.Start, s.End()
	lead := max(1, min(12, s.opts.Months/2)) // leave a year of history when there is one

	// candidates in a seeded random order
	var cands []int
	for i := range s.firms {
		if s.params[i].first == start && s.params[i].group == groupSpringFestival {
			cands = append(cands, i)
		}
	}
	r.shuffle(len(cands), func(a, b int) { cands[a], cands[b] = cands[b], cands[a] })
	used := make(map[int]bool)
	usedCounty := make(map[string]bool)

	pickPeriod := func(months int) report.Period {
		lo, hi := start.Add(lead), end.Add(1-months)
		return lo.Add(r.intn(int(hi-lo) + 1))
	}
	// single finds an unused candidate whose headcount the month before per
	// is at least minBefore.
	single := func(minBaseline, minBefore uint32, per report.Period) (int, bool) {
		for _, i := range cands {
			if b := s.firms[i].BaselineHeadcount; used[i] || b < minBaseline || b > maxEventBaseline {
				continue
			}
			if s.headAt(i, per.Add(-1)) >= minBefore {
				return i, true
			}
		}
		return 0, false
	}

	for k := range n {
		kind := eventOrder[k%len(eventOrder)]
		ev := Event{Kind: kind, Months: 1}
		if kind == Gradual {
			ev.Months = 3
		}
		ev.Period = pickPeriod(ev.Months)
		var members []int
		var plans []cutPlan
		switch kind {
		case MassLayoff, Closure, Gradual:
			minBaseline, minBefore := uint32(700), uint32(600)
			if kind == Gradual {
				minBaseline, minBefore = 350, 300
			}
			i, ok := single(minBaseline, minBefore, ev.Period)
			if !ok {
				return fmt.Errorf("plant event %d (%s): no unused firm with ≥ %d staff; use more firms or fewer layoffs", k+1, kind, minBefore)
			}
			members = []int{i}
			c := cutPlan{kind: kind, start: ev.Period, months: ev.Months}
			switch kind {
			case MassLayoff:
				c.frac, c.minCut = r.between(0.35, 0.5), 300
			case Gradual:
				c.frac = r.between(0.075, 0.085)
			}
			plans = []cutPlan{c}
		case CountyCluster:
			byCounty := make(map[string][]int)
			for _, i := range cands {
				// members below 1,000 staff: the cluster is a county pattern,
				// no member is a mass layoff on its own
				if !used[i] && !usedCounty[s.firms[i].Region] && s.firms[i].BaselineHeadcount < 1000 {
					byCounty[s.firms[i].Region] = append(byCounty[s.firms[i].Region], i)
				}
			}
			var counties []string
			for c, list := range byCounty {
				if len(list) >= 5 {
					counties = append(counties, c)
				}
			}
			if len(counties) == 0 {
				return fmt.Errorf("plant event %d (%s): no county with 5 unused firms; use more firms or fewer layoffs", k+1, kind)
			}
			slices.Sort(counties)
			county := counties[r.intn(len(counties))]
			usedCounty[county] = true
			list := byCounty[county] // already in random order
			members = list[:min(len(list), 5+r.intn(2))]
			for range members {
				plans = append(plans, cutPlan{kind: kind, start: ev.Period, months: 1, frac: r.between(0.33, 0.45)})
			}
		}
		for j, i := range members {
			used[i] = true
			s.params[i].plan = &plans[j]
			if kind == Closure {
				s.params[i].last = ev.Period
				s.firms[i].EnrolledTo = dateOf(ev.Period.Add(1))
			}
			t := s.trajectory(i, ev.Period.Add(ev.Months-1))
			ev.Firms = append(ev.Firms, EventFirm{
				FirmID: s.firms[i].ID,
				Before: t[len(t)-1-ev.Months],
				After:  t[len(t)-1],
			})
		}
		ev.Region = s.firms[members[0]].Region
		slices.SortFunc(ev.Firms, func(a, b EventFirm) int { return cmp.Compare(a.FirmID, b.FirmID) })
		s.events = append(s.events, ev)
	}
	slices.SortStableFunc(s.events, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Firms[0].FirmID, b.Firms[0].FirmID))
	})
	return nil
}
