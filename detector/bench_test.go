package detector_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/procstat"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// BenchmarkDetect loads a simulated province of N firms × 36 months into the
// local ClickHouse, then times (a) streaming every row out of ClickHouse into
// Go without evaluating — the floor — and (b) a full evaluation: the same
// stream into a Dataset plus the default plan over every month, and the same
// with the statutory plan (the first plan's literal rules). It reports their
// ratios and the peak RSS of (b). Run it with `make bench-detect`. Targets at
// 100,000 firms: the default plan at most 20% slower than the statutory plan
// on the same rows (issue 10), peak RSS < 1 GiB; cost linear in N.
func BenchmarkDetect(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if s := os.Getenv("BENCH_FIRMS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		sizes = []int{n}
	}
	for _, n := range sizes {
		b.Run(fmt.Sprintf("firms=%d", n), func(b *testing.B) { benchDetect(b, n) })
	}
}

func benchDetect(b *testing.B, nFirms int) {
	ctx := context.Background()
	ch := testenv.ClickHouse(b)
	opts := simulate.DefaultOptions()
	opts.Firms, opts.Months, opts.Layoffs = nFirms, 36, 24
	opts.Start = report.NewPeriod(2023, 11)
	sim, err := simulate.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := firms.NewStore(ch).Upsert(ctx, sim.Firms()); err != nil {
		b.Fatal(err)
	}
	var rows chdb.ReportRows
	now := time.Now()
	n := 0
	flush := func() {
		if err := ch.InsertReports(ctx, &rows); err != nil {
			b.Fatal(err)
		}
		rows.Reset()
	}
	for r := range sim.Reports {
		rows.Add(r, now, 0, int64(n))
		n++
		if rows.Len() == 200_000 {
			flush()
		}
	}
	flush()
	start, end := opts.Start, opts.Start.Add(opts.Months-1)
	list, err := firms.NewStore(ch).All(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// the default plan (statistics) and, for comparison on the same rows,
	// the statutory plan (the first plan's literal rules)
	names := []string{"default", "statutory"}
	plans := make([]*detector.Plan, len(names))
	for i, name := range names {
		if plans[i], err = detector.LoadPlan("../deploy/plans/" + name + ".yaml"); err != nil {
			b.Fatal(err)
		}
	}
	var floor time.Duration
	full, rss, firings := make([]time.Duration, len(plans)), make([]float64, len(plans)), make([]int, len(plans))
	for b.Loop() {
		// (a) the floor: stream the rows into Go
		t0 := time.Now()
		var count int
		if err := detector.NewStore(ch).ReportsSince(ctx, start, end, time.Time{}, func(*detector.MonthRow) { count++ }); err != nil {
			b.Fatal(err)
		}
		floor = time.Since(t0)
		// every stored row, superseded revisions too until merges drop
		// them: at least one a firm-month, at most what was inserted
		var stored uint64
		if err := testenv.SQL(b, ch.Options()).QueryRow(ctx, "SELECT count() FROM reports FINAL").Scan(&stored); err != nil {
			b.Fatal(err)
		}
		if uint64(count) < stored || count > n {
			b.Fatalf("streamed %d rows; the table has %d, %d were inserted", count, stored, n)
		}
		// (b) a full evaluation, from the same stream, for each plan
		for i, plan := range plans {
			full[i], rss[i], firings[i] = fullEvaluation(ctx, b, ch, list, start, end, plan)
		}
	}
	b.ReportMetric(floor.Seconds(), "stream_s")
	b.ReportMetric(full[0].Seconds(), "full_eval_s")
	b.ReportMetric(full[0].Seconds()/floor.Seconds(), "ratio")
	b.ReportMetric(rss[0], "peak_rss_MiB")
	b.ReportMetric(full[1].Seconds(), "statutory_full_eval_s")
	fmt.Printf("\nbench-detect: %d firms × 36 months = %d reports\n", nFirms, n)
	fmt.Printf("  stream rows out of ClickHouse (floor): %6.2f s\n", floor.Seconds())
	for i, name := range names {
		fmt.Printf("  %-9s plan (%2d rules): full evaluation (stream + evaluate) %6.2f s (evaluation alone %.2f s), ratio to the floor %.2f, peak RSS %4.0f MiB, %d firings\n",
			name, len(plans[i].Rules), full[i].Seconds(), (full[i] - floor).Seconds(), full[i].Seconds()/floor.Seconds(), rss[i], firings[i])
	}
	fmt.Printf("  default against statutory on the same rows: %+.0f%% (target: at most +20%%); peak RSS target < 1024 MiB\n\n",
		100*(full[0].Seconds()/full[1].Seconds()-1))
}

// fullEvaluation streams the window out of ClickHouse into a Dataset and
// evaluates plan over every month, as detect does on start: its time, the
// peak RSS meanwhile and the number of firings.
func fullEvaluation(ctx context.Context, b *testing.B, ch *chdb.Client, list []firms.Firm, start, end report.Period, plan *detector.Plan) (time.Duration, float64, int) {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeakRSS(b)
	t1 := time.Now()
	ds, err := detector.NewDataset(list, start, end)
	if err != nil {
		b.Fatal(err)
	}
	if err := detector.NewStore(ch).ReportsSince(ctx, start, end, time.Time{}, func(r *detector.MonthRow) {
		ds.Set(r.FirmID, r.Period, r.Revision, r.Headcount, r.Vacancies, r.Hires, r.Sep)
	}); err != nil {
		b.Fatal(err)
	}
	ev, err := detector.NewEvaluator(plan)
	if err != nil {
		b.Fatal(err)
	}
	out, err := ev.Evaluate(ds, detector.EvalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(t1), peakRSSMiB(b), len(out)
}

// resetPeakRSS resets the process's VmHWM (Linux: clear_refs 5).
func resetPeakRSS(b testing.TB) {
	if err := procstat.ResetPeakRSS(); err != nil {
		b.Logf("cannot reset peak RSS: %v", err)
	}
}

func peakRSSMiB(b testing.TB) float64 {
	v, err := procstat.PeakRSS(0)
	if err != nil {
		b.Fatal(err)
	}
	return v
}
