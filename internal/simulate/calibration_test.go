package simulate

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// The calibration tests measure the simulated province the way an analyst
// would measure real reports, and check that the figures fall in the
// ranges docs/simulator.md documents. `go test -v -run Calibration` prints
// every figure.

// bigProvince is a province of 10,000 firms over four years, shared by the
// calibration tests.
type bigProvince struct {
	s       *Simulation
	reports map[fm]report.Report
	labels  map[fm]bool // firm-months covered by any firm label
}

var (
	bigOnce sync.Once
	big     bigProvince
	bigErr  error
)

func province(t *testing.T) bigProvince {
	t.Helper()
	bigOnce.Do(func() {
		o := DefaultOptions()
		o.Firms, o.Months, o.Layoffs, o.Seed = 10_000, 48, 40, 11
		s, err := New(o)
		if err != nil {
			bigErr = err
			return
		}
		big = bigProvince{s: s, reports: latest(collect(s)), labels: map[fm]bool{}}
		for _, l := range s.Labels() {
			if l.Scope != label.Firm {
				continue
			}
			for p := l.From; p <= l.To; p++ {
				big.labels[fm{l.Key, p}] = true
			}
		}
	})
	if bigErr != nil {
		t.Fatal(bigErr)
	}
	return big
}

// quantile of sorted values, by the nearest rank.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	return sorted[int(math.Round(q*float64(len(sorted)-1)))]
}

// within reports a figure and fails the test when it is outside lo..hi.
func within(t *testing.T, what string, got, lo, hi float64) {
	t.Helper()
	t.Logf("%-58s %8.4f   (documented %g..%g)", what, got, lo, hi)
	if math.IsNaN(got) || got < lo || got > hi {
		t.Errorf("%s = %.4f, outside the documented %g..%g", what, got, lo, hi)
	}
}

// quietMonths calls fn for every quiet firm-month: no label of any kind on
// the firm in this month or the one before, both reported, and a
// seasonal factor that moves by less than 0.3%.
func (b bigProvince) quietMonths(fn func(i int, prev, cur report.Report)) {
	s := b.s
	for i, f := range s.firms {
		p := &s.params[i]
		for per := p.first.Add(1); per <= p.last; per++ {
			k, kp := fm{f.ID, per}, fm{f.ID, per.Add(-1)}
			if b.labels[k] || b.labels[kp] {
				continue
			}
			cur, ok1 := b.reports[k]
			prev, ok2 := b.reports[kp]
			if !ok1 || !ok2 || prev.Headcount == 0 {
				continue
			}
			if math.Abs(s.season(i, per)/s.season(i, per.Add(-1))-1) >= 0.003 {
				continue
			}
			fn(i, prev, cur)
		}
	}
}

func TestCalibrationFirmSizes(t *testing.T) {
	o := DefaultOptions()
	o.Firms = 100_000
	list, err := sampleFirms(o, region.Gansu())
	if err != nil {
		t.Fatal(err)
	}
	sizes := make([]float64, len(list))
	var below300, from1000, from5000 int
	for i, f := range list {
		h := f.BaselineHeadcount
		sizes[i] = float64(h)
		if h < uint32(o.MinSize) || h > uint32(o.MaxSize) {
			t.Fatalf("firm %s has %d staff, outside %d..%d", f.ID, h, o.MinSize, o.MaxSize)
		}
		switch {
		case h < 300:
			below300++
		case h >= 5000:
			from5000++
			from1000++
		case h >= 1000:
			from1000++
		}
	}
	slices.Sort(sizes)
	n := float64(len(list))
	within(t, "share of firms below 300 staff (SMEs, rule ≥ 60%)", float64(below300)/n, 0.65, 0.72)
	within(t, "share of firms of 1,000 staff or more", float64(from1000)/n, 0.07, 0.10)
	within(t, "share of firms of 5,000 staff or more", float64(from5000)/n, 0.010, 0.016)
	within(t, "median baseline headcount", quantile(sizes, 0.5), 180, 210)
	within(t, "largest baseline headcount", sizes[len(sizes)-1], 15_000, 20_000)
	// Hill estimator of the tail exponent over the top 10%
	k := len(sizes) / 10
	threshold := sizes[len(sizes)-k-1]
	sum := 0.0
	for _, x := range sizes[len(sizes)-k:] {
		sum += math.Log(x / threshold)
	}
	within(t, "tail exponent (Hill, top 10%; truncation pulls it up)", float64(k)/sum, 0.95, 1.35)

	// and in the default sample of 2,000: a few giants
	giants := 0
	for _, f := range newSim(t, DefaultOptions()).Firms() {
		if f.BaselineHeadcount >= 5000 {
			giants++
		}
	}
	within(t, "firms of 5,000+ in the default sample of 2,000", float64(giants), 20, 45)
}

