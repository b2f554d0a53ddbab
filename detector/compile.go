package detector

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// firedFunc answers fired(rule, k): did rule fire for the same key k months
// before the month being evaluated.
type firedFunc func(rule string, monthsAgo int) bool

// program is a rule compiled. It is immutable and shared by every goroutine
// that evaluates the plan: what changes during an evaluation is in each
// worker's evalCtx.
type program struct {
	*Rule
	when    *condition   // nil: no condition besides the bands
	bands   []*condition // a nil entry is a last band without a condition
	defines []define
	values  []reading // the metrics a firing reports (the defines follow)
	tracked bool      // a later rule asks fired() about this one
	nvars   int       // let slots the closures use
}

// condition is one compiled condition: on expr's VM, and as closures when
// it lies in their subset (fast.go).
type condition struct {
	vm   *vm.Program
	fast boolFn // nil: the VM runs it
}

// define is one compiled definition of a rule.
type define struct {
	name string
	vm   *vm.Program
	fast *compiled // nil: the VM runs it
}

// reading is a metric a firing reports, read from the evaluation context.
type reading struct {
	name string
	get  func(*evalCtx) any
}

// exprEnv is the environment expr checks a rule's expressions against: the
// metrics of its scope, and fired().
func exprEnv(scope alertevent.Scope) types.Map {
	env := regionMetrics.types()
	if scope == alertevent.ScopeFirm {
		env = firmMetrics.types()
	}
	env["fired"] = types.TypeOf(firedFunc(nil))
	return env
}

func metricNames(scope alertevent.Scope) []string {
	if scope == alertevent.ScopeFirm {
		return firmMetrics.names()
	}
	return regionMetrics.names()
}

// compile compiles and checks every rule of the plan: each expression
// against the metrics of its rule's scope, and what the compiler cannot see:
// fired() names an earlier firm rule with a literal month offset, values
// names metrics or definitions. It records the metrics each rule reads
// (Rule.refs), which its firings report.
func compile(p *Plan) ([]*program, error) {
	programs := make([]*program, len(p.Rules))
	for i, r := range p.Rules {
		pr, err := compileRule(p, r)
		if err != nil {
			return nil, err
		}
		programs[i] = pr
	}
	index := map[string]int{}
	for i, r := range p.Rules {
		index[r.ID] = i
	}
	for i, pr := range programs {
		if err := p.checkRule(pr, i, index, programs); err != nil {
			return nil, err
		}
	}
	return programs, nil
}

func compileRule(p *Plan, r *Rule) (*program, error) {
	pr := &program{Rule: r}
	opts := []expr.Option{expr.Env(exprEnv(r.Scope))}
	var lets strings.Builder
	for _, prm := range p.Params {
		for _, d := range r.Define {
			if d.Name == prm.Name {
				return nil, fmt.Errorf("%s:%d: rule %q: define %s: the plan has a param of that name (line %d)", p.File, d.Expr.Line, r.ID, d.Name, prm.Line)
			}
		}
		fmt.Fprintf(&lets, "let %s = %s;\n", prm.Name, strconv.FormatFloat(prm.Value, 'g', -1, 64))
	}
	for _, d := range r.Define {
		src := lets.String() + d.Expr.Src
		prog, err := expr.Compile(src, opts...)
		if err != nil {
			return nil, p.exprError(r, d.Expr, "define "+d.Name, err, definedBefore(r, d.Name))
		}
		def := define{name: d.Name, vm: prog}
		if c, n, ok := compileFastValue(r, src, opts); ok {
			def.fast, pr.nvars = &c, max(pr.nvars, n)
		}
		pr.defines = append(pr.defines, def)
		fmt.Fprintf(&lets, "let %s = (%s);\n", d.Name, d.Expr.Src)
	}
	cond := func(e Expr, what string) (*condition, error) {
		src := lets.String() + e.Src
		prog, err := expr.Compile(src, append(opts, expr.AsBool())...)
		if err != nil {
			return nil, p.exprError(r, e, what, err, defineNames(r))
		}
		fast, n := compileFast(r, src, opts)
		pr.nvars = max(pr.nvars, n)
		return &condition{vm: prog, fast: fast}, nil
	}
	if r.When.Src != "" {
		c, err := cond(r.When, "when")
		if err != nil {
			return nil, err
		}
		pr.when = c
	}
	for i, b := range r.Bands {
		if b.When.Src == "" {
			pr.bands = append(pr.bands, nil)
			continue
		}
		c, err := cond(b.When, fmt.Sprintf("levels[%d].when", i))
		if err != nil {
			return nil, err
		}
		pr.bands = append(pr.bands, c)
	}
	return pr, nil
}

