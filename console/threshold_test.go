package console

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/detector"
)

func TestHeadcountThreshold(t *testing.T) {
	plans := map[string]*detector.Plan{}
	for _, name := range []string{"statutory", "default"} {
		p, err := detector.LoadPlan("../deploy/plans/" + name + ".yaml")
		if err != nil {
			t.Fatal(err)
		}
		plans[name] = p
	}
	vals := func(s string) map[string]any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var m map[string]any
		if err := d.Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		plan, rule string
		values     string
		want       float64
		ok         bool
	}{
		// statutory art41: loss >= 20 || rate >= 0.10 — from 400, 380 fires (loss 20)
		{"statutory", "art41", `{"loss":120,"rate":0.3}`, 0, false}, // no previous headcount: nothing to cross
		{"statutory", "art41", `{"loss":120,"rate":0.3,"prev_headcount":400}`, 380, true},
		// a small firm: 10% of 100 comes first
		{"statutory", "art41", `{"loss":12,"rate":0.12,"prev_headcount":100}`, 90, true},
		// mass_layoff: loss >= 200 || (loss >= 50 && rate >= 0.33), from 1000: 800
		{"statutory", "mass_layoff", `{"loss":300,"rate":0.3,"prev_headcount":1000}`, 800, true},
		// major_cut: prev_headcount >= 600 && loss >= 300
		{"statutory", "major_cut", `{"prev_headcount":900,"loss":400}`, 600, true},
		// yoy_decline: headcount <= 0.85 * headcount_12m
		{"statutory", "yoy_decline", `{"has_12m":true,"headcount":80,"headcount_12m":100}`, 85, true},
		// split90 reads another rule's firings: none
		{"statutory", "split90", `{"has_3m":true,"net3":30,"net3_rate":0.1}`, 0, false},
		// a region rule has none
		{"statutory", "county_cluster", `{"firms_cutting":6}`, 0, false},
		// the default plan judges the loss against peers and seasons (z,
		// excess_rate): holding those fixed would draw a line the detector
		// never drew, so its rules have none
		{"default", "art41", `{"has_prev":true,"loss":120,"rate":0.3,"prev_headcount":400,"excess_rate":0.25,"z_defined":true,"z":-7,
			"unexplained_loss":0,"expected_rate":0.01,"excess_loss":100,"peer_rate":0.01}`, 0, false},
		{"default", "major_cut", `{"headcount":500,"prev_headcount":900,"loss":400,"z_defined":true,"z":-9,"excess_rate":0.4,
			"layoff_separations":400,"rate":0.44,"unexplained_loss":0}`, 0, false},
	}
	for _, tt := range tests {
		r, ok := plans[tt.plan].Rule(tt.rule)
		if !ok {
			t.Fatalf("%s: no rule %s", tt.plan, tt.rule)
		}
		got, ok := headcountThreshold(r, plans[tt.plan].Params, vals(tt.values))
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s %s %s: %v %v, want %v %v", tt.plan, tt.rule, tt.values, got, ok, tt.want, tt.ok)
		}
	}
}

// TestThresholdWithParams: a literal condition written with the plan's
// params has its threshold too.
func TestThresholdWithParams(t *testing.T) {
	plan, err := detector.ParsePlan("p.yaml", []byte(`version: 1
name: {zh: 测试, en: test}
params: {line_people: 20, line_share: 0.10}
levels:
  I: {name: {zh: 红色, en: red}, color: "#d32f2f", response: 2h}
  II: {name: {zh: 橙色, en: orange}, color: "#f57c00", response: 2h}
  III: {name: {zh: 黄色, en: yellow}, color: "#fbc02d", response: 12h}
  IV: {name: {zh: 蓝色, en: blue}, color: "#1976d2", response: none}
rules:
  - id: line
    title: {zh: 线, en: line}
    scope: firm
    level: IV
    when: loss >= line_people || rate >= line_share
    summary: {zh: x, en: x}
    source: a test
`))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := plan.Rule("line")
	got, ok := headcountThreshold(r, plan.Params, map[string]any{"loss": json.Number("50"), "rate": json.Number("0.1"), "prev_headcount": json.Number("500")})
	if !ok || got != 480 {
		t.Errorf("threshold %v %v, want 480 true", got, ok)
	}
}
