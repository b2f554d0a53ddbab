// Package simulate owns the synthetic province: a deterministic monitored
// sample of Gansu firms (registry rows) and the stream of monthly reports
// they would send, with planted layoff events that the detector should find,
// seasonal swings it should not alarm on, late corrections and missing
// reports. It is used for demos, load tests and end-to-end checks.
//
// It does not own the wire format or its validation (internal/report), the
// registry format (internal/firms) or the region codes (internal/region);
// it only produces data that those packages accept.
//
//	Options ─► New ─┬─ sample firms (quotas: industry, size, ownership, place)
//	                ├─ per-firm traits (trend, attrition, seasonality)
//	                └─ plant events (replay chosen firms to size the cuts)
//	Reports ─► for each period ─► for each firm ─► step ─► missing? ─► yield
//	                                               └─ corrected? ─► queue rev 2
//	                                   └─ end of period: yield queued revisions
//
// Everything random is a pure function of (seed, firm, period, purpose), so
// the same Options give the same bytes, any number of times, and streaming
// needs memory only for the firms.
package simulate

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Options shape a simulation. Start from DefaultOptions.
type Options struct {
	Seed   int64
	Firms  int           // firms in the sample
	Start  report.Period // first reported period
	Months int           // periods reported
	// Layoffs is the number of planted events, rotating through
	// mass_layoff, county_cluster, closure and gradual.
	Layoffs int
	// Revisions is the share of sent reports that are corrected later by a
	// revision 2 with the true headcount (the original was off by 0.5–3%).
	Revisions float64
	// MissingRate is the share of firm-months whose report is never sent.
	MissingRate float64
}

// Limits of Options.
const (
	MaxFirms  = 1_000_000
	MaxMonths = 240
	maxRate   = 0.5
)

// DefaultOptions returns a province of 2,000 firms reporting for the 24
// months from 2024-11 to 2026-10, with 12 planted events, 1% of reports
// corrected and 0.5% missing.
func DefaultOptions() Options {
	return Options{
		Seed:        1,
		Firms:       2000,
		Start:       report.NewPeriod(2024, time.November),
		Months:      24,
		Layoffs:     12,
		Revisions:   0.01,
		MissingRate: 0.005,
	}
}

// Validate reports every problem with the options.
func (o Options) Validate() error {
	var errs []error
	if o.Firms < 1 || o.Firms > MaxFirms {
		errs = append(errs, fmt.Errorf("firms must be between 1 and %d, got %d", MaxFirms, o.Firms))
	}
	if o.Months < 1 || o.Months > MaxMonths {
		errs = append(errs, fmt.Errorf("months must be between 1 and %d, got %d", MaxMonths, o.Months))
	}
	if o.Start < report.MinPeriod || o.Start.Add(o.Months) > report.NewPeriod(9999, time.January) {
		errs = append(errs, fmt.Errorf("start %s is out of range", o.Start))
	}
	if o.Layoffs < 0 {
		errs = append(errs, fmt.Errorf("layoffs must not be negative, got %d", o.Layoffs))
	}
	if o.Layoffs > 0 && o.Months < 6 {
		errs = append(errs, fmt.Errorf("planting layoffs needs at least 6 months, got %d", o.Months))
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"revisions", o.Revisions}, {"missing rate", o.MissingRate}} {
		if math.IsNaN(r.v) || r.v < 0 || r.v > maxRate {
			errs = append(errs, fmt.Errorf("%s must be between 0 and %g, got %g", r.name, maxRate, r.v))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("simulation options: %w", errors.Join(errs...))
	}
	return nil
}

// Simulation is a generated province. It is immutable after New: Reports may
// run any number of times, also concurrently, and yields the same reports.
type Simulation struct {
	opts   Options
	firms  []firms.Firm // sorted by id; index i is the firm's key in every draw
	params []firmParams
	events []Event
	count  int
}

// New validates opts, draws the sample and plants the events.
func New(opts Options) (*Simulation, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	list, err := sampleFirms(opts, region.Gansu())
	if err != nil {
		return nil, fmt.Errorf("sample firms: %w", err)
	}
	s := &Simulation{opts: opts, firms: list, params: make([]firmParams, len(list))}
	for i, f := range list {
		s.params[i] = newParams(opts.Seed, i, f, opts.Start, s.End())
	}
	if err := s.plantEvents(); err != nil {
		return nil, err
	}
	for i := range s.params {
		p := &s.params[i]
		for per := p.first; per <= p.last; per++ {
			if s.missing(i, per) {
				continue
			}
			s.count++
			if s.corrected(i, per) {
				s.count++
			}
		}
	}
	return s, nil
}

// Options returns the options the simulation was made with.
func (s *Simulation) Options() Options { return s.opts }

