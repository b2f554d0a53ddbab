package detector

import (
	"strings"
	"testing"
)

// FuzzParsePlan: any file either loads into a plan whose every rule
// compiles, or is refused with an error naming the file; nothing panics.
func FuzzParsePlan(f *testing.F) {
	// small plans: compiling the shipped ones takes seconds under the
	// fuzzer's instrumentation (TestGolden and the plan tests load those)
	levels := "levels:\n  I: {name: {zh: 红, en: red}, response: 2h}\n  II: {name: {zh: 橙, en: orange}}\n  III: {name: {zh: 黄, en: yellow}}\n  IV: {name: {zh: 蓝, en: blue}, response: none}\n"
	f.Add([]byte("version: 1\n" + levels + "rules:\n  - id: art41\n    title: {zh: 裁员, en: layoff}\n    scope: firm\n    level: IV\n    when: loss >= 20 || rate >= 0.10\n    source: law\n"))
	f.Add([]byte("version: 1\n" + levels + "rules:\n  - id: c\n    title: {zh: x, en: x}\n    scope: county\n    define: {n: \"count(firms, .loss > 50)\"}\n    levels: [{level: II, when: n >= 5}, {level: IV}]\n    summary: {zh: \"{{n .n}}家\", en: \"{{n .n}} firms\"}\n    source: s\n"))
	f.Add([]byte("version: 1\nrules: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePlan("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if _, err := NewEvaluator(p); err != nil {
			t.Fatalf("a loaded plan does not compile: %v", err)
		}
		for lv := Level(1); lv <= 4; lv++ {
			if _, ok := p.Levels[lv]; !ok {
				t.Fatalf("plan without level %s loaded", lv)
			}
		}
	})
}
