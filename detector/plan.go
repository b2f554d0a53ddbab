// Package detector owns the bureau's risk plans and their evaluation: the
// plan language (YAML rules whose conditions are expr-lang expressions over
// documented metrics), the metrics of a firm and of a region for a month, the
// evaluation of a plan over a dataset of monthly reports, and the live
// `detect` daemon that turns new reports into alert state changes.
//
//	reports (ClickHouse or JSONL) ──▶ Dataset ──▶ Evaluator(plan) ──▶ firings
//	                                                           │
//	      detect: firings ──diff with known alert state──▶ events ──▶ Kafka "alerts" + ClickHouse
//
// It does not notify anyone (alerts/) and does not store reports (ingest/).
package detector

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/agnivade/levenshtein"
	"gopkg.in/yaml.v3"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// Text is a string in Chinese and English.
type Text struct {
	Zh string `yaml:"zh"`
	En string `yaml:"en"`
}

// Rule is one compiled-checked rule of a plan.
type Rule struct {
	ID         string
	Title      Text
	Scope      alertevent.Scope
	ByIndustry bool
	When       Expr // may be empty when Bands decide alone
	Level      alertevent.Level
	Bands      []Band
	Define     []Define
	MinHistory int
	OnMissing  bool     // evaluated for months without a report (else only months with one)
	Values     []string // metrics reported with each firing besides those the conditions read
	Summary    Text     // one line for people, a text/template over the firing's values
	Source     string
	// refs are the metrics and definitions the rule's expressions read, in
	// order of appearance, then those of Values: the values a firing reports.
	refs []string
	// readsFirms: an expression reads the region's firms
	readsFirms bool
	// firmFields are the firm metrics read inside predicates over firms
	// (.z in count(firms, .z < -3))
	firmFields []string
}

// Band is a level with its own condition; the first band that holds wins.
type Band struct {
	Level alertevent.Level
	When  Expr
}

// Param is a named number of the plan.
type Param struct {
	Name  string
	Value float64
	Line  int
}

// Define names an expression a rule's conditions can use and its firings
// report.
type Define struct {
	Name string
	Expr Expr
}

// Expr is an expression with where it stands in the plan file.
type Expr struct {
	Src  string
	Line int
}

// Plan is a loaded, checked risk plan.
type Plan struct {
	File    string
	Version int
	Name    Text
	// Provinces are the province codes (620000) the plan applies to; empty:
	// every province no other plan of the set claims (plans.go).
	Provinces []string
	// Levels are what the plan says about each level; the detector copies
	// them onto every alert event it emits.
	Levels map[alertevent.Level]alertevent.LevelFacts
	// Params are the plan's named thresholds: every rule's expressions can
	// use them, so one edit changes every rule that shares a threshold.
	Params []Param
	Rules  []*Rule

	summaries map[string]summaryPair
	compiled  *Evaluator // the rules compiled, once, by ParsePlan
}

type summaryPair struct{ zh, en *template.Template }

// Rule returns the rule with id.
func (p *Plan) Rule(id string) (*Rule, bool) {
	for _, r := range p.Rules {
		if r.ID == id {
			return r, true
		}
	}
	return nil, false
}

// --- the file format ---------------------------------------------------------

type planFile struct {
	Version   int                  `yaml:"version"`
	Name      Text                 `yaml:"name"`
	Provinces []string             `yaml:"provinces"`
	Params    yaml.Node            `yaml:"params"`
	Levels    map[string]levelFile `yaml:"levels"`
	Rules     []ruleFile           `yaml:"rules"`
	Extra     map[string]any       `yaml:",inline"`
}

type levelFile struct {
	Name     Text   `yaml:"name"`
	Color    string `yaml:"color"`
	Response string `yaml:"response"`
	Action   Text   `yaml:"action"`
}

// maxResponse bounds a level's response deadline (it travels in seconds).
const maxResponse = 365 * 24 * time.Hour

