package detector

import (
	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// The expr VM runs a condition over a map of every metric, built for each
// evaluation; a plan evaluated over 100,000 firms × 36 months runs tens of
// millions of conditions. So conditions are also compiled from expr's
// type-checked AST into Go closures that read the metrics they use through
// the accessors of the metrics tables (metrics.go). expr stays the language: it parses, type-checks and
// defines the meaning; the closures are a faster backend for the subset
// below, and any condition outside it runs on the VM. FuzzFastMatchesVM
// holds the two to the same results.
//
// Supported: number, bool and string literals and metrics; + - * / on
// numbers; comparisons; ! && || and or not; a ? b : c; `in` a literal list
// of strings; let; fired(rule, k); count/any/all/none(firms, predicate)
// over firm metrics.

// evalCtx is what a compiled condition reads: the closures are shared by
// every goroutine, each of which has its own evalCtx.
type evalCtx struct {
	firm   *FirmEnv
	region *RegionEnv
	item   *FirmEnv // the firm a predicate is looking at
	vars   []value
	fired  firedFunc
}

// value is a let variable.
type value struct {
	num float64
	b   bool
	s   string
}

type (
	numFn  func(*evalCtx) float64
	boolFn func(*evalCtx) bool
	strFn  func(*evalCtx) string
)

// compiled is one typed closure.
type compiled struct {
	num  numFn
	bool boolFn
	str  strFn
}

type fastCompiler struct {
	scope  alertevent.Scope
	consts map[string]float64 // let name → a literal number (a plan's params): no slot, no work at run time
	vars   map[string]int     // let name → slot
	kinds  map[string]kind
	nvars  int
	ok     bool
}

func newFastCompiler(scope alertevent.Scope) *fastCompiler {
	return &fastCompiler{scope: scope, consts: map[string]float64{}, vars: map[string]int{}, kinds: map[string]kind{}, ok: true}
}

// compileFast returns the condition src (with defines as let bindings) as a
// closure, or nil when it uses something outside the supported subset.
func compileFast(r *Rule, src string, opts []expr.Option) (boolFn, int) {
	prog, err := expr.Compile(src, append(opts, expr.Optimize(false), expr.AsBool())...)
	if err != nil {
		return nil, 0
	}
	fc := newFastCompiler(r.Scope)
	c := fc.node(prog.Node(), false)
	if !fc.ok || c.bool == nil {
		return nil, 0
	}
	return c.bool, fc.nvars
}

// compileFastValue compiles a define (a number or a bool) as a closure, or
// returns ok false.
func compileFastValue(r *Rule, src string, opts []expr.Option) (c compiled, nvars int, ok bool) {
	prog, err := expr.Compile(src, append(opts, expr.Optimize(false))...)
	if err != nil {
		return compiled{}, 0, false
	}
	fc := newFastCompiler(r.Scope)
	c = fc.node(prog.Node(), false)
	if !fc.ok || (c.num == nil && c.bool == nil) {
		return compiled{}, 0, false
	}
	return c, fc.nvars, true
}

func (fc *fastCompiler) fail() compiled { fc.ok = false; return compiled{} }

// field returns the closure that reads a metric of the condition's firm or
// region (or, with item, of the firm a predicate over firms is looking at),
// from the scope's metrics table.
func (fc *fastCompiler) field(name string, item bool) compiled {
	if item || fc.scope == alertevent.ScopeFirm {
		m, ok := firmMetrics.lookup(name)
		if !ok {
			return fc.fail()
		}
		switch {
		case m.kind == kindNumber && item:
			get := m.num
			return compiled{num: func(c *evalCtx) float64 { return get(c.item) }}
		case m.kind == kindNumber:
			get := m.num
			return compiled{num: func(c *evalCtx) float64 { return get(c.firm) }}
		case m.kind == kindBool && item:
			get := m.flag
			return compiled{bool: func(c *evalCtx) bool { return get(c.item) }}
		case m.kind == kindBool:
			get := m.flag
			return compiled{bool: func(c *evalCtx) bool { return get(c.firm) }}
		case m.kind == kindString && item:
			get := m.str
			return compiled{str: func(c *evalCtx) string { return get(c.item) }}
		case m.kind == kindString:
			get := m.str
			return compiled{str: func(c *evalCtx) string { return get(c.firm) }}
		}
		return fc.fail()
	}
	m, ok := regionMetrics.lookup(name)
	if !ok {
		return fc.fail()
	}
	switch m.kind {
	case kindNumber:
		get := m.num
		return compiled{num: func(c *evalCtx) float64 { return get(c.region) }}
	case kindBool:
		get := m.flag
		return compiled{bool: func(c *evalCtx) bool { return get(c.region) }}
	case kindString:
		get := m.str
		return compiled{str: func(c *evalCtx) string { return get(c.region) }}
	}
	return fc.fail() // firms: only as the source of count/any/all/none
}

func (fc *fastCompiler) node(n ast.Node, inPredicate bool) compiled {
	if !fc.ok {
		return compiled{}
	}
	switch n := n.(type) {
	case *ast.IntegerNode:
		v := float64(n.Value)
		return compiled{num: func(*evalCtx) float64 { return v }}
	case *ast.FloatNode:
		v := n.Value
		return compiled{num: func(*evalCtx) float64 { return v }}
	case *ast.BoolNode:
		v := n.Value
		return compiled{bool: func(*evalCtx) bool { return v }}
	case *ast.StringNode:
		v := n.Value
		return compiled{str: func(*evalCtx) string { return v }}
	case *ast.IdentifierNode:
		if v, ok := fc.consts[n.Value]; ok {
			return compiled{num: func(*evalCtx) float64 { return v }}
		}
		if slot, ok := fc.vars[n.Value]; ok {
			switch fc.kinds[n.Value] {
			case kindNumber:
				return compiled{num: func(c *evalCtx) float64 { return c.vars[slot].num }}
			case kindBool:
				return compiled{bool: func(c *evalCtx) bool { return c.vars[slot].b }}
			case kindString:
				return compiled{str: func(c *evalCtx) string { return c.vars[slot].s }}
			}
			return fc.fail()
		}
		return fc.field(n.Value, false)
	case *ast.MemberNode:
		p, ok := n.Node.(*ast.PointerNode)
		prop, ok2 := n.Property.(*ast.StringNode)
		if !ok || !ok2 || p.Name != "" || !inPredicate || n.Optional {
			return fc.fail()
		}
		return fc.field(prop.Value, true)
	case *ast.UnaryNode:
		x := fc.node(n.Node, inPredicate)
		switch {
		case (n.Operator == "!" || n.Operator == "not") && x.bool != nil:
			f := x.bool
			return compiled{bool: func(c *evalCtx) bool { return !f(c) }}
		case n.Operator == "-" && x.num != nil:
			f := x.num
			return compiled{num: func(c *evalCtx) float64 { return -f(c) }}
		case n.Operator == "+" && x.num != nil:
			return x
		}
		return fc.fail()
	case *ast.BinaryNode:
		return fc.binary(n, inPredicate)
	case *ast.ConditionalNode:
		cond, a, b := fc.node(n.Cond, inPredicate), fc.node(n.Exp1, inPredicate), fc.node(n.Exp2, inPredicate)
		if cond.bool == nil {
			return fc.fail()
		}
		k := cond.bool
		switch {
		case a.num != nil && b.num != nil:
			x, y := a.num, b.num
			return compiled{num: func(c *evalCtx) float64 {
				if k(c) {
					return x(c)
				}
				return y(c)
			}}
		case a.bool != nil && b.bool != nil:
			x, y := a.bool, b.bool
			return compiled{bool: func(c *evalCtx) bool {
				if k(c) {
					return x(c)
				}
				return y(c)
			}}
		}
		return fc.fail()
	case *ast.VariableDeclaratorNode:
		if v, ok := literalNumber(n.Value); ok {
			// a constant (a param): bound at compile time
			prev, had := fc.consts[n.Name]
			prevSlot, hadSlot := fc.vars[n.Name]
			fc.consts[n.Name] = v
			delete(fc.vars, n.Name)
			body := fc.node(n.Expr, inPredicate)
			delete(fc.consts, n.Name)
			if had {
				fc.consts[n.Name] = prev
			}
			if hadSlot {
				fc.vars[n.Name] = prevSlot
			}
			return body
		}
		val := fc.node(n.Value, inPredicate)
		slot := fc.nvars
		fc.nvars++
		prevSlot, hadPrev := fc.vars[n.Name]
		prevKind := fc.kinds[n.Name]
		prevConst, hadConst := fc.consts[n.Name]
		delete(fc.consts, n.Name)
		fc.vars[n.Name] = slot
		var set func(*evalCtx)
		switch {
		case val.num != nil:
			f := val.num
			fc.kinds[n.Name] = kindNumber
			set = func(c *evalCtx) { c.vars[slot].num = f(c) }
		case val.bool != nil:
			f := val.bool
			fc.kinds[n.Name] = kindBool
			set = func(c *evalCtx) { c.vars[slot].b = f(c) }
		case val.str != nil:
			f := val.str
			fc.kinds[n.Name] = kindString
			set = func(c *evalCtx) { c.vars[slot].s = f(c) }
		default:
			return fc.fail()
		}
		body := fc.node(n.Expr, inPredicate)
		if hadPrev {
			fc.vars[n.Name], fc.kinds[n.Name] = prevSlot, prevKind
		} else {
			delete(fc.vars, n.Name)
		}
		if hadConst {
			fc.consts[n.Name] = prevConst
		}
		switch {
		case body.bool != nil:
			f := body.bool
			return compiled{bool: func(c *evalCtx) bool { set(c); return f(c) }}
		case body.num != nil:
			f := body.num
			return compiled{num: func(c *evalCtx) float64 { set(c); return f(c) }}
		}
		return fc.fail()
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "fired" || len(n.Arguments) != 2 {
			return fc.fail()
		}
		rule, ok1 := n.Arguments[0].(*ast.StringNode)
		k, ok2 := n.Arguments[1].(*ast.IntegerNode)
		if !ok1 || !ok2 {
			return fc.fail()
		}
		name, months := rule.Value, k.Value
		return compiled{bool: func(c *evalCtx) bool { return c.fired(name, months) }}
	case *ast.BuiltinNode:
		return fc.builtin(n)
	}
	return fc.fail()
}

func (fc *fastCompiler) binary(n *ast.BinaryNode, inPredicate bool) compiled {
	if n.Operator == "in" {
		l := fc.node(n.Left, inPredicate)
		arr, ok := n.Right.(*ast.ArrayNode)
		if !ok || l.str == nil {
			return fc.fail()
		}
		set := map[string]bool{}
		for _, e := range arr.Nodes {
			s, ok := e.(*ast.StringNode)
			if !ok {
				return fc.fail()
			}
			set[s.Value] = true
		}
		f := l.str
		return compiled{bool: func(c *evalCtx) bool { return set[f(c)] }}
	}
	l, r := fc.node(n.Left, inPredicate), fc.node(n.Right, inPredicate)
	if !fc.ok {
		return compiled{}
	}
	switch {
	case l.num != nil && r.num != nil:
		a, b := l.num, r.num
		switch n.Operator {
		case "+":
			return compiled{num: func(c *evalCtx) float64 { return a(c) + b(c) }}
		case "-":
			return compiled{num: func(c *evalCtx) float64 { return a(c) - b(c) }}
		case "*":
			return compiled{num: func(c *evalCtx) float64 { return a(c) * b(c) }}
		case "/":
			return compiled{num: func(c *evalCtx) float64 { return a(c) / b(c) }}
		case "<":
			return compiled{bool: func(c *evalCtx) bool { return a(c) < b(c) }}
		case "<=":
			return compiled{bool: func(c *evalCtx) bool { return a(c) <= b(c) }}
		case ">":
			return compiled{bool: func(c *evalCtx) bool { return a(c) > b(c) }}
		case ">=":
			return compiled{bool: func(c *evalCtx) bool { return a(c) >= b(c) }}
		case "==":
			return compiled{bool: func(c *evalCtx) bool { return a(c) == b(c) }}
		case "!=":
			return compiled{bool: func(c *evalCtx) bool { return a(c) != b(c) }}
		}
	case l.bool != nil && r.bool != nil:
		a, b := l.bool, r.bool
		switch n.Operator {
		case "&&", "and":
			return compiled{bool: func(c *evalCtx) bool { return a(c) && b(c) }}
		case "||", "or":
			return compiled{bool: func(c *evalCtx) bool { return a(c) || b(c) }}
		case "==":
			return compiled{bool: func(c *evalCtx) bool { return a(c) == b(c) }}
		case "!=":
			return compiled{bool: func(c *evalCtx) bool { return a(c) != b(c) }}
		}
	case l.str != nil && r.str != nil:
		a, b := l.str, r.str
		switch n.Operator {
		case "==":
			return compiled{bool: func(c *evalCtx) bool { return a(c) == b(c) }}
		case "!=":
			return compiled{bool: func(c *evalCtx) bool { return a(c) != b(c) }}
		}
	}
	return fc.fail()
}

// builtin compiles count/any/all/none over the region's firms.
func (fc *fastCompiler) builtin(n *ast.BuiltinNode) compiled {
	if len(n.Arguments) != 2 || fc.scope == alertevent.ScopeFirm {
		return fc.fail()
	}
	src, ok := n.Arguments[0].(*ast.IdentifierNode)
	pred, ok2 := n.Arguments[1].(*ast.PredicateNode)
	if !ok || !ok2 || src.Value != "firms" {
		return fc.fail()
	}
	body := fc.node(pred.Node, true)
	if body.bool == nil {
		return fc.fail()
	}
	p := body.bool
	count := func(c *evalCtx) int {
		n := 0
		saved := c.item
		for _, f := range c.region.Firms {
			c.item = f
			if p(c) {
				n++
			}
		}
		c.item = saved
		return n
	}
	switch n.Name {
	case "count":
		return compiled{num: func(c *evalCtx) float64 { return float64(count(c)) }}
	case "any":
		return compiled{bool: func(c *evalCtx) bool { return count(c) > 0 }}
	case "none":
		return compiled{bool: func(c *evalCtx) bool { return count(c) == 0 }}
	case "all":
		return compiled{bool: func(c *evalCtx) bool { return count(c) == len(c.region.Firms) }}
	}
	return fc.fail()
}

// literalNumber is the value of a number literal, or of its negation.
func literalNumber(n ast.Node) (float64, bool) {
	switch v := n.(type) {
	case *ast.IntegerNode:
		return float64(v.Value), true
	case *ast.FloatNode:
		return v.Value, true
	case *ast.UnaryNode:
		if x, ok := literalNumber(v.Node); ok && v.Operator == "-" {
			return -x, true
		}
	}
	return 0, false
}
