package console

import (
	"encoding/json"
	"math"

	"github.com/expr-lang/expr"

	"github.com/layoffwatch/layoffwatch/detector"
)

// headcountThreshold finds, for a firm rule, the highest headcount at which
// the rule's condition holds with the firing's other figures as they were:
// the line the month's headcount crossed, drawn on the chart and shown with
// the figures. The condition is run (expr, as the detector compiles it) on
// hypothetical headcounts, with loss and rate following from the previous
// headcount; a condition that does not turn on the headcount (it holds at
// every headcount, or at none, or reads what only the detector knows) has
// no threshold.
func headcountThreshold(rule *detector.Rule, values map[string]any) (float64, bool) {
	if rule == nil || rule.Scope != "firm" || rule.When.Src == "" {
		return 0, false
	}
	env := make(map[string]any, len(values)+3)
	for k, v := range values {
		if n, ok := v.(json.Number); ok {
			f, err := n.Float64()
			if err != nil {
				return 0, false
			}
			env[k] = f
			continue
		}
		env[k] = v
	}
	prev, hasPrev := env["prev_headcount"].(float64)
	hi := prev
	for _, k := range []string{"headcount", "headcount_12m", "headcount_1m"} {
		if v, ok := env[k].(float64); ok {
			hi = math.Max(hi, v)
		}
	}
	if hi <= 0 || hi > 1e7 {
		return 0, false
	}
	prog, err := expr.Compile(rule.When.Src, expr.Env(env), expr.AsBool())
	if err != nil {
		return 0, false
	}
	holds := func(h float64) (bool, bool) {
		env["headcount"] = h
		if hasPrev {
			loss := math.Max(prev-h, 0)
			env["loss"] = loss
			env["rate"] = 0.0
			if prev > 0 {
				env["rate"] = loss / prev
			}
		}
		out, err := expr.Run(prog, env)
		b, ok := out.(bool)
		return b, err == nil && ok
	}
	low, ok1 := holds(0)
	high, ok2 := holds(hi)
	if !ok1 || !ok2 || !low || high {
		return 0, false
	}
	// the largest whole headcount that still fires: holds(lo), not holds(up)
	lo, up := 0.0, hi
	for up-lo > 1 {
		mid := math.Floor((lo + up) / 2)
		if h, ok := holds(mid); !ok {
			return 0, false
		} else if h {
			lo = mid
		} else {
			up = mid
		}
	}
	return lo, true
}
