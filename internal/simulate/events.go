package simulate

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// EventKind names a planted job-loss pattern.
type EventKind string

// Planted event kinds, with the published rule each one exercises (see
// /work/shared/domain.md). Sizes are in docs/simulator.md.
const (
	// MassLayoff: a firm of ≥ 600 staff cuts ≥ 300 (35–50%) in one month
	// (Hangzhou level I; Shandong's ≥ 200 at once).
	MassLayoff EventKind = "mass_layoff"
	// Closure: a firm closes (headcount 0, separations by
	// closure_bankruptcy) and stops reporting, sometimes after one or two
	// months of shrinking; its EnrolledTo is the first day after.
	Closure EventKind = "closure"
	// CountyCluster: 5–6 firms in one county each cut ClusterCut of their
	// staff in the same month (Shandong: ≥ 5 firms each cutting > 50 or
	// ≥ 30%).
	CountyCluster EventKind = "county_cluster"
	// Gradual: a firm of ≥ 300 staff sheds ~8% a month for 3 months, about
	// 22% in all: each month stays under 10% of staff, only rules that sum
	// over 60–90 days (WARN, EU 98/59/EC, Taiwan) see it whole.
	Gradual EventKind = "gradual"
	// Layoff: a firm cuts LayoffSize of its staff in one month, at least
	// the art. 41 line (≥ 20 people or ≥ 10%) — or, for a BelowLine share
	// of them, just under it.
	Layoff EventKind = "layoff"
	// SplitLayoff: 2–3 cuts in consecutive months, each below the art. 41
	// line (< 20 people and < 10% of staff), together past it within 90
	// days (WARN, EU 98/59/EC: cuts summed over 90 days).
	SplitLayoff EventKind = "split_layoff"
	// RegionalDownturn: a county or prefecture where many firms lose
	// Downturn of their staff a month for DownturnMonths months: real job
	// loss, spread thin.
	RegionalDownturn EventKind = "regional_downturn"
	// DipLayoff: a layoff inside a seasonal firm's seasonal fall, the hard
	// case for seasonal baselines.
	DipLayoff EventKind = "dip_layoff"
)

func (k EventKind) known() bool { return slices.Contains(AllEventKinds, k) }

// LabelKind is the label a firm of the event gets.
func (k EventKind) LabelKind() label.Kind {
	switch k {
	case Closure:
		return label.Closure
	case SplitLayoff:
		return label.SplitLayoff
	case RegionalDownturn:
		return label.RegionalDownturn
	}
	return label.Layoff
}

