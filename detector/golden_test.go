package detector_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

var update = flag.Bool("update", false, "rewrite the golden expected.jsonl files (review the diff!)")

// TestGolden runs every folder of testdata: plan.yaml (absent: the shipped
// deploy/plans/statutory.yaml, the literal plan every rule of which has its
// cases; a folder plans/: a plan per province, as detect takes them),
// firms.csv and reports.jsonl in, every firing
// out as expected.jsonl — exactly what `layoffwatch plan test` prints. A
// folder may hold a file named period with one YYYY-MM to test only that month.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/reports.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) == 0 {
		t.Fatal("no golden cases")
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			planPath := filepath.Join(dir, "plan.yaml")
			if _, err := os.Stat(planPath); err != nil {
				planPath = "../deploy/plans/statutory.yaml"
			}
			if _, err := os.Stat(filepath.Join(dir, "plans")); err == nil {
				planPath = filepath.Join(dir, "plans") // a plan per province
			}
			plans, err := detector.LoadPlans(planPath)
			if err != nil {
				t.Fatal(err)
			}
			ds, err := detector.LoadFiles(filepath.Join(dir, "firms.csv"), filepath.Join(dir, "reports.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			var opts detector.EvalOptions
			if b, err := os.ReadFile(filepath.Join(dir, "period")); err == nil {
				p, err := report.ParsePeriod(strings.TrimSpace(string(b)))
				if err != nil {
					t.Fatal(err)
				}
				opts.From, opts.To = p, p
			}
			firings, err := plans.Evaluate(ds, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := detector.WriteFirings(&got, plans, firings); err != nil {
				t.Fatal(err)
			}
			expPath := filepath.Join(dir, "expected.jsonl")
			if *update {
				if err := os.WriteFile(expPath, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(expPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it, then check it by hand)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				gl, wl := strings.Split(got.String(), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < max(len(gl), len(wl)); i++ {
					var g, w string
					if i < len(gl) {
						g = gl[i]
					}
					if i < len(wl) {
						w = wl[i]
					}
					if g != w {
						t.Errorf("line %d:\n got %s\nwant %s", i+1, g, w)
					}
				}
			}
		})
	}
}

// TestEvaluatorShared: one Evaluator evaluates from several goroutines at
// once, each call with its own state, and every call gives the firings of a
// call alone. The province is large enough for each call to split its firms
// among workers. (Run with -race to see that nothing is shared that is
// written.)
func TestEvaluatorShared(t *testing.T) {
	opts := simulate.DefaultOptions()
	opts.Firms, opts.Months, opts.Layoffs = 4500, 15, 12
	opts.Start = report.NewPeriod(2025, 1)
	sim, err := simulate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var reports []report.Report
	for r := range sim.Reports {
		reports = append(reports, r)
	}
	ds, err := detector.BuildDataset(sim.Firms(), reports)
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
	alone, err := ev.Evaluate(ds, detector.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(alone) < 100 {
		t.Fatalf("only %d firings: the test needs a busier province", len(alone))
	}
	want, _ := json.Marshal(alone)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := ev.Evaluate(ds, detector.EvalOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			if b, _ := json.Marshal(got); !bytes.Equal(b, want) {
				t.Errorf("goroutine %d: %d firings differ from the %d of a call alone", i, len(got), len(alone))
			}
		}()
	}
	wg.Wait()
}