// End is the last period reported.
func (s *Simulation) End() report.Period { return s.opts.Start.Add(s.opts.Months - 1) }

// Firms returns the monitored sample, sorted by id: the registry to load
// (firms.WriteCSV). Closed firms have EnrolledTo set to the first day after
// their closure month; a few firms join during the run (EnrolledFrom).
func (s *Simulation) Firms() []firms.Firm {
	out := make([]firms.Firm, len(s.firms))
	copy(out, s.firms)
	return out
}

// Events returns the planted events in period order.
func (s *Simulation) Events() []Event {
	out := make([]Event, len(s.events))
	for i, e := range s.events {
		e.Firms = append([]EventFirm(nil), e.Firms...)
		out[i] = e
	}
	return out
}

// Count is the number of reports Reports yields, corrections included.
func (s *Simulation) Count() int { return s.count }

// missing reports whether firm i sends no report for per. Event firms
// always report.
func (s *Simulation) missing(i int, per report.Period) bool {
	return s.params[i].plan == nil && unit(key(s.opts.Seed, uint64(i), uint64(per), saltMissing)) < s.opts.MissingRate
}

// corrected reports whether firm i's report for per is corrected later.
func (s *Simulation) corrected(i int, per report.Period) bool {
	return s.params[i].plan == nil && unit(key(s.opts.Seed, uint64(i), uint64(per), saltRevision)) < s.opts.Revisions
}

// Reports yields every report in period order; use it as an iterator:
//
//	for r := range sim.Reports { ... }
//
// Within a period, firms come in id order, then that period's corrections
// (revision 2), each after its original. reported_at falls in the reporting
// window, from the 25th of the period's month to the 5th of the next,
// Asia/Shanghai, so a period is never after the month it was reported in.
//
// The newest revision of each firm-month always satisfies
// headcount = previous headcount + hires − separations. Exceptions: a
// firm's first report (its previous month is not reported), the report
// after a missing one (the previous headcount was never sent), and the
// revision 1 of a corrected report, whose headcount was mistyped.
func (s *Simulation) Reports(yield func(report.Report) bool) {
	states := make([]firmState, len(s.params))
	for i := range s.params {
		states[i] = s.params[i].initState()
	}
	var pending []report.Report
	loc := report.Shanghai()
	for per := s.opts.Start; per <= s.End(); per++ {
		pending = pending[:0]
		for i := range s.params {
			p := &s.params[i]
			if per < p.first || per > p.last {
				continue
			}
			m := step(s.opts.Seed, i, p, per, &states[i])
			if s.missing(i, per) {
				continue
			}
			sent, fixed := s.reportedAt(i, per, loc)
			r := report.Report{
				FirmID:      s.firms[i].ID,
				Period:      per,
				Headcount:   m.head,
				Vacancies:   m.vacancies,
				Hires:       m.hires,
				Separations: m.sep,
				Revision:    1,
				ReportedAt:  sent,
				Note:        m.note,
			}
			if s.corrected(i, per) {
				c := r
				c.Revision = 2
				c.ReportedAt = fixed
				c.Note = "更正：上次上报的从业人数有误"
				pending = append(pending, c)
				r.Headcount = mistype(s.opts.Seed, i, per, m.head)
			}
			if !yield(r) {
				return
			}
		}
		for _, c := range pending {
			if !yield(c) {
				return
			}
		}
	}
}

// reportedAt returns when firm i sent its report for per, and when it sent
// the correction if there is one: office hours between the 25th and the 5th
// of the next month, the correction 1–48 hours later but inside the window.
func (s *Simulation) reportedAt(i int, per report.Period, loc *time.Location) (sent, fixed time.Time) {
	r := newRNG(s.opts.Seed, uint64(i), uint64(per), saltTime)
	y, m := per.Year(), per.Month()
	lastDay := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	days := lastDay - 25 + 1 + 5 // 25th..month end, 1st..5th
	sent = time.Date(y, m, 25+r.intn(days), 8+r.intn(12), r.intn(60), r.intn(60), 0, loc)
	closes := time.Date(y, m+1, 5, 23, 59, 59, 0, loc)
	fixed = sent.Add(time.Hour + time.Duration(r.intn(47*3600))*time.Second)
	if fixed.After(closes) {
		fixed = closes
	}
	return sent, fixed
}

// mistype returns the wrong headcount of a report that is corrected later:
// off by 0.5–3%, at least one person.
func mistype(seed int64, i int, per report.Period, head uint32) uint32 {
	r := newRNG(seed, uint64(i), uint64(per), saltRevision)
	d := uint32(max(1, math.Round(float64(head)*r.between(0.005, 0.03))))
	if r.intn(2) == 0 || d > head {
		return head + d
	}
	return head - d
}
