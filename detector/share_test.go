package detector_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// twoProvinces simulates Gansu and, relabelled, Guangdong: 30 months, so
// that seasonal expectations and trends have their two years.
func twoProvinces(t testing.TB, gansu, guangdong int) ([]firms.Firm, []report.Report) {
	t.Helper()
	var list []firms.Firm
	var reports []report.Report
	for i, p := range []struct {
		province string
		firms    int
	}{{"620000", gansu}, {"440000", guangdong}} {
		opts := simulate.DefaultOptions()
		opts.Seed, opts.Firms, opts.Months, opts.Province = int64(i+1), p.firms, 30, p.province
		opts.Start = report.NewPeriod(2023, 1)
		sim, err := simulate.New(opts)
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, sim.Firms()...)
		for r := range sim.Reports {
			reports = append(reports, r)
		}
	}
	return list, reports
}

// TestSharesEqualSingle: the prefectures of two provinces split over three
// replicas, each evaluating only its firms with every prefecture's partial
// (and its provinces' rules from their sums), raise together exactly the
// firings of one detector over every firm — same keys, levels and values —
// for each shipped plan.
func TestSharesEqualSingle(t *testing.T) {
	list, reports := twoProvinces(t, 3000, 1500)
	full, err := detector.BuildDataset(list, reports)
	if err != nil {
		t.Fatal(err)
	}
	// prefectures dealt round-robin to three replicas; Gansu's rules to
	// replica 0, Guangdong's to replica 2
	shares, partials := splitShares(t, list, reports, full, 3)
	provinces := [3][]string{{"620000"}, nil, {"440000"}}
	// the shipped plans, and one whose province rules fire every month
	// (the default plan's rarely does) and report every province metric
	provincePlan := filepath.Join(t.TempDir(), "province.yaml")
	if err := os.WriteFile(provincePlan, []byte(sharePlan), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{"../deploy/plans/default.yaml", "../deploy/plans/statutory.yaml", "../deploy/plans/seasonal.yaml", provincePlan} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			plan, err := detector.LoadPlan(file)
			if err != nil {
				t.Fatal(err)
			}
			if err := plan.CheckSharded(); err != nil {
				t.Fatal(err)
			}
			ev, err := detector.NewEvaluator(plan)
			if err != nil {
				t.Fatal(err)
			}
			single, err := ev.Evaluate(full, detector.EvalOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var together []detector.Firing
			for s, ds := range shares {
				sh, err := detector.NewShared(partials, provinces[s])
				if err != nil {
					t.Fatal(err)
				}
				got, err := ev.Evaluate(ds, detector.EvalOptions{Shared: sh})
				if err != nil {
					t.Fatal(err)
				}
				together = append(together, got...)
			}
			want, have := firingLines(single), firingLines(together)
			scopes := map[string]int{}
			for _, f := range single {
				scopes[f.Scope.String()]++
			}
			t.Logf("%d firings by scope %v", len(single), scopes)
			if scopes["prefecture"] == 0 || scopes["firm"] == 0 || scopes["county"] == 0 {
				t.Errorf("the comparison needs firings of every kind: %v", scopes)
			}
			if file == provincePlan && scopes["province"] < 50 {
				t.Errorf("the province plan fired %d times for provinces", scopes["province"])
			}
			if d := lineDiff(want, have); d != "" {
				t.Fatalf("the shares' firings differ from the single detector's (%d against %d):\n%s", len(have), len(want), d)
			}
		})
	}
}