// checkRule checks rule i's fired() calls and values, records the metrics it
// reads, and builds what its firings report.
func (p *Plan) checkRule(pr *program, i int, index map[string]int, programs []*program) error {
	r := pr.Rule
	names := map[string]bool{}
	for _, n := range metricNames(r.Scope) {
		names[n] = true
	}
	for _, d := range r.Define {
		names[d.Name] = true
	}
	for _, name := range r.Values {
		switch {
		case name == "firms":
			return fmt.Errorf("%s: rule %q: values: firms is the list of the region's firms, not a value: define a count over it", p.File, r.ID)
		case !names[name]:
			return fmt.Errorf("%s: rule %q: values: unknown metric %q%s", p.File, r.ID, name, didYouMean(name, append(metricNames(r.Scope), defineNames(r)...)))
		}
	}
	exprs := []Expr{}
	for _, d := range r.Define {
		exprs = append(exprs, d.Expr)
	}
	exprs = append(exprs, r.When)
	for _, b := range r.Bands {
		exprs = append(exprs, b.When)
	}
	seen := map[string]bool{}
	r.refs, r.readsFirms, r.firmFields = nil, false, nil
	for _, e := range exprs {
		if e.Src == "" {
			continue
		}
		tree, err := parser.Parse(e.Src)
		if err != nil {
			return fmt.Errorf("%s:%d: rule %q: %w", p.File, e.Line, r.ID, err)
		}
		v := &refVisitor{names: names, seen: seen}
		ast.Walk(&tree.Node, v)
		r.refs = append(r.refs, v.refs...)
		r.readsFirms = r.readsFirms || v.firms
		r.firmFields = append(r.firmFields, v.fields...)
		for _, call := range v.fired {
			j, ok := index[call.rule]
			switch {
			case call.err != "":
				return fmt.Errorf("%s:%d: rule %q: %s", p.File, e.Line, r.ID, call.err)
			case !ok:
				return fmt.Errorf("%s:%d: rule %q: fired(%q, …): no such rule%s", p.File, e.Line, r.ID, call.rule, didYouMean(call.rule, ruleIDs(p.Rules[:i])))
			case j >= i:
				return fmt.Errorf("%s:%d: rule %q: fired(%q, …): a rule may only ask about rules above it", p.File, e.Line, r.ID, call.rule)
			case r.Scope != alertevent.ScopeFirm || p.Rules[j].Scope != alertevent.ScopeFirm:
				return fmt.Errorf("%s:%d: rule %q: fired() is for firm rules about firm rules", p.File, e.Line, r.ID)
			}
			programs[j].tracked = true
		}
	}
	for _, name := range r.Values {
		if !seen[name] {
			seen[name] = true
			r.refs = append(r.refs, name)
		}
	}
	pr.values = readings(r.Scope, r.refs)
	return nil
}

// readings are the accessors of the metrics among names (the others are
// definitions).
func readings(scope alertevent.Scope, names []string) []reading {
	var out []reading
	for _, name := range names {
		if scope == alertevent.ScopeFirm {
			if m, ok := firmMetrics.lookup(name); ok {
				out = append(out, reading{name: name, get: func(c *evalCtx) any { return m.value(c.firm) }})
			}
			continue
		}
		if m, ok := regionMetrics.lookup(name); ok {
			out = append(out, reading{name: name, get: func(c *evalCtx) any { return m.value(c.region) }})
		}
	}
	return out
}

func defineNames(r *Rule) []string {
	var names []string
	for _, d := range r.Define {
		names = append(names, d.Name)
	}
	return names
}

func definedBefore(r *Rule, name string) []string {
	var names []string
	for _, d := range r.Define {
		if d.Name == name {
			break
		}
		names = append(names, d.Name)
	}
	return names
}

var (
	unknownNameRe      = regexp.MustCompile(`unknown name (\w+)`)
	unknownExprFieldRe = regexp.MustCompile(`unknown field (\w+)`)
)

// exprError reports a compile error at the expression's line, naming the
// nearest valid metric for a typo.
func (p *Plan) exprError(r *Rule, e Expr, what string, err error, defines []string) error {
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	names := append(metricNames(r.Scope), defines...)
	if m := unknownNameRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("unknown metric %q%s", m[1], didYouMean(m[1], names))
	} else if m := unknownExprFieldRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("firms have no metric %q%s", m[1], didYouMean(m[1], firmMetrics.names()))
	}
	return fmt.Errorf("%s:%d: rule %q: %s: %s", p.File, e.Line, r.ID, what, msg)
}

func ruleIDs(rules []*Rule) []string {
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	return ids
}

type firedCall struct {
	rule string
	err  string
}

// refVisitor collects the metrics an expression reads (not inside a
// predicate over firms, whose fields belong to each firm) and its fired calls.
type refVisitor struct {
	names  map[string]bool
	seen   map[string]bool
	refs   []string
	fired  []firedCall
	firms  bool     // the expression reads firms
	fields []string // the firm fields predicates over firms read (.z)
}

func (v *refVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if _, ok := n.Node.(*ast.PointerNode); ok {
			if s, ok := n.Property.(*ast.StringNode); ok {
				v.fields = append(v.fields, s.Value)
			}
		}
	case *ast.IdentifierNode:
		v.firms = v.firms || n.Value == "firms"
		if v.names[n.Value] && !v.seen[n.Value] && n.Value != "firms" {
			v.seen[n.Value] = true
			v.refs = append(v.refs, n.Value)
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "fired" {
			return
		}
		call := firedCall{}
		if len(n.Arguments) != 2 {
			call.err = "fired takes a rule id and a number of months ago"
		} else if s, ok := n.Arguments[0].(*ast.StringNode); !ok {
			call.err = "fired's rule must be a quoted rule id"
		} else if _, ok := n.Arguments[1].(*ast.IntegerNode); !ok {
			call.err = "fired's months ago must be a whole number, 0 or more"
		} else {
			call.rule = s.Value
		}
		v.fired = append(v.fired, call)
	}
}
