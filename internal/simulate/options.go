package simulate

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Options shape a simulation. Start from DefaultOptions; docs/simulator.md
// gives every field's default and where the number comes from.
type Options struct {
	Seed   int64
	Firms  int           // firms in the sample
	Start  report.Period // first reported period
	Months int           // periods reported
	// Province places the firms in another province than Gansu (empty or
	// 620000): Gansu's geography relabelled onto that province's real
	// division codes — Gansu's i-th prefecture becomes the province's i-th
	// (cyclically), its j-th county that prefecture's j-th — so that
	// several simulations make a multi-province registry with valid codes.
	// Dynamics stay Gansu's (its seasons, its prefecture weights).
	Province string

	// The sample.

	// SizeAlpha is the tail exponent of baseline headcounts: a Pareto law
	// truncated to MinSize..MaxSize (Zipf's law for firm sizes, α ≈ 1.06).
	SizeAlpha float64
	// MinSize is the smallest baseline headcount: the national sample
	// excludes firms below 100 insured staff.
	MinSize int
	// MaxSize is the largest baseline headcount.
	MaxSize int
	// JoinShare is the share of firms that enter the sample during the run.
	JoinShare float64
	// LeaveShare is the share of firms that leave the sample during the run
	// (without closing: the bureau replaces them).
	LeaveShare float64

	// Turnover.

	// Turnover is the range of firms' monthly ordinary separations, as a
	// share of staff; hires roughly replace them.
	Turnover Range
	// Reasons splits ordinary separations: resignation, contract expiry,
	// retirement, transfer, other. Each firm's mix varies around it.
	Reasons ReasonMix
	// Vacancies is the range of firms' open vacancies, as a share of staff.
	Vacancies Range

	// Idiosyncratic moves.

	// NoiseScale multiplies every firm's idiosyncratic monthly move.
	NoiseScale float64
	// Noise is the range of firms' scale of monthly moves (log headcount,
	// Student-t distributed) for a firm of 300; larger firms move less.
	Noise Range
	// NoiseDF is the degrees of freedom of the Student-t moves: lower is
	// heavier-tailed.
	NoiseDF float64
	// NoiseSizeExp is how the scale falls with size: ∝ (baseline/300)^−exp.
	NoiseSizeExp float64
	// NoiseCap bounds one month's idiosyncratic move (as a share).
	NoiseCap float64
	// CommonNoise is the standard deviation of the monthly move shared by
	// the firms of a prefecture, and again of an industry.
	CommonNoise float64
	// ShockRate is the monthly chance of a non-layoff shock: a project
	// ends or starts, temporary hires come or go. Not an event.
	ShockRate float64
	// Shock is the range of a shock's size, as a share of staff.
	Shock Range
	// ShockDown is the share of shocks that take staff away.
	ShockDown float64
	// ShockRevert is the share of shocks that revert within a few months.
	ShockRevert float64
	// SmallLayoffRate is the monthly chance of a small economic layoff
	// below the art. 41 line (< 20 people and < 10%). Not an event.
	SmallLayoffRate float64
	// TrendMean and TrendSD are the mean and spread of firms' yearly drift.
	TrendMean, TrendSD float64
	// DeclineShare is the share of firms in slow structural decline.
	DeclineShare float64
	// Decline is the range of their monthly decline. Not an event.
	Decline Range

	// Seasons.

	// SeasonDepth multiplies every seasonal depth.
	SeasonDepth float64
	// SeasonYearVar is the year-to-year spread of seasonal depths (standard
	// deviation of the log factor, mostly shared by a prefecture).
	SeasonYearVar float64
	// SeasonShiftProb is the chance that, in a given year and prefecture, an
	// industry's season comes a month early or a month late.
	SeasonShiftProb float64
	// Construction is the range of construction firms' (E) winter dip.
	Construction Range
	// Tourism is the range of the off-season dip of accommodation, catering
	// (H) and culture, sports and entertainment (R).
	Tourism Range
	// TourismDeep replaces Tourism around Dunhuang and Jiayuguan
	// (prefectures 620900 and 620200).
	TourismDeep Range
	// Farm is the range of agriculture's (A) winter dip.
	Farm Range
	// Festival is the range of manufacturing's (C) Spring Festival dip.
	Festival Range
	// FestivalServices is the range of the Spring Festival dip of mining,
	// trade, transport and business services (B, F, G, K, L, N, O).
	FestivalServices Range
	// Graduation is the range of the July–August graduate intake of
	// firms that hire graduates (C, D, I, J, K, M, P, Q, S, T), as a share
	// of staff.
	Graduation Range
	// SeasonLabelFirm is how deep a firm's (or a region's industry's)
	// seasonal fall against any of the 3 months before must be to get a
	// `seasonal` label.
	SeasonLabelFirm float64
	// SeasonLabelRegion is the same for a region's total.
	SeasonLabelRegion float64

	// Planted events.

	// Layoffs is the number of planted events; they rotate through
	// EventKinds.
	Layoffs int
	// EventKinds is the rotation of planted event kinds (a kind may repeat).
	EventKinds []EventKind
	// History is the number of months at the start of the run without
	// events (at most half the run).
	History int
	// LayoffSize is the range of a layoff's cut, as a share of staff (drawn
	// log-uniformly; never below the art. 41 line unless BelowLine).
	LayoffSize Range
	// BelowLine is the share of layoff events cut just below the art. 41
	// line: real layoffs that the law's threshold does not see.
	BelowLine float64
	// EconomicShare is the share of event firms that report their cuts as
	// economic_layoff; the others report resignations, contract expiry or
	// other.
	EconomicShare float64
	// ClusterCut is the range of each county-cluster member's cut.
	ClusterCut Range
	// Downturn is the range of a regional downturn's monthly loss per hit
	// firm.
	Downturn Range
	// DownturnMonths is the range of a downturn's length in months.
	DownturnMonths IntRange
	// DownturnHit is the range of the share of a region's firms it hits.
	DownturnHit Range

	// Report quality.

	// Revisions is the share of reports whose headcount is mistyped by
	// 0.5–3% and corrected by a revision 2 in the same reporting window.
	Revisions float64
	// Errors is the share of reports with a gross error (a dropped,
	// doubled or swapped digit in the headcount).
	Errors float64
	// ErrorsFixed is the share of gross errors corrected by a revision 2,
	// one or two reporting windows later; the rest are never corrected.
	ErrorsFixed float64
	// MissingRate is the share of firm-months whose report is never sent.
	MissingRate float64
	// GapMonths is the longest run of missing reports (runs are 1 to
	// GapMonths long).
	GapMonths int
}