// facts checks a level of the file: a name in both languages (emails and
// dashboards print it), a response deadline or none.
func (lf levelFile) facts() (alertevent.LevelFacts, error) {
	if strings.TrimSpace(lf.Name.Zh) == "" || strings.TrimSpace(lf.Name.En) == "" {
		return alertevent.LevelFacts{}, errors.New("name needs both zh and en")
	}
	f := alertevent.LevelFacts{NameZh: lf.Name.Zh, NameEn: lf.Name.En, Color: lf.Color, ActionZh: lf.Action.Zh, ActionEn: lf.Action.En}
	if lf.Response != "" && lf.Response != "none" {
		d, err := time.ParseDuration(lf.Response)
		if err != nil || d < time.Second || d > maxResponse {
			return f, fmt.Errorf("response %q is not a duration from 1s to 8760h like 2h (or none)", lf.Response)
		}
		f.ResponseSeconds = uint32(d / time.Second)
	}
	return f, nil
}

type ruleFile struct {
	ID         string     `yaml:"id"`
	Title      Text       `yaml:"title"`
	Scope      string     `yaml:"scope"`
	By         string     `yaml:"by"`
	When       exprNode   `yaml:"when"`
	Level      string     `yaml:"level"`
	Levels     []bandFile `yaml:"levels"`
	Define     yaml.Node  `yaml:"define"`
	MinHistory int        `yaml:"min_history"`
	Evaluate   string     `yaml:"evaluate"`
	Values     []string   `yaml:"values"`
	Summary    Text       `yaml:"summary"`
	Source     string     `yaml:"source"`
	line       int
}

type bandFile struct {
	Level string   `yaml:"level"`
	When  exprNode `yaml:"when"`
}

// exprNode keeps an expression's line.
type exprNode struct{ Expr }

func (e *exprNode) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: an expression must be a string", n.Line)
	}
	e.Src, e.Line = n.Value, n.Line
	return nil
}

func (r *ruleFile) UnmarshalYAML(n *yaml.Node) error {
	type plain ruleFile
	var p plain
	if err := decodeStrict(n, &p); err != nil {
		return err
	}
	*r = ruleFile(p)
	r.line = n.Line
	// decodeStrict decoded a copy whose lines count from the rule's first:
	// take the expressions' lines from the file's own nodes
	if v := mapValue(n, "when"); v != nil {
		r.When.Line = v.Line
	}
	if v := mapValue(n, "levels"); v != nil && v.Kind == yaml.SequenceNode && len(v.Content) == len(r.Levels) {
		for i, band := range v.Content {
			if w := mapValue(band, "when"); w != nil {
				r.Levels[i].When.Line = w.Line
			}
		}
	}
	if v := mapValue(n, "define"); v != nil {
		r.Define = *v
	}
	return nil
}

// mapValue returns the value of key in mapping node n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// decodeStrict decodes a node refusing unknown keys (yaml.v3's Node.Decode
// has no KnownFields switch, so the node is re-encoded and decoded strictly;
// the lines in its errors are moved back to the file's numbering, those of
// the nodes it decodes are not).
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return shiftLines(err, n.Line-1)
	}
	return nil
}

var lineRe = regexp.MustCompile(`line (\d+):`)

// shiftLines moves "line N:" in a re-decoded fragment's errors back to the
// file's numbering.
func shiftLines(err error, by int) error {
	msg := lineRe.ReplaceAllStringFunc(err.Error(), func(m string) string {
		n, _ := strconv.Atoi(lineRe.FindStringSubmatch(m)[1])
		return fmt.Sprintf("line %d:", n+by)
	})
	return errors.New(msg)
}

// LoadPlan reads and checks a plan file.
func LoadPlan(path string) (*Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return ParsePlan(path, data)
}

