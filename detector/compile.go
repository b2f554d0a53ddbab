package detector

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// firedFunc answers fired(rule, k): did rule fire for the same key k months
// before the month being evaluated. An evaluator supplies it.
type firedFunc func(rule string, monthsAgo int) bool

// program is a rule compiled for one evaluator.
type program struct {
	*Rule
	index   int
	when    *vm.Program // nil: no condition besides the bands
	bands   []*vm.Program
	defines []*vm.Program
	// the same conditions as closures (see fast.go); nil where a condition
	// runs on the VM
	fastWhen    boolFn
	fastBands   []boolFn
	fastDefines []*compiled // nil entries run on the VM
	nvars       int
}

// metric names by scope, from the env types' expr tags
var (
	firmMetrics   = exprNames(reflect.TypeOf(FirmEnv{}))
	regionMetrics = exprNames(reflect.TypeOf(RegionEnv{}))
)

func exprNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("expr"); tag != "" {
			names = append(names, tag)
		}
	}
	return names
}

func (r *Rule) metricNames() []string {
	if r.Scope == ScopeFirm {
		return firmMetrics
	}
	return regionMetrics
}

func (r *Rule) env() any {
	if r.Scope == ScopeFirm {
		return &FirmEnv{}
	}
	return &RegionEnv{}
}

// compile compiles every rule of the plan for one evaluator, whose fired
// function answers fired(rule, k).
func (p *Plan) compile(fired firedFunc) ([]*program, error) {
	fn := expr.Function("fired", func(params ...any) (any, error) {
		return fired(params[0].(string), params[1].(int)), nil
	}, new(func(string, int) bool))
	var out []*program
	for i, r := range p.Rules {
		pr := &program{Rule: r, index: i}
		var lets strings.Builder
		opts := []expr.Option{expr.Env(r.env()), fn}
		for _, d := range r.Define {
			prog, err := expr.Compile(lets.String()+d.Expr.Src, opts...)
			if err != nil {
				return nil, p.exprError(r, d.Expr, "define "+d.Name, err, definedBefore(r, d.Name))
			}
			pr.defines = append(pr.defines, prog)
			var fast *compiled
			if c, n, ok := compileFastValue(r, lets.String()+d.Expr.Src, opts); ok {
				fast, pr.nvars = &c, max(pr.nvars, n)
			}
			pr.fastDefines = append(pr.fastDefines, fast)
			fmt.Fprintf(&lets, "let %s = (%s);\n", d.Name, d.Expr.Src)
		}
		cond := append(opts, expr.AsBool())
		if r.When.Src != "" {
			prog, err := expr.Compile(lets.String()+r.When.Src, cond...)
			if err != nil {
				return nil, p.exprError(r, r.When, "when", err, defineNames(r))
			}
			pr.when = prog
			var n int
			pr.fastWhen, n = compileFast(r, lets.String()+r.When.Src, opts)
			pr.nvars = max(pr.nvars, n)
		}
		for bi, b := range r.Bands {
			if b.When.Src == "" {
				pr.bands = append(pr.bands, nil)
				pr.fastBands = append(pr.fastBands, nil)
				continue
			}
			prog, err := expr.Compile(lets.String()+b.When.Src, cond...)
			if err != nil {
				return nil, p.exprError(r, b.When, fmt.Sprintf("levels[%d].when", bi), err, defineNames(r))
			}
			pr.bands = append(pr.bands, prog)
			fast, n := compileFast(r, lets.String()+b.When.Src, opts)
			pr.fastBands = append(pr.fastBands, fast)
			pr.nvars = max(pr.nvars, n)
		}
		out = append(out, pr)
	}
	return out, nil
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
	unknownNameRe = regexp.MustCompile(`unknown name (\w+)`)
	noFieldRe     = regexp.MustCompile(`has no field (\w+)`)
)

// exprError reports a compile error at the expression's line, naming the
// nearest valid metric for a typo.
func (p *Plan) exprError(r *Rule, e Expr, what string, err error, defines []string) error {
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	names := append(append([]string{}, r.metricNames()...), defines...)
	if m := unknownNameRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("unknown metric %q%s", m[1], didYouMean(m[1], names))
	} else if m := noFieldRe.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("firms have no metric %q%s", m[1], didYouMean(m[1], firmMetrics))
	}
	return fmt.Errorf("%s:%d: rule %q: %s: %s", p.File, e.Line, r.ID, what, msg)
}

// compileCheck compiles the plan once, and checks what the compiler cannot:
// fired() names an earlier firm rule with a literal month offset ≥ 0, and
// collects each rule's referenced metrics.
func (p *Plan) compileCheck() error {
	if _, err := p.compile(func(string, int) bool { return false }); err != nil {
		return err
	}
	index := map[string]int{}
	for i, r := range p.Rules {
		index[r.ID] = i
	}
	for i, r := range p.Rules {
		names := map[string]bool{}
		for _, n := range r.metricNames() {
			names[n] = true
		}
		for _, d := range r.Define {
			names[d.Name] = true
		}
		seen := map[string]bool{}
		for _, name := range r.Values {
			if !names[name] || name == "firms" {
				return fmt.Errorf("%s: rule %q: values: unknown metric %q%s", p.File, r.ID, name, didYouMean(name, r.metricNames()))
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

			for _, call := range v.fired {
				target, k := call.rule, call.k
				j, ok := index[target]
				switch {
				case call.err != "":
					return fmt.Errorf("%s:%d: rule %q: %s", p.File, e.Line, r.ID, call.err)
				case !ok:
					return fmt.Errorf("%s:%d: rule %q: fired(%q, …): no such rule%s", p.File, e.Line, r.ID, target, didYouMean(target, ruleIDs(p.Rules[:i])))
				case j >= i:
					return fmt.Errorf("%s:%d: rule %q: fired(%q, …): a rule may only ask about rules above it", p.File, e.Line, r.ID, target)
				case r.Scope != ScopeFirm || p.Rules[j].Scope != ScopeFirm:
					return fmt.Errorf("%s:%d: rule %q: fired() is for firm rules about firm rules", p.File, e.Line, r.ID)
				case k < 0:
					return fmt.Errorf("%s:%d: rule %q: fired(%q, %d): months ago must be 0 or more", p.File, e.Line, r.ID, target, k)
				}
				p.Rules[j].tracked = true
			}
		}
		for _, name := range r.Values {
			if !seen[name] {
				seen[name] = true
				r.refs = append(r.refs, name)
			}
		}
	}
	return nil
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
	k    int
	err  string
}

// refVisitor collects the metrics an expression reads (not inside a
// predicate over firms, whose fields belong to each firm) and its fired calls.
type refVisitor struct {
	names map[string]bool
	seen  map[string]bool
	refs  []string
	fired []firedCall
}

func (v *refVisitor) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
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
		} else if k, ok := n.Arguments[1].(*ast.IntegerNode); !ok {
			call.err = "fired's months ago must be a whole number"
		} else {
			call.rule, call.k = s.Value, k.Value
		}
		v.fired = append(v.fired, call)
	}
}