// Limits of Options.
const (
	MaxFirms  = 1_000_000
	MaxMonths = 240
	maxRate   = 0.5
)

// AllEventKinds is the default rotation of planted events.
var AllEventKinds = []EventKind{MassLayoff, CountyCluster, Closure, Gradual, Layoff, SplitLayoff, RegionalDownturn, DipLayoff}

// DefaultOptions returns a province of 2,000 firms reporting for the 24
// months from 2024-11 to 2026-10 with 24 planted events, three of each
// kind, after a year of history. docs/simulator.md explains every number.
func DefaultOptions() Options {
	return Options{
		Seed:   1,
		Firms:  2000,
		Start:  report.NewPeriod(2024, time.November),
		Months: 24,

		SizeAlpha:  1.06,
		MinSize:    100,
		MaxSize:    20000,
		JoinShare:  0.02,
		LeaveShare: 0.02,

		Turnover:  Range{0.01, 0.04},
		Reasons:   ReasonMix{0.50, 0.20, 0.12, 0.08, 0.10},
		Vacancies: Range{0.003, 0.03},

		NoiseScale:      1,
		Noise:           Range{0.005, 0.015},
		NoiseDF:         3,
		NoiseSizeExp:    0.15,
		NoiseCap:        0.12,
		CommonNoise:     0.003,
		ShockRate:       0.004,
		Shock:           Range{0.03, 0.10},
		ShockDown:       0.6,
		ShockRevert:     0.5,
		SmallLayoffRate: 0.003,
		TrendMean:       -0.02,
		TrendSD:         0.03,
		DeclineShare:    0.08,
		Decline:         Range{0.002, 0.008},

		SeasonDepth:       1,
		SeasonYearVar:     0.25,
		SeasonShiftProb:   0.25,
		Construction:      Range{0.08, 0.30},
		Tourism:           Range{0.08, 0.25},
		TourismDeep:       Range{0.35, 0.65},
		Farm:              Range{0.10, 0.35},
		Festival:          Range{0.01, 0.05},
		FestivalServices:  Range{0.005, 0.025},
		Graduation:        Range{0, 0.03},
		SeasonLabelFirm:   0.03,
		SeasonLabelRegion: 0.01,

		Layoffs:        24,
		EventKinds:     append([]EventKind(nil), AllEventKinds...),
		History:        12,
		LayoffSize:     Range{0.05, 0.40},
		BelowLine:      0.1,
		EconomicShare:  0.5,
		ClusterCut:     Range{0.31, 0.45},
		Downturn:       Range{0.01, 0.05},
		DownturnMonths: IntRange{3, 6},
		DownturnHit:    Range{0.5, 0.9},

		Revisions:   0.01,
		Errors:      0.002,
		ErrorsFixed: 0.7,
		MissingRate: 0.005,
		GapMonths:   3,
	}
}

