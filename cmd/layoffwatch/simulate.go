package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/demo"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// simOptions are the flags that shape a simulated province.
type simOptions struct {
	Seed      int64   `help:"Random seed: the same seed gives the same province." default:"1"`
	NumFirms  int     `help:"Firms in the monitored sample." default:"2000" name:"firms"`
	Months    int     `help:"Months of reports." default:"24"`
	End       string  `help:"Last reported month, YYYY-MM (default: last month, Asia/Shanghai)."`
	Layoffs   int     `help:"Planted layoff events." default:"12"`
	Revisions float64 `help:"Share of reports corrected later by a revision 2." default:"0.01"`
	Missing   float64 `help:"Share of firm-months with no report." default:"0.005"`
}

func (o simOptions) build(now time.Time) (*simulate.Simulation, error) {
	end := report.PeriodOf(now.In(report.Shanghai())).Add(-1)
	if o.End != "" {
		p, err := report.ParsePeriod(o.End)
		if err != nil {
			return nil, fmt.Errorf("--end: %w", err)
		}
		end = p
	}
	opts := simulate.DefaultOptions()
	opts.Seed, opts.Firms, opts.Months, opts.Layoffs = o.Seed, o.NumFirms, o.Months, o.Layoffs
	opts.Revisions, opts.MissingRate = o.Revisions, o.Missing
	opts.Start = end.Add(1 - o.Months)
	sim, err := simulate.New(opts)
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	return sim, nil
}

type simulateCmd struct {
	simOptions `embed:""`
	Out        string            `help:"Directory for firms.csv, events.jsonl and (with --to=file) reports.jsonl." default:"." type:"path"`
	To         string            `help:"Where reports go: file (reports.jsonl) or kafka." default:"file" enum:"file,kafka"`
	Kafka      kafkautil.Options `embed:""`
	Topic      string            `help:"Topic for --to=kafka." default:"reports"`
}

func (c *simulateCmd) Run(e *env) error {
	sim, err := c.build(time.Now())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.Out, 0o750); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	if err := writeSimFiles(c.Out, sim); err != nil {
		return err
	}
	var n int
	switch c.To {
	case "file":
		n, err = writeReportsFile(filepath.Join(c.Out, "reports.jsonl"), sim, e.stderr)
	case "kafka":
		if err = c.Kafka.Validate(); err != nil {
			return err
		}
		if err = kafkautil.EnsureTopics(e.ctx, c.Kafka, c.Topic); err != nil {
			return err
		}
		w := kafkautil.NewWriter(c.Kafka, c.Topic, e.log)
		n, err = demo.Produce(e.ctx, w, sim.Reports, sim.Count(), e.stderr)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "simulated %d firms over %s … %s: %d reports to %s, %d planted events (%s)\n",
		len(sim.Firms()), sim.Options().Start, sim.End(), n, c.To, len(sim.Events()), filepath.Join(c.Out, "events.jsonl"))
	printEvents(e.stdout, sim.Events())
	return nil
}

// writeSimFiles writes firms.csv and events.jsonl into dir.
func writeSimFiles(dir string, sim *simulate.Simulation) error {
	if err := writeFile(filepath.Join(dir, "firms.csv"), func(w io.Writer) error { return firms.WriteCSV(w, sim.Firms()) }); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "events.jsonl"), func(w io.Writer) error { return simulate.WriteEventsJSONL(w, sim.Events()) })
}

func writeFile(path string, fill func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	err = fill(bw)
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeReportsFile(path string, sim *simulate.Simulation, stderr io.Writer) (int, error) {
	bar := demo.NewProgress(stderr, sim.Count(), "writing reports")
	var n int
	err := writeFile(path, func(w io.Writer) error {
		var err error
		n, err = simulate.WriteJSONL(w, func(yield func(report.Report) bool) {
			for r := range sim.Reports {
				if !yield(r) {
					return
				}
				_ = bar.Add(1)
			}
		})
		return err
	})
	_ = bar.Finish()
	return n, err
}

func printEvents(w io.Writer, events []simulate.Event) {
	if len(events) == 0 {
		return
	}
	fmt.Fprintln(w, "planted events:")
	for _, ev := range events {
		fmt.Fprintf(w, "  %s  %-14s county %s  %d firm(s)  headcount %d → %d over %d month(s)\n",
			ev.Period, ev.Kind, ev.Region, len(ev.Firms), ev.Before(), ev.After(), ev.Months)
	}
}
