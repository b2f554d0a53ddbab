package console

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/detector"
)

func TestHeadcountThreshold(t *testing.T) {
	plan, err := detector.LoadPlan("../deploy/plans/default.yaml")
	if err != nil {
		t.Fatal(err)
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
		rule   string
		values string
		want   float64
		ok     bool
	}{
		// art41: loss >= 20 || rate >= 0.10 — from 400, 380 fires (loss 20)
		{"art41", `{"loss":120,"rate":0.3}`, 0, false}, // no previous headcount: nothing to cross
		{"art41", `{"loss":120,"rate":0.3,"prev_headcount":400}`, 380, true},
		// a small firm: 10% of 100 comes first
		{"art41", `{"loss":12,"rate":0.12,"prev_headcount":100}`, 90, true},
		// mass_layoff: loss >= 200 || (loss >= 50 && rate >= 0.33), from 1000: 800
		{"mass_layoff", `{"loss":300,"rate":0.3,"prev_headcount":1000}`, 800, true},
		// major_cut: prev_headcount >= 600 && loss >= 300
		{"major_cut", `{"prev_headcount":900,"loss":400}`, 600, true},
		// yoy_decline: headcount <= 0.85 * headcount_12m
		{"yoy_decline", `{"has_12m":true,"headcount":80,"headcount_12m":100}`, 85, true},
		// a region rule has none
		{"county_cluster", `{"firms_cutting":6}`, 0, false},
	}
	for _, tt := range tests {
		r, ok := plan.Rule(tt.rule)
		if !ok {
			t.Fatalf("no rule %s", tt.rule)
		}
		got, ok := headcountThreshold(r, vals(tt.values))
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s %s: %v %v, want %v %v", tt.rule, tt.values, got, ok, tt.want, tt.ok)
		}
	}
}
