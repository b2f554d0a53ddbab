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

// split divides ds (and shared's held provinces) by plan. A dataset's
// firms are sorted by province, so each run of provinces under one plan is
// a view of ds (its rows shared, not copied); when one plan applies to
// everything, ds itself is the one part.
func (s *PlanSet) split(ds *Dataset, shared *Shared) []setPart {
	var parts []setPart
	runProvs := map[string]int{} // province → its part
	for lo := 0; lo < len(ds.firms); {
		p := s.For(ds.pref[lo])
		hi := lo + 1
		for hi < len(ds.firms) && s.For(ds.pref[hi]) == p {
			hi++
		}
		if p != nil {
			for f := lo; f < hi; f++ {
				runProvs[region.ProvinceOf(ds.pref[f])] = len(parts)
			}
			parts = append(parts, setPart{plan: p, ds: ds.view(lo, hi)})
		}
		lo = hi
	}
	if shared != nil {
		// each held province's rules run in exactly one part: the one with
		// its firms, else a part of no firms under its plan
		held := make([]string, 0, len(shared.Provinces))
		for prov := range shared.Provinces {
			held = append(held, prov)
		}
		sort.Strings(held)
		for _, prov := range held {
			p := s.For(prov)
			if p == nil {
				continue
			}
			i, ok := runProvs[prov]
			if !ok {
				i = len(parts)
				parts = append(parts, setPart{plan: p, ds: ds.view(0, 0)})
			}
			if parts[i].shared == nil {
				sh := *shared
				sh.Provinces = map[string]map[string][]RegionSums{}
				parts[i].shared = &sh
			}
			parts[i].shared.Provinces[prov] = shared.Provinces[prov]
		}
		for i := range parts {
			if parts[i].shared == nil {
				sh := *shared
				sh.Provinces = map[string]map[string][]RegionSums{}
				parts[i].shared = &sh
			}
		}
	}
	if len(parts) == 1 && parts[0].ds.off == ds.off && len(parts[0].ds.firms) == len(ds.firms) &&
		(shared == nil || len(parts[0].shared.Provinces) == len(shared.Provinces)) {
		return []setPart{{plan: parts[0].plan, ds: ds, shared: shared}}
	}
	return parts
}

// view is the dataset of firms lo … hi−1 (the same window and latest
// month), sharing d's rows: for evaluation only.
func (d *Dataset) view(lo, hi int) *Dataset {
	out := &Dataset{firms: d.firms[lo:hi:hi], pref: d.pref[lo:hi:hi], index: make(map[string]int, hi-lo),
		start: d.start, months: d.months, latest: d.latest, recs: d.recs, stride: d.stride, off: d.off + lo}
	for i, f := range out.firms {
		out.index[f.ID] = i
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