func TestCalibrationTurnover(t *testing.T) {
	b := province(t)
	var rates []float64
	var reasons [5]float64
	var hires, seps float64
	perFirm := map[int][2]float64{} // separations, headcount
	b.quietMonths(func(i int, prev, cur report.Report) {
		sp := cur.Separations
		ordinary := float64(sp.Resignation + sp.ContractExpiry + sp.Retirement + sp.Transfer + sp.Other)
		rates = append(rates, ordinary/float64(prev.Headcount))
		for k, v := range []uint32{sp.Resignation, sp.ContractExpiry, sp.Retirement, sp.Transfer, sp.Other} {
			reasons[k] += float64(v)
		}
		hires += float64(cur.Hires)
		seps += float64(sp.Total())
		a := perFirm[i]
		perFirm[i] = [2]float64{a[0] + ordinary, a[1] + float64(prev.Headcount)}
	})
	if len(rates) < 100_000 {
		t.Fatalf("only %d quiet firm-months", len(rates))
	}
	slices.Sort(rates)
	within(t, "monthly separations / staff, median of quiet months", quantile(rates, 0.5), 0.018, 0.028)
	within(t, "monthly separations / staff, 10th percentile", quantile(rates, 0.1), 0.005, 0.015)
	within(t, "monthly separations / staff, 90th percentile", quantile(rates, 0.9), 0.035, 0.05)
	var firmRates []float64
	for _, a := range perFirm {
		if a[1] >= 2000 { // enough firm-months to judge
			firmRates = append(firmRates, a[0]/a[1])
		}
	}
	slices.Sort(firmRates)
	within(t, "firms' mean turnover, 5th percentile", quantile(firmRates, 0.05), 0.009, 0.016)
	within(t, "firms' mean turnover, 95th percentile", quantile(firmRates, 0.95), 0.035, 0.045)
	within(t, "hires / separations in quiet months", hires/seps, 0.85, 1.0)
	// the province's mix (Options.Reasons: 50/20/12/8/10%), tilted by
	// state firms (more retirement, fewer resignations) which employ more
	// than their share, and by leavers beyond turnover in months that
	// shrink (resignation, contract expiry, other)
	total := reasons[0] + reasons[1] + reasons[2] + reasons[3] + reasons[4]
	for k, r := range []struct {
		name   string
		lo, hi float64
	}{{"resignation", 0.37, 0.50}, {"contract expiry", 0.17, 0.26}, {"retirement", 0.12, 0.20}, {"transfer", 0.05, 0.11}, {"other", 0.09, 0.15}} {
		within(t, "share of ordinary separations: "+r.name, reasons[k]/total, r.lo, r.hi)
	}
}

func TestCalibrationNoise(t *testing.T) {
	b := province(t)
	var all, small, large, losses []float64
	b.quietMonths(func(i int, prev, cur report.Report) {
		d := math.Abs(float64(cur.Headcount)/float64(prev.Headcount) - 1)
		all = append(all, d)
		losses = append(losses, 1-float64(cur.Headcount)/float64(prev.Headcount))
		switch h := b.s.firms[i].BaselineHeadcount; {
		case h < 300:
			small = append(small, d)
		case h >= 2000:
			large = append(large, d)
		}
	})
	for _, x := range [][]float64{all, small, large, losses} {
		slices.Sort(x)
	}
	p50, p90, p99 := quantile(all, 0.5), quantile(all, 0.9), quantile(all, 0.99)
	within(t, "|monthly change| of quiet firm-months, median", p50, 0.006, 0.013)
	within(t, "|monthly change| of quiet firm-months, 90th percentile", p90, 0.02, 0.04)
	within(t, "|monthly change| of quiet firm-months, 99th percentile", p99, 0.05, 0.10)
	within(t, "99th / 50th percentile (a normal law gives 3.8)", p99/p50, 5, 12)
	within(t, "share of quiet firm-months losing 5% or more", shareAbove(losses, 0.05), 0.005, 0.02)
	within(t, "share of quiet firm-months losing 10% or more", shareAbove(losses, 0.10), 0.0003, 0.003)
	within(t, "median |change|, firms of 2,000+ / firms under 300", quantile(large, 0.5)/quantile(small, 0.5), 0.4, 0.85)
}

func shareAbove(sorted []float64, x float64) float64 {
	i, _ := slices.BinarySearch(sorted, x)
	return float64(len(sorted)-i) / float64(len(sorted))
}

