package detector

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// A deployment serving several provinces gives each its own plan: a plan
// file names the provinces it applies to (`provinces: ["620000"]`), and at
// most one plan names none — it applies to every province no other plan
// claims. The detector, `plan test` and `plan eval` take the same set:
//
//	--plan gansu.yaml --plan hubei.yaml --plan default.yaml   (or a directory of them)
//	firms ──by province──▶ the plan of their province ──Evaluate──▶ firings, each with its plan
//
// Every metric, peer group and region rule stays within one province, so a
// province's firings are what its plan alone would raise over its firms.

// PlanSet is the checked plans of a deployment, one per province.
type PlanSet struct {
	Plans      []*Plan          // in the order given
	byProvince map[string]*Plan // the provinces plans name
	rest       *Plan            // the plan naming no province (nil: none)
}

// checkProvinces checks a plan's provinces key: province codes of the
// region table, each once.
func checkProvinces(codes []string) ([]string, error) {
	table := region.China()
	seen := map[string]bool{}
	for _, c := range codes {
		r, ok := table.Lookup(c)
		switch {
		case !ok:
			return nil, fmt.Errorf("%q is not a GB/T 2260 division code", c)
		case r.Level != region.Province:
			return nil, fmt.Errorf("%s (%s) is not a province: give its province's code, %s", c, r.Name, region.ProvinceOf(c))
		case seen[c]:
			return nil, fmt.Errorf("province %s is named twice", c)
		}
		seen[c] = true
	}
	return slices.Clone(codes), nil
}

// NewPlanSet checks that no two plans claim one province and at most one
// plan claims none.
func NewPlanSet(plans []*Plan) (*PlanSet, error) {
	if len(plans) == 0 {
		return nil, errors.New("no risk plan given")
	}
	s := &PlanSet{Plans: plans, byProvince: map[string]*Plan{}}
	names := region.China()
	for _, p := range plans {
		if len(p.Provinces) == 0 {
			if s.rest != nil {
				return nil, fmt.Errorf("%s and %s both name no provinces (each would apply to every province no other plan claims): give one of them a provinces key", s.rest.File, p.File)
			}
			s.rest = p
			continue
		}
		for _, prov := range p.Provinces {
			if q, ok := s.byProvince[prov]; ok {
				name, _ := names.Lookup(prov)
				return nil, fmt.Errorf("%s and %s both claim province %s (%s): a province has one plan", q.File, p.File, prov, name.Name)
			}
			s.byProvince[prov] = p
		}
	}
	return s, nil
}

// SinglePlan is the set of one plan (which applies to every province it
// names, or to all).
func SinglePlan(p *Plan) *PlanSet {
	s, _ := NewPlanSet([]*Plan{p})
	return s
}

// PlanFiles expands paths — plan files, or directories whose *.yaml and
// *.yml files are plans — into plan files, in order (a directory's sorted).
func PlanFiles(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read plan: %w", err)
		}
		if !fi.IsDir() {
			out = append(out, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, fmt.Errorf("read plan directory: %w", err)
		}
		n := len(out)
		for _, e := range entries {
			if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
				out = append(out, filepath.Join(p, e.Name()))
			}
		}
		if len(out) == n {
			return nil, fmt.Errorf("plan directory %s has no .yaml files", p)
		}
	}
	return out, nil
}

// LoadPlans loads the plans of paths (files or directories, see PlanFiles)
// as one set.
func LoadPlans(paths ...string) (*PlanSet, error) {
	files, err := PlanFiles(paths)
	if err != nil {
		return nil, err
	}
	plans := make([]*Plan, len(files))
	for i, f := range files {
		if plans[i], err = LoadPlan(f); err != nil {
			return nil, err
		}
	}
	return NewPlanSet(plans)
}

// For returns the plan of the province of code (a province, prefecture or
// county), nil when no plan applies to it.
func (s *PlanSet) For(code string) *Plan {
	if p, ok := s.byProvince[region.ProvinceOf(code)]; ok {
		return p
	}
	return s.rest
}

// Files are the plans' files, in order.
func (s *PlanSet) Files() []string {
	out := make([]string, len(s.Plans))
	for i, p := range s.Plans {
		out[i] = p.File
	}
	return out
}

// CheckSharded checks every plan can be evaluated by a sharded detector.
func (s *PlanSet) CheckSharded() error {
	for _, p := range s.Plans {
		if err := p.CheckSharded(); err != nil {
			return err
		}
	}
	return nil
}

// Uncovered returns the provinces of ds's firms that no plan applies to
// (their firms are not evaluated), sorted.
func (s *PlanSet) Uncovered(ds *Dataset) []string {
	var out []string
	for _, prov := range datasetProvinces(ds) {
		if s.For(prov) == nil {
			out = append(out, prov)
		}
	}
	return out
}

