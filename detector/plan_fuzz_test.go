package detector

import (
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// FuzzParsePlan: any file either loads into a plan with its four levels
// that evaluates a small dataset without panicking (a condition may still
// fail at run time, as a division of whole numbers by zero does), or is
// refused with an error naming the file.
func FuzzParsePlan(f *testing.F) {
	// small plans: compiling the shipped ones takes seconds under the
	// fuzzer's instrumentation (TestGolden and the plan tests load those)
	levels := "levels:\n  I: {name: {zh: 红, en: red}, response: 2h}\n  II: {name: {zh: 橙, en: orange}}\n  III: {name: {zh: 黄, en: yellow}}\n  IV: {name: {zh: 蓝, en: blue}, response: none}\n"
	f.Add([]byte("version: 1\n" + levels + "rules:\n  - id: art41\n    title: {zh: 裁员, en: layoff}\n    scope: firm\n    level: IV\n    when: loss >= 20 || rate >= 0.10\n    source: law\n"))
	f.Add([]byte("version: 1\n" + levels + "rules:\n  - id: c\n    title: {zh: x, en: x}\n    scope: county\n    define: {n: \"count(firms, .loss > 50)\"}\n    levels: [{level: II, when: n >= 5}, {level: IV}]\n    summary: {zh: \"{{n .n}}家\", en: \"{{n .n}} firms\"}\n    source: s\n"))
	f.Add([]byte("version: 1\n" + levels + "rules:\n  - id: a\n    title: {zh: x, en: x}\n    scope: firm\n    level: IV\n    when: loss > 1\n    source: s\n  - id: b\n    title: {zh: y, en: y}\n    scope: firm\n    level: III\n    when: fired(\"a\", 1) && max(loss, 3) > 2\n    source: s\n"))
	f.Add([]byte("version: 1\nrules: []\n"))
	a, b := firmID("91620102MA0000001"), firmID("91620102MA0000002")
	list := []firms.Firm{{ID: a, Name: "a", Region: "620102", Industry: "C", BaselineHeadcount: 100},
		{ID: b, Name: "b", Region: "620102", Industry: "E", BaselineHeadcount: 300}}
	var reports []report.Report
	for m := range 4 {
		p := report.NewPeriod(2026, 1).Add(m)
		reports = append(reports, report.Report{FirmID: a, Period: p, Headcount: uint32(100 - 30*m), Revision: 1},
			report.Report{FirmID: b, Period: p, Headcount: 300, Vacancies: uint32(10 - 3*m), Revision: 1})
	}
	ds, err := BuildDataset(list, reports)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, lv := range alertevent.Levels() {
			if f, ok := p.Levels[lv]; !ok || f.NameZh == "" || f.NameEn == "" {
				t.Fatalf("plan without level %s or its names loaded", lv)
			}
		}
		ev, err := NewEvaluator(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = ev.Evaluate(ds, EvalOptions{})
	})
}
