package detector_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/planeval"
	"github.com/layoffwatch/layoffwatch/internal/realdata"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// BenchmarkQuality is `make bench-quality`: warning quality, not speed.
//
//  1. The statutory, seasonal and default plans side by side (plan eval) on
//     three seeds of the simulated province (2,000 firms, 48 months), with
//     the default plan's targets: recall ≥ 97% of planted events in their
//     months or the next, ≤ 5 false firm warnings per 1,000 quiet
//     firm-months, ≤ 10 false region warnings, ≤ 2 false warnings at level
//     I–II, no level I–II warning from a seasonal dip.
//  2. The default plan on provinces far from the simulator's defaults:
//     deeper and shifted seasons, noisier firms, fewer years of history,
//     fewer layoffs reported as such, other seeds.
//  3. Real series (not seasonally adjusted) as firms of 1,000 staff: the
//     FRED extract of Debian's gretl-data (LAYOFFWATCH_REALDATA_GRETL, set by
//     the Makefile) and, when a copy is at hand, the BLS CES file of the fpp3
//     data (LAYOFFWATCH_REALDATA_FPP3): warnings in calm months and the known
//     real shocks caught.
func BenchmarkQuality(b *testing.B) {
	plans := map[string]*detector.Plan{}
	names := []string{"statutory", "seasonal", "default"}
	for _, n := range names {
		p, err := detector.LoadPlan(filepath.Join("..", "deploy", "plans", n+".yaml"))
		if err != nil {
			b.Fatal(err)
		}
		plans[n] = p
	}
	cfg, err := alerts.LoadConfig("../deploy/local/alerts.yaml")
	if err != nil {
		b.Fatal(err)
	}
	router := alerts.NewRouter(cfg)
	end := report.NewPeriod(2026, time.October)
	for b.Loop() {
		fmt.Printf("\n== bench-quality 1: three seeds of the simulated province (2,000 firms, 48 months to %s)\n", end)
		var verdicts []string
		for _, seed := range []int64{1, 2, 3} {
			opts := simulate.DefaultOptions()
			opts.Seed, opts.Months, opts.Start = seed, 48, end.Add(-47)
			rs := evalSim(b, opts, []*detector.Plan{plans["statutory"], plans["seasonal"], plans["default"]}, names, router, true)
			verdicts = append(verdicts, targets(fmt.Sprintf("seed %d", seed), rs[2]))
		}
		fmt.Println("\ndefault plan against the targets:")
		for _, v := range verdicts {
			fmt.Println("  " + v)
		}

		fmt.Printf("\n== bench-quality 2: the default plan far from the simulator's defaults\n")
		variants := []struct {
			name string
			set  func(*simulate.Options)
		}{
			{"seed 8", func(o *simulate.Options) { o.Seed = 8 }},
			{"seed 9", func(o *simulate.Options) { o.Seed = 9 }},
			{"deeper, shifted seasons (depth ×2, shift 50%, year sd 0.4), seed 4", func(o *simulate.Options) {
				o.Seed, o.SeasonDepth, o.SeasonShiftProb, o.SeasonYearVar = 4, 2, 0.5, 0.4
			}},
			{"noisier firms (noise ×2, shocks ×2), seed 5", func(o *simulate.Options) { o.Seed, o.NoiseScale, o.ShockRate = 5, 2, 2*o.ShockRate }},
			{"30 months of history, events from month 7, seed 6", func(o *simulate.Options) { o.Seed, o.Months, o.History = 6, 30, 6 }},
			{"20% of layoffs reported as such, seed 7", func(o *simulate.Options) { o.Seed, o.EconomicShare = 7, 0.2 }},
		}
		for _, v := range variants {
			opts := simulate.DefaultOptions()
			opts.Months, opts.Start = 48, end.Add(-47)
			v.set(&opts)
			opts.Start = end.Add(1 - opts.Months)
			rs := evalSim(b, opts, []*detector.Plan{plans["statutory"], plans["default"]}, []string{"statutory", "default"}, nil, false)
			fmt.Printf("  %-70s %s\n                                                                         (statutory: %s)\n", v.name, line(rs[1]), line(rs[0]))
		}

		fmt.Printf("\n== bench-quality 3: real series, not seasonally adjusted, as firms of 1,000\n")
		realSeries(b, []*detector.Plan{plans["statutory"], plans["seasonal"], plans["default"]}, names)
	}
}

