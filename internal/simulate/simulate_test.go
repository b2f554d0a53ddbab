package simulate

import (
	"bytes"
	"crypto/sha256"
	"io"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

func newSim(t testing.TB, opts Options) *Simulation {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func collect(s *Simulation) []report.Report {
	out := make([]report.Report, 0, s.Count())
	for r := range s.Reports {
		out = append(out, r)
	}
	return out
}

// afterLastWindow is a clock after the reporting window of s's last period.
func afterLastWindow(s *Simulation) time.Time {
	end := s.End().Add(1)
	return time.Date(end.Year(), end.Month(), 6, 12, 0, 0, 0, report.Shanghai())
}

// fm names a firm-month.
type fm struct {
	firm   string
	period report.Period
}

// latest keeps the newest revision of every firm-month.
func latest(reports []report.Report) map[fm]report.Report {
	out := make(map[fm]report.Report, len(reports))
	for _, r := range reports {
		k := fm{r.FirmID, r.Period}
		if old, ok := out[k]; !ok || r.Revision > old.Revision {
			out[k] = r
		}
	}
	return out
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{name: "defaults", change: func(*Options) {}},
		{name: "no firms", change: func(o *Options) { o.Firms = 0 }, wantErr: "firms must be"},
		{name: "too many firms", change: func(o *Options) { o.Firms = MaxFirms + 1 }, wantErr: "firms must be"},
		{name: "no months", change: func(o *Options) { o.Months = 0 }, wantErr: "months must be"},
		{name: "negative layoffs", change: func(o *Options) { o.Layoffs = -1 }, wantErr: "layoffs must not be negative"},
		{name: "layoffs need months", change: func(o *Options) { o.Months = 5 }, wantErr: "at least 6 months"},
		{name: "no layoffs in short run", change: func(o *Options) { o.Months, o.Layoffs = 1, 0 }},
		{name: "start before 2000", change: func(o *Options) { o.Start = report.NewPeriod(1999, time.December) }, wantErr: "start"},
		{name: "revisions above half", change: func(o *Options) { o.Revisions = 0.6 }, wantErr: "revisions must be"},
		{name: "missing rate NaN", change: func(o *Options) { o.MissingRate = math.NaN() }, wantErr: "missing rate must be"},
		{name: "missing rate negative", change: func(o *Options) { o.MissingRate = -0.1 }, wantErr: "missing rate must be"},
		{name: "size alpha", change: func(o *Options) { o.SizeAlpha = 0 }, wantErr: "size alpha must be"},
		{name: "sizes inverted", change: func(o *Options) { o.MinSize, o.MaxSize = 500, 400 }, wantErr: "min size (500) < max size (400)"},
		{name: "turnover inverted", change: func(o *Options) { o.Turnover = Range{0.04, 0.01} }, wantErr: "turnover must be a range"},
		{name: "turnover too high", change: func(o *Options) { o.Turnover = Range{0.01, 0.5} }, wantErr: "turnover must be a range"},
		{name: "reasons do not sum to 1", change: func(o *Options) { o.Reasons = ReasonMix{0.5, 0.5, 0.5, 0, 0} }, wantErr: "summing to 1"},
		{name: "negative reason", change: func(o *Options) { o.Reasons = ReasonMix{1.2, -0.2, 0, 0, 0} }, wantErr: "reasons must be"},
		{name: "noise df", change: func(o *Options) { o.NoiseDF = 0.5 }, wantErr: "noise df must be"},
		{name: "noise scale NaN", change: func(o *Options) { o.NoiseScale = math.NaN() }, wantErr: "noise scale must be"},
		{name: "noise range NaN", change: func(o *Options) { o.Noise = Range{math.NaN(), 0.01} }, wantErr: "noise must be a range"},
		{name: "shock size", change: func(o *Options) { o.Shock = Range{0.03, 0.9} }, wantErr: "shock must be a range"},
		{name: "season depth", change: func(o *Options) { o.SeasonDepth = 4 }, wantErr: "season depth must be"},
		{name: "season shift", change: func(o *Options) { o.SeasonShiftProb = 1.5 }, wantErr: "season shift prob must be"},
		{name: "tourism deep", change: func(o *Options) { o.TourismDeep = Range{0.5, 0.95} }, wantErr: "tourism deep must be"},
		{name: "economic share", change: func(o *Options) { o.EconomicShare = -0.1 }, wantErr: "economic share must be"},
		{name: "cluster cut under Shandong's 30%", change: func(o *Options) { o.ClusterCut = Range{0.2, 0.4} }, wantErr: "cluster cut must be"},
		{name: "downturn months", change: func(o *Options) { o.DownturnMonths = IntRange{0, 3} }, wantErr: "downturn months must be"},
		{name: "gap months", change: func(o *Options) { o.GapMonths = 0 }, wantErr: "gap months must be"},
		{name: "negative history", change: func(o *Options) { o.History = -1 }, wantErr: "history must not be negative"},
		{name: "unknown event kind", change: func(o *Options) { o.EventKinds = []EventKind{"layof"} }, wantErr: `event kind "layof" is not one of`},
		{name: "no event kinds", change: func(o *Options) { o.EventKinds = nil }, wantErr: "event kinds must name"},
		{name: "no event kinds, no events", change: func(o *Options) { o.EventKinds, o.Layoffs = nil, 0 }},
		{name: "stress: deep shifted seasons, noisy firms, short history", change: func(o *Options) {
			o.SeasonDepth, o.SeasonShiftProb, o.NoiseScale, o.History, o.Months, o.EconomicShare = 2, 1, 3, 3, 12, 0
		}},
		{name: "every problem at once", change: func(o *Options) { o.Firms, o.NoiseDF, o.GapMonths = 0, 0, 0 },
			wantErr: "firms must be between 1 and 1000000, got 0\nnoise df must be between 1 and 1000, got 0\ngap months must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			tt.change(&o)
			_, err := New(o)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("New: error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestTooFewFirmsForEvents(t *testing.T) {
	o := DefaultOptions()
	o.Firms = 30
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "plant event") {
		t.Fatalf("New with 30 firms and 12 events: error %v, want a plant event error", err)
	}
	o.Layoffs = 0
	newSim(t, o)
}

// digest hashes everything a simulation writes.
func digest(t *testing.T, opts Options) [32]byte {
	t.Helper()
	s := newSim(t, opts)
	h := sha256.New()
	if err := firms.WriteCSV(h, s.Firms()); err != nil {
		t.Fatal(err)
	}
	if err := WriteEventsJSONL(h, s.Events()); err != nil {
		t.Fatal(err)
	}
	if err := label.Write(h, s.Labels()); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteJSONL(h, s.Reports); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

func TestDeterministic(t *testing.T) {
	o := DefaultOptions()
	o.Firms = 500
	o.Layoffs = 4
	a, b := digest(t, o), digest(t, o)
	if a != b {
		t.Fatal("same seed gave different output")
	}
	o.Seed++
	if c := digest(t, o); c == a {
		t.Fatal("different seeds gave identical output")
	}
}

func TestReportsRunTwice(t *testing.T) {
	o := DefaultOptions()
	o.Firms = 200
	o.Layoffs = 0
	s := newSim(t, o)
	var a, b bytes.Buffer
	if _, err := WriteJSONL(&a, s.Reports); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteJSONL(&b, s.Reports); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("a second pass over Reports differs from the first")
	}
}

func TestReportsConcurrent(t *testing.T) {
	o := DefaultOptions()
	o.Firms = 300
	o.Layoffs = 4
	s := newSim(t, o)
	sums := make([][32]byte, 4)
	var wg sync.WaitGroup
	for i := range sums {
		wg.Go(func() {
			h := sha256.New()
			if _, err := WriteJSONL(h, s.Reports); err != nil {
				t.Error(err)
			}
			copy(sums[i][:], h.Sum(nil))
		})
	}
	wg.Wait()
	for i := range sums {
		if sums[i] != sums[0] {
			t.Fatalf("pass %d differs from pass 0", i)
		}
	}
}

func TestReportsDecode(t *testing.T) {
	o := DefaultOptions()
	o.Errors = 0.01 // enough late corrections to see
	s := newSim(t, o)
	now := afterLastWindow(s)
	loc := report.Shanghai()
	var (
		n, late int
		window  report.Period
		sent    = map[fm]time.Time{}
	)
	for r := range s.Reports {
		n++
		b, err := report.Encode(r)
		if err != nil {
			t.Fatalf("encode %s %s: %v", r.FirmID, r.Period, err)
		}
		got, prob := report.Decode(b, now)
		if prob != nil {
			t.Fatalf("decode %s: %v", b, prob)
		}
		if !got.ReportedAt.Equal(r.ReportedAt) {
			t.Fatalf("reported_at %v after round trip, want %v", got.ReportedAt, r.ReportedAt)
		}
		got.ReportedAt = r.ReportedAt
		if got != r {
			t.Fatalf("round trip changed the report:\n got %+v\nwant %+v", got, r)
		}
		// reports come in the order they are sent: window by window (the
		// window of the newest revision 1 so far); a revision 2 is sent
		// in its own period's window or, for a gross error, a later one
		if r.Revision == 1 {
			if r.Period < window {
				t.Fatalf("%s %s after reports of %s: revisions 1 are not in period order", r.FirmID, r.Period, window)
			}
			window = r.Period
		} else if r.Period > window {
			t.Fatalf("%s %s: revision 2 sent in the window of %s, before its period", r.FirmID, r.Period, window)
		}
		// the reporting window: the 25th to the 5th of the next month
		y, m := window.Year(), window.Month()
		opens := time.Date(y, m, 25, 0, 0, 0, 0, loc)
		closes := time.Date(y, m+1, 6, 0, 0, 0, 0, loc)
		if r.ReportedAt.Before(opens) || !r.ReportedAt.Before(closes) {
			t.Fatalf("%s %s revision %d reported at %v, outside the window of %s", r.FirmID, r.Period, r.Revision, r.ReportedAt, window)
		}
		if r.Revision == 2 && r.Period < window {
			late++
		}
		k := fm{r.FirmID, r.Period}
		switch r.Revision {
		case 1:
			if _, dup := sent[k]; dup {
				t.Fatalf("%s %s sent twice as revision 1", r.FirmID, r.Period)
			}
			sent[k] = r.ReportedAt
		case 2:
			orig, ok := sent[k]
			if !ok {
				t.Fatalf("%s %s: revision 2 before its original", r.FirmID, r.Period)
			}
			if !r.ReportedAt.After(orig) {
				t.Fatalf("%s %s: revision 2 at %v is not after the original at %v", r.FirmID, r.Period, r.ReportedAt, orig)
			}
		default:
			t.Fatalf("%s %s: revision %d", r.FirmID, r.Period, r.Revision)
		}
	}
	if n != s.Count() {
		t.Fatalf("Reports yielded %d, Count says %d", n, s.Count())
	}
	if late == 0 {
		t.Error("no gross error is corrected in a later window")
	}
}

func TestRates(t *testing.T) {
	for _, tt := range []struct {
		name                              string
		revisions, errors, fixed, missing float64
		gapMonths                         int
	}{
		{name: "defaults", revisions: 0.01, errors: 0.002, fixed: 0.7, missing: 0.005, gapMonths: 3},
		{name: "sloppy province", revisions: 0.05, errors: 0.02, fixed: 0.5, missing: 0.05, gapMonths: 6},
		{name: "single-month gaps, errors never fixed", revisions: 0, errors: 0.01, fixed: 0, missing: 0.03, gapMonths: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Revisions, o.Errors, o.ErrorsFixed, o.MissingRate, o.GapMonths = tt.revisions, tt.errors, tt.fixed, tt.missing, tt.gapMonths
			s := newSim(t, o)
			var originals, corrections int
			for r := range s.Reports {
				if r.Revision == 1 {
					originals++
				} else {
					corrections++
				}
			}
			expected, gaps, runs := 0, 0, 0 // firm-months in the sample, missing ones, runs of them
			for i, f := range s.Firms() {
				for p := s.Options().Start; p <= s.End(); p++ {
					if f.EnrolledIn(p) {
						expected++
						if s.missing(i, p) {
							gaps++
						}
						if s.gapStart(i, p) {
							runs++
						}
					}
				}
			}
			missing := 1 - float64(originals)/float64(expected)
			if math.Abs(missing-tt.missing) > 0.15*tt.missing+0.002 {
				t.Errorf("missing share %.4f, want about %.4f", missing, tt.missing)
			}
			want := tt.revisions + tt.errors*tt.fixed
			if rev := float64(corrections) / float64(originals); math.Abs(rev-want) > 0.15*want+0.002 {
				t.Errorf("corrected share %.4f, want about %.4f", rev, want)
			}
			if runs > 0 {
				mean := float64(gaps) / float64(runs)
				if want := float64(tt.gapMonths+1) / 2; mean < 0.8*want || mean > 1.1*want {
					t.Errorf("gaps last %.2f months on average, want about %.2f", mean, want)
				}
			}
		})
	}
}

func TestFirmIDs(t *testing.T) {
	s := newSim(t, DefaultOptions())
	table := region.Gansu()
	ids, names := map[string]bool{}, map[string]bool{}
	for _, f := range s.Firms() {
		if err := report.CheckFirmID(f.ID); err != nil {
			t.Fatalf("firm %s: %v", f.ID, err)
		}
		if f.ID[:2] != "91" || f.ID[2:8] != f.Region {
			t.Errorf("firm %s: characters 3–8 are not its county %s", f.ID, f.Region)
		}
		if !orgCodeValid(f.ID[8:17]) {
			t.Errorf("firm %s: organisation code %s has a wrong check character", f.ID, f.ID[8:17])
		}
		if err := table.CheckCounty(f.Region); err != nil {
			t.Errorf("firm %s: %v", f.ID, err)
		}
		if ids[f.ID] || names[f.Name] {
			t.Errorf("firm %s %s: id or name repeated", f.ID, f.Name)
		}
		ids[f.ID], names[f.Name] = true, true
		if !strings.HasSuffix(f.Name, "公司") {
			t.Errorf("firm %s: name %q", f.ID, f.Name)
		}
	}
	// the registry round-trips through the CSV format
	var buf bytes.Buffer
	if err := firms.WriteCSV(&buf, s.Firms()); err != nil {
		t.Fatal(err)
	}
	back, err := firms.ParseCSV(&buf, table)
	if err != nil {
		t.Fatalf("ParseCSV of the simulated registry: %v", err)
	}
	if len(back) != len(ids) {
		t.Fatalf("ParseCSV read %d firms, want %d", len(back), len(ids))
	}
}

// orgCodeValid checks a GB 11714 organisation code.
func orgCodeValid(code string) bool {
	w := [8]int{3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i := range 8 {
		c := code[i]
		v := int(c - '0')
		if c >= 'A' {
			v = int(c-'A') + 10
		}
		sum += v * w[i]
	}
	want := byte('0' + (11-sum%11)%11)
	if (11-sum%11)%11 == 10 {
		want = 'X'
	}
	return code[8] == want
}

func TestSampleShape(t *testing.T) {
	for _, tt := range []struct {
		name  string
		firms int
		seed  int64
	}{
		{name: "small", firms: 60, seed: 7},
		{name: "default", firms: 2000, seed: 1},
		{name: "other seed", firms: 2000, seed: 99},
		{name: "large", firms: 20000, seed: 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := DefaultOptions()
			o.Firms, o.Seed, o.Layoffs = tt.firms, tt.seed, 0
			list := newSim(t, o).Firms()
			if len(list) != tt.firms {
				t.Fatalf("%d firms, want %d", len(list), tt.firms)
			}
			var manuf, state, sme int
			industries, prefs := map[string]int{}, map[string]int{}
			for _, f := range list {
				if f.BaselineHeadcount < 100 {
					t.Errorf("firm %s enrolled with %d staff, the floor is 100", f.ID, f.BaselineHeadcount)
				}
				if f.Industry == "C" {
					manuf++
				}
				if f.Ownership == "state" {
					state++
				}
				if f.BaselineHeadcount < 300 {
					sme++
				}
				industries[f.Industry]++
				prefs[f.Prefecture()]++
			}
			n := float64(len(list))
			if s := float64(manuf) / n; s > 0.40 {
				t.Errorf("manufacturing %.1f%%, at most 40%%", 100*s)
			}
			if s := float64(state) / n; s > 1.0/3 {
				t.Errorf("state-owned %.1f%%, at most a third", 100*s)
			}
			if s := float64(sme) / n; s < 0.60 {
				t.Errorf("SMEs %.1f%%, at least 60%%", 100*s)
			}
			if len(industries) < 5 {
				t.Errorf("%d industries, at least 5", len(industries))
			}
			if len(prefs) != 14 {
				t.Errorf("firms in %d prefectures, want all 14", len(prefs))
			}
			for p, c := range prefs {
				if p != "620100" && c >= prefs["620100"] {
					t.Errorf("prefecture %s has %d firms, Lanzhou %d: Lanzhou should lead", p, c, prefs["620100"])
				}
			}
		})
	}
}

func TestEnrolment(t *testing.T) {
	o := DefaultOptions()
	o.MissingRate = 0
	s := newSim(t, o)
	byID := map[string]firms.Firm{}
	joiners, leavers := 0, 0
	for _, f := range s.Firms() {
		byID[f.ID] = f
		if report.PeriodOf(f.EnrolledFrom) > s.Options().Start {
			joiners++
		}
		if !f.EnrolledTo.IsZero() {
			leavers++
		}
	}
	if joiners == 0 || leavers == 0 {
		t.Errorf("%d firms join the sample during the run and %d leave, want some of both", joiners, leavers)
	}
	seen := map[fm]bool{}
	for r := range s.Reports {
		f := byID[r.FirmID]
		if !f.EnrolledIn(r.Period) {
			t.Fatalf("%s reports for %s outside its enrolment %v–%v", r.FirmID, r.Period, f.EnrolledFrom, f.EnrolledTo)
		}
		seen[fm{r.FirmID, r.Period}] = true
	}
	// with no missing reports every enrolled firm-month is there
	for _, f := range byID {
		for p := s.Options().Start; p <= s.End(); p++ {
			if f.EnrolledIn(p) && !seen[fm{f.ID, p}] {
				t.Fatalf("%s enrolled in %s but sent no report", f.ID, p)
			}
		}
	}
}

// TestIdentity checks H(t) = H(t−1) + hires − separations on the newest
// revision of every firm-month whose previous month was reported, and that
// the only reports breaking it are revisions 1 corrected later, gross errors
// never corrected (each labelled data_error) and the reports right after
// those.
func TestIdentity(t *testing.T) {
	o := DefaultOptions()
	o.Revisions, o.MissingRate, o.Errors, o.ErrorsFixed = 0.03, 0.02, 0.01, 0.5
	s := newSim(t, o)
	all := collect(s)
	newest := latest(all)
	dataErrors := map[fm]bool{}
	for _, l := range s.Labels() {
		if l.Kind == label.DataError && strings.Contains(l.Note, "never corrected") {
			dataErrors[fm{l.Key, l.From}] = true
		}
	}
	if len(dataErrors) == 0 {
		t.Fatal("no uncorrected data error labelled")
	}
	balanced := func(r report.Report) (bool, bool) {
		prev, ok := newest[fm{r.FirmID, r.Period.Add(-1)}]
		if !ok {
			return false, false // first report, or the previous one is missing
		}
		return int(prev.Headcount)+int(r.Hires)-int(r.Separations.Total()) == int(r.Headcount), true
	}
	checked, broken := 0, 0
	for k, r := range newest {
		ok, known := balanced(r)
		if !known {
			continue
		}
		checked++
		switch {
		case dataErrors[k] || dataErrors[fm{k.firm, k.period.Add(-1)}]:
			if !ok {
				broken++
			}
		case !ok:
			t.Errorf("%s %s (revision %d): %d + %d − %d ≠ %d", r.FirmID, r.Period, r.Revision,
				newest[fm{r.FirmID, r.Period.Add(-1)}].Headcount, r.Hires, r.Separations.Total(), r.Headcount)
		}
	}
	if checked < len(newest)*9/10 {
		t.Errorf("checked only %d of %d firm-months", checked, len(newest))
	}
	if broken == 0 {
		t.Error("no uncorrected data error breaks the identity")
	}
	for _, r := range all {
		if r.Revision != 1 {
			continue
		}
		k := fm{r.FirmID, r.Period}
		ok, known := balanced(r)
		corrected := newest[k].Revision > 1
		if known && !ok && !corrected && !dataErrors[k] && !dataErrors[fm{k.firm, k.period.Add(-1)}] {
			t.Errorf("%s %s: revision 1 breaks the identity, is never corrected and not labelled", r.FirmID, r.Period)
		}
		if corrected && r.Headcount == newest[k].Headcount {
			t.Errorf("%s %s: correction does not change the headcount", r.FirmID, r.Period)
		}
	}
}

func TestShortName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"兰州市", "兰州"},
		{"城关区", "城关"},
		{"张家川回族自治县", "张家川"},
		{"积石山保安族东乡族撒拉族自治县", "积石山"},
		{"东乡族自治县", "东乡"},
		{"临夏回族自治州", "临夏"},
		{"甘南藏族自治州", "甘南"},
		{"阿克塞哈萨克族自治县", "阿克塞"},
		{"嘉峪关市辖区", "嘉峪关"},
		{"嘉峪关市", "嘉峪关"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := shortName(tt.in); got != tt.want {
				t.Errorf("shortName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestQuotas(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		weights []int
		want    []int
	}{
		{name: "exact", n: 100, weights: []int{32, 68}, want: []int{32, 68}},
		{name: "remainder to largest", n: 10, weights: []int{25, 25, 50}, want: []int{3, 2, 5}},
		{name: "zero", n: 0, weights: []int{1, 2}, want: []int{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := quotas(tt.n, tt.weights)
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("quotas(%d, %v) = %v, want %v", tt.n, tt.weights, got, tt.want)
				}
			}
		})
	}
}

