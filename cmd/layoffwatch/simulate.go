package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/layoffwatch/layoffwatch/internal/demo"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// simOptions are the flags that shape a simulated province. Their
// defaults come from simulate.DefaultOptions (simVars); docs/simulator.md
// explains each one.
type simOptions struct {
	Seed     int64  `help:"Random seed: the same seed gives the same province." default:"${sim_seed}" group:"Simulation"`
	NumFirms int    `help:"Firms in the monitored sample." default:"${sim_firms}" name:"firms" group:"Simulation"`
	Months   int    `help:"Months of reports." default:"${sim_months}" group:"Simulation"`
	End      string `help:"Last reported month, YYYY-MM (default: last month, Asia/Shanghai)." group:"Simulation"`

	SizeAlpha  float64 `help:"Tail exponent of firm sizes (Pareto)." default:"${sim_size_alpha}" group:"Simulation"`
	MinSize    int     `help:"Smallest baseline headcount (the sample excludes firms under 100 insured staff)." default:"${sim_min_size}" group:"Simulation"`
	MaxSize    int     `help:"Largest baseline headcount." default:"${sim_max_size}" group:"Simulation"`
	JoinShare  float64 `help:"Share of firms that join the sample during the run." default:"${sim_join_share}" group:"Simulation"`
	LeaveShare float64 `help:"Share of firms that leave the sample during the run (not closures)." default:"${sim_leave_share}" group:"Simulation"`

	Turnover  simulate.Range     `help:"Range of firms' monthly separations, share of staff (LO..HI)." default:"${sim_turnover}" group:"Simulation"`
	Reasons   simulate.ReasonMix `help:"Shares of resignation, contract expiry, retirement, transfer, other." default:"${sim_reasons}" group:"Simulation"`
	Vacancies simulate.Range     `help:"Range of firms' open vacancies, share of staff." default:"${sim_vacancies}" group:"Simulation"`

	NoiseScale      float64        `help:"Multiplier of firms' idiosyncratic monthly moves (stress: 2 or 3)." default:"${sim_noise_scale}" group:"Simulation"`
	Noise           simulate.Range `help:"Range of firms' scale of monthly moves (Student-t), for a firm of 300." default:"${sim_noise}" group:"Simulation"`
	NoiseDF         float64        `help:"Degrees of freedom of the Student-t moves (lower: heavier tails)." default:"${sim_noise_df}" name:"noise-df" group:"Simulation"`
	NoiseSizeExp    float64        `help:"How moves shrink with size: scale ∝ (size/300)^-exp." default:"${sim_noise_size_exp}" group:"Simulation"`
	NoiseCap        float64        `help:"Largest idiosyncratic move in a month, share of staff." default:"${sim_noise_cap}" group:"Simulation"`
	CommonNoise     float64        `help:"Standard deviation of the monthly move shared by a prefecture, and by an industry." default:"${sim_common_noise}" group:"Simulation"`
	ShockRate       float64        `help:"Monthly chance of a non-layoff shock (a project ends, temporary staff)." default:"${sim_shock_rate}" group:"Simulation"`
	Shock           simulate.Range `help:"Range of a shock's size, share of staff." default:"${sim_shock}" group:"Simulation"`
	ShockDown       float64        `help:"Share of shocks that take staff away." default:"${sim_shock_down}" group:"Simulation"`
	ShockRevert     float64        `help:"Share of shocks that revert within a few months." default:"${sim_shock_revert}" group:"Simulation"`
	SmallLayoffRate float64        `help:"Monthly chance of a small economic layoff below the art. 41 line." default:"${sim_small_layoff_rate}" group:"Simulation"`
	TrendMean       float64        `help:"Mean yearly drift of firms." default:"${sim_trend_mean}" group:"Simulation"`
	TrendSD         float64        `help:"Spread of firms' yearly drift." default:"${sim_trend_sd}" name:"trend-sd" group:"Simulation"`
	DeclineShare    float64        `help:"Share of firms in slow structural decline." default:"${sim_decline_share}" group:"Simulation"`
	Decline         simulate.Range `help:"Range of their monthly decline." default:"${sim_decline}" group:"Simulation"`

	SeasonDepth       float64        `help:"Multiplier of every seasonal depth (stress: 1.5 or 2)." default:"${sim_season_depth}" group:"Simulation"`
	SeasonYearVar     float64        `help:"Year-to-year spread of seasonal depths (sd of the log factor)." default:"${sim_season_year_var}" group:"Simulation"`
	SeasonShiftProb   float64        `help:"Chance that a season comes a month early or late in a given year and prefecture." default:"${sim_season_shift_prob}" group:"Simulation"`
	Construction      simulate.Range `help:"Range of construction firms' (E) winter dip." default:"${sim_construction}" group:"Simulation"`
	Tourism           simulate.Range `help:"Range of the off-season dip of hospitality and culture (H, R)." default:"${sim_tourism}" group:"Simulation"`
	TourismDeep       simulate.Range `help:"The same around Dunhuang and Jiayuguan (620900, 620200)." default:"${sim_tourism_deep}" group:"Simulation"`
	Farm              simulate.Range `help:"Range of agriculture's (A) winter dip." default:"${sim_farm}" group:"Simulation"`
	Festival          simulate.Range `help:"Range of manufacturing's (C) Spring Festival dip." default:"${sim_festival}" group:"Simulation"`
	FestivalServices  simulate.Range `help:"Range of the Spring Festival dip of mining, trade, transport and services." default:"${sim_festival_services}" group:"Simulation"`
	Graduation        simulate.Range `help:"Range of the July–August graduate intake, share of staff." default:"${sim_graduation}" group:"Simulation"`
	SeasonLabelFirm   float64        `help:"Seasonal fall that earns a firm (or a region's industry) a seasonal label." default:"${sim_season_label_firm}" group:"Simulation"`
	SeasonLabelRegion float64        `help:"Seasonal fall that earns a region's total a seasonal label." default:"${sim_season_label_region}" group:"Simulation"`

	Layoffs        int                  `help:"Planted events, rotating through --event-kinds." default:"${sim_layoffs}" group:"Simulation"`
	EventKinds     []simulate.EventKind `help:"Rotation of planted event kinds (${sim_all_event_kinds}); a kind may repeat." default:"${sim_event_kinds}" group:"Simulation"`
	History        int                  `help:"Months at the start without events (at most half the run)." default:"${sim_history}" group:"Simulation"`
	LayoffSize     simulate.Range       `help:"Range of a layoff's cut, share of staff (never below the art. 41 line unless --below-line)." default:"${sim_layoff_size}" group:"Simulation"`
	BelowLine      float64              `help:"Share of layoff events cut just below the art. 41 line." default:"${sim_below_line}" group:"Simulation"`
	EconomicShare  float64              `help:"Share of event firms reporting their cuts as economic_layoff." default:"${sim_economic_share}" group:"Simulation"`
	ClusterCut     simulate.Range       `help:"Range of each county-cluster member's cut." default:"${sim_cluster_cut}" group:"Simulation"`
	Downturn       simulate.Range       `help:"Range of a regional downturn's monthly loss per firm hit." default:"${sim_downturn}" group:"Simulation"`
	DownturnMonths simulate.IntRange    `help:"Range of a regional downturn's length in months." default:"${sim_downturn_months}" group:"Simulation"`
	DownturnHit    simulate.Range       `help:"Range of the share of a region's firms a downturn hits." default:"${sim_downturn_hit}" group:"Simulation"`

	Revisions   float64 `help:"Share of reports mistyped and corrected by a revision 2 in the same window." default:"${sim_revisions}" group:"Simulation"`
	Errors      float64 `help:"Share of reports with a gross error (a digit dropped, doubled or swapped)." default:"${sim_errors}" group:"Simulation"`
	ErrorsFixed float64 `help:"Share of gross errors corrected one or two windows later (the rest never)." default:"${sim_errors_fixed}" group:"Simulation"`
	Missing     float64 `help:"Share of firm-months with no report." default:"${sim_missing}" group:"Simulation"`
	GapMonths   int     `help:"Longest run of missing reports, in months." default:"${sim_gap_months}" group:"Simulation"`
}

