package detector

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"text/template"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Summaries render a rule's one-line summary for a firing, e.g.
// "{{.firms_cutting}}家企业同月减员超过30%". Values are the firing's values;
// pct formats a rate as a percentage and n a number without decimals.
var summaryFuncs = template.FuncMap{
	"pct": func(v any) string { return fmt.Sprintf("%.1f%%", toFloat(v)*100) },
	"n":   func(v any) string { return fmt.Sprintf("%.0f", toFloat(v)) },
	"abs": func(v any) float64 { return math.Abs(toFloat(v)) },
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

// summaryTemplates parses a rule's summaries; empty ones fall back to the
// title. Execution is checked with every value present as zero, so a typo in
// a name fails when the plan loads, never when an alert is sent.
func (r *Rule) summaryTemplates() (zh, en *template.Template, err error) {
	parse := func(lang, src, fallback string) (*template.Template, error) {
		if src == "" {
			src = fallback
		}
		t, err := template.New(r.ID + "." + lang).Funcs(summaryFuncs).Option("missingkey=error").Parse(src)
		if err != nil {
			return nil, fmt.Errorf("summary.%s: %w", lang, err)
		}
		sample := map[string]any{}
		for _, name := range r.refs {
			sample[name] = 0.0
		}
		for _, d := range r.Define {
			sample[d.Name] = 0.0
		}
		if err := t.Execute(&strings.Builder{}, sample); err != nil {
			return nil, fmt.Errorf("summary.%s: %w (values: %s)", lang, err, strings.Join(r.refs, ", "))
		}
		return t, nil
	}
	if zh, err = parse("zh", r.Summary.Zh, r.Title.Zh); err != nil {
		return nil, nil, err
	}
	if en, err = parse("en", r.Summary.En, r.Title.En); err != nil {
		return nil, nil, err
	}
	return zh, en, nil
}

// Summarize renders the rule's summary in both languages for a firing.
func (p *Plan) Summarize(f Firing) (zh, en string) {
	t := p.summaries[f.Rule]
	if t.zh == nil {
		return f.Rule, f.Rule
	}
	var a, b strings.Builder
	if t.zh.Execute(&a, f.Values) != nil || t.en.Execute(&b, f.Values) != nil {
		r, _ := p.Rule(f.Rule)
		return r.Title.Zh, r.Title.En
	}
	return a.String(), b.String()
}

// Event describes a firing as the first event of a new alert (version 1,
// firing) at time at: what it is, where, the plan's words and its level's
// facts. firm is the firm of a firm firing (ignored for region firings);
// regions names regions. The daemon's events and test fixtures' come from
// here.
func (p *Plan) Event(f Firing, firm firms.Firm, regions *region.Table, at time.Time) alertevent.Event {
	values, _ := json.Marshal(f.Values)
	e := alertevent.Event{ID: alertevent.ID(f.Rule, f.Scope, f.Key, f.Period.String()), Version: 1, Kind: alertevent.Firing,
		Rule: f.Rule, Scope: f.Scope, Key: f.Key, Period: f.Period.String(), Level: f.Level, LevelFacts: p.Levels[f.Level],
		Values: values, Reported: uint32(f.Reported), Expected: uint32(f.Expected), Plan: p.File, At: at.UTC()}
	if r, ok := p.Rule(f.Rule); ok {
		e.TitleZh, e.TitleEn = r.Title.Zh, r.Title.En
	}
	e.SummaryZh, e.SummaryEn = p.Summarize(f)
	if f.Scope == alertevent.ScopeFirm {
		e.Region, e.Industry, e.Subject = firm.Region, firm.Industry, firm.Name
	} else {
		e.Region, e.Industry, _ = strings.Cut(f.Key, "/")
		if r, ok := regions.Lookup(e.Region); ok {
			e.Subject = r.Name
		}
	}
	if e.Region != region.ProvinceOf(e.Region) {
		e.Prefecture = region.PrefectureOf(e.Region)
	}
	return e
}