func joinKinds(list []EventKind) string {
	s := make([]string, len(list))
	for i, k := range list {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// maxEventBaseline keeps the province's giants out of the firm events: a
// firm of 15,000 halving its staff would be a caricature.
const maxEventBaseline = 5000

// Event is one planted event, listed so that users can check that the
// detector finds it.
type Event struct {
	Kind   EventKind     `json:"kind"`
	Region string        `json:"region"` // county code (a prefecture's for a prefecture-wide downturn)
	Period report.Period `json:"period"` // first month of the cut
	Months int           `json:"months"` // months the cut is spread over
	Firms  []EventFirm   `json:"firms"`  // one firm, or the cluster's or downturn's members
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

// cutMode is how an event month's target is set (dynamics.go).
type cutMode uint8

const (
	modeNormal   cutMode = iota
	modeFreeze           // a layoff: hiring stops, the cut comes on top of attrition
	modeExact            // the cut is the month's whole net change (gradual, split)
	modeDownturn         // the cut comes on top of the firm's ordinary moves
)

// cutPlan is an event as one firm lives it.
type cutPlan struct {
	kind     EventKind
	start    report.Period
	months   int
	cuts     []int     // people cut in month k, when fixed at planting
	fracs    []float64 // else the share of staff cut in month k
	minCut   int       // at least this many in the first month
	atLine   bool      // at least the art. 41 line in every month
	close    bool      // the last month is a closure
	economic bool      // the cut is reported as economic_layoff
	// otherwise mix[0] of it is reported as resignations and, of the
	// rest, mix[1] as contract expiry and the remainder as other
	mix [2]float64
}

// at returns the month index k of per within the plan.
func (c *cutPlan) at(per report.Period) (int, bool) {
	if c == nil {
		return 0, false
	}
	k := int(per - c.start)
	return k, k >= 0 && k < c.months
}

func (c *cutPlan) end() report.Period { return c.start.Add(c.months - 1) }

func (c *cutPlan) closing(per report.Period) bool { return c.close && per == c.end() }

func (c *cutPlan) mode() cutMode {
	switch c.kind {
	case Gradual, SplitLayoff:
		return modeExact
	case RegionalDownturn:
		return modeDownturn
	}
	return modeFreeze
}

// cutAt is the number of people cut in month k from a headcount of h0.
func (c *cutPlan) cutAt(k, h0 int) int {
	if c.cuts != nil {
		return c.cuts[k]
	}
	n := int(math.Round(c.fracs[k] * float64(h0)))
	if k == 0 {
		n = max(n, c.minCut)
	}
	if c.atLine {
		n = max(n, artLine(h0))
	}
	return min(n, h0)
}

// reportedAs says how the cut appears in the reports.
func (c *cutPlan) reportedAs() string {
	switch {
	case c.close:
		return "closure_bankruptcy"
	case c.economic:
		return "economic_layoff"
	case c.mix[0] >= 0.5:
		return "mostly resignation, the rest contract_expiry and other"
	}
	return "contract_expiry and other (negotiated terminations), some resignation"
}

// artLine is the smallest cut that art. 41 of the Labor Contract Law calls
// an economic layoff of a firm of h: 20 people, or 10% of staff when that
// is fewer.
func artLine(h int) int { return min(20, (h+9)/10) }

// trajectory replays firm i alone from its first period to upTo and returns
// the headcount of every month, starting with the month before first.
func (s *Simulation) trajectory(i int, upTo report.Period) []uint32 {
	p := &s.params[i]
	st := s.initState(i)
	out := []uint32{st.head}
	for per := p.first; per <= upTo && per <= p.last; per++ {
		s.step(i, per, &st)
		out = append(out, st.head)
	}
	return out
}

// headAt is firm i's true headcount at the end of period per (its first
// reported period − 1 at the earliest).
func (s *Simulation) headAt(i int, per report.Period) int {
	t := s.trajectory(i, per)
	return int(t[len(t)-1])
}

// planter plants the events of one simulation.
type planter struct {
	s          *Simulation
	r          rng
	lo, hi     report.Period // first and last month an event may touch
	cands      []int         // firms in the sample all run long, in random order
	all        []int         // every firm, in random order
	used       map[int]bool
	usedRegion map[string]bool
	labels     []label.Label
}

// plantEvents chooses firms and months for opts.Layoffs events, installs
// their plans, and records what the reports will show and the labels. Event
// firms are exempt from missing reports and errors around their event, so
// every event is visible.
func (s *Simulation) plantEvents() error {
	o := &s.opts
	if o.Layoffs == 0 {
		return nil
	}
	lead := max(1, min(o.History, o.Months/2))
	pl := &planter{s: s, r: newRNG(o.Seed, 0, 0, saltEvents), lo: o.Start.Add(lead), hi: s.End(),
		used: map[int]bool{}, usedRegion: map[string]bool{}}
	for i, p := range s.params {
		pl.all = append(pl.all, i)
		if p.first == o.Start && p.last == s.End() && s.firms[i].BaselineHeadcount <= maxEventBaseline {
			pl.cands = append(pl.cands, i)
		}
	}
	// candidates in a random order weighted by the root of their size
	// (Efraimidis–Spirakis: sort by u^(1/w)): a firm of 1,600 is picked
	// about twice as often as one of 400, so events are not mostly in the
	// smallest firms, which are most of the sample
	keys := make([]float64, len(s.params))
	for _, i := range pl.cands {
		keys[i] = math.Log(1-pl.r.float()) / math.Sqrt(float64(s.firms[i].BaselineHeadcount))
	}
	slices.SortStableFunc(pl.cands, func(a, b int) int { return cmp.Compare(keys[b], keys[a]) })
	pl.r.shuffle(len(pl.all), func(a, b int) { pl.all[a], pl.all[b] = pl.all[b], pl.all[a] })

	for k := range o.Layoffs {
		kind := o.EventKinds[k%len(o.EventKinds)]
		ev, err := pl.plant(kind)
		if err != nil {
			return fmt.Errorf("plant event %d (%s): %w; use more firms or fewer layoffs", k+1, kind, err)
		}
		s.events = append(s.events, ev)
	}
	slices.SortStableFunc(s.events, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.Period, b.Period), cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Firms[0].FirmID, b.Firms[0].FirmID))
	})
	s.eventLabels = pl.labels
	return nil
}

var errNoFirm = errors.New("no unused firm fits")