func datasetProvinces(ds *Dataset) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range ds.pref {
		if prov := region.ProvinceOf(p); !seen[prov] {
			seen[prov] = true
			out = append(out, prov)
		}
	}
	sort.Strings(out)
	return out
}

// Evaluate evaluates each province's firms with its plan and returns every
// firing (Firing.Plan says whose), sorted by period, rule and key. Firms of
// a province no plan applies to are left out. With opts.Shared, a plan's
// province rules run for the held provinces it applies to.
func (s *PlanSet) Evaluate(ds *Dataset, opts EvalOptions) ([]Firing, error) {
	var out []Firing
	for _, part := range s.split(ds, opts.Shared) {
		ev, err := NewEvaluator(part.plan)
		if err != nil {
			return nil, err
		}
		o := opts
		o.Shared = part.shared
		firings, err := ev.Evaluate(part.ds, o)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", part.plan.File, err)
		}
		for i := range firings {
			firings[i].Plan = part.plan
		}
		out = append(out, firings...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Period != b.Period {
			return a.Period < b.Period
		}
		if a.Rule != b.Rule {
			return a.Rule < b.Rule
		}
		return a.Key < b.Key
	})
	return out, nil
}

// setPart is the firms (and held provinces) one plan evaluates.
type setPart struct {
	plan   *Plan
	ds     *Dataset
	shared *Shared
}

// split divides ds (and shared's held provinces) by plan. When one plan
// applies to everything, ds itself is its part (no copy); otherwise each
// part is a copy of its firms' rows, made for the one evaluation.
func (s *PlanSet) split(ds *Dataset, shared *Shared) []setPart {
	provs := datasetProvinces(ds)
	if shared != nil {
		for prov := range shared.Provinces {
			provs = append(provs, prov)
		}
	}
	var order []*Plan
	seen := map[*Plan]bool{}
	covered := true
	for _, prov := range provs {
		p := s.For(prov)
		if p == nil {
			covered = false
			continue
		}
		if !seen[p] {
			seen[p] = true
			order = append(order, p)
		}
	}
	if len(order) == 1 && covered {
		return []setPart{{plan: order[0], ds: ds, shared: shared}}
	}
	// in the set's order, so that evaluation is the same every time
	var parts []setPart
	for _, p := range s.Plans {
		if !seen[p] {
			continue
		}
		part := setPart{plan: p, ds: ds.subset(func(f int) bool { return s.For(ds.pref[f]) == p })}
		if shared != nil {
			sh := *shared
			sh.Provinces = map[string]map[string][]RegionSums{}
			for prov, sums := range shared.Provinces {
				if s.For(prov) == p {
					sh.Provinces[prov] = sums
				}
			}
			part.shared = &sh
		}
		parts = append(parts, part)
	}
	return parts
}

// subset is a copy of the dataset with the firms keep accepts (the same
// window and latest month).
func (d *Dataset) subset(keep func(f int) bool) *Dataset {
	var idx []int
	for f := range d.firms {
		if keep(f) {
			idx = append(idx, f)
		}
	}
	out := &Dataset{firms: make([]firms.Firm, len(idx)), pref: make([]string, len(idx)), index: make(map[string]int, len(idx)),
		start: d.start, months: d.months, latest: d.latest, recs: make([]monthRec, len(idx)*d.months)}
	for i, f := range idx {
		out.firms[i], out.pref[i] = d.firms[f], d.pref[f]
		out.index[d.firms[f].ID] = i
	}
	nf, n := len(d.firms), len(idx)
	for m := range d.months {
		for i, f := range idx {
			out.recs[m*n+i] = d.recs[m*nf+f]
		}
	}
	return out
}

// describe names the set for logs: its files and the provinces each has.
func (s *PlanSet) describe() string {
	var b strings.Builder
	for i, p := range s.Plans {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.File)
		if len(p.Provinces) == 0 {
			b.WriteString(" (other provinces)")
		} else {
			fmt.Fprintf(&b, " (%s)", strings.Join(p.Provinces, ","))
		}
	}
	return b.String()
}

// WriteFirings prints firings as JSON lines, as `plan test` does: with the
// file of the plan that raised each when the set has several plans.
func WriteFirings(w io.Writer, set *PlanSet, firings []Firing) error {
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for _, f := range firings {
		var v any = f
		if len(set.Plans) > 1 && f.Plan != nil {
			v = struct {
				Firing
				Plan string `json:"plan"`
			}{f, f.Plan.File}
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	}
	return out.Flush()
}
