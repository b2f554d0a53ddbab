package simulate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Labels returns the ground truth of the simulation, sorted by first
// month, scope and key:
//
//   - every planted event: the firms' labels (layoff, closure,
//     split_layoff, regional_downturn) and the region's for county
//     clusters (county, layoff) and downturns (county or prefecture,
//     regional_downturn);
//   - seasonal dips (seasonal): a firm's where its season alone takes at
//     least SeasonLabelFirm off its headcount against any of the 3 months
//     before; a region's industry ("620900/H") likewise; a region's total
//     where it falls by SeasonLabelRegion; never over a firm's event;
//   - data errors (data_error): mistyped reports corrected in the same
//     window, gross errors corrected later or never;
//   - things that are not events (nothing): gaps in reporting, non-layoff
//     shocks, small layoffs below the art. 41 line, slow structural
//     decline, a firm joining or leaving the sample.
//
// Firm-months with no label are ordinary months: turnover and noise.
func (s *Simulation) Labels() []label.Label {
	out := append([]label.Label(nil), s.eventLabels...)
	for i := range s.params {
		out = s.firmLabels(out, i)
	}
	out = append(out, s.regionSeasonLabels()...)
	return mergeLabels(out)
}

func firmLabel(id string, from, to report.Period, kind label.Kind, format string, args ...any) label.Label {
	return label.Label{Scope: label.Firm, Key: id, From: from, To: to, Kind: kind, Source: label.Simulator, Note: fmt.Sprintf(format, args...)}
}

// firmLabels appends firm i's labels other than its event's.
func (s *Simulation) firmLabels(out []label.Label, i int) []label.Label {
	p := &s.params[i]
	f := &s.firms[i]
	id := f.ID
	inEvent := func(per report.Period) bool { _, ok := p.plan.at(per); return ok }

	if p.first > s.opts.Start {
		out = append(out, firmLabel(id, p.first, p.first, label.Nothing, "joins the sample (enrolled_from %s): its first report", f.EnrolledFrom.Format("2006-01-02")))
	}
	if !f.EnrolledTo.IsZero() && (p.plan == nil || !p.plan.close) {
		out = append(out, firmLabel(id, p.last, p.last, label.Nothing, "leaves the sample after this month (not a closure): reports stop"))
	}
	if p.decline > 0 {
		out = append(out, firmLabel(id, p.first, p.last, label.Nothing, "slow structural decline of %.2f%% a month", 100*p.decline))
	}
	for per := p.first; per <= p.last; per++ {
		if s.gapStart(i, per) {
			end := per
			for end < p.last && s.missing(i, end.Add(1)) {
				end++
			}
			out = append(out, firmLabel(id, per, end, label.Nothing, "no report for %d month(s)", int(end-per)+1))
		}
		if wrong, fixAt, fixed := s.grossError(i, per); wrong {
			if fixed {
				out = append(out, firmLabel(id, per, per, label.DataError, "gross error in the headcount (a digit dropped, doubled or swapped), corrected by a revision 2 sent in the %s window", fixAt))
			} else {
				out = append(out, firmLabel(id, per, per, label.DataError, "gross error in the headcount (a digit dropped, doubled or swapped), never corrected"))
			}
		} else if s.corrected(i, per) && !s.missing(i, per) {
			out = append(out, firmLabel(id, per, per, label.DataError, "headcount mistyped by 0.5–3%%, corrected by a revision 2 in the same window"))
		}
		if inEvent(per) {
			continue
		}
		if sh := s.shockAt(i, per); sh.on {
			switch {
			case sh.down && sh.transient:
				out = append(out, firmLabel(id, per, per, label.Nothing, "non-layoff shock: %.1f%% of staff leave (seasonal or project staff), most come back within months", 100*sh.size))
			case sh.down:
				out = append(out, firmLabel(id, per, per, label.Nothing, "non-layoff shock: a project ends, %.1f%% of staff leave (contract expiry)", 100*sh.size))
			case sh.transient && per < p.last:
				to := min(per.Add(3), p.last)
				if !inEvent(per.Add(1)) {
					out = append(out, firmLabel(id, per.Add(1), to, label.Nothing, "temporary staff (%.1f%%) taken on in %s leave again", 100*sh.size, per))
				}
			}
		}
		if s.smallLayoffAt(i, per) {
			out = append(out, firmLabel(id, per, per, label.Nothing, "small economic layoff below the art. 41 line (< 20 people and < 10%%)"))
		}
	}
	return s.firmSeasonLabels(out, i)
}

// dipMonths returns, for months from..to, the seasonal fall against the
// highest of the 3 months before (0 when there is none); series has the
// values of from−3..to.
func dipMonths(series []float64) []float64 {
	out := make([]float64, len(series)-3)
	for k := range out {
		prev := max(series[k], series[k+1], series[k+2])
		if prev > 0 {
			out[k] = max(0, 1-series[k+3]/prev)
		}
	}
	return out
}

// seasonName describes a firm's seasonal components.
func (p *firmParams) seasonName() string {
	var parts []string
	switch {
	case p.season.winter > 0 && p.industry == 'E':
		parts = append(parts, "construction winter stop")
	case p.season.winter > 0:
		parts = append(parts, "farm winter")
	}
	if p.season.tourism > 0 {
		parts = append(parts, "tourism off-season")
	}
	if p.season.festival > 0 {
		parts = append(parts, "Spring Festival")
	}
	if p.season.graduation > 0 {
		parts = append(parts, "after the graduate intake")
	}
	return strings.Join(parts, ", ")
}