// simVars are the defaults of simOptions, from simulate.DefaultOptions, so
// that they live in one place.
func simVars() kong.Vars {
	o := simulate.DefaultOptions()
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	kinds := func(list []simulate.EventKind) string {
		s := make([]string, len(list))
		for i, k := range list {
			s[i] = string(k)
		}
		return strings.Join(s, ",")
	}
	return kong.Vars{
		"sim_seed": strconv.FormatInt(o.Seed, 10), "sim_firms": strconv.Itoa(o.Firms), "sim_months": strconv.Itoa(o.Months),
		"sim_size_alpha": f(o.SizeAlpha), "sim_min_size": strconv.Itoa(o.MinSize), "sim_max_size": strconv.Itoa(o.MaxSize),
		"sim_join_share": f(o.JoinShare), "sim_leave_share": f(o.LeaveShare),
		"sim_turnover": o.Turnover.String(), "sim_reasons": o.Reasons.String(), "sim_vacancies": o.Vacancies.String(),
		"sim_noise_scale": f(o.NoiseScale), "sim_noise": o.Noise.String(), "sim_noise_df": f(o.NoiseDF),
		"sim_noise_size_exp": f(o.NoiseSizeExp), "sim_noise_cap": f(o.NoiseCap), "sim_common_noise": f(o.CommonNoise),
		"sim_shock_rate": f(o.ShockRate), "sim_shock": o.Shock.String(), "sim_shock_down": f(o.ShockDown),
		"sim_shock_revert": f(o.ShockRevert), "sim_small_layoff_rate": f(o.SmallLayoffRate),
		"sim_trend_mean": f(o.TrendMean), "sim_trend_sd": f(o.TrendSD), "sim_decline_share": f(o.DeclineShare), "sim_decline": o.Decline.String(),
		"sim_season_depth": f(o.SeasonDepth), "sim_season_year_var": f(o.SeasonYearVar), "sim_season_shift_prob": f(o.SeasonShiftProb),
		"sim_construction": o.Construction.String(), "sim_tourism": o.Tourism.String(), "sim_tourism_deep": o.TourismDeep.String(),
		"sim_farm": o.Farm.String(), "sim_festival": o.Festival.String(), "sim_festival_services": o.FestivalServices.String(),
		"sim_graduation": o.Graduation.String(), "sim_season_label_firm": f(o.SeasonLabelFirm), "sim_season_label_region": f(o.SeasonLabelRegion),
		"sim_layoffs": strconv.Itoa(o.Layoffs), "sim_event_kinds": kinds(o.EventKinds), "sim_all_event_kinds": kinds(simulate.AllEventKinds),
		"sim_history": strconv.Itoa(o.History), "sim_layoff_size": o.LayoffSize.String(), "sim_below_line": f(o.BelowLine),
		"sim_economic_share": f(o.EconomicShare), "sim_cluster_cut": o.ClusterCut.String(), "sim_downturn": o.Downturn.String(),
		"sim_downturn_months": o.DownturnMonths.String(), "sim_downturn_hit": o.DownturnHit.String(),
		"sim_revisions": f(o.Revisions), "sim_errors": f(o.Errors), "sim_errors_fixed": f(o.ErrorsFixed),
		"sim_missing": f(o.MissingRate), "sim_gap_months": strconv.Itoa(o.GapMonths),
	}
}

