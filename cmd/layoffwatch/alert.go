package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
)

type alertCmd struct {
	alerts.Options `embed:""`
}

func (c *alertCmd) Run(e *env) error { return alerts.Run(e.ctx, c.Options, e.log, e.reg) }

type alertsCmd struct {
	List alertsListCmd `cmd:"" help:"List open alerts with their acknowledgements; OLD says why a warning about a month past the alert horizon came late."`
	Ack  alertsAckCmd  `cmd:"" help:"Acknowledge an alert."`
	// Labels exports the console's verdicts for plan eval.
	Labels alertsLabelsCmd `cmd:"" help:"Export the verdicts of closed cases as ground-truth labels (CSV) for plan eval."`
}

type alertsListCmd struct {
	ClickHouse chdb.Options `embed:""`
	JSON       bool         `help:"Print JSON lines instead of a table."`
}

func (c *alertsListCmd) Run(e *env) error {
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	list, err := alerts.ListOpen(e.ctx, ch)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetEscapeHTML(false)
		for _, a := range list {
			if err := enc.Encode(a); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ALERT\tLEVEL\tPERIOD\tOLD\tRULE\tSUBJECT\tSUMMARY\tACKED BY")
	now := time.Now()
	for _, a := range list {
		// OLD: why a warning about a month past the alert horizon came
		// late (told in a summary, never escalated); "-" when current
		old := a.Old
		if old == "" && !a.Urgent(now) {
			old = "past_horizon"
		}
		if old == "" {
			old = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Level, a.Period, old, a.Rule, a.Subject, a.SummaryZh, a.AckedBy)
	}
	return tw.Flush()
}

type alertsAckCmd struct {
	ClickHouse chdb.Options `embed:""`
	ID         string       `arg:"" help:"Alert id (from alerts list or the email)."`
	By         string       `help:"Who acknowledges." required:""`
	Comment    string       `help:"What is being done (≤ 500 characters)."`
}

func (c *alertsAckCmd) Run(e *env) error {
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := alerts.Ack(e.ctx, ch, c.ID, c.By, c.Comment, time.Now()); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "acknowledged %s by %s\n", c.ID, c.By)
	return err
}

type silencesCmd struct {
	Add    silencesAddCmd    `cmd:"" help:"Mute alerts by region, rule or firm for a time; muted alerts are still recorded."`
	List   silencesListCmd   `cmd:"" help:"List silences."`
	Expire silencesExpireCmd `cmd:"" help:"End a silence now."`
}

type silencesAddCmd struct {
	ClickHouse chdb.Options  `embed:""`
	Region     string        `help:"A region code: mutes it and every region inside it."`
	Rule       string        `help:"A rule id."`
	Firm       string        `help:"A firm id."`
	Starts     time.Time     `help:"Start (RFC 3339; default now)."`
	For        time.Duration `help:"How long." default:"24h"`
	Author     string        `help:"Who mutes." required:""`
	Reason     string        `help:"Why." required:""`
}

func (c *silencesAddCmd) Run(e *env) error {
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	now := time.Now()
	start := c.Starts
	if start.IsZero() {
		start = now
	}
	s, err := alerts.AddSilence(e.ctx, ch, alerts.Silence{Region: c.Region, Rule: c.Rule, FirmID: c.Firm,
		Starts: start, Ends: start.Add(c.For), Author: c.Author, Reason: c.Reason}, now)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "silence %s until %s\n", s.ID, s.Ends.Format(time.RFC3339))
	return err
}

type silencesListCmd struct {
	ClickHouse chdb.Options `embed:""`
}

func (c *silencesListCmd) Run(e *env) error {
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	list, err := alerts.Silences(e.ctx, ch)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tREGION\tRULE\tFIRM\tFROM\tUNTIL\tACTIVE\tAUTHOR\tREASON")
	now := time.Now()
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", s.ID, s.Region, s.Rule, s.FirmID,
			s.Starts.Format(time.RFC3339), s.Ends.Format(time.RFC3339), s.Active(now), s.Author, s.Reason)
	}
	return tw.Flush()
}

type silencesExpireCmd struct {
	ClickHouse chdb.Options `embed:""`
	ID         string       `arg:""`
}

func (c *silencesExpireCmd) Run(e *env) error {
	ch, err := chdb.Open(e.ctx, c.ClickHouse, e.log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := alerts.ExpireSilence(e.ctx, ch, c.ID, time.Now()); err != nil {
		return err
	}
	_, err = fmt.Fprintf(e.stdout, "silence %s expired\n", c.ID)
	return err
}
