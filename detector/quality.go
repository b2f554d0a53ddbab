package detector

import (
	"cmp"
	"slices"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Quality is how a plan's warnings compare with the truth (labels) over a
// dataset: what `layoffwatch plan eval` prints.
//
// The rules of the count, in one place:
//   - A warning is one firing: one rule, one key, one month (one alert).
//   - An event to catch is a label whose kind is an event (layoff, closure,
//     split_layoff, regional_downturn), except a firm's share of a regional
//     downturn: a few percent a month is not abnormal for one firm, so the
//     downturn is caught by region warnings on its region label.
//   - An event is caught by a warning in its months or the month after: a
//     firm label by a firm warning on that firm, a region label by a region
//     warning on that region, a region inside it or a region around it.
//   - A firm warning is true when a firm-month it names is eventful: an event
//     label of the firm, or of a region holding the firm (a downturn's job
//     loss is real), covers the month or the month before. Otherwise it is
//     false; its negative label (seasonal, data_error, …), if any, says why.
//   - A region warning is true when an event label of that region, of a
//     region around or inside it, or of a firm inside it covers the month or
//     the month before.
//   - Quiet firm-months are the firm-months in the sample (enrolled) that are
//     not eventful; false firm warnings are counted per 1,000 of them.
type Quality struct {
	From, To       report.Period
	Firms          int
	FirmMonths     int // enrolled firm-months evaluated
	QuietMonths    int
	Events         int
	Caught         int
	ByKind         map[label.Kind]*KindRecall
	Warnings       [5]int // by level (index 1–4); 0 unused
	TrueWarnings   [5]int
	FalseFirm      [5]int
	FalseRegion    [5]int
	FalseByNegKind map[label.Kind]int // false warnings on firm-months or regions with that negative label ("" none)
	HighOnSeasonal int                // false level I–II warnings on a labelled seasonal dip
	Latency        []int              // months from an event's start to its first warning, for events longer than a month
	Missed         []label.Label      // events not caught
	FalseRules     map[string][5]int  // false warnings by rule and level
	Rules          map[string][5]int  // all warnings by rule and level
}

// KindRecall is the recall of one kind of event.
type KindRecall struct {
	Events, Caught int
}

// FalseFirmPer1000 is false firm warnings per 1,000 quiet firm-months.
func (q *Quality) FalseFirmPer1000() float64 {
	if q.QuietMonths == 0 {
		return 0
	}
	return float64(sum(q.FalseFirm[:])) * 1000 / float64(q.QuietMonths)
}

// Recall is the share of events caught.
func (q *Quality) Recall() float64 {
	if q.Events == 0 {
		return 1
	}
	return float64(q.Caught) / float64(q.Events)
}

// Precision is the share of true warnings at level lv (0: all levels).
func (q *Quality) Precision(lv int) float64 {
	n, t := q.Warnings[lv], q.TrueWarnings[lv]
	if lv == 0 {
		n, t = sum(q.Warnings[:]), sum(q.TrueWarnings[:])
	}
	if n == 0 {
		return 1
	}
	return float64(t) / float64(n)
}

// FalseHigh counts false warnings at levels I and II.
func (q *Quality) FalseHigh() int {
	return q.FalseFirm[1] + q.FalseFirm[2] + q.FalseRegion[1] + q.FalseRegion[2]
}

func sum(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

// Score compares firings over ds (months from … to) with labels.
func Score(ds *Dataset, firings []Firing, labels []label.Label, from, to report.Period) *Quality {
	q := &Quality{From: from, To: to, Firms: len(ds.firms), ByKind: map[label.Kind]*KindRecall{},
		FalseByNegKind: map[label.Kind]int{}, FalseRules: map[string][5]int{}, Rules: map[string][5]int{}}
	var events, negatives []label.Label
	for _, l := range labels {
		if l.To < from || l.From > to {
			continue
		}
		if l.Kind.IsEvent() {
			events = append(events, l)
		} else {
			negatives = append(negatives, l)
		}
	}
	// firm labels by firm; region labels apart
	firmEvents := map[string][]label.Label{}
	var regionEvents []label.Label
	for _, l := range events {
		if l.Scope == label.Firm {
			firmEvents[l.Key] = append(firmEvents[l.Key], l)
		} else {
			regionEvents = append(regionEvents, l)
		}
	}
	firmNeg := map[string][]label.Label{}
	var regionNeg []label.Label
	for _, l := range negatives {
		if l.Scope == label.Firm {
			firmNeg[l.Key] = append(firmNeg[l.Key], l)
		} else {
			regionNeg = append(regionNeg, l)
		}
	}
	around := func(l label.Label, p report.Period) bool { return l.Covers(p) || l.Covers(p-1) }
	eventful := func(f int, p report.Period) bool {
		fm := &ds.firms[f]
		for _, l := range firmEvents[fm.ID] {
			if around(l, p) {
				return true
			}
		}
		for _, l := range regionEvents {
			if around(l, p) && holdsFirm(l.Key, fm.Region, fm.Industry) {
				return true
			}
		}
		return false
	}
	// quiet firm-months
	for f := range ds.firms {
		for p := max(from, ds.start); p <= min(to, ds.End()); p++ {
			if !ds.firms[f].EnrolledIn(p) {
				continue
			}
			q.FirmMonths++
			if !eventful(f, p) {
				q.QuietMonths++
			}
		}
	}
	// warnings
	caughtBy := map[int]report.Period{} // event index → first catching month
	for _, fr := range firings {
		if fr.Period < from || fr.Period > to {
			continue
		}
		lv := int(fr.Level)
		if lv < 1 || lv > 4 {
			continue
		}
		q.Warnings[lv]++
		rc := q.Rules[fr.Rule]
		rc[lv]++
		q.Rules[fr.Rule] = rc
		isTrue := false
		var neg label.Kind
		if fr.Scope == alertevent.ScopeFirm {
			f, ok := ds.index[fr.Key]
			if !ok {
				continue
			}
			isTrue = eventful(f, fr.Period)
			fm := &ds.firms[f]
			for _, l := range firmNeg[fm.ID] {
				if l.Covers(fr.Period) {
					neg = l.Kind
					break
				}
			}
			if neg == "" {
				for _, l := range regionNeg {
					if l.Covers(fr.Period) && holdsFirm(l.Key, fm.Region, fm.Industry) {
						neg = l.Kind
						break
					}
				}
			}
		} else {
			isTrue = regionEventful(fr.Key, fr.Period, firmEvents, regionEvents, ds, around)
			for _, l := range regionNeg {
				if l.Covers(fr.Period) && overlaps(l.Key, fr.Key) {
					neg = l.Kind
					break
				}
			}
		}
		if isTrue {
			q.TrueWarnings[lv]++
		} else {
			if fr.Scope == alertevent.ScopeFirm {
				q.FalseFirm[lv]++
			} else {
				q.FalseRegion[lv]++
			}
			q.FalseByNegKind[neg]++
			c := q.FalseRules[fr.Rule]
			c[lv]++
			q.FalseRules[fr.Rule] = c
		}
		if !isTrue && lv <= 2 && neg == label.Seasonal {
			q.HighOnSeasonal++
		}
		// which events does it catch?
		for i, l := range events {
			if fr.Period < l.From || fr.Period > l.To+1 {
				continue
			}
			if catches(l, fr) {
				if p, ok := caughtBy[i]; !ok || fr.Period < p {
					caughtBy[i] = fr.Period
				}
			}
		}
	}
	for i, l := range events {
		if l.Scope == label.Firm && l.Kind == label.RegionalDownturn {
			continue // a firm's share of a downturn: not an event of its own
		}
		k := q.ByKind[l.Kind]
		if k == nil {
			k = &KindRecall{}
			q.ByKind[l.Kind] = k
		}
		k.Events++
		q.Events++
		if p, ok := caughtBy[i]; ok {
			k.Caught++
			q.Caught++
			if l.Months() > 1 {
				q.Latency = append(q.Latency, int(p-l.From))
			}
		} else {
			q.Missed = append(q.Missed, l)
		}
	}
	slices.SortFunc(q.Missed, func(a, b label.Label) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.Key, b.Key))
	})
	return q
}

