package detector_test

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// BenchmarkEvaluate times the evaluation alone — no ClickHouse — of the
// statutory and default plans over a simulated province held in memory
// (BENCH_FIRMS firms, default 20,000, × 36 months): for profiling
// (-cpuprofile) what bench-detect's "evaluation alone" spends.
func BenchmarkEvaluate(b *testing.B) {
	n := 20_000
	if s := os.Getenv("BENCH_FIRMS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	opts := simulate.DefaultOptions()
	opts.Firms, opts.Months, opts.Start = n, 36, report.NewPeriod(2023, time.November)
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
	for _, name := range []string{"statutory", "default"} {
		plan, err := detector.LoadPlan("../deploy/plans/" + name + ".yaml")
		if err != nil {
			b.Fatal(err)
		}
		ev, err := detector.NewEvaluator(plan)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s/firms=%d", name, n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ev.Evaluate(ds, detector.EvalOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