// firmSeasonLabels appends firm i's deep seasonal dips.
func (s *Simulation) firmSeasonLabels(out []label.Label, i int) []label.Label {
	p := &s.params[i]
	if !p.season.any() {
		return out
	}
	series := make([]float64, 0, int(p.last-p.first)+4)
	for per := p.first.Add(-3); per <= p.last; per++ {
		series = append(series, s.season(i, per))
	}
	dips := dipMonths(series)
	run := func(from, to report.Period, deepest float64) {
		out = append(out, firmLabel(s.firms[i].ID, from, to, label.Seasonal,
			"seasonal dip (%s): the season takes up to %.1f%% off the headcount of the 3 months before", p.seasonName(), 100*deepest))
	}
	var from report.Period
	deepest, open := 0.0, false
	for k, d := range dips {
		per := p.first.Add(k)
		_, inEvent := p.plan.at(per)
		in := d >= s.opts.SeasonLabelFirm && !inEvent
		switch {
		case in && !open:
			from, deepest, open = per, d, true
		case in:
			deepest = max(deepest, d)
		case open:
			run(from, per.Add(-1), deepest)
			open = false
		}
	}
	if open {
		run(from, p.last, deepest)
	}
	return out
}

// regionSeasonLabels labels the seasonal dips of regions (county,
// prefecture, province) and of their industries, from the firms' seasonal
// factors weighted by baseline headcount.
func (s *Simulation) regionSeasonLabels() []label.Label {
	from, to := s.opts.Start, s.End()
	n := int(to-from) + 4 // from−3 .. to
	type agg struct {
		sum      []float64
		firms    int
		seasonal int
	}
	series := map[string]*agg{}
	add := func(key string, vals []float64, w float64, seasonal bool) {
		a := series[key]
		if a == nil {
			a = &agg{sum: make([]float64, n)}
			series[key] = a
		}
		a.firms++
		if seasonal {
			a.seasonal++
		}
		for k, v := range vals {
			a.sum[k] += w * v
		}
	}
	vals := make([]float64, n)
	ones := make([]float64, n)
	for k := range ones {
		ones[k] = 1
	}
	for i := range s.params {
		p := &s.params[i]
		f := &s.firms[i]
		v := ones
		if p.season.any() {
			for k := range vals {
				vals[k] = s.season(i, from.Add(k-3))
			}
			v = vals
		}
		w := float64(f.BaselineHeadcount)
		seasonal := p.season.any()
		for _, code := range []string{f.Region, region.PrefectureOf(f.Region), region.ProvinceOf(f.Region)} {
			add(code, v, w, seasonal)
			add(code+"/"+f.Industry, v, w, seasonal)
		}
	}
	keys := make([]string, 0, len(series))
	for k, a := range series {
		if a.firms >= 3 && a.seasonal > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []label.Label
	for _, key := range keys {
		code, ind, hasInd := strings.Cut(key, "/")
		threshold := s.opts.SeasonLabelRegion
		what := "the region's total"
		if hasInd {
			threshold = s.opts.SeasonLabelFirm
			what = "industry " + ind
		}
		scope := map[region.Level]label.Scope{region.County: label.County, region.Prefecture: label.Prefecture, region.Province: label.Province}[region.LevelOf(code)]
		dips := dipMonths(series[key].sum)
		var start report.Period
		deepest, open := 0.0, false
		emit := func(end report.Period) {
			out = append(out, label.Label{Scope: scope, Key: key, From: start, To: end, Kind: label.Seasonal, Source: label.Simulator,
				Note: fmt.Sprintf("seasonal dip of %s (%d firms): the seasons take up to %.1f%% off the 3 months before", what, series[key].firms, 100*deepest)})
		}
		for k, d := range dips {
			per := from.Add(k)
			in := d >= threshold
			switch {
			case in && !open:
				start, deepest, open = per, d, true
			case in:
				deepest = max(deepest, d)
			case open:
				emit(per.Add(-1))
				open = false
			}
		}
		if open {
			emit(to)
		}
	}
	return out
}

var scopeRank = map[label.Scope]int{label.Province: 0, label.Prefecture: 1, label.County: 2, label.Firm: 3}

// mergeLabels sorts labels and merges those with the same scope, key,
// months and kind (their notes joined), so that label.Read accepts the
// list.
func mergeLabels(list []label.Label) []label.Label {
	slices.SortStableFunc(list, func(a, b label.Label) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(scopeRank[a.Scope], scopeRank[b.Scope]),
			cmp.Compare(a.Key, b.Key), cmp.Compare(a.To, b.To), cmp.Compare(a.Kind, b.Kind))
	})
	out := list[:0]
	for _, l := range list {
		if n := len(out); n > 0 {
			last := &out[n-1]
			if last.Scope == l.Scope && last.Key == l.Key && last.From == l.From && last.To == l.To && last.Kind == l.Kind {
				last.Note = truncateRunes(last.Note+"; "+l.Note, label.MaxNoteRunes)
				continue
			}
		}
		out = append(out, l)
	}
	return out
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
