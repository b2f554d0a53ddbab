package main

import (
	"fmt"
	"strings"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/planeval"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

type planEvalCmd struct {
	Plans   []string `name:"plan" help:"Plan file, a directory of plan files (a plan per province, as detect takes them) or such files joined with +; repeat to compare plans side by side." required:""`
	Firms   string   `help:"Registry CSV of monitored firms." required:"" type:"existingfile"`
	Reports string   `help:"Reports as JSON lines (the wire format)." required:"" type:"existingfile"`
	Labels  string   `help:"Labels CSV: the truth (simulator, officials' verdicts, an analyst's file)." required:"" type:"existingfile"`
	Alerts  string   `help:"Alerts config (recipients and routes): adds the warnings each official would receive a month." type:"existingfile"`
	From    string   `help:"First month judged, YYYY-MM (default: the data's first month)."`
	To      string   `help:"Last month judged, YYYY-MM (default: the data's last month)."`
	Format  string   `help:"Output: text or json." default:"text" enum:"text,json"`
}

func (c *planEvalCmd) Run(e *env) error {
	ds, err := detector.LoadFiles(c.Firms, c.Reports)
	if err != nil {
		return err
	}
	labels, err := label.ReadFile(c.Labels, region.China())
	if err != nil {
		return err
	}
	from, to := ds.Start(), ds.Latest()
	if c.From != "" {
		if from, err = report.ParsePeriod(c.From); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	if c.To != "" {
		if to, err = report.ParsePeriod(c.To); err != nil {
			return fmt.Errorf("--to: %w", err)
		}
	}
	var router *alerts.Router
	if c.Alerts != "" {
		cfg, err := alerts.LoadConfig(c.Alerts)
		if err != nil {
			return err
		}
		router = alerts.NewRouter(cfg)
	}
	plans := make([]*detector.PlanSet, len(c.Plans))
	for i, path := range c.Plans {
		if plans[i], err = detector.LoadPlans(strings.Split(path, "+")...); err != nil {
			return err
		}
	}
	results, err := planeval.Run(plans, c.Plans, ds, labels, from, to, router)
	if err != nil {
		return err
	}
	if c.Format == "json" {
		return planeval.WriteJSON(e.stdout, results)
	}
	return planeval.WriteTable(e.stdout, ds, labels, from, to, results)
}
