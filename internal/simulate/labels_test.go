package simulate

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// TestLabelsValid checks every label of a few provinces: it passes
// label.Read (through a file), names a firm of the registry in a month it
// is enrolled, or a region where firms are, within the run; every kind the
// simulator plants is there; a firm's seasonal labels never cover its
// event.
func TestLabelsValid(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts func(*Options)
	}{
		{name: "defaults", opts: func(*Options) {}},
		{name: "four years", opts: func(o *Options) { o.Seed, o.Months, o.Layoffs = 5, 48, 40 }},
		{name: "stressed", opts: func(o *Options) {
			o.Seed, o.Months, o.History, o.SeasonDepth, o.SeasonShiftProb, o.NoiseScale, o.Errors, o.MissingRate = 9, 18, 6, 2, 1, 2, 0.02, 0.05
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.opts(&o)
			s := newSim(t, o)
			labels := s.Labels()
			var buf bytes.Buffer
			if err := label.Write(&buf, labels); err != nil {
				t.Fatal(err)
			}
			gansu := region.Gansu()
			back, err := label.Read(&buf, gansu)
			if err != nil {
				t.Fatalf("label.Read of the simulated labels: %.2000v", err)
			}
			if !reflect.DeepEqual(back, labels) {
				t.Fatal("labels change through the file")
			}
			idx := firmIndex(s)
			regions := map[string]bool{}
			for _, f := range s.firms {
				for _, code := range []string{f.Region, f.Prefecture(), region.ProvinceOf(f.Region)} {
					regions[code] = true
					regions[code+"/"+f.Industry] = true
				}
			}
			count := map[label.Kind]int{}
			events := map[string]label.Label{}
			for _, l := range labels {
				count[l.Kind]++
				if l.Source != label.Simulator || l.Note == "" {
					t.Errorf("%s: source %s, note %q", l, l.Source, l.Note)
				}
				if l.From < s.opts.Start || l.To > s.End() {
					t.Errorf("%s: outside the run %s..%s", l, s.opts.Start, s.End())
				}
				if l.Scope != label.Firm {
					if !regions[l.Key] {
						t.Errorf("%s: no firm of the sample in that region", l)
					}
					continue
				}
				i, ok := idx[l.Key]
				if !ok {
					t.Fatalf("%s: not a firm of the registry", l)
				}
				if p := &s.params[i]; l.From < p.first || l.To > p.last {
					t.Errorf("%s: outside the firm's months %s..%s", l, p.first, p.last)
				}
				if l.Kind.IsEvent() {
					events[l.Key] = l
				}
			}
			for _, l := range labels {
				if ev, ok := events[l.Key]; ok && l.Kind == label.Seasonal && l.From <= ev.To && l.To >= ev.From {
					t.Errorf("%s overlaps the firm's event %s", l, ev)
				}
			}
			for _, k := range []label.Kind{label.Layoff, label.Closure, label.SplitLayoff, label.RegionalDownturn, label.Seasonal, label.DataError, label.Nothing} {
				if count[k] == 0 {
					t.Errorf("no %s label", k)
				}
			}
			t.Logf("%d labels: %v", len(labels), count)
		})
	}
}

// TestLabelsMatchReports checks the negative labels against the reports:
// a gap has no report, a data error is a report whose revision 1 is wrong
// (and corrected, or not, as the note says), a seasonal firm label is a
// month when the firm's season falls.
func TestLabelsMatchReports(t *testing.T) {
	o := DefaultOptions()
	o.Months, o.Errors, o.MissingRate = 36, 0.01, 0.02
	s := newSim(t, o)
	first := map[fm]report.Report{}
	newest := map[fm]report.Report{}
	for r := range s.Reports {
		k := fm{r.FirmID, r.Period}
		if r.Revision == 1 {
			first[k] = r
		}
		newest[k] = r
	}
	idx := firmIndex(s)
	seen := map[string]int{}
	for _, l := range s.Labels() {
		if l.Scope != label.Firm {
			continue
		}
		i := idx[l.Key]
		switch {
		case l.Kind == label.Nothing && strings.HasPrefix(l.Note, "no report"):
			seen["gap"]++
			for p := l.From; p <= l.To; p++ {
				if _, ok := first[fm{l.Key, p}]; ok {
					t.Errorf("%s: %s was reported", l, p)
				}
			}
			if _, ok := first[fm{l.Key, l.To.Add(1)}]; !ok && l.To < s.params[i].last {
				t.Errorf("%s: the gap goes on after the label", l)
			}
		case l.Kind == label.DataError:
			k := fm{l.Key, l.From}
			orig, n := first[k], newest[k]
			truth := s.headAt(i, l.From)
			switch {
			case strings.Contains(l.Note, "never corrected"):
				seen["uncorrected"]++
				if n.Revision != 1 || int(orig.Headcount) == truth {
					t.Errorf("%s: newest revision %d says %d, the truth is %d", l, n.Revision, n.Headcount, truth)
				}
			default:
				seen["corrected"]++
				if n.Revision != 2 || int(n.Headcount) != truth || orig.Headcount == n.Headcount {
					t.Errorf("%s: revision 1 says %d, revision %d says %d, the truth is %d", l, orig.Headcount, n.Revision, n.Headcount, truth)
				}
			}
		case l.Kind == label.Seasonal:
			seen["seasonal"]++
			for p := l.From; p <= l.To; p++ {
				now := s.season(i, p)
				top := max(s.season(i, p.Add(-1)), s.season(i, p.Add(-2)), s.season(i, p.Add(-3)))
				if now > (1-o.SeasonLabelFirm)*top {
					t.Errorf("%s: in %s the season is %.3f against %.3f, not a dip", l, p, now, top)
				}
			}
		}
	}
	for _, k := range []string{"gap", "uncorrected", "corrected", "seasonal"} {
		if seen[k] == 0 {
			t.Errorf("no %s label checked", k)
		}
	}
}