// TestCalibrationSeasons measures each firm's seasonal swing in every
// season of the run (peak months against trough months, on its reports)
// and checks the median by industry, and that depths vary between firms.
func TestCalibrationSeasons(t *testing.T) {
	b := province(t)
	s := b.s
	type group struct {
		name        string
		match       func(ind byte, pref string) bool
		peak, dip   []time.Month // trough months are in the year after the peak when dip < peak
		lo, hi      float64      // documented median
		spreadAbove float64      // p90 − p10 at least
	}
	groups := []group{
		{name: "construction (E): Jul–Oct peak to Dec–Mar trough", match: func(i byte, _ string) bool { return i == 'E' },
			peak: months(7, 8, 9, 10), dip: months(12, 1, 2, 3), lo: 0.15, hi: 0.25, spreadAbove: 0.12},
		{name: "tourism (H, R) around Dunhuang and Jiayuguan", match: func(i byte, p string) bool { return (i == 'H' || i == 'R') && tourismDeepPrefectures[p] },
			peak: months(7, 8, 9), dip: months(12, 1, 2, 3), lo: 0.40, hi: 0.58, spreadAbove: 0.15},
		{name: "tourism (H, R) elsewhere", match: func(i byte, p string) bool { return (i == 'H' || i == 'R') && !tourismDeepPrefectures[p] },
			peak: months(7, 8, 9), dip: months(12, 1, 2, 3), lo: 0.13, hi: 0.21, spreadAbove: 0.08},
		{name: "agriculture (A): Jun–Sep peak to Dec–Feb trough", match: func(i byte, _ string) bool { return i == 'A' },
			peak: months(6, 7, 8, 9), dip: months(12, 1, 2), lo: 0.18, hi: 0.28, spreadAbove: 0.12},
		{name: "manufacturing (C): December to the festival trough", match: func(i byte, _ string) bool { return i == 'C' },
			peak: months(12), dip: months(1, 2, 3), lo: 0.02, hi: 0.045, spreadAbove: 0.02},
		// the floor: max of 4 months against min of 4 months of a firm
		// without a winter season is noise, trend and the graduates' year
		{name: "information technology (I): no winter season (the floor)", match: func(i byte, _ string) bool { return i == 'I' },
			peak: months(7, 8, 9, 10), dip: months(12, 1, 2, 3), lo: 0.02, hi: 0.05, spreadAbove: 0},
	}
	for _, g := range groups {
		var depths []float64
		for i, f := range s.firms {
			if !g.match(f.Industry[0], f.Prefecture()) {
				continue
			}
			for y := s.opts.Start.Year(); y <= s.End().Year(); y++ {
				if d, ok := b.swing(i, y, g.peak, g.dip); ok {
					depths = append(depths, d)
				}
			}
		}
		if len(depths) < 30 {
			t.Fatalf("%s: only %d firm-seasons", g.name, len(depths))
		}
		slices.Sort(depths)
		within(t, g.name+", median", quantile(depths, 0.5), g.lo, g.hi)
		if g.spreadAbove > 0 {
			within(t, g.name+", p90 − p10 (firms and years differ)", quantile(depths, 0.9)-quantile(depths, 0.1), g.spreadAbove, 1)
		}
	}
}

func months(m ...int) []time.Month {
	out := make([]time.Month, len(m))
	for i, v := range m {
		out[i] = time.Month(v)
	}
	return out
}

// swing is 1 − (lowest trough month) / (highest peak month) of firm i's
// reports, peak months in year y and trough months after them; ok is false
// when a month is missing or labelled as anything but seasonal.
func (b bigProvince) swing(i, y int, peak, dip []time.Month) (float64, bool) {
	id := b.s.firms[i].ID
	get := func(p report.Period) (float64, bool) {
		r, ok := b.reports[fm{id, p}]
		if !ok || b.labels[fm{id, p}] && !b.seasonalOnly(i, p) {
			return 0, false
		}
		return float64(r.Headcount), true
	}
	hi, lo := 0.0, math.Inf(1)
	for _, m := range peak {
		v, ok := get(report.NewPeriod(y, m))
		if !ok {
			return 0, false
		}
		hi = max(hi, v)
	}
	for _, m := range dip {
		yy := y
		if m <= peak[0] {
			yy++
		}
		v, ok := get(report.NewPeriod(yy, m))
		if !ok {
			return 0, false
		}
		lo = min(lo, v)
	}
	return 1 - lo/hi, hi > 0
}

// seasonalOnly reports whether the only firm labels of firm i in p are
// seasonal ones (recomputed: labels hold the truth).
func (b bigProvince) seasonalOnly(i int, p report.Period) bool {
	s := b.s
	pp := &s.params[i]
	if _, in := pp.plan.at(p); in || pp.decline > 0 || s.missing(i, p) || s.corrected(i, p) || s.smallLayoffAt(i, p) {
		return false
	}
	if wrong, _, _ := s.grossError(i, p); wrong {
		return false
	}
	for k := 0; k <= 3; k++ {
		if s.shockAt(i, p.Add(-k)).on {
			return false
		}
	}
	return p != pp.first && p != pp.last
}

