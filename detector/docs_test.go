package detector

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestMetricDocsCoverEnv: every metric a condition can read is documented,
// in the order of the env structs, and nothing else is.
func TestMetricDocsCoverEnv(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  reflect.Type
		docs []MetricDoc
	}{{"firm", reflect.TypeOf(FirmEnv{}), FirmMetricDocs}, {"region", reflect.TypeOf(RegionEnv{}), RegionMetricDocs}} {
		names := exprNames(c.typ)
		var documented []string
		for _, d := range c.docs {
			documented = append(documented, d.Name)
		}
		if strings.Join(names, ",") != strings.Join(documented, ",") {
			t.Errorf("%s metrics:\n env  %v\n docs %v", c.name, names, documented)
		}
	}
}

// TestRiskPlansDoc keeps the metric tables of docs/risk-plans.md generated
// from the docs above; -update rewrites them.
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
	for _, d := range FirmMetricDocs {
		sb.WriteString("| `" + d.Name + "` | " + d.Type + " | " + d.Doc + " |\n")
	}
	sb.WriteString("\n### Region metrics (scopes: county, prefecture, province)\n\n| metric | type | meaning |\n|---|---|---|\n")
	for _, d := range RegionMetricDocs {
		sb.WriteString("| `" + d.Name + "` | " + d.Type + " | " + d.Doc + " |\n")
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
	t.Fatal("docs/risk-plans.md is out of date with detector/env.go: run go test ./detector -run TestRiskPlansDoc -update")
}
