// Package simulate owns the synthetic province: a deterministic monitored
// sample of Gansu firms (registry rows), the stream of monthly reports they
// would send, and the ground truth behind it as labels (internal/label).
// The province is meant to be hard to judge: heavy-tailed firm sizes and
// monthly moves, turnover with reasons, industry seasons whose depth and
// timing vary by year, shocks and slow decline that are not layoffs,
// layoffs that are not reported as such, splits under the legal line,
// regional downturns, wrong reports, corrections and gaps. Every parameter
// is an Options field; docs/simulator.md gives each one's default and
// where the number comes from. It is used for demos, load tests, end-to-end
// checks and for measuring warning quality (`plan eval`).
//
// It does not own the wire format or its validation (internal/report), the
// registry format (internal/firms), the region codes (internal/region) or
// the label format (internal/label); it only produces data that those
// packages accept.
//
//	Options ─► New ─┬─ sample firms (quotas: industry, ownership, place; Pareto sizes)
//	                ├─ per-firm traits (turnover, noise, trend, seasons)
//	                └─ plant events (replay chosen firms to size the cuts) ─► event labels
//	Reports ─► for each period ─► for each firm ─► step ─► missing? ─► yield
//	                                               ├─ mistyped? ─► queue rev 2 (same window)
//	                                               └─ gross error? ─► queue rev 2 (later window) or never
//	                                   └─ end of period: yield the revisions sent in its window
//	Labels ─► event labels + seasonal dips + errors, gaps, shocks, enrolment (pure functions)
//
// Everything random is a pure function of (seed, firm, period, purpose), so
// the same Options give the same bytes, any number of times, and streaming
// needs memory only for the firms.
package simulate

import (
	"fmt"
	"math"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Simulation is a generated province. It is immutable after New: Reports may
// run any number of times, also concurrently, and yields the same reports.
type Simulation struct {
	opts        Options
	firms       []firms.Firm // sorted by id; index i is the firm's key in every draw
	params      []firmParams
	events      []Event
	eventLabels []label.Label
	count       int
}

// New validates opts, draws the sample and plants the events.
func New(opts Options) (*Simulation, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.EventKinds = append([]EventKind(nil), opts.EventKinds...)
	list, err := sampleFirms(opts, region.Gansu())
	if err != nil {
		return nil, fmt.Errorf("sample firms: %w", err)
	}
	s := &Simulation{opts: opts, firms: list, params: make([]firmParams, len(list))}
	for i, f := range list {
		s.params[i] = newParams(&s.opts, i, f, opts.Start, s.End())
		p := &s.params[i]
		p.level0 /= s.season(i, p.first.Add(-1))
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
			if wrong, _, fixed := s.grossError(i, per); wrong && fixed || !wrong && s.corrected(i, per) {
				s.count++
			}
		}
	}
	return s, nil
}

// Options returns the options the simulation was made with.
func (s *Simulation) Options() Options {
	o := s.opts
	o.EventKinds = append([]EventKind(nil), o.EventKinds...)
	return o
}

// End is the last period reported.
func (s *Simulation) End() report.Period { return s.opts.Start.Add(s.opts.Months - 1) }

// Firms returns the monitored sample, sorted by id: the registry to load
// (firms.WriteCSV). Closed firms and firms that left have EnrolledTo set to
// the first day after their last month; a few firms join during the run
// (EnrolledFrom).
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

// Reports yields every report in the order it is sent; use it as an
// iterator:
//
//	for r := range sim.Reports { ... }
//
// Period by period: the period's reports (revision 1) in firm id order,
// then the corrections (revision 2) sent in that period's reporting window,
// of the period itself (each after its original) and then of earlier
// periods (gross errors noticed a window or two later). reported_at falls in
// the window, from the 25th of the period's month to the 5th of the next,
// Asia/Shanghai, so a period is never after the month it was reported in.
//
// The newest revision of each firm-month satisfies headcount = previous
// headcount + hires − separations. Exceptions: a firm's first report (its
// previous month is not reported), the report after a missing one (the
// previous headcount was never sent), a revision 1 that is corrected later,
// and a gross error that is never corrected (labelled data_error) together
// with the report after it.
func (s *Simulation) Reports(yield func(report.Report) bool) {
	states := make([]firmState, len(s.params))
	for i := range s.params {
		states[i] = s.initState(i)
	}
	var pending []report.Report
	late := map[report.Period][]report.Report{}
	loc := report.Shanghai()
	for per := s.opts.Start; per <= s.End(); per++ {
		pending = pending[:0]
		for i := range s.params {
			p := &s.params[i]
			if per < p.first || per > p.last {
				continue
			}
			m := s.step(i, per, &states[i])
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
			if wrong, fixAt, ok := s.grossError(i, per); wrong {
				if ok {
					c := r
					c.Revision = 2
					c.Note = fmt.Sprintf("更正：%s上报的从业人数有误", per)
					if fixAt == per {
						c.ReportedAt = fixed
						pending = append(pending, c)
					} else {
						c.ReportedAt = s.lateAt(i, fixAt, loc)
						late[fixAt] = append(late[fixAt], c)
					}
				}
				r.Headcount = s.corrupt(i, per, m.head)
			} else if s.corrected(i, per) {
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
		for _, c := range late[per] {
			if !yield(c) {
				return
			}
		}
		delete(late, per)
	}
}

// reportedAt returns when firm i sent its report for per, and when it sent
// the correction if there is one: office hours between the 25th and the 5th
// of the next month, the correction 1–48 hours later but inside the window.
func (s *Simulation) reportedAt(i int, per report.Period, loc *time.Location) (sent, fixed time.Time) {
	r := newRNG(s.opts.Seed, uint64(i), uint64(per), saltTime)
	sent = inWindow(&r, per, loc)
	closes := windowCloses(per, loc)
	fixed = sent.Add(time.Hour + time.Duration(r.intn(47*3600))*time.Second)
	if fixed.After(closes) {
		fixed = closes
	}
	return sent, fixed
}

// lateAt is when firm i sends, in the window of period per, the correction
// of an earlier period.
func (s *Simulation) lateAt(i int, per report.Period, loc *time.Location) time.Time {
	r := newRNG(s.opts.Seed, uint64(i), uint64(per), saltLate)
	return inWindow(&r, per, loc)
}

// inWindow draws a time in office hours of per's reporting window.
func inWindow(r *rng, per report.Period, loc *time.Location) time.Time {
	y, m := per.Year(), per.Month()
	lastDay := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
	days := lastDay - 25 + 1 + 5 // 25th..month end, 1st..5th
	return time.Date(y, m, 25+r.intn(days), 8+r.intn(12), r.intn(60), r.intn(60), 0, loc)
}

func windowCloses(per report.Period, loc *time.Location) time.Time {
	return time.Date(per.Year(), per.Month()+1, 5, 23, 59, 59, 0, loc)
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
