package gateway

import (
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// deadlines computes when a period's reports are due: by the end of day
// `day` of the next month, Asia/Shanghai (default: the 5th, 24:00).
type deadlines struct{ day int }

// of returns the first instant at which a report for p is late.
func (d deadlines) of(p report.Period) time.Time { return report.Deadline(p, d.day) }

// current is the period firms are reporting for at now: last month until
// its deadline has passed, then this month.
func (d deadlines) current(now time.Time) report.Period {
	p := report.PeriodOf(now.In(report.Shanghai())).Add(-1)
	if now.Before(d.of(p)) {
		return p
	}
	return p.Add(1)
}

// late reports whether a report for p received at t is late.
func (d deadlines) late(p report.Period, t time.Time) bool { return !t.Before(d.of(p)) }
