package simulate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// TestAppendMatchesEncode holds the fast encoder to report.Encode, byte for
// byte, on a whole simulation and on edge cases.
func TestAppendMatchesEncode(t *testing.T) {
	check := func(t *testing.T, r report.Report) {
		t.Helper()
		want, err := report.Encode(r)
		if err != nil {
			t.Fatalf("report.Encode: %v", err)
		}
		got, err := appendReport(nil, r)
		if err != nil {
			t.Fatalf("appendReport: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendReport differs from report.Encode:\n got %s\nwant %s", got, want)
		}
	}
	t.Run("simulation", func(t *testing.T) {
		o := DefaultOptions()
		o.Revisions = 0.05
		for r := range newSim(t, o).Reports {
			check(t, r)
		}
	})
	base := report.Report{
		FirmID: "91620102MA71ABCD1X", Period: report.NewPeriod(2026, time.March),
		Headcount: 120, Vacancies: 3, Hires: 2, Revision: 1,
		Separations: report.Separations{EconomicLayoff: 1, ClosureBankruptcy: 2, Suspension: 3,
			ContractExpiry: 4, Resignation: 5, Retirement: 6, Transfer: 7, Other: 8},
		ReportedAt: time.Date(2026, 3, 27, 9, 30, 0, 0, report.Shanghai()),
	}
	tests := []struct {
		name   string
		change func(*report.Report)
	}{
		{name: "all reasons", change: func(*report.Report) {}},
		{name: "no separations", change: func(r *report.Report) { r.Separations = report.Separations{} }},
		{name: "revision zero", change: func(r *report.Report) { r.Revision = 0 }},
		{name: "no reported_at", change: func(r *report.Report) { r.ReportedAt = time.Time{} }},
		{name: "utc", change: func(r *report.Report) { r.ReportedAt = r.ReportedAt.UTC() }},
		{name: "nanoseconds", change: func(r *report.Report) { r.ReportedAt = r.ReportedAt.Add(123) }},
		{name: "max counts", change: func(r *report.Report) { r.Headcount, r.Hires = report.MaxCount, 1<<32-1 }},
		{name: "chinese note", change: func(r *report.Report) { r.Note = "经济性裁员，涉及 312 人" }},
		{name: "quote note", change: func(r *report.Report) { r.Note = `he said "ok" \ done` }},
		{name: "html note", change: func(r *report.Report) { r.Note = "<b>&</b>" }},
		{name: "control note", change: func(r *report.Report) { r.Note = "line\nbreak\ttab\x01" }},
		{name: "line separator", change: func(r *report.Report) { r.Note = "a\u2028b\u2029c" }},
		{name: "invalid utf8", change: func(r *report.Report) { r.Note = "bad\xffbyte" }},
		{name: "early period", change: func(r *report.Report) { r.Period = report.NewPeriod(5, time.January) }},
		{name: "odd firm id", change: func(r *report.Report) { r.FirmID = `x"y` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.change(&r)
			check(t, r)
		})
	}
}

func FuzzAppendReport(f *testing.F) {
	f.Add("91620102MA71ABCD1X", int32(24314), uint32(120), uint32(5), "更正", int64(1790000000))
	f.Add("", int32(-5), uint32(0), uint32(0), "<\u2028\xff>", int64(0))
	f.Fuzz(func(t *testing.T, id string, period int32, head, sep uint32, note string, unix int64) {
		r := report.Report{FirmID: id, Period: report.Period(period), Headcount: head, Note: note,
			Separations: report.Separations{Resignation: sep, Other: sep / 2}}
		if unix != 0 {
			r.ReportedAt = time.Unix(unix%(1<<36), 0).In(report.Shanghai())
		}
		want, err := report.Encode(r)
		if err != nil {
			if strings.Contains(err.Error(), "year outside") {
				t.Skip()
			}
			t.Fatalf("report.Encode: %v", err)
		}
		got, err := appendReport(nil, r)
		if err != nil {
			t.Fatalf("appendReport: %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendReport differs from report.Encode:\n got %s\nwant %s", got, want)
		}
	})
}