func evalSim(b *testing.B, opts simulate.Options, plans []*detector.Plan, names []string, router *alerts.Router, table bool) []*planeval.Result {
	b.Helper()
	sim, err := simulate.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	var reports []report.Report
	for r := range sim.Reports {
		reports = append(reports, r)
	}
	ds, err := detector.BuildDataset(sim.Firms(), reports)
	if err != nil {
		b.Fatal(err)
	}
	labels := sim.Labels()
	sets := make([]*detector.PlanSet, len(plans))
	for i, p := range plans {
		sets[i] = detector.SinglePlan(p)
	}
	rs, err := planeval.Run(sets, names, ds, labels, ds.Start(), ds.Latest(), router)
	if err != nil {
		b.Fatal(err)
	}
	if table {
		fmt.Printf("\n-- seed %d\n", opts.Seed)
		if err := planeval.WriteTable(os.Stdout, ds, labels, ds.Start(), ds.Latest(), rs); err != nil {
			b.Fatal(err)
		}
	}
	return rs
}

func line(r *planeval.Result) string {
	return fmt.Sprintf("recall %d/%d (%.0f%%), false firm %.2f/1000, false region %d, false I–II %d, seasonal I–II %d",
		r.Caught, r.Events, 100*r.Recall, r.FalseFirmPer1000, sumInts(r.FalseRegion[:]), r.FalseHigh, r.HighOnSeasonal)
}

func targets(name string, r *planeval.Result) string {
	check := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT MET"
	}
	return fmt.Sprintf("%s: recall %.1f%% (≥97%%: %s); false firm %.2f/1000 (≤5: %s); false region %d (≤10: %s); false I–II %d (≤2: %s); seasonal I–II %d (0: %s)",
		name, 100*r.Recall, check(r.Recall >= 0.97), r.FalseFirmPer1000, check(r.FalseFirmPer1000 <= 5),
		sumInts(r.FalseRegion[:]), check(sumInts(r.FalseRegion[:]) <= 10), r.FalseHigh, check(r.FalseHigh <= 2),
		r.HighOnSeasonal, check(r.HighOnSeasonal == 0))
}

func sumInts(v []int) int {
	n := 0
	for _, x := range v {
		n += x
	}
	return n
}

// realSeries judges the plans on real series: each series a firm of 1,000
// alone (no peers: only its own history), from its third year.
func realSeries(b *testing.B, plans []*detector.Plan, names []string) {
	b.Helper()
	var series []*realdata.Series
	if dir := os.Getenv("LAYOFFWATCH_REALDATA_GRETL"); dir != "" {
		s, err := realdata.ReadFedstl(filepath.Join(dir, "fedstl.idx"), filepath.Join(dir, "fedstl.bin"), "paynsa")
		if err != nil {
			b.Fatal(err)
		}
		series = append(series, s...)
	} else {
		fmt.Println("  gretl-data not at hand: run deploy/local/deps-realdata.sh and set LAYOFFWATCH_REALDATA_GRETL (make bench-quality does)")
	}
	if path := os.Getenv("LAYOFFWATCH_REALDATA_FPP3"); path != "" {
		s, err := realdata.ReadFPP3(path)
		if err != nil {
			b.Fatal(err)
		}
		series = append(series, s...)
	} else {
		fmt.Println("  the fpp3 BLS CES file is not at hand (LAYOFFWATCH_REALDATA_FPP3 unset): 148 more series when it is")
	}
	if len(series) == 0 {
		return
	}
	pv, err := realdata.NewProvince(series, 1000, realdata.Alone, 0, 0)
	if err != nil {
		b.Fatal(err)
	}
	ds, err := detector.BuildDataset(pv.Firms, pv.Reports)
	if err != nil {
		b.Fatal(err)
	}
	from := ds.Start().Add(25)
	fmt.Printf("  %d series, %s … %s, %d known shocks labelled, %d downturn periods labelled (warnings there are not false)\n",
		len(pv.Firms), ds.Start(), ds.Latest(), countKind(pv.Labels, label.Layoff), countKind(pv.Labels, label.RegionalDownturn))
	for i, plan := range plans {
		ev, err := detector.NewEvaluator(plan)
		if err != nil {
			b.Fatal(err)
		}
		firings, err := ev.Evaluate(ds, detector.EvalOptions{From: from})
		if err != nil {
			b.Fatal(err)
		}
		q := detector.Score(ds, firings, pv.Labels, from, ds.Latest())
		warned := map[string]bool{}
		for _, f := range firings {
			if f.Scope == alertevent.ScopeFirm {
				warned[f.Key+f.Period.String()] = true
			}
		}
		fmt.Printf("  %-10s shocks caught %d/%d; false firm warnings %.2f per 1,000 calm firm-months (%d false of %d firm-months)\n",
			names[i], q.Caught, q.Events, q.FalseFirmPer1000(), sumInts(q.FalseFirm[:]), q.FirmMonths)
		var missed []string
		for _, l := range q.Missed {
			missed = append(missed, l.From.String()+" "+l.Note)
		}
		slices.Sort(missed)
		if len(missed) > 0 {
			fmt.Printf("             missed: %s\n", strings.Join(missed, "; "))
		}
	}
}

func countKind(ls []label.Label, k label.Kind) int {
	n := 0
	for _, l := range ls {
		if l.Kind == k {
			n++
		}
	}
	return n
}
