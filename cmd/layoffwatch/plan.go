package main

import (
	"fmt"
	"strings"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

type planCmd struct {
	Check planCheckCmd `cmd:"" help:"Load and check a risk plan: strict YAML, every condition compiled and type-checked."`
	Test  planTestCmd  `cmd:"" help:"Evaluate a plan over reports (JSON lines) and print every firing as a JSON line."`
	Eval  planEvalCmd  `cmd:"" help:"Judge plans against the truth (labels): recall by event kind, false warnings, precision by level, officials' workload."`
}

type planCheckCmd struct {
	Files []string `arg:"" help:"Plan files (with --set, directories too)." type:"path"`
	Set   bool     `help:"Check the files as one set, as detect loads them: a plan per province, no province claimed twice, at most one plan without provinces."`
}

func (c *planCheckCmd) Run(e *env) error {
	if c.Set {
		set, err := detector.LoadPlans(c.Files...)
		if err != nil {
			return err
		}
		for _, p := range set.Plans {
			provs := "the provinces no other plan claims"
			if len(p.Provinces) > 0 {
				provs = strings.Join(p.Provinces, ", ")
			}
			fmt.Fprintf(e.stdout, "%s: ok, %d rules, for %s\n", p.File, len(p.Rules), provs)
		}
		return nil
	}
	for _, f := range c.Files {
		p, err := detector.LoadPlan(f)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s: ok, %d rules\n", f, len(p.Rules))
	}
	return nil
}

type planTestCmd struct {
	Plans   []string `name:"plan" help:"Plan file, or a directory of plan files; repeat for a plan per province, as detect takes them (a plan's provinces key names its provinces; the one without applies to the rest)." required:"" type:"path"`
	Firms   string   `help:"Registry CSV of monitored firms." required:"" type:"existingfile"`
	Reports string   `help:"Reports as JSON lines (the wire format)." required:"" type:"existingfile"`
	Period  string   `help:"Only this month (YYYY-MM); earlier months still count as history."`
}

func (c *planTestCmd) Run(e *env) error {
	plans, err := detector.LoadPlans(c.Plans...)
	if err != nil {
		return err
	}
	ds, err := detector.LoadFiles(c.Firms, c.Reports)
	if err != nil {
		return err
	}
	if ds.Unknown > 0 {
		e.log.Warn("reports for firms not in the registry were left out", "reports", ds.Unknown)
	}
	if u := plans.Uncovered(ds); len(u) > 0 {
		e.log.Warn("firms of provinces no plan applies to were left out", "provinces", strings.Join(u, ","))
	}
	var opts detector.EvalOptions
	if c.Period != "" {
		p, err := report.ParsePeriod(c.Period)
		if err != nil {
			return fmt.Errorf("--period: %w", err)
		}
		opts.From, opts.To = p, p
	}
	firings, err := plans.Evaluate(ds, opts)
	if err != nil {
		return err
	}
	return detector.WriteFirings(e.stdout, plans, firings)
}
