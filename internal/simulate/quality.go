package simulate

import (
	"strconv"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Report quality: gaps, mistypes and gross errors. Each is a pure function
// of (seed, firm, period), so New can count reports, Reports can send them
// and Labels can list them without stepping the firms.

// exempt reports whether firm i's report for per is kept clean: from two
// months before its planted event to the month after, every report is
// sent and right, so every event is visible.
func (s *Simulation) exempt(i int, per report.Period) bool {
	c := s.params[i].plan
	return c != nil && per >= c.start.Add(-2) && per <= c.end().Add(1)
}

// missing reports whether firm i sends no report for per. Gaps come in
// runs of 1 to GapMonths months; MissingRate is the share of firm-months
// they cover.
func (s *Simulation) missing(i int, per report.Period) bool {
	if s.opts.MissingRate == 0 || s.exempt(i, per) {
		return false
	}
	runs := s.opts.GapMonths
	startRate := s.opts.MissingRate / (float64(runs+1) / 2)
	for k := range runs {
		h := key(s.opts.Seed, uint64(i), uint64(per.Add(-k)), saltGap)
		if unit(h) < startRate && 1+int(fmix(h)%uint64(runs)) > k {
			return true
		}
	}
	return false
}

// gapStart reports whether a gap of firm i begins in per (the month before
// was sent or was not a gap month).
func (s *Simulation) gapStart(i int, per report.Period) bool {
	return s.missing(i, per) && (per == s.params[i].first || !s.missing(i, per.Add(-1)))
}

// corrected reports whether firm i's report for per is mistyped and
// corrected in the same reporting window.
func (s *Simulation) corrected(i int, per report.Period) bool {
	return !s.exempt(i, per) && unit(key(s.opts.Seed, uint64(i), uint64(per), saltRevision)) < s.opts.Revisions
}

// grossError reports whether firm i's report for per has a gross error and,
// if so, in which period's window it is corrected and whether it is at all.
// It excludes gaps; corrected excludes it.
func (s *Simulation) grossError(i int, per report.Period) (wrong bool, fixAt report.Period, fixed bool) {
	if s.opts.Errors == 0 || s.exempt(i, per) || s.missing(i, per) {
		return false, 0, false
	}
	r := newRNG(s.opts.Seed, uint64(i), uint64(per), saltError)
	if r.float() >= s.opts.Errors {
		return false, 0, false
	}
	fixed = r.float() < s.opts.ErrorsFixed
	fixAt = min(per.Add(1+r.intn(2)), s.End())
	return true, fixAt, fixed
}

// corrupt returns a grossly wrong headcount for head: a digit dropped, a
// digit doubled, or two neighbouring digits swapped; never 0, which would
// read as a closure.
func (s *Simulation) corrupt(i int, per report.Period, head uint32) uint32 {
	r := newRNG(s.opts.Seed, uint64(i), uint64(per)|1<<40, saltError)
	d := []byte(strconv.FormatUint(uint64(head), 10))
	for try := 0; try < 8; try++ {
		var out []byte
		switch k := r.intn(len(d)); r.intn(3) {
		case 0: // dropped
			if len(d) < 2 {
				continue
			}
			out = append(append(out, d[:k]...), d[k+1:]...)
		case 1: // doubled
			out = append(append(append(out, d[:k+1]...), d[k]), d[k+1:]...)
		default: // swapped with the next
			if k+1 >= len(d) || d[k] == d[k+1] {
				continue
			}
			out = append(out, d...)
			out[k], out[k+1] = out[k+1], out[k]
		}
		v, err := strconv.ParseUint(string(out), 10, 32)
		if err == nil && v != uint64(head) && v > 0 && v <= report.MaxCount {
			return uint32(v)
		}
	}
	return head * 10 // a zero too many
}