// pickPeriod returns a first month for an event of months months (fewer
// when the run is short) and the months it gets.
func (pl *planter) pickPeriod(months int) (report.Period, int) {
	months = max(1, min(months, int(pl.hi-pl.lo)+1))
	last := pl.hi.Add(1 - months)
	return pl.lo.Add(pl.r.intn(int(last-pl.lo) + 1)), months
}

// reporting draws how a firm reports its cut.
func (pl *planter) reporting(c *cutPlan) {
	c.economic = pl.r.float() < pl.s.opts.EconomicShare
	c.mix = [2]float64{pl.r.float(), pl.r.float()}
}

// install tries plan c on firm i: it keeps it when ok accepts the firm's
// replayed headcounts (from the month before the plan to its end).
func (pl *planter) install(i int, c *cutPlan, ok func(h []int) bool) bool {
	s := pl.s
	s.params[i].plan = c
	t := s.trajectory(i, c.end())
	from := int(c.start - s.params[i].first) // index of the month before start
	if from < 0 || len(t) < from+c.months+1 {
		s.params[i].plan = nil
		return false
	}
	h := make([]int, c.months+1)
	for k := range h {
		h[k] = int(t[from+k])
	}
	if !ok(h) {
		s.params[i].plan = nil
		return false
	}
	pl.used[i] = true
	if c.close {
		s.params[i].last = c.end()
		s.firms[i].EnrolledTo = dateOf(c.end().Add(1))
	}
	return true
}

// eventFirm returns firm i's headcounts around months start..end.
func (pl *planter) eventFirm(i int, start, end report.Period) EventFirm {
	t := pl.s.trajectory(i, end)
	last := len(t) - 1
	return EventFirm{FirmID: pl.s.firms[i].ID, Before: t[last-int(end-start)-1], After: t[last]}
}

func (pl *planter) label(scope label.Scope, key string, from, to report.Period, kind label.Kind, note string) {
	pl.labels = append(pl.labels, label.Label{Scope: scope, Key: key, From: from, To: to, Kind: kind, Source: label.Simulator, Note: note})
}

// firmLabel labels firm i of an event.
func (pl *planter) firmLabel(i int, c *cutPlan, ef EventFirm, prefix string) {
	note := fmt.Sprintf("%s%s: headcount %d → %d over %d month(s); cut reported as %s",
		prefix, c.kind, ef.Before, ef.After, c.months, c.reportedAs())
	pl.label(label.Firm, ef.FirmID, c.start, c.end(), c.kind.LabelKind(), note)
}

func (pl *planter) plant(kind EventKind) (Event, error) {
	switch kind {
	case CountyCluster:
		return pl.cluster()
	case RegionalDownturn:
		return pl.downturn()
	}
	return pl.single(kind)
}

