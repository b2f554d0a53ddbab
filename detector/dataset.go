package detector

import (
	"fmt"
	"sort"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Dataset holds, for every registered firm and every month of a window, the
// latest revision of its report. It is what a plan is evaluated over, filled
// from ClickHouse by the daemon and from a JSONL file by `plan test`.
type Dataset struct {
	firms  []firms.Firm
	pref   []string // each firm's prefecture, made once (PrefectureOf allocates)
	index  map[string]int
	start  report.Period
	months int
	recs   []monthRec // month-major: recs[m*stride+off+f], as evaluation walks months
	// stride and off place the firms in recs: a dataset of its own has
	// stride len(firms) and off 0; a view of some provinces' firms
	// (PlanSet) shares its parent's recs
	stride, off int
	latest      report.Period
	// Unknown counts reports for firms not in the registry, which are left
	// out (as are months outside the window, which no caller passes).
	Unknown int
	// the last firm looked up: rows arrive grouped by firm, so most
	// lookups repeat the previous one
	lastID  string
	lastIdx int
}

type monthRec struct {
	ok    bool
	rev   uint32
	h, v  uint32
	hires uint32
	sep   [8]uint32
}

// NewDataset makes an empty dataset for the firms over start … end.
func NewDataset(list []firms.Firm, start, end report.Period) (*Dataset, error) {
	if end < start {
		return nil, fmt.Errorf("dataset window %s … %s is empty", start, end)
	}
	// by province, then id: each province's firms are contiguous, so that
	// a plan per province evaluates a view of them without a copy
	sorted := append([]firms.Firm(nil), list...)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := region.ProvinceOf(sorted[i].Region), region.ProvinceOf(sorted[j].Region)
		if a != b {
			return a < b
		}
		return sorted[i].ID < sorted[j].ID
	})
	d := &Dataset{firms: sorted, index: make(map[string]int, len(sorted)), start: start, months: int(end-start) + 1, latest: start - 1, stride: len(sorted)}
	d.pref = make([]string, len(sorted))
	for i, f := range sorted {
		d.index[f.ID] = i
		d.pref[i] = region.PrefectureOf(f.Region)
	}
	d.recs = make([]monthRec, len(sorted)*d.months)
	return d, nil
}

// BuildDataset makes a dataset spanning the reports' months.
func BuildDataset(list []firms.Firm, reports []report.Report) (*Dataset, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("no reports")
	}
	lo, hi := reports[0].Period, reports[0].Period
	for _, r := range reports {
		lo, hi = min(lo, r.Period), max(hi, r.Period)
	}
	d, err := NewDataset(list, lo, hi)
	if err != nil {
		return nil, err
	}
	for _, r := range reports {
		d.Add(r)
	}
	return d, nil
}

// Add records a report. For the same firm and month the highest revision
// wins; of equal revisions the later one.
func (d *Dataset) Add(r report.Report) {
	d.Set(r.FirmID, r.Period, r.Revision, r.Headcount, r.Vacancies, r.Hires, r.Separations.Values())
}

// Set records one month of a firm, as Add does, without a report value. It
// reports whether the dataset changed.
func (d *Dataset) Set(firmID string, p report.Period, revision, headcount, vacancies, hires uint32, sep [8]uint32) bool {
	f, ok := d.lastIdx, d.lastID == firmID && firmID != ""
	if !ok {
		if f, ok = d.index[firmID]; !ok {
			d.Unknown++
			return false
		}
		d.lastID, d.lastIdx = firmID, f
	}
	m := int(p - d.start)
	if m < 0 || m >= d.months {
		return false
	}
	rec := &d.recs[m*d.stride+d.off+f]
	if rec.ok && revision < rec.rev {
		return false
	}
	next := monthRec{ok: true, rev: revision, h: headcount, v: vacancies, hires: hires, sep: sep}
	if *rec == next {
		return false
	}
	*rec = next
	d.latest = max(d.latest, p)
	return true
}

// Start and End bound the window.
func (d *Dataset) Start() report.Period { return d.start }
func (d *Dataset) End() report.Period   { return d.start.Add(d.months - 1) }

// Latest is the latest month with a report (Start()−1 when there is none).
func (d *Dataset) Latest() report.Period { return d.latest }

// Firms returns the registry, sorted by province, then id.
func (d *Dataset) Firms() []firms.Firm { return d.firms }

func (d *Dataset) rec(f, m int) *monthRec {
	if m < 0 || m >= d.months {
		return &noRec
	}
	return &d.recs[m*d.stride+d.off+f]
}

var noRec monthRec

func (d *Dataset) firm(id string) (firms.Firm, bool) {
	i, ok := d.index[id]
	if !ok {
		return firms.Firm{}, false
	}
	return d.firms[i], true
}
