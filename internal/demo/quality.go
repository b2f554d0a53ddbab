package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/planeval"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// printQuality judges the shipped plans on the simulated province against
// its ground truth (plan eval: the detector's own evaluation, scored on the
// simulator's labels) and checks that the live detector raised what plan
// test raises with the demo's plan on the same data.
func printQuality(ctx context.Context, w io.Writer, ds *Store, sim *simulate.Simulation, planPath, alertsConfig string) error {
	paths := []string{planPath}
	for _, name := range []string{"statutory.yaml", "seasonal.yaml"} {
		p := filepath.Join(filepath.Dir(planPath), name)
		if _, err := os.Stat(p); err == nil && p != planPath {
			paths = append(paths, p)
		}
	}
	plans := make([]*detector.PlanSet, len(paths))
	names := make([]string, len(paths))
	for i, p := range paths {
		plan, err := detector.LoadPlans(p)
		if err != nil {
			return err
		}
		plans[i], names[i] = plan, strings.TrimSuffix(filepath.Base(p), ".yaml")
	}
	cfg, err := alerts.LoadConfig(alertsConfig)
	if err != nil {
		return err
	}
	var reports []report.Report
	for r := range sim.Reports {
		reports = append(reports, r)
	}
	data, err := detector.BuildDataset(sim.Firms(), reports)
	if err != nil {
		return err
	}
	results, err := planeval.Run(plans, names, data, sim.Labels(), data.Start(), data.Latest(), alerts.NewRouter(cfg))
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nWarning quality on this province (plan eval against the simulator's ground truth; `layoffwatch plan eval` for the full table):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "plan\tplanted events caught\tfalse warnings I/II/III/IV\tfalse firm warnings per 1,000 quiet firm-months\twarnings per official a month (median/max)\t")
	for _, r := range results {
		falses := [4]int{}
		for i := range falses {
			falses[i] = r.FalseFirm[i] + r.FalseRegion[i]
		}
		wl := "-"
		if o := r.PerOfficialMonth; o != nil {
			wl = fmt.Sprintf("%.1f/%.1f", o.Median, o.Max)
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%d/%d/%d/%d\t%.1f\t%s\t\n", r.Plan, r.Caught, r.Events, falses[0], falses[1], falses[2], falses[3], r.FalseFirmPer1000, wl)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	perRecipient, err := ds.EmailsPerRecipient(ctx)
	if err != nil {
		return err
	}
	var counts []uint64
	for _, n := range perRecipient {
		counts = append(counts, n)
	}
	slices.Sort(counts)
	if len(counts) > 0 {
		fmt.Fprintf(w, "emails to officials in this run (%s plan): %d officials, median %d, most %d over %d months\n",
			names[0], len(counts), counts[len(counts)/2], counts[len(counts)-1], sim.Options().Months)
	}
	return checkLive(ctx, w, ds, plans[0], data)
}

// checkLive compares the alerts the live detector left open with what plan
// test raises over the same reports.
func checkLive(ctx context.Context, w io.Writer, ds *Store, plans *detector.PlanSet, data *detector.Dataset) error {
	firings, err := plans.Evaluate(data, detector.EvalOptions{})
	if err != nil {
		return err
	}
	want := map[string]bool{}
	for _, f := range firings {
		want[f.Rule+" "+f.Key+" "+f.Period.String()+" "+f.Level.String()] = true
	}
	live, err := ds.OpenAlerts(ctx)
	if err != nil {
		return err
	}
	got := map[string]bool{}
	for _, a := range live {
		got[a.Rule+" "+a.Key+" "+report.PeriodOf(a.Period.UTC()).String()+" "+a.Level] = true
	}
	var onlyLive, onlyTest []string
	for k := range got {
		if !want[k] {
			onlyLive = append(onlyLive, k)
		}
	}
	for k := range want {
		if !got[k] {
			onlyTest = append(onlyTest, k)
		}
	}
	if len(onlyLive)+len(onlyTest) == 0 {
		fmt.Fprintf(w, "the live detector's %d open warnings are exactly what `plan test` raises on the same reports\n", len(got))
		return nil
	}
	slices.Sort(onlyLive)
	slices.Sort(onlyTest)
	return fmt.Errorf("the live detector and plan test disagree: %d only live (%s), %d only in plan test (%s)",
		len(onlyLive), strings.Join(first(onlyLive, 5), "; "), len(onlyTest), strings.Join(first(onlyTest, 5), "; "))
}

func first(s []string, n int) []string { return s[:min(n, len(s))] }
