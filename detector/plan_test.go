package detector_test

import (
	"os"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// TestParsePlanErrors: a plan with a mistake is refused with the line of
// the mistake and, for a misspelt name, the nearest valid one.
func TestParsePlanErrors(t *testing.T) {
	b, err := os.ReadFile("../deploy/plans/statutory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shipped := string(b)
	tests := []struct {
		name, from, to, want string
	}{
		{"unknown metric", "when: loss >= 20 || rate >= 0.10", "when: los >= 20 || rate >= 0.10",
			`p.yaml:60: rule "art41": when: unknown metric "los"; did you mean "loss"?`},
		{"unknown firm metric in a predicate", ".loss > 50 || .rate >= 0.30", ".los > 50 || .rate >= 0.30",
			`p.yaml:150: rule "county_cluster": define firms_cutting: firms have no metric "los"; did you mean "loss"?`},
		{"type error", "when: loss >= 20 || rate >= 0.10", `when: loss >= "x"`,
			`p.yaml:60: rule "art41": when: invalid operation: >= (mismatched types float64 and string)`},
		{"type error in a predicate", "when: trend_defined && trend_rise >= 0.005", "when: count(firms, .industry > 5) > 1",
			`p.yaml:186: rule "prefecture_trend": when: invalid operation: > (mismatched types string and int)`},
		{"unknown define", "when: firms_cutting >= 5", "when: firms_cuttin >= 5",
			`p.yaml:151: rule "county_cluster": when: unknown metric "firms_cuttin"; did you mean "firms_cutting"?`},
		{"fired: unknown rule", `!fired("art41", 0)`, `!fired("art4", 0)`,
			`p.yaml:70: rule "split90": fired("art4", …): no such rule; did you mean "art41"?`},
		{"fired: a later rule", `!fired("art41", 0)`, `!fired("mass_layoff", 0)`,
			`p.yaml:70: rule "split90": fired("mass_layoff", …): a rule may only ask about rules above it`},
		{"fired: negative months", `!fired("art41", 0)`, `!fired("art41", -1)`,
			`p.yaml:70: rule "split90": fired's months ago must be a whole number, 0 or more`},
		{"fired in a region rule", "when: firms_cutting >= 5", `when: firms_cutting >= 5 && fired("art41", 0)`,
			`p.yaml:151: rule "county_cluster": fired() is for firm rules about firm rules`},
		{"values: the firm list", "values: [prev_headcount, headcount, firms_reported]", "values: [prev_headcount, firms]",
			`p.yaml: rule "prefecture_total": values: firms is the list of the region's firms, not a value: define a count over it`},
		{"values: unknown metric", "values: [prev_headcount, headcount, firms_reported]", "values: [prev_headcount, headcont]",
			`p.yaml: rule "prefecture_total": values: unknown metric "headcont"; did you mean "headcount"?`},
		{"summary: unknown value", `zh: "{{n .firms_cutting}}家企业同月减员超过50人或30%"`, `zh: "{{n .firms_cuttin}}家"`,
			`p.yaml:145: rule "county_cluster": summary.zh: template: county_cluster.zh:1:4: executing "county_cluster.zh" at <.firms_cuttin>: map has no entry for key "firms_cuttin" (values: firms_cutting)`},
		{"unknown scope", "scope: county", "scope: countty",
			`p.yaml:145: rule "county_cluster": scope "countty" is not one of firm, county, prefecture, province; did you mean "county"?`},
		{"unknown key", "  - id: art41", "  - id: art41\n    colour: red",
			"line 57: unknown key \"colour\"; valid: by, define, evaluate, id, level, levels, min_history, scope, source, summary, title, values, when"},
		{"level without a name", "    name: {zh: 红色, en: red}\n", "", "p.yaml: levels: I: name needs both zh and en"},
		{"bad response", "response: 12h", "response: soon", `p.yaml: levels: III: response "soon" is not a duration`},
		{"unknown level", "  IV:\n", "  V:\n", `p.yaml: levels: level "V" is not one of I, II, III, IV`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(shipped, tt.from) {
				t.Fatalf("%q is not in the shipped plan", tt.from)
			}
			_, err := detector.ParsePlan("p.yaml", []byte(strings.Replace(shipped, tt.from, tt.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v\nwant one containing %s", err, tt.want)
			}
		})
	}
}

// TestDefaultLevelFactsAreTheShippedPlans: the facts alertevent gives events
// recorded without any are those of deploy/plans/default.yaml.
func TestDefaultLevelFactsAreTheShippedPlans(t *testing.T) {
	p, err := detector.LoadPlan("../deploy/plans/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, lv := range alertevent.Levels() {
		if got, want := alertevent.DefaultLevelFacts(lv), p.Levels[lv]; got != want {
			t.Errorf("level %s:\n alertevent %+v\n plan       %+v", lv, got, want)
		}
	}
}
