// Package planeval judges risk plans against the truth: it runs each plan
// over a dataset with the detector's own evaluation, scores the firings
// against labels (detector.Score), optionally routes them as the alert
// component would to count each official's workload, and prints the plans
// side by side — what `layoffwatch plan eval`, `make bench-quality` and the
// demo's quality table show.
package planeval

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Run evaluates each candidate — a plan, or a set of plans, one per
// province — over ds for the months from … to and scores it against labels;
// with a router, it also counts the warnings each official would receive.
func Run(plans []*detector.PlanSet, names []string, ds *detector.Dataset, labels []label.Label, from, to report.Period, router *alerts.Router) ([]*Result, error) {
	var out []*Result
	for i, set := range plans {
		firings, err := set.Evaluate(ds, detector.EvalOptions{From: from, To: to})
		if err != nil {
			return nil, err
		}
		r := result(names[i], detector.Score(ds, firings, labels, from, to))
		if router != nil {
			r.PerOfficialMonth = officialsWorkload(router, ds, firings, from, to)
		}
		out = append(out, r)
	}
	return out, nil
}

// WriteJSON prints the results as JSON.
func WriteJSON(w io.Writer, results []*Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(results)
}

// Result is one plan's figures, as printed and as JSON.
type Result struct {
	Plan             string            `json:"plan"`
	Events           int               `json:"events"`
	Caught           int               `json:"caught"`
	Recall           float64           `json:"recall"`
	RecallByKind     map[string][2]int `json:"recall_by_kind"` // kind → [events, caught]
	QuietFirmMonths  int               `json:"quiet_firm_months"`
	FalseFirm        [4]int            `json:"false_firm_warnings_by_level"`
	FalseFirmPer1000 float64           `json:"false_firm_warnings_per_1000_quiet_firm_months"`
	FalseRegion      [4]int            `json:"false_region_warnings_by_level"`
	FalseHigh        int               `json:"false_warnings_level_i_ii"`
	HighOnSeasonal   int               `json:"level_i_ii_warnings_on_seasonal_dips"`
	Warnings         [4]int            `json:"warnings_by_level"`
	Precision        [4]float64        `json:"precision_by_level"`
	FalseByNegKind   map[string]int    `json:"false_warnings_by_negative_label"`
	FalseByRule      map[string][4]int `json:"false_warnings_by_rule"`
	LatencyMonths    []int             `json:"months_to_first_warning_slow_events"`
	Missed           []string          `json:"missed"`
	PerOfficialMonth *Workload         `json:"warnings_per_official_per_month,omitempty"`
	Quality          *detector.Quality `json:"-"`
}

// Workload is the warnings an official receives a month, over the officials who receive any.
type Workload struct {
	Officials int     `json:"officials"`
	Median    float64 `json:"median"`
	P90       float64 `json:"p90"`
	Max       float64 `json:"max"`
}

func result(path string, q *detector.Quality) *Result {
	r := &Result{Plan: path, Events: q.Events, Caught: q.Caught, Recall: q.Recall(), QuietFirmMonths: q.QuietMonths,
		FalseFirmPer1000: q.FalseFirmPer1000(), FalseHigh: q.FalseHigh(), HighOnSeasonal: q.HighOnSeasonal,
		RecallByKind: map[string][2]int{}, FalseByNegKind: map[string]int{}, FalseByRule: map[string][4]int{},
		LatencyMonths: q.Latency, Quality: q}
	for k, v := range q.ByKind {
		r.RecallByKind[string(k)] = [2]int{v.Events, v.Caught}
	}
	for i := 0; i < 4; i++ {
		r.FalseFirm[i], r.FalseRegion[i], r.Warnings[i] = q.FalseFirm[i+1], q.FalseRegion[i+1], q.Warnings[i+1]
		r.Precision[i] = q.Precision(i + 1)
	}
	for k, v := range q.FalseByNegKind {
		name := string(k)
		if name == "" {
			name = "unlabelled"
		}
		r.FalseByNegKind[name] = v
	}
	for rule, v := range q.FalseRules {
		r.FalseByRule[rule] = [4]int{v[1], v[2], v[3], v[4]}
	}
	for _, l := range q.Missed {
		r.Missed = append(r.Missed, l.String())
	}
	return r
}

