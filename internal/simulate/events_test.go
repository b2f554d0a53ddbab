package simulate

import (
	"fmt"
	"slices"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// firmIndex maps firm ids to their index in s.
func firmIndex(s *Simulation) map[string]int {
	out := make(map[string]int, len(s.firms))
	for i, f := range s.firms {
		out[f.ID] = i
	}
	return out
}

// hasLabel reports whether labels hold one with these fields.
func hasLabel(labels []label.Label, scope label.Scope, key string, from, to report.Period, kind label.Kind) bool {
	return slices.ContainsFunc(labels, func(l label.Label) bool {
		return l.Scope == scope && l.Key == key && l.From == from && l.To == to && l.Kind == kind
	})
}

// TestEventsVisible checks that every planted event is in the reports as
// its label says: the headcounts before and after, the cut in every month
// and the reasons it is reported under, the rule each kind is meant to
// cross (or, for splits, to stay under month by month), and a label of the
// right kind over exactly the event's months.
func TestEventsVisible(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts func(*Options)
	}{
		{name: "defaults", opts: func(*Options) {}},
		{name: "four years, 48 events", opts: func(o *Options) { o.Seed, o.Months, o.Layoffs = 7, 48, 48 }},
		{name: "short history, deep seasons, all unreported", opts: func(o *Options) {
			o.Seed, o.Months, o.History, o.SeasonDepth, o.EconomicShare, o.Layoffs = 3, 15, 3, 2, 0, 16
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.opts(&o)
			s := newSim(t, o)
			events := s.Events()
			if len(events) != o.Layoffs {
				t.Fatalf("%d events, want %d", len(events), o.Layoffs)
			}
			reports := latest(collect(s))
			labels := s.Labels()
			idx := firmIndex(s)
			kinds := map[EventKind]int{}
			firmsUsed := map[string]bool{}
			for _, e := range events {
				kinds[e.Kind]++
				t.Run(fmt.Sprintf("%s/%s/%s", e.Kind, e.Period, e.Region), func(t *testing.T) {
					checkEvent(t, s, e, reports, labels, idx, firmsUsed)
				})
			}
			for _, k := range o.EventKinds {
				if kinds[k] == 0 && o.Layoffs >= len(o.EventKinds) {
					t.Errorf("no %s event planted", k)
				}
			}
		})
	}
}