// Validate reports every problem with the options.
func (o Options) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.Firms < 1 || o.Firms > MaxFirms {
		bad("firms must be between 1 and %d, got %d", MaxFirms, o.Firms)
	}
	if o.Province != "" && o.Province != "620000" {
		if p, ok := region.China().Lookup(o.Province); !ok || p.Level != region.Province {
			bad("province %q is not a province code of mainland China", o.Province)
		}
	}
	if o.Months < 1 || o.Months > MaxMonths {
		bad("months must be between 1 and %d, got %d", MaxMonths, o.Months)
	}
	if o.Start < report.MinPeriod || o.Start.Add(o.Months) > report.NewPeriod(9999, time.January) {
		bad("start %s is out of range", o.Start)
	}
	if o.SizeAlpha < 0.3 || o.SizeAlpha > 5 || math.IsNaN(o.SizeAlpha) {
		bad("size alpha must be between 0.3 and 5, got %g", o.SizeAlpha)
	}
	if o.MinSize < 1 || o.MaxSize <= o.MinSize || o.MaxSize > report.MaxCount/2 {
		bad("sizes must satisfy 1 ≤ min size (%d) < max size (%d) ≤ %d", o.MinSize, o.MaxSize, report.MaxCount/2)
	}

	type share struct {
		name   string
		v      float64
		lo, hi float64
	}
	for _, s := range []share{
		{"join share", o.JoinShare, 0, maxRate}, {"leave share", o.LeaveShare, 0, maxRate},
		{"noise scale", o.NoiseScale, 0, 10}, {"noise df", o.NoiseDF, 1, 1000}, {"noise size exp", o.NoiseSizeExp, 0, 1},
		{"noise cap", o.NoiseCap, 0, 0.5}, {"common noise", o.CommonNoise, 0, 0.05},
		{"shock rate", o.ShockRate, 0, maxRate}, {"shock down", o.ShockDown, 0, 1}, {"shock revert", o.ShockRevert, 0, 1},
		{"small layoff rate", o.SmallLayoffRate, 0, maxRate},
		{"trend mean", o.TrendMean, -0.5, 0.5}, {"trend sd", o.TrendSD, 0, 0.5},
		{"decline share", o.DeclineShare, 0, 1},
		{"season depth", o.SeasonDepth, 0, 3}, {"season year var", o.SeasonYearVar, 0, 1}, {"season shift prob", o.SeasonShiftProb, 0, 1},
		{"season label firm", o.SeasonLabelFirm, 0.001, 0.5}, {"season label region", o.SeasonLabelRegion, 0.001, 0.5},
		{"below line", o.BelowLine, 0, 1}, {"economic share", o.EconomicShare, 0, 1},
		{"revisions", o.Revisions, 0, maxRate}, {"errors", o.Errors, 0, maxRate}, {"errors fixed", o.ErrorsFixed, 0, 1},
		{"missing rate", o.MissingRate, 0, maxRate},
	} {
		if math.IsNaN(s.v) || s.v < s.lo || s.v > s.hi {
			bad("%s must be between %g and %g, got %g", s.name, s.lo, s.hi, s.v)
		}
	}
	type rng struct {
		name   string
		v      Range
		lo, hi float64
	}
	for _, r := range []rng{
		{"turnover", o.Turnover, 0, 0.3}, {"vacancies", o.Vacancies, 0, 1},
		{"noise", o.Noise, 0, 0.2}, {"shock", o.Shock, 0, 0.5}, {"decline", o.Decline, 0, 0.1},
		{"construction", o.Construction, 0, 0.9}, {"tourism", o.Tourism, 0, 0.9}, {"tourism deep", o.TourismDeep, 0, 0.9},
		{"farm", o.Farm, 0, 0.9}, {"festival", o.Festival, 0, 0.9}, {"festival services", o.FestivalServices, 0, 0.9},
		{"graduation", o.Graduation, 0, 0.5},
		{"layoff size", o.LayoffSize, 0.01, 0.9}, {"cluster cut", o.ClusterCut, 0.30, 0.9},
		{"downturn", o.Downturn, 0.001, 0.3}, {"downturn hit", o.DownturnHit, 0.05, 1},
	} {
		if !r.v.within(r.lo, r.hi) {
			bad("%s must be a range LO..HI with %g ≤ LO ≤ HI ≤ %g, got %s", r.name, r.lo, r.hi, r.v)
		}
	}
	if r := o.Reasons; !r.valid() {
		bad("reasons must be 5 shares ≥ 0 (resignation, contract expiry, retirement, transfer, other) summing to 1, got %s", r)
	}
	if o.DownturnMonths.Lo < 1 || o.DownturnMonths.Hi < o.DownturnMonths.Lo || o.DownturnMonths.Hi > 24 {
		bad("downturn months must be a range LO..HI with 1 ≤ LO ≤ HI ≤ 24, got %s", o.DownturnMonths)
	}
	if o.GapMonths < 1 || o.GapMonths > 12 {
		bad("gap months must be between 1 and 12, got %d", o.GapMonths)
	}
	if o.History < 0 {
		bad("history must not be negative, got %d", o.History)
	}
	if o.Layoffs < 0 {
		bad("layoffs must not be negative, got %d", o.Layoffs)
	}
	if o.Layoffs > 0 && o.Months < 6 {
		bad("planting layoffs needs at least 6 months, got %d", o.Months)
	}
	if o.Layoffs > 0 && len(o.EventKinds) == 0 {
		bad("event kinds must name at least one kind when planting layoffs")
	}
	for _, k := range o.EventKinds {
		if !k.known() {
			bad("event kind %q is not one of %s", k, joinKinds(AllEventKinds))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("simulation options: %w", errors.Join(errs...))
	}
	return nil
}