// ParsePlan checks a plan: strict YAML (an unknown key is an error naming
// the line and the nearest valid key), known levels and scopes, and every
// expression compiled and type-checked against the metrics of its scope.
func ParsePlan(file string, data []byte) (*Plan, error) {
	var pf planFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&pf); err != nil {
		return nil, fmt.Errorf("%s: %s", file, suggestKeys(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	for k := range pf.Extra {
		return nil, fmt.Errorf("%s: unknown key %q%s", file, k, didYouMean(k, yamlKeys(reflect.TypeOf(planFile{}))))
	}
	if pf.Version != 1 {
		return nil, fmt.Errorf("%s: version must be 1, got %d", file, pf.Version)
	}
	p := &Plan{File: file, Version: pf.Version, Name: pf.Name, Levels: map[alertevent.Level]alertevent.LevelFacts{}}
	provs, err := checkProvinces(pf.Provinces)
	if err != nil {
		return nil, fmt.Errorf("%s: provinces: %w", file, err)
	}
	p.Provinces = provs
	for name, lf := range pf.Levels {
		lv, err := alertevent.ParseLevel(name)
		if err != nil {
			return nil, fmt.Errorf("%s: levels: %w", file, err)
		}
		facts, err := lf.facts()
		if err != nil {
			return nil, fmt.Errorf("%s: levels: %s: %w", file, name, err)
		}
		p.Levels[lv] = facts
	}
	for _, lv := range alertevent.Levels() {
		if _, ok := p.Levels[lv]; !ok {
			return nil, fmt.Errorf("%s: levels: level %s is not defined", file, lv)
		}
	}
	params, err := parseParams(pf.Params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	p.Params = params
	if len(pf.Rules) == 0 {
		return nil, fmt.Errorf("%s: the plan has no rules", file)
	}
	seen := map[string]int{}
	for i := range pf.Rules {
		rf := &pf.Rules[i]
		r, err := buildRule(rf, seen)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: rule %q: %w", file, rf.line, rf.ID, err)
		}
		seen[r.ID] = rf.line
		p.Rules = append(p.Rules, r)
	}
	programs, err := compile(p)
	if err != nil {
		return nil, err
	}
	p.compiled = newEvaluator(programs)
	p.summaries = map[string]summaryPair{}
	for i, r := range p.Rules {
		zh, en, err := r.summaryTemplates()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: rule %q: %w", file, pf.Rules[i].line, r.ID, err)
		}
		p.summaries[r.ID] = summaryPair{zh, en}
	}
	return p, nil
}

var idRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

func buildRule(rf *ruleFile, seen map[string]int) (*Rule, error) {
	if !idRe.MatchString(rf.ID) {
		return nil, errors.New("id must be lower-case letters, digits and _, starting with a letter")
	}
	if first, dup := seen[rf.ID]; dup {
		return nil, fmt.Errorf("id is used again (first on line %d)", first)
	}
	r := &Rule{ID: rf.ID, Title: rf.Title, When: rf.When.Expr, MinHistory: rf.MinHistory, Source: rf.Source, Values: rf.Values, Summary: rf.Summary}
	if r.Title.Zh == "" || r.Title.En == "" {
		return nil, errors.New("title needs both zh and en")
	}
	if strings.TrimSpace(r.Source) == "" {
		return nil, errors.New("source is required: say where the rule comes from")
	}
	scope, err := alertevent.ParseScope(rf.Scope)
	if err != nil {
		return nil, fmt.Errorf("%w%s", err, didYouMean(rf.Scope, alertevent.ScopeNames()))
	}
	r.Scope = scope
	switch rf.By {
	case "":
	case "industry":
		if r.Scope == alertevent.ScopeFirm {
			return nil, errors.New("by: industry needs a region scope")
		}
		r.ByIndustry = true
	default:
		return nil, fmt.Errorf("by %q: only industry is supported", rf.By)
	}
	switch rf.Evaluate {
	case "", "reported":
	case "missing":
		if r.Scope != alertevent.ScopeFirm {
			return nil, errors.New("evaluate: missing is for firm rules")
		}
		r.OnMissing = true
	default:
		return nil, fmt.Errorf("evaluate %q is not reported or missing", rf.Evaluate)
	}
	if r.MinHistory < 0 {
		return nil, errors.New("min_history must not be negative")
	}
	switch {
	case rf.Level != "" && len(rf.Levels) > 0:
		return nil, errors.New("give either level or levels, not both")
	case rf.Level != "":
		lv, err := alertevent.ParseLevel(rf.Level)
		if err != nil {
			return nil, err
		}
		r.Level = lv
		if r.When.Src == "" {
			return nil, errors.New("when is required with a single level")
		}
	case len(rf.Levels) > 0:
		for i, b := range rf.Levels {
			lv, err := alertevent.ParseLevel(b.Level)
			if err != nil {
				return nil, fmt.Errorf("levels[%d]: %w", i, err)
			}
			if b.When.Src == "" && i != len(rf.Levels)-1 {
				return nil, fmt.Errorf("levels[%d]: only the last band may omit when", i)
			}
			r.Bands = append(r.Bands, Band{Level: lv, When: b.When.Expr})
		}
	default:
		return nil, errors.New("level or levels is required")
	}
	if rf.Define.Kind != 0 {
		if rf.Define.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: define must map names to expressions", rf.Define.Line)
		}
		for i := 0; i+1 < len(rf.Define.Content); i += 2 {
			k, v := rf.Define.Content[i], rf.Define.Content[i+1]
			if !idRe.MatchString(k.Value) {
				return nil, fmt.Errorf("line %d: define: %q must be lower-case letters, digits and _", k.Line, k.Value)
			}
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: define: %s must be an expression", v.Line, k.Value)
			}
			r.Define = append(r.Define, Define{Name: k.Value, Expr: Expr{Src: v.Value, Line: v.Line}})
		}
	}
	return r, nil
}