// catches reports whether a firing names the event's firm or region.
func catches(l label.Label, fr Firing) bool {
	if l.Scope == label.Firm {
		return fr.Scope == alertevent.ScopeFirm && fr.Key == l.Key
	}
	return fr.Scope != alertevent.ScopeFirm && overlaps(l.Key, fr.Key)
}

func regionEventful(key string, p report.Period, firmEvents map[string][]label.Label, regionEvents []label.Label,
	ds *Dataset, around func(label.Label, report.Period) bool) bool {
	for _, l := range regionEvents {
		if around(l, p) && overlaps(l.Key, key) {
			return true
		}
	}
	for id, ls := range firmEvents {
		f, ok := ds.index[id]
		if !ok {
			continue
		}
		fm := &ds.firms[f]
		if !holdsFirm(key, fm.Region, fm.Industry) {
			continue
		}
		for _, l := range ls {
			if around(l, p) {
				return true
			}
		}
	}
	return false
}

// holdsFirm reports whether the region key ("code" or "code/industry")
// holds a firm of county and industry.
func holdsFirm(key, county, industry string) bool {
	code, ind, _ := strings.Cut(key, "/")
	if ind != "" && ind != industry {
		return false
	}
	return within(county, code)
}

// within reports whether code lies in (or is) area.
func within(code, area string) bool {
	return code == area || region.PrefectureOf(code) == area || region.ProvinceOf(code) == area
}

// overlaps reports whether two region keys share firms: one region holds the
// other, and their industries (when both name one) agree.
func overlaps(a, b string) bool {
	ca, ia, _ := strings.Cut(a, "/")
	cb, ib, _ := strings.Cut(b, "/")
	if ia != "" && ib != "" && ia != ib {
		return false
	}
	return within(ca, cb) || within(cb, ca)
}