// single plants an event of one firm.
func (pl *planter) single(kind EventKind) (Event, error) {
	s, o, r := pl.s, &pl.s.opts, &pl.r
	months := 1
	wind := 0
	switch kind {
	case Gradual:
		months = 3
	case SplitLayoff:
		months = 2 + r.intn(2)
	case Closure:
		if r.float() < 0.5 {
			wind = 1 + r.intn(2) // shrinks for a month or two first
		}
		months = wind + 1
	}
	per, months := pl.pickPeriod(months)
	below := kind == Layoff && r.float() < o.BelowLine
	prefix := ""
	if below {
		prefix = "below the art. 41 line: "
	}
	for _, i := range pl.cands {
		if pl.used[i] {
			continue
		}
		base := int(s.firms[i].BaselineHeadcount)
		c := &cutPlan{kind: kind, start: per, months: months}
		pl.reporting(c)
		var ok func(h []int) bool
		switch kind {
		case MassLayoff:
			if base < 700 || s.headAt(i, per.Add(-1)) < 600 {
				continue
			}
			c.fracs, c.minCut = []float64{r.between(0.35, 0.5)}, 300
			ok = func(h []int) bool { return h[0] >= 600 && h[0]-h[1] >= 300 }
		case Closure:
			if wind > 0 && base < 150 {
				continue
			}
			for range wind {
				c.fracs = append(c.fracs, r.between(0.05, 0.15))
			}
			c.fracs = append(c.fracs, 1)
			c.close, c.economic = true, false
			ok = func(h []int) bool { return h[0] > 0 && h[len(h)-1] == 0 }
		case Gradual:
			if base < 350 || s.headAt(i, per.Add(-1)) < 300 {
				continue
			}
			for range months {
				c.fracs = append(c.fracs, r.between(0.075, 0.085))
			}
			ok = func(h []int) bool {
				for k := 1; k < len(h); k++ {
					if d := h[k-1] - h[k]; d < 20 || 10*d >= h[k-1] {
						return false
					}
				}
				return 5*(h[0]-h[len(h)-1]) >= h[0]
			}
		case Layoff, DipLayoff:
			if kind == DipLayoff {
				if !s.params[i].season.deep(0.12) {
					continue
				}
				p, found := pl.dipMonth(i)
				if !found {
					continue
				}
				c.start, c.months = p, 1
			}
			h := s.headAt(i, c.start.Add(-1))
			if h < 80 {
				continue
			}
			if below {
				n := int(float64(artLine(h)) * r.between(0.5, 0.95))
				if n < 2 {
					continue
				}
				c.cuts = []int{n}
			} else {
				c.fracs, c.atLine = []float64{math.Exp(r.between(math.Log(o.LayoffSize.Lo), math.Log(o.LayoffSize.Hi)))}, true
			}
			ok = func(h []int) bool {
				cut := h[0] - h[1]
				return h[1] > 0 && (below && cut > 0 || !below && cut >= artLine(h[0]))
			}
		case SplitLayoff:
			if base > 900 {
				continue
			}
			h := s.headAt(i, per.Add(-1))
			if h < 80 {
				continue
			}
			// a firm splits a cut it would otherwise have to report: 1.3 to
			// 2.5 times the line, in tranches each just under it
			line := artLine(h)
			tranche := min(19, (h-1)/10)
			total := min(months*tranche, line+int(float64(line)*r.between(0.3, 1.5)))
			c.cuts = make([]int, months)
			for k := range c.cuts {
				c.cuts[k] = total / months
				if k < total%months {
					c.cuts[k]++
				}
			}
			ok = func(h []int) bool {
				for k := 1; k < len(h); k++ {
					if d := h[k-1] - h[k]; d <= 0 || d >= 20 || 10*d >= h[k-1] {
						return false
					}
				}
				return h[0]-h[len(h)-1] >= artLine(h[0])
			}
		default:
			return Event{}, fmt.Errorf("unknown kind %q", kind)
		}
		if !pl.install(i, c, ok) {
			continue
		}
		ef := pl.eventFirm(i, c.start, c.end())
		pl.firmLabel(i, c, ef, prefix)
		return Event{Kind: kind, Region: s.firms[i].Region, Period: c.start, Months: c.months, Firms: []EventFirm{ef}}, nil
	}
	return Event{}, errNoFirm
}

// dipMonth returns a month in the event window when firm i's season takes
// at least 3% off its headcount.
func (pl *planter) dipMonth(i int) (report.Period, bool) {
	var months []report.Period
	for p := pl.lo; p <= pl.hi; p++ {
		if pl.s.season(i, p) <= 0.97*pl.s.season(i, p.Add(-1)) {
			months = append(months, p)
		}
	}
	if len(months) == 0 {
		return 0, false
	}
	return months[pl.r.intn(len(months))], true
}

// cluster plants a county cluster: 5–6 firms of one county cutting at once.
func (pl *planter) cluster() (Event, error) {
	s, o := pl.s, &pl.s.opts
	per, _ := pl.pickPeriod(1)
	byCounty := map[string][]int{}
	for _, i := range pl.cands {
		// members below 1,000 staff: the cluster is a county pattern, no
		// member is a mass layoff on its own
		c := s.firms[i].Region
		if !pl.used[i] && !pl.usedRegion[c] && !pl.usedRegion[region.PrefectureOf(c)] && s.firms[i].BaselineHeadcount < 1000 {
			byCounty[c] = append(byCounty[c], i)
		}
	}
	var counties []string
	for c, list := range byCounty {
		if len(list) >= 5 {
			counties = append(counties, c)
		}
	}
	if len(counties) == 0 {
		return Event{}, errors.New("no county with 5 unused firms")
	}
	slices.Sort(counties)
	county := counties[pl.r.intn(len(counties))]
	want := 5 + pl.r.intn(2)
	ev := Event{Kind: CountyCluster, Region: county, Period: per, Months: 1}
	var plans []*cutPlan
	var members []int
	for _, i := range byCounty[county] { // already in random order
		if len(members) == want {
			break
		}
		c := &cutPlan{kind: CountyCluster, start: per, months: 1, fracs: []float64{o.ClusterCut.draw(&pl.r)}}
		pl.reporting(c)
		if pl.install(i, c, func(h []int) bool { d := h[0] - h[1]; return h[0] > 0 && (d > 50 || 10*d >= 3*h[0]) }) {
			members = append(members, i)
			plans = append(plans, c)
		}
	}
	if len(members) < 5 {
		for _, i := range members {
			s.params[i].plan = nil
			delete(pl.used, i)
		}
		return Event{}, errors.New("no county with 5 unused firms that can cut")
	}
	pl.usedRegion[county] = true
	for k, i := range members {
		ef := pl.eventFirm(i, per, per)
		ev.Firms = append(ev.Firms, ef)
		pl.firmLabel(i, plans[k], ef, "member of a county cluster: ")
	}
	pl.label(label.County, county, per, per, label.Layoff,
		fmt.Sprintf("county_cluster: %d firms each cut more than 50 or 30%% of staff in the same month (Shandong rule)", len(members)))
	sortFirms(ev.Firms)
	return ev, nil
}