// officialsWorkload routes every warning as the alert component would (by
// default, without escalation) and summarises warnings per official per
// month.
func officialsWorkload(router *alerts.Router, ds *detector.Dataset, firings []detector.Firing, from, to report.Period) *Workload {
	regionOf := map[string][2]string{}
	for _, f := range ds.Firms() {
		regionOf[f.ID] = [2]string{f.Region, f.Industry}
	}
	perOfficial := map[string]int{}
	for _, fr := range firings {
		if fr.Period < from || fr.Period > to {
			continue
		}
		e := alertevent.Event{Rule: fr.Rule, Scope: fr.Scope, Key: fr.Key, Period: fr.Period.String(), Level: fr.Level}
		if fr.Scope == alertevent.ScopeFirm {
			ri := regionOf[fr.Key]
			e.Region, e.Industry = ri[0], ri[1]
		} else {
			e.Region, e.Industry, _ = strings.Cut(fr.Key, "/")
		}
		for _, who := range router.Recipients(e) {
			perOfficial[who]++
		}
	}
	months := float64(int(to-from) + 1)
	var rates []float64
	for _, n := range perOfficial {
		rates = append(rates, float64(n)/months)
	}
	if len(rates) == 0 {
		return &Workload{}
	}
	sort.Float64s(rates)
	q := func(p float64) float64 { return rates[min(len(rates)-1, int(p*float64(len(rates))))] }
	return &Workload{Officials: len(rates), Median: q(0.5), P90: q(0.9), Max: rates[len(rates)-1]}
}

// WriteTable prints the results side by side.
func WriteTable(w io.Writer, ds *detector.Dataset, labels []label.Label, from, to report.Period, results []*Result) error {
	fmt.Fprintf(w, "plan eval: %d firms, %s … %s (%d months), %d labels\n\n", len(ds.Firms()), from, to, int(to-from)+1, len(labels))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, cell func(r *Result) string) {
		cells := []string{name}
		for _, r := range results {
			cells = append(cells, cell(r))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	head := []string{""}
	for _, r := range results {
		head = append(head, shortPlan(r.Plan))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	kinds := map[string]bool{}
	for _, r := range results {
		for k := range r.RecallByKind {
			kinds[k] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(kinds)) {
		row("recall "+k, func(r *Result) string {
			v := r.RecallByKind[k]
			return fmt.Sprintf("%d/%d", v[1], v[0])
		})
	}
	row("recall, all events", func(r *Result) string { return fmt.Sprintf("%d/%d %.1f%%", r.Caught, r.Events, 100*r.Recall) })
	row("false firm warnings /1000 quiet firm-months", func(r *Result) string { return fmt.Sprintf("%.2f", r.FalseFirmPer1000) })
	row("  by level I/II/III/IV", func(r *Result) string { return levels(r.FalseFirm) })
	row("false region warnings I/II/III/IV", func(r *Result) string { return levels(r.FalseRegion) })
	row("false warnings at level I–II", func(r *Result) string { return fmt.Sprint(r.FalseHigh) })
	row("level I–II on seasonal dips", func(r *Result) string { return fmt.Sprint(r.HighOnSeasonal) })
	row("warnings I/II/III/IV", func(r *Result) string { return levels(r.Warnings) })
	row("precision I/II/III/IV", func(r *Result) string {
		p := make([]string, 4)
		for i, v := range r.Precision {
			p[i] = fmt.Sprintf("%.0f%%", 100*v)
		}
		return strings.Join(p, "/")
	})
	row("months to first warning (slow events)", func(r *Result) string { return latency(r.LatencyMonths) })
	if results[0].PerOfficialMonth != nil {
		row("warnings per official a month: median/p90/max", func(r *Result) string {
			o := r.PerOfficialMonth
			return fmt.Sprintf("%.1f/%.1f/%.1f", o.Median, o.P90, o.Max)
		})
	}
	for _, neg := range []string{"seasonal", "data_error", "nothing", "false_alarm", "unlabelled"} {
		row("false warnings on "+neg, func(r *Result) string { return fmt.Sprint(r.FalseByNegKind[neg]) })
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range results {
		if len(r.FalseByRule) > 0 {
			fmt.Fprintf(w, "\n%s — false warnings by rule (I/II/III/IV):", shortPlan(r.Plan))
			for _, rule := range slices.Sorted(maps.Keys(r.FalseByRule)) {
				fmt.Fprintf(w, " %s %s", rule, levels(r.FalseByRule[rule]))
			}
			fmt.Fprintln(w)
		}
		if len(r.Missed) > 0 {
			fmt.Fprintf(w, "%s — missed %d:\n", shortPlan(r.Plan), len(r.Missed))
			for i, m := range r.Missed {
				if i == 10 {
					fmt.Fprintf(w, "  … and %d more\n", len(r.Missed)-10)
					break
				}
				fmt.Fprintf(w, "  %s\n", m)
			}
		}
	}
	return nil
}

func levels(v [4]int) string { return fmt.Sprintf("%d/%d/%d/%d", v[0], v[1], v[2], v[3]) }

func latency(v []int) string {
	if len(v) == 0 {
		return "-"
	}
	s := slices.Sorted(slices.Values(v))
	return fmt.Sprintf("median %d, max %d", s[len(s)/2], s[len(s)-1])
}

func shortPlan(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		path = path[i+1:]
	}
	return strings.TrimSuffix(path, ".yaml")
}