// Range is a closed interval of numbers, written LO..HI (e.g. 0.01..0.04)
// on the command line.
type Range struct{ Lo, Hi float64 }

func (r Range) String() string {
	return strconv.FormatFloat(r.Lo, 'g', -1, 64) + ".." + strconv.FormatFloat(r.Hi, 'g', -1, 64)
}

// MarshalText implements encoding.TextMarshaler.
func (r Range) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: LO..HI, or one number
// for LO = HI.
func (r *Range) UnmarshalText(b []byte) error {
	lo, hi, found := strings.Cut(string(b), "..")
	if !found {
		hi = lo
	}
	l, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
	h, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
	if err1 != nil || err2 != nil || math.IsNaN(l) || math.IsNaN(h) {
		return fmt.Errorf("range %q is not LO..HI (e.g. 0.01..0.04)", b)
	}
	*r = Range{l, h}
	return nil
}

func (r Range) within(lo, hi float64) bool {
	return !math.IsNaN(r.Lo) && !math.IsNaN(r.Hi) && r.Lo >= lo && r.Lo <= r.Hi && r.Hi <= hi
}

// draw returns a uniform number in the range.
func (r Range) draw(g *rng) float64 { return r.Lo + (r.Hi-r.Lo)*g.float() }

// IntRange is a closed interval of whole numbers, written LO..HI.
type IntRange struct{ Lo, Hi int }

func (r IntRange) String() string { return strconv.Itoa(r.Lo) + ".." + strconv.Itoa(r.Hi) }

// MarshalText implements encoding.TextMarshaler.
func (r IntRange) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: LO..HI, or one number.
func (r *IntRange) UnmarshalText(b []byte) error {
	lo, hi, found := strings.Cut(string(b), "..")
	if !found {
		hi = lo
	}
	l, err1 := strconv.Atoi(strings.TrimSpace(lo))
	h, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if err1 != nil || err2 != nil {
		return fmt.Errorf("range %q is not LO..HI of whole numbers (e.g. 3..6)", b)
	}
	*r = IntRange{l, h}
	return nil
}

// ReasonMix splits ordinary separations by reason: resignation, contract
// expiry, retirement, transfer, other. Written as five comma-separated
// shares.
type ReasonMix [5]float64

func (m ReasonMix) String() string {
	s := make([]string, len(m))
	for i, v := range m {
		s[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(s, ",")
}

// MarshalText implements encoding.TextMarshaler.
func (m ReasonMix) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (m *ReasonMix) UnmarshalText(b []byte) error {
	parts := strings.Split(string(b), ",")
	if len(parts) != len(m) {
		return fmt.Errorf("reasons %q: want 5 shares (resignation, contract expiry, retirement, transfer, other), e.g. 0.5,0.2,0.12,0.08,0.1", b)
	}
	var out ReasonMix
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return fmt.Errorf("reasons %q: %q is not a number", b, p)
		}
		out[i] = v
	}
	*m = out
	return nil
}

func (m ReasonMix) valid() bool {
	sum := 0.0
	for _, v := range m {
		if math.IsNaN(v) || v < 0 {
			return false
		}
		sum += v
	}
	return math.Abs(sum-1) < 1e-6
}
