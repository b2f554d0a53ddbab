package detector_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// BenchmarkDetect loads a simulated province of N firms × 36 months into the
// local ClickHouse, then times (a) streaming every row out of ClickHouse into
// Go without evaluating — the floor — and (b) a full evaluation: the same
// stream into a Dataset plus the default plan over every month. It reports
// their ratio and the peak RSS of (b). Run it with `make bench-detect`.
// Target at 100,000 firms: ratio ≤ 1.5, peak RSS < 1 GiB; cost linear in N.
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
	plan, err := detector.LoadPlan("../deploy/plans/default.yaml")
	if err != nil {
		b.Fatal(err)
	}
	start, end := opts.Start, opts.Start.Add(opts.Months-1)
	list, err := firms.NewStore(ch).All(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var floor, full time.Duration
	var rss float64
	var firings int
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
		// (b) a full evaluation, from the same stream
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
		full = time.Since(t1)
		rss = peakRSSMiB(b)
		firings = len(out)
	}
	b.ReportMetric(floor.Seconds(), "stream_s")
	b.ReportMetric(full.Seconds(), "full_eval_s")
	b.ReportMetric(full.Seconds()/floor.Seconds(), "ratio")
	b.ReportMetric(rss, "peak_rss_MiB")
	fmt.Printf("\nbench-detect: %d firms × 36 months = %d reports, default plan (%d rules), %d firings\n", nFirms, n, len(plan.Rules), firings)
	fmt.Printf("  stream rows out of ClickHouse (floor): %6.2f s\n", floor.Seconds())
	fmt.Printf("  full evaluation (stream + evaluate):   %6.2f s  (evaluation alone %.2f s)\n", full.Seconds(), (full - floor).Seconds())
	fmt.Printf("  ratio full/floor:                      %6.2f   (target ≤ 1.5)\n", full.Seconds()/floor.Seconds())
	fmt.Printf("  peak RSS of the evaluation:            %6.0f MiB (target < 1024)\n\n", rss)
}

// resetPeakRSS resets the process's VmHWM (Linux: clear_refs 5).
func resetPeakRSS(b testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0o200); err != nil {
		b.Logf("cannot reset peak RSS: %v", err)
	}
}

func peakRSSMiB(b testing.TB) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if kb, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			v, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(v) / 1024
		}
	}
	return 0
}