// sharePlan's province rules fire on any month with data, by industry and
// not, and report every province metric; its firm, county and prefecture
// rules use the peer statistics a share takes from the partials.
const sharePlan = `version: 1
name: {zh: 测试, en: test}
levels:
  I: {name: {zh: 红, en: red}, color: "#d32f2f", response: 2h, action: {zh: 甲, en: a}}
  II: {name: {zh: 橙, en: orange}, color: "#f57c00", response: 2h, action: {zh: 乙, en: b}}
  III: {name: {zh: 黄, en: yellow}, color: "#fbc02d", response: 12h, action: {zh: 丙, en: c}}
  IV: {name: {zh: 蓝, en: blue}, color: "#1976d2", response: 24h, action: {zh: 丁, en: d}}
rules:
  - id: firm_peers
    title: {zh: 企业, en: firm}
    scope: firm
    level: IV
    when: peers > 0 && (z_defined && z <= -2 || peer_z <= -2)
    values: [z, z3, sigma, expected_rate, excess_rate, peer_rate, peers, peer_z]
    source: test
  - id: county_all
    title: {zh: 县, en: county}
    scope: county
    level: IV
    when: firms_z_defined || z_defined
    values: [z, firms_z, breadth, expected_rate, excess_rate_rest, sigma]
    source: test
  - id: prefecture_all
    title: {zh: 市, en: prefecture}
    scope: prefecture
    level: IV
    when: firms_z_defined || z_defined
    values: [z, z3, firms_z, firms_z3, breadth, expected_rate, excess_rate, excess_rate_rest, excess_loss, sigma]
    source: test
  - id: province_all
    title: {zh: 省, en: province}
    scope: province
    levels:
      - {level: III, when: z_defined && z <= -1}
      - {level: IV}
    when: headcount > 0
    values: [headcount, baseline_headcount, index, coverage, firms_expected, firms_reported, loss, loss_rate, loss_rate_3m, trend_rise,
      mom_change, seasonal_mom_change, mom_excess, panel_firms, panel_share, expected_rate, z, z3, sigma, excess_rate, excess_loss, excess_rate3, excess_rate_rest]
    source: test
  - id: province_industry
    title: {zh: 省行业, en: province industry}
    scope: province
    by: industry
    level: IV
    when: headcount > 0
    values: [headcount, loss_rate, mom_change, expected_rate, z, trend_rise, excess_rate]
    source: test
`

func firingLines(fs []detector.Firing) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = fmt.Sprintf("%s %s %s %s %v reported=%d expected=%d", f.Period, f.Rule, f.Key, f.Level, f.Values, f.Reported, f.Expected)
	}
	slices.Sort(out)
	return out
}

// lineDiff lists (some of) the lines only one side has.
func lineDiff(want, have []string) string {
	var b strings.Builder
	n := 0
	for _, l := range want {
		if _, ok := slices.BinarySearch(have, l); !ok && n < 10 {
			fmt.Fprintf(&b, "  missing: %s\n", l)
			n++
		}
	}
	for _, l := range have {
		if _, ok := slices.BinarySearch(want, l); !ok && n < 20 {
			fmt.Fprintf(&b, "  extra:   %s\n", l)
			n++
		}
	}
	if n == 0 && len(want) != len(have) {
		fmt.Fprintf(&b, "  %d lines against %d (repeats)\n", len(have), len(want))
	}
	return b.String()
}

func TestPartialEncoding(t *testing.T) {
	list, reports := twoProvinces(t, 1000, 600)
	ds, err := detector.BuildDataset(list, reports)
	if err != nil {
		t.Fatal(err)
	}
	parts := detector.Partials(ds)
	again := detector.Partials(ds)
	for i, p := range parts {
		if p.Hash() != again[i].Hash() {
			t.Fatalf("%s: the same partial hashes differently", p.Prefecture)
		}
		for _, pi := range p.Industries {
			b, err := pi.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			var back detector.PartialIndustry
			if err := back.UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			back.Industry = pi.Industry
			if fmt.Sprint(back) != fmt.Sprint(pi) {
				t.Fatalf("%s/%s does not survive encoding", p.Prefecture, pi.Industry)
			}
			for _, cut := range []int{0, 3, len(b) / 2, len(b) - 1} {
				if err := back.UnmarshalBinary(b[:cut]); err == nil {
					t.Fatalf("%s/%s cut at %d of %d bytes decoded", p.Prefecture, pi.Industry, cut, len(b))
				}
			}
		}
	}
	parts[0].Industries[0].Sums[5].Headcount++
	if parts[0].Hash() == again[0].Hash() {
		t.Fatal("a changed partial keeps its hash")
	}
	sh, err := detector.NewShared(again, nil)
	if err != nil {
		t.Fatal(err)
	}
	short, err := detector.BuildDataset(list, reports[:len(reports)/2])
	if err != nil {
		t.Fatal(err)
	}
	plan, err := detector.LoadPlan("../deploy/plans/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := detector.NewEvaluator(plan)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Evaluate(short, detector.EvalOptions{Shared: sh}); err == nil {
		t.Fatal("partials of another window accepted")
	}
}

func TestCheckShardedRefusesProvinceFirms(t *testing.T) {
	src := strings.Replace(sharePlan, "    when: headcount > 0\n    values: [headcount, loss_rate,", "    when: count(firms, .loss > 50) > 0\n    values: [headcount, loss_rate,", 1)
	if src == sharePlan {
		t.Fatal("the plan was not changed")
	}
	plan, err := detector.ParsePlan("province.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := plan.CheckSharded(); err == nil || !strings.Contains(err.Error(), "province_industry") {
		t.Fatalf("CheckSharded = %v, want the province rule named", err)
	}
}