func checkEvent(t *testing.T, s *Simulation, e Event, reports map[fm]report.Report, labels []label.Label, idx map[string]int, firmsUsed map[string]bool) {
	t.Helper()
	if e.Period < s.Options().Start.Add(1) || e.Period.Add(e.Months-1) > s.End() {
		t.Fatalf("event %s+%d months outside the run", e.Period, e.Months)
	}
	for _, ef := range e.Firms {
		if firmsUsed[ef.FirmID] {
			t.Errorf("firm %s is in two events", ef.FirmID)
		}
		firmsUsed[ef.FirmID] = true
		i := idx[ef.FirmID]
		c := s.params[i].plan
		if c == nil || c.kind != e.Kind {
			t.Fatalf("firm %s has no %s plan", ef.FirmID, e.Kind)
		}
		if !hasLabel(labels, label.Firm, ef.FirmID, c.start, c.end(), e.Kind.LabelKind()) {
			t.Errorf("firm %s: no %s label over %s..%s", ef.FirmID, e.Kind.LabelKind(), c.start, c.end())
		}
		region := s.firms[i].Region
		if region != e.Region && (e.Kind != RegionalDownturn || s.firms[i].Prefecture() != e.Region) {
			t.Errorf("firm %s in %s is not in the event's region %s", ef.FirmID, region, e.Region)
		}
		// clean reports around the event
		for p := c.start.Add(-2); p <= min(c.end().Add(1), s.params[i].last); p++ {
			if r, ok := reports[fm{ef.FirmID, p}]; !ok || r.Revision != 1 {
				t.Errorf("%s %s: report %v around the event is missing or corrected", ef.FirmID, p, ok)
			}
		}
		before, ok := reports[fm{ef.FirmID, e.Period.Add(-1)}]
		if !ok || before.Headcount != ef.Before {
			t.Fatalf("%s %s: report %+v, want headcount %d", ef.FirmID, e.Period.Add(-1), before, ef.Before)
		}
		last := e.Period.Add(e.Months - 1)
		after, ok := reports[fm{ef.FirmID, last}]
		if !ok || after.Headcount != ef.After {
			t.Fatalf("%s %s: report %+v, want headcount %d", ef.FirmID, last, after, ef.After)
		}
		// every month: the cut is there, under the reasons the firm gives
		var losses []int
		for k := range c.months {
			p := c.start.Add(k)
			prev, cur := reports[fm{ef.FirmID, p.Add(-1)}], reports[fm{ef.FirmID, p}]
			loss := int(prev.Headcount) - int(cur.Headcount)
			losses = append(losses, loss)
			if c.closing(p) {
				if cur.Headcount != 0 || cur.Separations.ClosureBankruptcy == 0 || cur.Separations.EconomicLayoff != 0 {
					t.Errorf("%s %s: closure month reports %+v", ef.FirmID, p, cur)
				}
				continue
			}
			cut := c.cutAt(k, int(prev.Headcount))
			if c.mode() != modeDownturn && loss < cut {
				t.Errorf("%s %s: headcount %d → %d, less than the cut of %d", ef.FirmID, p, prev.Headcount, cur.Headcount, cut)
			}
			sep := cur.Separations
			if c.economic && int(sep.EconomicLayoff) < cut {
				t.Errorf("%s %s: %d economic layoffs reported, the cut is %d", ef.FirmID, p, sep.EconomicLayoff, cut)
			}
			if !c.economic && (sep.EconomicLayoff != 0 || int(sep.Resignation+sep.ContractExpiry+sep.Other) < cut) {
				t.Errorf("%s %s: a cut of %d not reported as economic layoff, yet %+v", ef.FirmID, p, cut, sep)
			}
		}
		b := int(ef.Before)
		total := b - int(ef.After)
		switch e.Kind {
		case MassLayoff:
			if b < 600 || total < 300 {
				t.Errorf("mass layoff %d → %d: want a firm of ≥ 600 cutting ≥ 300", b, ef.After)
			}
		case Closure:
			if ef.After != 0 || !s.firms[i].EnrolledTo.Equal(dateOf(last.Add(1))) {
				t.Errorf("closure %d → %d, enrolled to %v", b, ef.After, s.firms[i].EnrolledTo)
			}
			for p := last.Add(1); p <= s.End(); p++ {
				if _, ok := reports[fm{ef.FirmID, p}]; ok {
					t.Errorf("closed firm %s reports for %s", ef.FirmID, p)
				}
			}
		case CountyCluster:
			if total <= 50 && 10*total < 3*b {
				t.Errorf("cluster member %s cut %d of %d: want > 50 or ≥ 30%%", ef.FirmID, total, b)
			}
		case Gradual:
			h := b
			for k, loss := range losses {
				if 100*loss < 6*h || 10*loss >= h {
					t.Errorf("gradual month %d cut %d of %d, want about 8%% and under 10%%", k+1, loss, h)
				}
				h -= loss
			}
			if 5*total < b {
				t.Errorf("gradual cut %d of %d over %d months, want ≥ 20%%", total, b, e.Months)
			}
		case Layoff, DipLayoff:
			below := c.cuts != nil
			if below && (c.cuts[0] >= artLine(b) || total <= 0) || !below && total < artLine(b) {
				t.Errorf("layoff %d → %d (planned %v, below the line %v)", b, ef.After, c.cuts, below)
			}
			if e.Kind == DipLayoff && (below || s.season(i, e.Period) > 0.97*s.season(i, e.Period.Add(-1))) {
				t.Errorf("dip layoff in %s: the season goes %.3f → %.3f, not a dip", e.Period, s.season(i, e.Period.Add(-1)), s.season(i, e.Period))
			}
		case SplitLayoff:
			h := b
			for k, loss := range losses {
				if loss <= 0 || loss >= 20 || 10*loss >= h {
					t.Errorf("split month %d cut %d of %d: want each cut below 20 and 10%%", k+1, loss, h)
				}
				h -= loss
			}
			if total < artLine(b) || e.Months > 3 {
				t.Errorf("split cuts %v of %d over %d months: want past the line (%d) within 90 days", losses, b, e.Months, artLine(b))
			}
		}
	}
	switch e.Kind {
	case CountyCluster:
		if len(e.Firms) < 5 || !hasLabel(labels, label.County, e.Region, e.Period, e.Period, label.Layoff) {
			t.Errorf("county cluster of %d firms, label %v: want ≥ 5 firms and a county label", len(e.Firms),
				hasLabel(labels, label.County, e.Region, e.Period, e.Period, label.Layoff))
		}
	case RegionalDownturn:
		scope := label.County
		if region.LevelOf(e.Region) == region.Prefecture {
			scope = label.Prefecture
		}
		if !hasLabel(labels, scope, e.Region, e.Period, e.Period.Add(e.Months-1), label.RegionalDownturn) {
			t.Errorf("downturn in %s: no %s label", e.Region, scope)
		}
		lo := s.Options().Downturn.Lo
		if len(e.Firms) < 5 || float64(e.Before()-e.After()) < 0.5*lo*float64(e.Months)*float64(e.Before()) {
			t.Errorf("downturn of %d firms %d → %d over %d months: want ≥ 5 firms losing about %g a month or more",
				len(e.Firms), e.Before(), e.After(), e.Months, lo)
		}
	}
}

