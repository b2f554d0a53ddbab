package simulate

import (
	"math"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Monthly dynamics of one firm.
//
// A firm has a deseasonalised level L that drifts with a yearly trend and
// small noise (sd 0.7%, clipped to ±2%). Its headcount is L times a seasonal
// factor, rounded. Flows are drawn so that the books balance:
//
//	H(t) = H(t−1) + hires − Σ separations
//
// Ordinary attrition (resignation, contract expiry, retirement, transfer,
// other) is Poisson around a firm-specific monthly rate; hires make up the
// rest of the change. When the headcount must fall faster than attrition
// (a seasonal dip), the extra leavers are contract expiries, and suspensions
// in winter construction. Rarely a firm lays off a handful of people, always
// below the Labor Contract Law art. 41 line (< 20 people and < 10% of staff).
// Planted events (events.go) replace the month's flows by a layoff or closure.

// group of seasonal behaviour.
type group uint8

const (
	groupSpringFestival group = iota // small dip in Jan–Mar around the Spring Festival
	groupWinter                      // construction, hospitality, culture and tourism: 8–15% in Dec–Feb
	groupFarm                        // agriculture: 3–6% in Dec–Feb
)

// winterDip is the share of the seasonal amplitude lost, by month (Jan = 0).
// Jan and Feb are at the bottom, December half-way, spring recovers.
var (
	winterDip = [12]float64{1, 1, 0.45, 0.1, 0, 0, 0, 0, 0, 0, 0, 0.55}
	festival  = [12]float64{0.4, 1, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	// vacancySeason multiplies open vacancies: spring hiring after the
	// festival, a smaller bump for graduates in July.
	vacancySeason       = [12]float64{1, 1.3, 1.6, 1.2, 1, 1, 1.15, 1, 1, 1, 1, 0.9}
	vacancySeasonWinter = [12]float64{0.5, 0.8, 2.0, 1.6, 1.1, 1, 1, 1, 1, 1, 0.8, 0.5}
)

// attritionShares are the cumulative shares of ordinary separations:
// resignation 50%, contract expiry 20%, retirement 12%, transfer 8%, other 10%.
var attritionShares = [5]float64{0.5, 0.7, 0.82, 0.9, 1}

// firmParams are a firm's fixed traits, drawn once in New.
type firmParams struct {
	group     group
	amplitude float64       // seasonal depth, share of headcount
	trend     float64       // monthly drift of the level
	attrition float64       // monthly ordinary separations, share of headcount
	vacancy   float64       // open vacancies, share of headcount
	level0    float64       // level in the month before first
	first     report.Period // first period reported
	last      report.Period // last period reported (closure, or the run's end)
	plan      *cutPlan      // planted event, nil for most firms
}

// firmState is what carries from one month to the next.
type firmState struct {
	level float64
	head  uint32
	quiet int8 // months left with few vacancies after a layoff
}

// month is the outcome of one firm-month.
type month struct {
	head, vacancies, hires uint32
	sep                    report.Separations
	note                   string
}

func newParams(seed int64, i int, f firms.Firm, start, end report.Period) firmParams {
	r := newRNG(seed, uint64(i), 0, saltParams)
	p := firmParams{
		trend:     clamp(-0.005+0.03*r.normal(), -0.08, 0.08) / 12,
		attrition: r.between(0.004, 0.014),
		vacancy:   r.between(0.003, 0.03),
		first:     enrolledPeriod(f, start),
		last:      end,
	}
	switch f.Industry {
	case "E", "H", "R":
		p.group, p.amplitude = groupWinter, r.between(0.08, 0.15)
		p.attrition = r.between(0.008, 0.02)
	case "A":
		p.group, p.amplitude = groupFarm, r.between(0.03, 0.06)
	default:
		p.group, p.amplitude = groupSpringFestival, r.between(0.005, 0.02)
	}
	base := float64(f.BaselineHeadcount)
	if f.EnrolledFrom.IsZero() || report.PeriodOf(f.EnrolledFrom) < start {
		base *= r.between(0.92, 1.08) // drifted since enrolment
	}
	p.level0 = base / p.season(p.first.Add(-1).Month())
	return p
}

// season is the seasonal factor of month m (1 = no effect).
func (p *firmParams) season(m time.Month) float64 {
	if p.group == groupSpringFestival {
		return 1 - p.amplitude*festival[m-1]
	}
	return 1 - p.amplitude*winterDip[m-1]
}

func (p *firmParams) initState() firmState {
	return firmState{level: p.level0, head: uint32(math.Round(p.level0 * p.season(p.first.Add(-1).Month())))}
}

// step advances firm i by one month to period per and returns the month's
// true figures. The draws depend only on (seed, i, per), never on the order
// in which firms are stepped.
func step(seed int64, i int, p *firmParams, per report.Period, st *firmState) month {
	if p.plan != nil && per >= p.plan.start && per < p.plan.start.Add(p.plan.months) {
		return p.plan.apply(seed, i, p, per, st)
	}
	r := newRNG(seed, uint64(i), uint64(per), saltStep)
	m := per.Month()
	h0 := int(st.head)
	st.level *= 1 + clamp(0.007*r.normal(), -0.02, 0.02) + p.trend
	st.level = max(st.level, 1)
	season := p.season(m)
	target := int(math.Round(st.level * season))

	var out month
	// a rare small economic layoff, below every published threshold
	if r.float() < 0.004 && h0 >= 40 {
		limit := min(19, h0/11) // < 20 people and < 10% of staff
		n := 2 + r.intn(limit-1)
		out.sep.EconomicLayoff = uint32(n)
		target -= n
		st.level = float64(target) / season
	}
	// ordinary attrition: a Poisson total split by reason (systematic
	// sampling: one draw, the parts sum to the total)
	total := float64(r.poisson(float64(h0) * p.attrition))
	u := r.float()
	var cut [len(attritionShares)]uint32
	prev := 0.0
	for k, cum := range attritionShares {
		next := math.Floor(total*cum + u)
		cut[k] = uint32(next - prev)
		prev = next
	}
	out.sep.Resignation, out.sep.ContractExpiry, out.sep.Retirement, out.sep.Transfer, out.sep.Other =
		cut[0], cut[1], cut[2], cut[3], cut[4]

	hires := target - h0 + int(out.sep.Total())
	if hires < 0 {
		extra := -hires
		hires = 0
		if p.group == groupWinter && winterDip[m-1] > 0 {
			// winter stop on building sites and in tourism
			susp := extra * 3 / 10
			out.sep.Suspension += uint32(susp)
			extra -= susp
		}
		out.sep.ContractExpiry += uint32(extra)
	}
	out.hires = uint32(hires)
	out.head = uint32(target)
	st.head = out.head

	vs := vacancySeason
	if p.group == groupWinter {
		vs = vacancySeasonWinter
	}
	v := float64(target) * p.vacancy * vs[m-1] * (1 + clamp(0.15*r.normal(), -0.5, 0.5))
	if st.quiet > 0 {
		v *= 0.1
		st.quiet--
	}
	out.vacancies = uint32(math.Round(max(v, 0)))
	return out
}
