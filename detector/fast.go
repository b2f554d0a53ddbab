package detector

import (
	"reflect"
	"unsafe"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// The expr VM reads struct fields by reflection, ~30 ns a field; a plan
// evaluated over 100,000 firms × 36 months runs tens of millions of
// conditions. So conditions are also compiled from expr's type-checked AST
// into Go closures. expr stays the language: it parses, type-checks and
// defines the meaning; the closures are a faster backend for the subset
// below, and any condition outside it runs on the VM. FuzzFastMatchesVM
// holds the two to the same results.
//
// Supported: number, bool and string literals and metrics; + - * / on
// numbers; comparisons; ! && || and or not; a ? b : c; `in` a literal list
// of strings; let; fired(rule, k); count/any/all/none(firms, predicate)
// over firm metrics.

// evalCtx is what a compiled condition reads.
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
	scope Scope
	vars  map[string]int // let name → slot
	kinds map[string]reflect.Kind
	nvars int
	ok    bool
}

// compileFast returns the condition src (with defines as let bindings) as a
// closure, or nil when it uses something outside the supported subset.
func compileFast(r *Rule, src string, opts []expr.Option) (boolFn, int) {
	prog, err := expr.Compile(src, append(opts, expr.Optimize(false), expr.AsBool())...)
	if err != nil {
		return nil, 0
	}
	fc := &fastCompiler{scope: r.Scope, vars: map[string]int{}, kinds: map[string]reflect.Kind{}, ok: true}
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
	fc := &fastCompiler{scope: r.Scope, vars: map[string]int{}, kinds: map[string]reflect.Kind{}, ok: true}
	c = fc.node(prog.Node(), false)
	if !fc.ok || (c.num == nil && c.bool == nil) {
		return compiled{}, 0, false
	}
	return c, fc.nvars, true
}

func (fc *fastCompiler) fail() compiled { fc.ok = false; return compiled{} }

// fieldOffsets maps an env struct's expr names to their offsets and kinds.
type fieldInfo struct {
	off  uintptr
	kind reflect.Kind
}

func offsets(t reflect.Type) map[string]fieldInfo {
	m := map[string]fieldInfo{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tag := f.Tag.Get("expr"); tag != "" {
			m[tag] = fieldInfo{off: f.Offset, kind: f.Type.Kind()}
		}
	}
	return m
}

var (
	firmOffsets   = offsets(reflect.TypeOf(FirmEnv{}))
	regionOffsets = offsets(reflect.TypeOf(RegionEnv{}))
)

// field returns an accessor for a metric of the env (or of the predicate's
// firm when item is set). Offsets and kinds come from reflect on the env
// structs themselves, so every unsafe read stays inside a field of the
// right type (gosec G103 is audited here).
func (fc *fastCompiler) field(name string, item bool) compiled {
	var info fieldInfo
	var ok bool
	var base func(*evalCtx) unsafe.Pointer
	switch {
	case item:
		info, ok = firmOffsets[name]
		base = func(c *evalCtx) unsafe.Pointer { return unsafe.Pointer(c.item) } //nolint:gosec // G103: see field
	case fc.scope == ScopeFirm:
		info, ok = firmOffsets[name]
		base = func(c *evalCtx) unsafe.Pointer { return unsafe.Pointer(c.firm) } //nolint:gosec // G103: see field
	default:
		info, ok = regionOffsets[name]
		base = func(c *evalCtx) unsafe.Pointer { return unsafe.Pointer(c.region) } //nolint:gosec // G103: see field
	}
	if !ok {
		return fc.fail()
	}
	off := info.off
	switch info.kind {
	case reflect.Float64:
		if item {
			return compiled{num: func(c *evalCtx) float64 { return *(*float64)(unsafe.Add(unsafe.Pointer(c.item), off)) }}
		}
		if fc.scope == ScopeFirm {
			return compiled{num: func(c *evalCtx) float64 { return *(*float64)(unsafe.Add(unsafe.Pointer(c.firm), off)) }}
		}
		return compiled{num: func(c *evalCtx) float64 { return *(*float64)(unsafe.Add(base(c), off)) }}
	case reflect.Bool:
		if item {
			return compiled{bool: func(c *evalCtx) bool { return *(*bool)(unsafe.Add(unsafe.Pointer(c.item), off)) }}
		}
		return compiled{bool: func(c *evalCtx) bool { return *(*bool)(unsafe.Add(base(c), off)) }}
	case reflect.String:
		return compiled{str: func(c *evalCtx) string { return *(*string)(unsafe.Add(base(c), off)) }}
	}
	return fc.fail()
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
		if slot, ok := fc.vars[n.Value]; ok {
			switch fc.kinds[n.Value] {
			case reflect.Float64:
				return compiled{num: func(c *evalCtx) float64 { return c.vars[slot].num }}
			case reflect.Bool:
				return compiled{bool: func(c *evalCtx) bool { return c.vars[slot].b }}
			case reflect.String:
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
		val := fc.node(n.Value, inPredicate)
		slot := fc.nvars
		fc.nvars++
		prevSlot, hadPrev := fc.vars[n.Name]
		prevKind := fc.kinds[n.Name]
		fc.vars[n.Name] = slot
		var set func(*evalCtx)
		switch {
		case val.num != nil:
			f := val.num
			fc.kinds[n.Name] = reflect.Float64
			set = func(c *evalCtx) { c.vars[slot].num = f(c) }
		case val.bool != nil:
			f := val.bool
			fc.kinds[n.Name] = reflect.Bool
			set = func(c *evalCtx) { c.vars[slot].b = f(c) }
		case val.str != nil:
			f := val.str
			fc.kinds[n.Name] = reflect.String
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
	if len(n.Arguments) != 2 || fc.scope == ScopeFirm {
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