// TestNoUnlabelledLayoffs checks that outside labelled events no firm
// reports an economic layoff reaching art. 41 of the Labor Contract Law
// (≥ 20 people, or ≥ 10% of staff), a closure, or a headcount of 0.
func TestNoUnlabelledLayoffs(t *testing.T) {
	o := DefaultOptions()
	o.Months = 36
	s := newSim(t, o)
	events := map[string]label.Label{}
	for _, l := range s.Labels() {
		if l.Scope == label.Firm && l.Kind.IsEvent() {
			events[l.Key] = l
		}
	}
	reports := latest(collect(s))
	small := 0
	for k, r := range reports {
		if l, ok := events[k.firm]; ok && l.Covers(k.period) {
			continue
		}
		prev, ok := reports[fm{k.firm, k.period.Add(-1)}]
		n := r.Separations.EconomicLayoff
		if n >= 20 || ok && 10*n >= prev.Headcount || r.Separations.ClosureBankruptcy > 0 || r.Headcount == 0 {
			t.Errorf("%s %s: unlabelled layoff of %d (%+v)", k.firm, k.period, n, r)
		}
		if n > 0 {
			small++
		}
	}
	if small == 0 {
		t.Error("no small layoff below the line: the background lacks them")
	}
}

// TestEconomicShare checks that the share of event firms reporting their
// cuts as economic_layoff follows the option.
func TestEconomicShare(t *testing.T) {
	for _, tt := range []struct {
		share  float64
		lo, hi float64
	}{{0, 0, 0}, {0.5, 0.3, 0.7}, {1, 1, 1}} {
		t.Run(fmt.Sprint(tt.share), func(t *testing.T) {
			o := DefaultOptions()
			o.Firms, o.Months, o.Layoffs, o.EconomicShare = 4000, 36, 40, tt.share
			o.EventKinds = []EventKind{MassLayoff, Layoff, SplitLayoff, Gradual, CountyCluster, DipLayoff}
			s := newSim(t, o)
			n, economic := 0, 0
			for _, p := range s.params {
				if p.plan != nil {
					n++
					if p.plan.economic {
						economic++
					}
				}
			}
			if got := float64(economic) / float64(n); got < tt.lo || got > tt.hi {
				t.Errorf("%d of %d event firms report economic layoffs (%.2f), want %g..%g", economic, n, got, tt.lo, tt.hi)
			}
		})
	}
}
