package detector_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// writePlan writes src, with a provinces key when provinces is not empty,
// as name in dir.
func writePlan(t testing.TB, dir, name, src, provinces string) string {
	t.Helper()
	if provinces != "" {
		src = strings.Replace(src, "version: 1\n", "version: 1\nprovinces: ["+provinces+"]\n", 1)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPlanSetErrors: a set where two plans claim a province, or two claim
// none, and a provinces key naming anything but provinces, are refused
// with the files and the province named.
func TestPlanSetErrors(t *testing.T) {
	statutory := readFile(t, "../deploy/plans/statutory.yaml")
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		plans [][2]string // provinces, file name
		want  string
	}{
		{"two plans claim Gansu", [][2]string{{`"620000"`, "a.yaml"}, {`"420000", "620000"`, "b.yaml"}}, "a.yaml and " + filepath.Join(dir, "b.yaml") + " both claim province 620000 (甘肃省)"},
		{"two plans for the rest", [][2]string{{"", "a.yaml"}, {"", "b.yaml"}}, "both name no provinces"},
		{"a prefecture", [][2]string{{`"620100"`, "a.yaml"}}, "620100 (兰州市) is not a province: give its province's code, 620000"},
		{"an unknown code", [][2]string{{`"990000"`, "a.yaml"}}, `"990000" is not a GB/T 2260 division code`},
		{"a province twice", [][2]string{{`"620000", "620000"`, "a.yaml"}}, "province 620000 is named twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var paths []string
			for _, p := range tc.plans {
				paths = append(paths, writePlan(t, dir, p[1], statutory, p[0]))
			}
			_, err := detector.LoadPlans(paths...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadPlans: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := detector.LoadPlans(t.TempDir()); err == nil || !strings.Contains(err.Error(), "has no .yaml files") {
		t.Fatalf("an empty directory: %v", err)
	}
}

// TestPlanSetEvaluatesEachProvinceByItsPlan: over two provinces, a set of
// two plans raises for each province exactly what its plan alone raises
// over that province's firms — and, split among replicas as a sharded
// detector splits them (each replica's firms and partials, province rules
// from the sums), exactly the same again. The plans differ (Gansu: the
// test plan whose province rules fire every month; Guangdong: the default
// plan), so a firing under the wrong plan would show.
func TestPlanSetEvaluatesEachProvinceByItsPlan(t *testing.T) {
	// Hubei and Gansu under one plan, Guangdong between them (by code)
	// under the other: the first plan's firms are two runs of the dataset
	list, reports := twoProvinces(t, 2000, 1200)
	hubei, hubeiReports := simProvince(t, "420000", 800, 3)
	list, reports = append(list, hubei...), append(reports, hubeiReports...)
	full, err := detector.BuildDataset(list, reports)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gansu := writePlan(t, dir, "gansu.yaml", sharePlan, `"620000", "420000"`)
	rest := writePlan(t, dir, "rest.yaml", readFile(t, "../deploy/plans/default.yaml"), "")
	set, err := detector.LoadPlans(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p := set.For("620102"); p == nil || p.File != gansu {
		t.Fatalf("the plan of 620102: %v", p)
	}
	if p := set.For("440300"); p == nil || p.File != rest {
		t.Fatalf("the plan of 440300: %v", p)
	}
	got, err := set.Evaluate(full, detector.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// each province alone, by its plan alone
	var want []detector.Firing
	byPlan := map[string]int{}
	for _, tc := range []struct{ province, plan string }{{"620000", gansu}, {"420000", gansu}, {"440000", rest}} {
		var mine []firms.Firm
		for _, f := range list {
			if region.ProvinceOf(f.Region) == tc.province {
				mine = append(mine, f)
			}
		}
		ds, err := detector.NewDataset(mine, full.Start(), full.End())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reports {
			ds.Add(r)
		}
		plan, err := detector.LoadPlan(tc.plan)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := detector.NewEvaluator(plan)
		if err != nil {
			t.Fatal(err)
		}
		// the backtest's due months are those of the whole data
		fs, err := ev.Evaluate(ds, detector.EvalOptions{Due: func(p report.Period) bool { return p <= full.Latest() }})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, fs...)
		byPlan[tc.plan] += len(fs)
	}
	if byPlan[gansu] < 100 || byPlan[rest] < 20 {
		t.Fatalf("too few firings to compare: %v", byPlan)
	}
	if d := lineDiff(firingLines(want), firingLines(got)); d != "" {
		t.Fatalf("the set's firings differ from each province's by its plan (%d against %d):\n%s", len(got), len(want), d)
	}
	for _, f := range got {
		var region string
		if f.Scope.String() == "firm" {
			fm, _ := firmOf(list, f.Key)
			region = fm.Region
		} else {
			region, _, _ = strings.Cut(f.Key, "/")
		}
		if f.Plan == nil || f.Plan != set.For(region) {
			t.Fatalf("%s %s %s: raised by %v, its province's plan is %s", f.Rule, f.Key, f.Period, f.Plan, set.For(region).File)
		}
	}
	t.Logf("Gansu's plan %d firings, the rest's %d", byPlan[gansu], byPlan[rest])

	// sharded: three replicas, Gansu's province rules on replica 0,
	// Guangdong's and Hubei's on replica 2
	shares, partials := splitShares(t, list, reports, full, 3)
	provinces := [3][]string{{"620000"}, nil, {"440000", "420000"}}
	var together []detector.Firing
	for s, ds := range shares {
		sh, err := detector.NewShared(partials, provinces[s])
		if err != nil {
			t.Fatal(err)
		}
		fs, err := set.Evaluate(ds, detector.EvalOptions{Shared: sh, Due: func(p report.Period) bool { return p <= full.Latest() }})
		if err != nil {
			t.Fatal(err)
		}
		together = append(together, fs...)
	}
	if d := lineDiff(firingLines(got), firingLines(together)); d != "" {
		t.Fatalf("the shares' firings differ from the single detector's (%d against %d):\n%s", len(together), len(got), d)
	}
}

func firmOf(list []firms.Firm, id string) (firms.Firm, bool) {
	for _, f := range list {
		if f.ID == id {
			return f, true
		}
	}
	return firms.Firm{}, false
}

// splitShares deals the prefectures of list round-robin to n replicas and
// returns each replica's dataset (its prefectures' firms and reports) and
// every prefecture's partial.
func splitShares(t testing.TB, list []firms.Firm, reports []report.Report, full *detector.Dataset, n int) ([]*detector.Dataset, []*detector.Partial) {
	t.Helper()
	var prefs []string
	for _, f := range list {
		if p := region.PrefectureOf(f.Region); !slices.Contains(prefs, p) {
			prefs = append(prefs, p)
		}
	}
	slices.Sort(prefs)
	owner := map[string]int{}
	for i, p := range prefs {
		owner[p] = i % n
	}
	shares := make([]*detector.Dataset, n)
	var partials []*detector.Partial
	for s := range shares {
		var mine []firms.Firm
		for _, f := range list {
			if owner[region.PrefectureOf(f.Region)] == s {
				mine = append(mine, f)
			}
		}
		ds, err := detector.NewDataset(mine, full.Start(), full.End())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reports {
			ds.Add(r)
		}
		shares[s] = ds
		partials = append(partials, detector.Partials(ds)...)
	}
	if len(partials) != len(prefs) {
		t.Fatalf("%d partials for %d prefectures", len(partials), len(prefs))
	}
	return shares, partials
}

// simProvince simulates one province of firms over the 30 months of
// twoProvinces.
func simProvince(t testing.TB, province string, n int, seed int64) ([]firms.Firm, []report.Report) {
	t.Helper()
	opts := simulate.DefaultOptions()
	opts.Seed, opts.Firms, opts.Months, opts.Province = seed, n, 30, province
	opts.Start = report.NewPeriod(2023, 1)
	sim, err := simulate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var reports []report.Report
	for r := range sim.Reports {
		reports = append(reports, r)
	}
	return sim.Firms(), reports
}