// --- suggestions ----------------------------------------------------------------

var unknownFieldRe = regexp.MustCompile(`field (\S+) not found in type detector\.(\w+)`)

var fileTypes = map[string]reflect.Type{
	"planFile": reflect.TypeOf(planFile{}), "levelFile": reflect.TypeOf(levelFile{}),
	"plain": reflect.TypeOf(ruleFile{}), "ruleFile": reflect.TypeOf(ruleFile{}),
	"bandFile": reflect.TypeOf(bandFile{}), "Text": reflect.TypeOf(Text{}),
}

// suggestKeys turns yaml.v3's "field x not found in type detector.T" into a
// message that names the nearest valid key.
func suggestKeys(msg string) string {
	return unknownFieldRe.ReplaceAllStringFunc(msg, func(m string) string {
		sub := unknownFieldRe.FindStringSubmatch(m)
		t, ok := fileTypes[sub[2]]
		if !ok {
			return "unknown key " + strconv.Quote(sub[1])
		}
		return "unknown key " + strconv.Quote(sub[1]) + didYouMean(sub[1], yamlKeys(t))
	})
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			keys = append(keys, tag)
		}
	}
	return keys
}

// didYouMean returns `; did you mean "x"?` for the closest candidate, or a
// list of the valid names when none is close.
func didYouMean(name string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		if d := levenshtein.ComputeDistance(name, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" && bestD <= max(2, len(name)/3) {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	return "; valid: " + strings.Join(sorted, ", ")
}

// parseParams reads `params:`, a mapping of names to numbers. A name must
// not shadow a metric.
func parseParams(n yaml.Node) ([]Param, error) {
	if n.Kind == 0 {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: params must map names to numbers", n.Line)
	}
	metricsOf := map[string]bool{}
	for _, name := range append(firmMetrics.names(), regionMetrics.names()...) {
		metricsOf[name] = true
	}
	var out []Param
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case !idRe.MatchString(k.Value):
			return nil, fmt.Errorf("line %d: params: %q must be lower-case letters, digits and _", k.Line, k.Value)
		case metricsOf[k.Value] || k.Value == "fired":
			return nil, fmt.Errorf("line %d: params: %q is the name of a metric; choose another", k.Line, k.Value)
		case seen[k.Value]:
			return nil, fmt.Errorf("line %d: params: %q is given twice", k.Line, k.Value)
		}
		x, err := strconv.ParseFloat(v.Value, 64)
		if v.Kind != yaml.ScalarNode || err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("line %d: params: %s must be a number, got %q", v.Line, k.Value, v.Value)
		}
		seen[k.Value] = true
		out = append(out, Param{Name: k.Value, Value: x, Line: k.Line})
	}
	return out, nil
}