// downturn plants a regional downturn over a county or a prefecture.
func (pl *planter) downturn() (Event, error) {
	s, o, r := pl.s, &pl.s.opts, &pl.r
	months := o.DownturnMonths.Lo + r.intn(o.DownturnMonths.Hi-o.DownturnMonths.Lo+1)
	per, months := pl.pickPeriod(months)
	end := per.Add(months - 1)
	// firms in the sample throughout, not in another event
	byRegion := map[string][]int{}
	for _, i := range pl.all {
		p := &s.params[i]
		if pl.used[i] || p.first > per.Add(-1) || p.last < end {
			continue
		}
		c := s.firms[i].Region
		byRegion[c] = append(byRegion[c], i)
		byRegion[region.PrefectureOf(c)] = append(byRegion[region.PrefectureOf(c)], i)
	}
	preferCounty := r.float() < 0.5
	var counties, prefs []string
	for code, list := range byRegion {
		if len(list) < 8 || pl.usedRegion[code] {
			continue
		}
		if region.LevelOf(code) == region.County {
			if !pl.usedRegion[region.PrefectureOf(code)] {
				counties = append(counties, code)
			}
		} else if !pl.regionTouched(code) {
			prefs = append(prefs, code)
		}
	}
	slices.Sort(counties)
	slices.Sort(prefs)
	choices := prefs
	if preferCounty && len(counties) > 0 || len(prefs) == 0 {
		choices = counties
	}
	if len(choices) == 0 {
		return Event{}, errors.New("no county or prefecture with 8 unused firms")
	}
	code := choices[r.intn(len(choices))]
	hit := o.DownturnHit.draw(r)
	ev := Event{Kind: RegionalDownturn, Region: code, Period: per, Months: months}
	var members []int
	var plans []*cutPlan
	for n, i := range byRegion[code] {
		if r.float() >= hit && len(byRegion[code])-n > 5-len(members) {
			continue
		}
		rate := o.Downturn.draw(r)
		c := &cutPlan{kind: RegionalDownturn, start: per, months: months}
		if months > 1 && r.float() < 0.3 {
			c.start, c.months = per.Add(1), months-1 // joins a month late
		}
		for range c.months {
			c.fracs = append(c.fracs, rate)
		}
		pl.reporting(c)
		if pl.install(i, c, func([]int) bool { return true }) {
			members = append(members, i)
			plans = append(plans, c)
		}
	}
	pl.usedRegion[code] = true
	scope := label.County
	if region.LevelOf(code) == region.Prefecture {
		scope = label.Prefecture
	}
	for k, i := range members {
		ef := pl.eventFirm(i, per, end)
		ev.Firms = append(ev.Firms, ef)
		pl.firmLabel(i, plans[k], ef, "part of a regional downturn in "+code+": ")
	}
	pl.label(scope, code, per, end, label.RegionalDownturn,
		fmt.Sprintf("regional_downturn: %d of %d firms lose %s of staff a month for %d months; headcount %d → %d",
			len(members), len(byRegion[code]), o.Downturn, months, ev.Before(), ev.After()))
	sortFirms(ev.Firms)
	return ev, nil
}

// regionTouched reports whether a prefecture or any of its counties holds
// a regional event already.
func (pl *planter) regionTouched(pref string) bool {
	for code := range pl.usedRegion {
		if region.PrefectureOf(code) == pref {
			return true
		}
	}
	return false
}

func sortFirms(list []EventFirm) {
	slices.SortFunc(list, func(a, b EventFirm) int { return cmp.Compare(a.FirmID, b.FirmID) })
}
