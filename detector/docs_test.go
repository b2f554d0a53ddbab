package detector

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// TestRiskPlansDoc keeps the metric tables of docs/risk-plans.md generated
// from the metrics tables (metrics.go); -update rewrites them.
func TestRiskPlansDoc(t *testing.T) {
	const path = "../docs/risk-plans.md"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	begin := strings.Index(doc, "<!-- metrics:begin")
	end := strings.Index(doc, "<!-- metrics:end -->")
	if begin < 0 || end < begin {
		t.Fatal("docs/risk-plans.md lacks the metrics markers")
	}
	headEnd := begin + strings.Index(doc[begin:], "-->") + 3
	var sb strings.Builder
	sb.WriteString("\n\n### Firm metrics (scope: firm; also `.name` inside a predicate over `firms`)\n\n| metric | type | meaning |\n|---|---|---|\n")
	for _, m := range firmMetrics {
		sb.WriteString("| `" + m.name + "` | " + m.kind.String() + " | " + m.doc + " |\n")
	}
	sb.WriteString("\n### Region metrics (scopes: county, prefecture, province)\n\n| metric | type | meaning |\n|---|---|---|\n")
	for _, m := range regionMetrics {
		sb.WriteString("| `" + m.name + "` | " + m.kind.String() + " | " + m.doc + " |\n")
	}
	sb.WriteString("\n")
	want := doc[:headEnd] + sb.String() + doc[end:]
	if want == doc {
		return
	}
	if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" { // defined in golden_test.go
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("docs/risk-plans.md is out of date with detector/metrics.go: run go test ./detector -run TestRiskPlansDoc -update")
}

// TestMetricsTables: every row has a plan identifier for a name, used once
// in its table (a second row would be shadowed by the first), and a
// documentation.
func TestMetricsTables(t *testing.T) {
	for scope, rows := range map[string][][2]string{"firm": docRows(firmMetrics), "region": docRows(regionMetrics)} {
		seen := map[string]bool{}
		for _, r := range rows {
			name, doc := r[0], r[1]
			switch {
			case !idRe.MatchString(name):
				t.Errorf("%s metric %q: not a plan identifier", scope, name)
			case seen[name]:
				t.Errorf("%s metric %q: listed twice", scope, name)
			case strings.TrimSpace(doc) == "":
				t.Errorf("%s metric %q: no documentation", scope, name)
			}
			seen[name] = true
		}
	}
}

func docRows[E any](t metrics[E]) [][2]string {
	out := make([][2]string, len(t))
	for i, m := range t {
		out[i] = [2]string{m.name, m.doc}
	}
	return out
}