// TestCalibrationSeasonTiming checks that seasons vary by year: the winter
// and tourism depth factors have the documented spread, and the share of
// prefecture-years whose season comes a month early or late matches
// SeasonShiftProb.
func TestCalibrationSeasonTiming(t *testing.T) {
	o := DefaultOptions()
	var logs []float64
	shifted, n := 0, 0
	for _, pref := range region.Gansu().Prefectures() {
		c := seasonCtx{seed: o.Seed, o: &o, pref: prefNumber(pref.Code)}
		for y := 2000; y < 2040; y++ {
			for _, k := range []profileKind{kindWinter, kindTourism} {
				shift, f := c.yearly(k, y)
				logs = append(logs, math.Log(f))
				n++
				if shift != 0 {
					shifted++
				}
			}
		}
	}
	mean := 0.0
	for _, v := range logs {
		mean += v
	}
	mean /= float64(len(logs))
	sd := 0.0
	for _, v := range logs {
		sd += (v - mean) * (v - mean)
	}
	sd = math.Sqrt(sd / float64(len(logs)-1))
	within(t, "sd of the log of seasonal depth factors, year to year", sd, 0.2, 0.3)
	within(t, "share of prefecture-years with a season a month early or late", float64(shifted)/float64(n), 0.2, 0.3)
}

func TestSpringFestival(t *testing.T) {
	tests := []struct {
		year  int
		month time.Month
		day   int
	}{{2000, 2, 5}, {2015, 2, 19}, {2020, 1, 25}, {2025, 1, 29}, {2026, 2, 17}, {2033, 1, 31}, {2040, 2, 12}, {2044, 1, 30}}
	for _, tt := range tests {
		m, d := springFestival(tt.year)
		if tt.year <= 2040 && (m != tt.month || d != tt.day) {
			t.Errorf("springFestival(%d) = %s %d, want %s %d", tt.year, m, d, tt.month, tt.day)
		}
		if m != time.January && m != time.February || d < 1 || d > 31 || m == time.February && d > 20 || m == time.January && d < 20 {
			t.Errorf("springFestival(%d) = %s %d: not between 20 January and 20 February", tt.year, m, d)
		}
	}
	// the dip follows the festival: January in 2025, February in 2026
	if a, b := festivalProfile(report.NewPeriod(2025, 1)), festivalProfile(report.NewPeriod(2025, 2)); a <= b {
		t.Errorf("2025 (festival 29 January): January %.2f, February %.2f", a, b)
	}
	if a, b := festivalProfile(report.NewPeriod(2026, 1)), festivalProfile(report.NewPeriod(2026, 2)); a >= b {
		t.Errorf("2026 (festival 17 February): January %.2f, February %.2f", a, b)
	}
}

// TestStressKnobs checks that the stress knobs move what they say.
func TestStressKnobs(t *testing.T) {
	measure := func(t *testing.T, change func(*Options)) (noise, construction float64) {
		o := DefaultOptions()
		o.Firms, o.Months, o.Layoffs = 3000, 36, 0
		change(&o)
		s := newSim(t, o)
		reports := latest(collect(s))
		var d, e []float64
		for i, f := range s.firms {
			p := &s.params[i]
			for per := p.first.Add(1); per <= p.last; per++ {
				cur, ok1 := reports[fm{f.ID, per}]
				prev, ok2 := reports[fm{f.ID, per.Add(-1)}]
				if !ok1 || !ok2 || prev.Headcount == 0 {
					continue
				}
				if f.Industry == "I" || f.Industry == "J" || f.Industry == "M" {
					if m := per.Month(); m >= 4 && m <= 6 || m >= 9 && m <= 11 {
						d = append(d, math.Abs(float64(cur.Headcount)/float64(prev.Headcount)-1))
					}
				}
			}
			if f.Industry == "E" {
				e = append(e, 1-s.season(i, report.NewPeriod(2026, 2))/s.season(i, report.NewPeriod(2025, 9)))
			}
		}
		slices.Sort(d)
		slices.Sort(e)
		return quantile(d, 0.5), quantile(e, 0.5)
	}
	baseNoise, baseDepth := measure(t, func(*Options) {})
	noisy, _ := measure(t, func(o *Options) { o.NoiseScale = 2 })
	_, deep := measure(t, func(o *Options) { o.SeasonDepth = 2 })
	within(t, "median |change| with noise scale 2 / default", noisy/baseNoise, 1.5, 2.3)
	within(t, "median construction dip with season depth 2 / default", deep/baseDepth, 1.7, 2.1)
}
