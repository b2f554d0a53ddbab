package console

import (
	"encoding/json"
	"math"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// headcountThreshold finds, for a firm rule, the highest headcount at which
// the rule's condition holds with the firing's other figures as they were:
// the line the month's headcount crossed, drawn on the chart and shown with
// the figures. The condition is run (expr, as the detector compiles it, with
// the plan's params) on hypothetical headcounts, with loss, rate and change
// following from the previous headcount.
//
// Only a condition that reads nothing but the headcount, what follows from
// it here, figures that do not depend on this month's headcount (earlier
// months, reported flows, vacancies) and params has a threshold: holding a
// statistic of this month fixed (a z-score, an excess over the expected
// change, another rule's firing) while the headcount moves would draw a
// line the detector never drew. So do the literal rules (the statutory
// plan's art41: loss >= 20 || rate >= 0.10); the default plan's, which
// judge the loss against peers and seasons, have none. A condition that
// holds at every headcount, or at none, has none either.
func headcountThreshold(rule *detector.Rule, params []detector.Param, values map[string]any) (float64, bool) {
	if rule == nil || rule.Scope != alertevent.ScopeFirm || rule.When.Src == "" || len(rule.Define) > 0 {
		return 0, false
	}
	env := make(map[string]any, len(values)+len(params)+4)
	known := map[string]bool{}
	for name := range moved {
		known[name] = true
	}
	for name := range steady {
		known[name] = true
	}
	for _, p := range params {
		env[p.Name], known[p.Name] = p.Value, true
	}
	if !readsOnly(rule.When.Src, known) {
		return 0, false
	}
	for k, v := range values {
		if !steady[k] {
			continue
		}
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
	for _, k := range []string{"headcount_1m", "headcount_3m", "headcount_12m"} {
		if v, ok := env[k].(float64); ok {
			hi = math.Max(hi, v)
		}
	}
	if h, ok := values["headcount"].(json.Number); ok {
		if v, err := h.Float64(); err == nil {
			hi = math.Max(hi, v)
		}
	}
	if hi <= 0 || hi > 1e7 {
		return 0, false
	}
	set := func(h float64) {
		env["headcount"] = h
		if hasPrev {
			loss := math.Max(prev-h, 0)
			env["loss"], env["change"], env["rate"] = loss, h-prev, 0.0
			if prev > 0 {
				env["rate"] = loss / prev
			}
		}
	}
	set(hi)
	prog, err := expr.Compile(rule.When.Src, expr.Env(env), expr.AsBool())
	if err != nil {
		return 0, false
	}
	holds := func(h float64) (bool, bool) {
		set(h)
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

// moved are the firm metrics the threshold search sets for each
// hypothetical headcount.
var moved = map[string]bool{"headcount": true, "loss": true, "rate": true, "change": true}

// steady are the firm metrics (detector/metrics.go) that do not depend on
// this month's headcount: the search holds them as the firing reported
// them.
var steady = map[string]bool{
	"reported": true, "due": true, "vacancies": true, "hires": true,
	"sep_total": true, "sep_economic_layoff": true, "sep_closure_bankruptcy": true, "sep_suspension": true,
	"sep_contract_expiry": true, "sep_resignation": true, "sep_retirement": true, "sep_transfer": true, "sep_other": true,
	"layoff_separations": true, "baseline_headcount": true,
	"has_prev": true, "prev_gap": true, "prev_headcount": true, "prev_vacancies": true,
	"has_1m": true, "headcount_1m": true, "has_3m": true, "headcount_3m": true, "has_12m": true, "headcount_12m": true,
	"vacancy_reports_6m": true, "vacancy_mean_6m": true, "history_months": true,
	"industry": true, "county": true, "prefecture": true,
}

// readsOnly reports whether the expression src parses and names no
// identifier outside known (a function such as fired() is an identifier
// too).
func readsOnly(src string, known map[string]bool) bool {
	tree, err := parser.Parse(src)
	if err != nil {
		return false
	}
	v := &identifiers{known: known, ok: true}
	ast.Walk(&tree.Node, v)
	return v.ok
}

type identifiers struct {
	known map[string]bool
	ok    bool
}

func (v *identifiers) Visit(n *ast.Node) {
	if id, isID := (*n).(*ast.IdentifierNode); isID && !v.known[id.Value] {
		v.ok = false
	}
}
