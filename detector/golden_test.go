package detector_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

var update = flag.Bool("update", false, "rewrite the golden expected.jsonl files (review the diff!)")

// TestGolden runs every folder of testdata: plan.yaml (absent: the shipped
// deploy/plans/default.yaml), firms.csv and reports.jsonl in, every firing
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
				planPath = "../deploy/plans/default.yaml"
			}
			plan, err := detector.LoadPlan(planPath)
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
			ev, err := detector.NewEvaluator(plan)
			if err != nil {
				t.Fatal(err)
			}
			firings, err := ev.Evaluate(ds, opts)
			if err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			enc := json.NewEncoder(&got)
			enc.SetEscapeHTML(false)
			for _, fr := range firings {
				if err := enc.Encode(fr); err != nil {
					t.Fatal(err)
				}
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