// BenchmarkReports measures generation alone (no encoding).
func BenchmarkReports(b *testing.B) {
	o := DefaultOptions()
	o.Firms = 10_000
	s := newSim(b, o)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for r := range s.Reports {
			n += int(r.Headcount & 1)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*s.Count()), "ns/report")
	_ = n
}

// BenchmarkWriteJSONL measures generation and encoding.
func BenchmarkWriteJSONL(b *testing.B) {
	o := DefaultOptions()
	o.Firms = 10_000
	s := newSim(b, o)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WriteJSONL(io.Discard, s.Reports); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*s.Count()), "ns/report")
}

func BenchmarkNew(b *testing.B) {
	o := DefaultOptions()
	o.Firms = 100_000
	o.Months = 36
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(o); err != nil {
			b.Fatal(err)
		}
	}
}

func TestOtherProvince(t *testing.T) {
	opts := DefaultOptions()
	opts.Firms, opts.Months, opts.Province = 300, 12, "440000"
	sim, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	china := region.China()
	for _, f := range sim.Firms() {
		if region.ProvinceOf(f.Region) != "440000" {
			t.Fatalf("firm %s in %s, want Guangdong", f.ID, f.Region)
		}
		if err := china.CheckCounty(f.Region); err != nil {
			t.Fatalf("firm %s: %v", f.ID, err)
		}
		if f.ID[2:8] != f.Region || !strings.HasPrefix(f.Name, "广东") && strings.HasPrefix(f.Name, "甘肃") {
			t.Fatalf("firm %s %s in %s", f.ID, f.Name, f.Region)
		}
	}
	opts.Province = "620100"
	if _, err := New(opts); err == nil {
		t.Fatal("a prefecture accepted as a province")
	}
}
