package simulate

import (
	"math"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Monthly dynamics of one firm.
//
// A firm has a deseasonalised level L and a transient offset O (both in
// log terms for the moves). Every month
//
//	L ← L · exp(trend − decline + ε + c_pref + c_ind)     ε ~ σ·t(ν), |ε| ≤ NoiseCap
//	O ← O / 2,  plus a shock now and then (transient → O, permanent → L)
//	target T = round(L · e^O · S(t))                        S: season.go
//
// Flows make the books balance, H(t) = H(t−1) + hires − Σ separations:
// ordinary separations are Poisson around the firm's turnover (more after
// the Spring Festival) and split by its reason mix; hires replace them and
// make up the change to T. When T falls faster than turnover, the extra
// leavers get the reason of the cause (contract expiry and suspension in a
// winter stop, resignations after the festival, contract expiry when a
// project ends). Planted events (events.go) add a cut on top: hires freeze
// and the cut is reported as economic_layoff or, for firms that do not say
// so, as resignations, contract expiry or other.

// turnoverSeason multiplies ordinary separations by calendar month: people
// change jobs after the Spring Festival bonus (金三银四, "golden March,
// silver April") and stay put before the year-end bonus.
var turnoverSeason = [12]float64{1.0, 1.2, 1.4, 1.1, 0.9, 0.9, 1.1, 1.0, 0.9, 0.9, 0.8, 0.8}

// vacancySeason multiplies open vacancies by calendar month: spring hiring
// after the festival, a smaller bump for graduates in July; vacancyWinter
// is for winter-seasonal firms, which hire for the spring restart.
var (
	vacancySeason = [12]float64{1, 1.3, 1.6, 1.2, 1, 1, 1.15, 1, 1, 1, 1, 0.9}
	vacancyWinter = [12]float64{0.5, 0.8, 2.0, 1.6, 1.1, 1, 1, 1, 1, 1, 0.8, 0.5}
)

// shockDecay is how much of a transient shock remains after a month.
const shockDecay = 0.5

// Separation reasons, in the order of ReasonMix.
const (
	reasonResignation = iota
	reasonContractExpiry
	reasonRetirement
	reasonTransfer
	reasonOther
)

// firmParams are a firm's fixed traits, drawn once in New.
type firmParams struct {
	prefCode uint64 // prefecture code as a number, for shared draws
	industry byte   // GB/T 4754-2017 section letter
	season   seasonal
	sigma    float64    // scale of monthly moves (log)
	turnover float64    // monthly ordinary separations, share of staff
	reasons  [5]float64 // cumulative shares of ordinary separations
	vacancy  float64    // open vacancies, share of staff
	trend    float64    // monthly drift (log)
	decline  float64    // monthly structural decline (0 for most firms)
	level0   float64    // level in the month before first
	first    report.Period
	last     report.Period // last period reported (closure, leaving, or the run's end)
	plan     *cutPlan      // planted event, nil for most firms
}

// firmState is what carries from one month to the next.
type firmState struct {
	level  float64 // deseasonalised level
	offset float64 // transient shock, log
	head   uint32
	quiet  int8 // months left with few vacancies after a cut
}

// month is the outcome of one firm-month.
type month struct {
	head, vacancies, hires uint32
	sep                    report.Separations
	note                   string
}

// highTurnover are sections with more job changes: agriculture,
// construction, hospitality, residents' services, culture.
var highTurnover = map[byte]bool{'A': true, 'E': true, 'H': true, 'O': true, 'R': true}

func newParams(o *Options, i int, f firms.Firm, start, end report.Period) firmParams {
	r := newRNG(o.Seed, uint64(i), 0, saltParams)
	ind := f.Industry[0]
	base := float64(f.BaselineHeadcount)
	p := firmParams{
		prefCode: prefNumber(f.Region),
		industry: ind,
		first:    enrolledPeriod(f, start),
		last:     end,
	}
	if !f.EnrolledTo.IsZero() {
		p.last = min(end, report.PeriodOf(f.EnrolledTo).Add(-1))
	}
	u := r.float()
	switch {
	case highTurnover[ind]:
		u = math.Sqrt(u) // towards the top of the range
	case f.Ownership == "state":
		u *= u // state firms keep their staff
	}
	p.turnover = o.Turnover.Lo + (o.Turnover.Hi-o.Turnover.Lo)*u

	// the firm's reason mix: the province's, varied, with more
	// retirements and fewer resignations in state firms
	var mix [5]float64
	sum := 0.0
	for k, v := range o.Reasons {
		mix[k] = v * math.Exp(0.3*r.normal())
		if f.Ownership == "state" {
			switch k {
			case reasonRetirement:
				mix[k] *= 1.8
			case reasonResignation:
				mix[k] *= 0.6
			}
		}
		sum += mix[k]
	}
	acc := 0.0
	for k := range mix {
		if sum > 0 {
			acc += mix[k] / sum
		}
		p.reasons[k] = acc
	}
	p.reasons[len(p.reasons)-1] = 1

	p.sigma = o.Noise.draw(&r) * o.NoiseScale * math.Pow(max(base, 1)/300, -o.NoiseSizeExp)
	p.trend = clamp(o.TrendMean+o.TrendSD*r.normal(), o.TrendMean-3*o.TrendSD, o.TrendMean+3*o.TrendSD) / 12
	if r.float() < o.DeclineShare {
		p.decline = o.Decline.draw(&r)
	}
	p.vacancy = o.Vacancies.draw(&r)
	p.season = drawSeasonal(o, &r, ind, f.Prefecture())
	level := base
	if f.EnrolledFrom.IsZero() || report.PeriodOf(f.EnrolledFrom) < start {
		level *= r.between(0.92, 1.08) // drifted since enrolment
	}
	p.level0 = level // divided by the season in New, which needs the params
	return p
}

// prefNumber turns a prefecture's code into a number for hashing.
func prefNumber(county string) uint64 {
	n := uint64(0)
	for i := 0; i < 4 && i < len(county); i++ {
		n = n*10 + uint64(county[i]-'0')
	}
	return n
}

func (s *Simulation) initState(i int) firmState {
	p := &s.params[i]
	return firmState{level: p.level0, head: uint32(math.Round(p.level0 * s.season(i, p.first.Add(-1))))}
}

// shock is a non-layoff shock of one firm-month.
type shock struct {
	on, down, transient bool
	size                float64
}

// shockAt is firm i's shock in per, a pure function of the seed.
func (s *Simulation) shockAt(i int, per report.Period) shock {
	r := newRNG(s.opts.Seed, uint64(i), uint64(per), saltShock)
	if r.float() >= s.opts.ShockRate {
		return shock{}
	}
	return shock{on: true, size: s.opts.Shock.draw(&r), down: r.float() < s.opts.ShockDown, transient: r.float() < s.opts.ShockRevert}
}

// smallLayoffAt reports whether firm i lays off a handful of people in per.
func (s *Simulation) smallLayoffAt(i int, per report.Period) bool {
	return unit(key(s.opts.Seed, uint64(i), uint64(per), saltSmall)) < s.opts.SmallLayoffRate
}

// common is the move shared by the firm's prefecture and by its industry.
func (s *Simulation) common(p *firmParams, per report.Period) float64 {
	if s.opts.CommonNoise == 0 {
		return 0
	}
	a := newRNG(s.opts.Seed, p.prefCode, uint64(per), saltCommon)
	b := newRNG(s.opts.Seed, 1<<32|uint64(p.industry), uint64(per), saltCommon)
	return s.opts.CommonNoise * (a.normal() + b.normal())
}

// step advances firm i by one month to period per and returns the month's
// true figures. The draws depend only on (seed, i, per), never on the order
// in which firms are stepped.
func (s *Simulation) step(i int, per report.Period, st *firmState) month {
	o := &s.opts
	p := &s.params[i]
	r := newRNG(o.Seed, uint64(i), uint64(per), saltStep)
	m := int(per.Month()) - 1
	h0 := int(st.head)
	season := s.season(i, per)
	prevSeason := s.season(i, per.Add(-1))
	k, inEvent := p.plan.at(per)

	// the level moves; a shock now and then
	eps := clamp(p.sigma*r.studentT(o.NoiseDF), -o.NoiseCap, o.NoiseCap)
	st.level *= math.Exp(p.trend - p.decline + eps + s.common(p, per))
	st.offset *= shockDecay
	sh := s.shockAt(i, per)
	if sh.on && !inEvent {
		d := math.Log(1 + sh.size)
		if sh.down {
			d = math.Log(1 - sh.size)
		}
		if sh.transient {
			st.offset += d
		} else {
			st.level *= math.Exp(d)
		}
	}
	st.level = max(st.level, 1)
	target := int(math.Round(st.level * math.Exp(st.offset) * season))

	var out month
	if inEvent && p.plan.closing(per) {
		return s.closeMonth(i, h0, st, &r)
	}

	// ordinary separations, split by reason (systematic sampling: one
	// draw, the parts sum to the total)
	ordinary := r.poisson(float64(h0) * p.turnover * turnoverSeason[m])
	cut, mode := 0, modeNormal
	switch {
	case inEvent:
		cut, mode = p.plan.cutAt(k, h0), p.plan.mode()
	case s.smallLayoffAt(i, per) && h0 > 10:
		cut = 1 // < 20 people and < 10% of staff
		if limit := min(19, h0/11); limit >= 2 {
			cut = 2 + r.intn(limit-1)
		}
	}
	cut = min(cut, h0)
	ordinary = min(ordinary, h0-cut)
	splitInto(&out.sep, ordinary, p.reasons[:], r.float())

	// the target and the hires that reach it
	switch mode {
	case modeExact: // the cut is the whole change; leavers are replaced
		target = h0 - cut
	case modeFreeze: // a layoff: hiring stops, nobody grows
		target = min(target, h0) - cut
	case modeNormal, modeDownturn:
		target -= cut
	}
	target = max(target, 0)
	need := target - h0 + ordinary + cut // hires needed with no extra leavers
	var hires, extra int
	switch mode {
	case modeExact:
		hires = ordinary
	case modeFreeze:
		hires = min(max(need, 0), r.poisson(0.1*float64(h0)*p.turnover), ordinary)
	case modeDownturn:
		hires = max(need, r.poisson(0.15*float64(h0)*p.turnover))
	default:
		hires = max(need, r.poisson(0.25*float64(h0)*p.turnover))
	}
	if hires < need {
		target = h0 + hires - ordinary - cut // fewer people than planned: leavers are not replaced
	} else {
		extra = hires - need
	}
	s.reportCut(&out, i, cut, mode, inEvent, &r)
	s.reportExtra(&out, p, extra, season < prevSeason*0.995, sh.on && !inEvent || st.offset > 0.005, &r)

	out.hires = uint32(hires)
	out.head = uint32(target)
	st.head = out.head
	if cut > 0 || mode != modeNormal {
		// what was cut stays cut: the level follows the headcount
		st.level = max(float64(target), 1) / (math.Exp(st.offset) * season)
	}
	if inEvent {
		st.quiet = 3 // nobody hires for a while after a cut
	}

	vs := vacancySeason
	if p.season.winter > 0 || p.season.tourism > 0 {
		vs = vacancyWinter
	}
	v := float64(target) * p.vacancy * vs[m] * (1 + clamp(0.15*r.normal(), -0.5, 0.5))
	switch {
	case mode == modeDownturn:
		v *= 0.3
	case st.quiet > 0:
		v *= 0.1
		if !inEvent {
			st.quiet--
		}
	}
	out.vacancies = uint32(math.Round(max(v, 0)))
	return out
}

// closeMonth is the month a firm closes: everybody leaves, the reason is
// closure or bankruptcy (a few resign first).
func (s *Simulation) closeMonth(i, h0 int, st *firmState, r *rng) month {
	p := &s.params[i]
	resign := min(r.poisson(float64(h0)*p.turnover*0.3), h0/50)
	var out month
	out.sep.Resignation = uint32(resign)
	out.sep.ClosureBankruptcy = uint32(h0 - resign)
	out.note = "企业破产，停止经营"
	st.head, st.level, st.offset = 0, 1, 0
	return out
}

// reportCut books a cut under the reasons the firm gives: economic layoff
// when it says so, else resignations, contract expiry or other (a
// negotiated termination, 协商解除).
func (s *Simulation) reportCut(out *month, i, cut int, mode cutMode, inEvent bool, r *rng) {
	if cut == 0 {
		return
	}
	p := s.params[i].plan
	if !inEvent || p.economic {
		out.sep.EconomicLayoff += uint32(cut)
		if inEvent {
			out.note = "经济性裁员"
			if mode == modeExact {
				out.note = "经济性裁员（分批）"
			}
		}
		return
	}
	var parts report.Separations
	splitInto(&parts, cut, []float64{p.mix[0], p.mix[0], p.mix[0], p.mix[0], 1}, r.float()) // resignation, the rest
	cexp := uint32(math.Round(float64(parts.Other) * p.mix[1]))                             // part of the rest: contract expiry
	out.sep.Resignation += parts.Resignation
	out.sep.ContractExpiry += cexp
	out.sep.Other += parts.Other - cexp
}

// reportExtra books leavers beyond ordinary turnover by their cause.
func (s *Simulation) reportExtra(out *month, p *firmParams, extra int, seasonFalls, shocked bool, r *rng) {
	if extra <= 0 {
		return
	}
	var shares []float64 // cumulative: resignation, contract expiry, retirement, transfer, other
	switch {
	case seasonFalls && p.season.winter > 0 && p.industry == 'E':
		// winter stop on building sites: contracts end, some are suspended
		n := extra * 3 / 10
		out.sep.Suspension += uint32(n)
		extra -= n
		shares = []float64{0.1, 1, 1, 1, 1}
	case seasonFalls && p.season.festival > 0 && p.season.winter == 0 && p.season.tourism == 0:
		shares = []float64{0.5, 0.8, 0.8, 0.8, 1} // workers who do not come back after the festival
	case seasonFalls:
		shares = []float64{0.3, 1, 1, 1, 1}
	case shocked:
		shares = []float64{0, 0.8, 0.8, 0.8, 1} // a project ends
	default:
		shares = []float64{0.4, 0.7, 0.7, 0.7, 1}
	}
	var parts report.Separations
	splitInto(&parts, extra, shares, r.float())
	out.sep.Resignation += parts.Resignation
	out.sep.ContractExpiry += parts.ContractExpiry
	out.sep.Other += parts.Other
}

// splitInto adds n people to sep by cumulative shares over resignation,
// contract expiry, retirement, transfer and other, by systematic sampling
// with offset u in [0, 1): the parts sum to n.
func splitInto(sep *report.Separations, n int, cum []float64, u float64) {
	if n <= 0 {
		return
	}
	dst := [5]*uint32{&sep.Resignation, &sep.ContractExpiry, &sep.Retirement, &sep.Transfer, &sep.Other}
	prev := 0.0
	for k, c := range cum {
		next := math.Floor(float64(n)*c + u)
		if k == len(cum)-1 {
			next = float64(n)
		}
		*dst[k] += uint32(next - prev)
		prev = next
	}
}