// options turns the flags into simulate.Options for a run ending at end.
func (o simOptions) options(end report.Period) simulate.Options {
	return simulate.Options{
		Seed: o.Seed, Firms: o.NumFirms, Start: end.Add(1 - o.Months), Months: o.Months,
		SizeAlpha: o.SizeAlpha, MinSize: o.MinSize, MaxSize: o.MaxSize, JoinShare: o.JoinShare, LeaveShare: o.LeaveShare,
		Turnover: o.Turnover, Reasons: o.Reasons, Vacancies: o.Vacancies,
		NoiseScale: o.NoiseScale, Noise: o.Noise, NoiseDF: o.NoiseDF, NoiseSizeExp: o.NoiseSizeExp, NoiseCap: o.NoiseCap,
		CommonNoise: o.CommonNoise, ShockRate: o.ShockRate, Shock: o.Shock, ShockDown: o.ShockDown, ShockRevert: o.ShockRevert,
		SmallLayoffRate: o.SmallLayoffRate, TrendMean: o.TrendMean, TrendSD: o.TrendSD, DeclineShare: o.DeclineShare, Decline: o.Decline,
		SeasonDepth: o.SeasonDepth, SeasonYearVar: o.SeasonYearVar, SeasonShiftProb: o.SeasonShiftProb,
		Construction: o.Construction, Tourism: o.Tourism, TourismDeep: o.TourismDeep, Farm: o.Farm,
		Festival: o.Festival, FestivalServices: o.FestivalServices, Graduation: o.Graduation,
		SeasonLabelFirm: o.SeasonLabelFirm, SeasonLabelRegion: o.SeasonLabelRegion,
		Layoffs: o.Layoffs, EventKinds: o.EventKinds, History: o.History, LayoffSize: o.LayoffSize, BelowLine: o.BelowLine,
		EconomicShare: o.EconomicShare, ClusterCut: o.ClusterCut, Downturn: o.Downturn, DownturnMonths: o.DownturnMonths, DownturnHit: o.DownturnHit,
		Revisions: o.Revisions, Errors: o.Errors, ErrorsFixed: o.ErrorsFixed, MissingRate: o.Missing, GapMonths: o.GapMonths,
	}
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
	sim, err := simulate.New(o.options(end))
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	return sim, nil
}

type simulateCmd struct {
	simOptions `embed:""`
	Out        string            `help:"Directory for firms.csv, labels.csv, events.jsonl and (with --to=file) reports.jsonl." default:"." type:"path"`
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
	nLabels, err := writeSimFiles(c.Out, sim)
	if err != nil {
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
	fmt.Fprintf(e.stdout, "simulated %d firms over %s … %s: %d reports to %s, %d planted events (%s), %d labels (%s)\n",
		len(sim.Firms()), sim.Options().Start, sim.End(), n, c.To, len(sim.Events()), filepath.Join(c.Out, "events.jsonl"),
		nLabels, filepath.Join(c.Out, "labels.csv"))
	printEvents(e.stdout, sim.Events())
	return nil
}

// writeSimFiles writes firms.csv, events.jsonl and labels.csv into dir and
// returns the number of labels.
func writeSimFiles(dir string, sim *simulate.Simulation) (int, error) {
	if err := writeFile(filepath.Join(dir, "firms.csv"), func(w io.Writer) error { return firms.WriteCSV(w, sim.Firms()) }); err != nil {
		return 0, err
	}
	if err := writeFile(filepath.Join(dir, "events.jsonl"), func(w io.Writer) error { return simulate.WriteEventsJSONL(w, sim.Events()) }); err != nil {
		return 0, err
	}
	labels := sim.Labels()
	return len(labels), writeFile(filepath.Join(dir, "labels.csv"), func(w io.Writer) error { return label.Write(w, labels) })
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
