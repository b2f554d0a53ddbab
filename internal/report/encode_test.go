package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestAppendEncodeMatchesJSON holds the encoder to encoding/json, byte for
// byte, on a whole simulation and on edge cases.
func TestAppendEncodeMatchesJSON(t *testing.T) {
	check := func(t *testing.T, r Report) {
		t.Helper()
		want, err := encodeReference(r)
		if err != nil {
			t.Fatalf("encodeReference: %v", err)
		}
		got := AppendEncode(nil, r)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendEncode differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	}
	base := Report{
		FirmID: "91620102MA71ABCD1X", Period: NewPeriod(2026, time.March),
		Headcount: 120, Vacancies: 3, Hires: 2, Revision: 1,
		Separations: Separations{EconomicLayoff: 1, ClosureBankruptcy: 2, Suspension: 3,
			ContractExpiry: 4, Resignation: 5, Retirement: 6, Transfer: 7, Other: 8},
		ReportedAt: time.Date(2026, 3, 27, 9, 30, 0, 0, Shanghai()),
	}
	tests := []struct {
		name   string
		change func(*Report)
	}{
		{name: "all reasons", change: func(*Report) {}},
		{name: "no separations", change: func(r *Report) { r.Separations = Separations{} }},
		{name: "revision zero", change: func(r *Report) { r.Revision = 0 }},
		{name: "no reported_at", change: func(r *Report) { r.ReportedAt = time.Time{} }},
		{name: "utc", change: func(r *Report) { r.ReportedAt = r.ReportedAt.UTC() }},
		{name: "nanoseconds", change: func(r *Report) { r.ReportedAt = r.ReportedAt.Add(123) }},
		{name: "max counts", change: func(r *Report) { r.Headcount, r.Hires = MaxCount, 1<<32-1 }},
		{name: "chinese note", change: func(r *Report) { r.Note = "经济性裁员，涉及 312 人" }},
		{name: "quote note", change: func(r *Report) { r.Note = `he said "ok" \ done` }},
		{name: "html note", change: func(r *Report) { r.Note = "<b>&</b>" }},
		{name: "control note", change: func(r *Report) { r.Note = "line\nbreak\ttab\x01" }},
		{name: "line separator", change: func(r *Report) { r.Note = "a\u2028b\u2029c" }},
		{name: "invalid utf8", change: func(r *Report) { r.Note = "bad\xffbyte" }},
		{name: "early period", change: func(r *Report) { r.Period = NewPeriod(5, time.January) }},
		{name: "odd firm id", change: func(r *Report) { r.FirmID = `x"y` }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			tt.change(&r)
			check(t, r)
		})
	}
}

func FuzzAppendEncode(f *testing.F) {
	f.Add("91620102MA71ABCD1X", int32(24314), uint32(120), uint32(5), "更正", int64(1790000000))
	f.Add("", int32(-5), uint32(0), uint32(0), "<\u2028\xff>", int64(0))
	f.Fuzz(func(t *testing.T, id string, period int32, head, sep uint32, note string, unix int64) {
		r := Report{FirmID: id, Period: Period(period), Headcount: head, Note: note,
			Separations: Separations{Resignation: sep, Other: sep / 2}}
		if unix != 0 {
			r.ReportedAt = time.Unix(unix%(1<<36), 0).In(Shanghai())
		}
		want, err := Encode(r)
		if err != nil {
			if strings.Contains(err.Error(), "year outside") {
				t.Skip()
			}
			t.Fatalf("Encode: %v", err)
		}
		got := AppendEncode(nil, r)
		if !bytes.Equal(got, want) {
			t.Fatalf("AppendEncode differs from encoding/json:\n got %s\nwant %s", got, want)
		}
	})
}

// encodeReference is the wire format written with encoding/json: the
// reference AppendEncode is held to.
func encodeReference(r Report) ([]byte, error) {
	type out struct {
		SchemaVersion int               `json:"schema_version"`
		FirmID        string            `json:"firm_id"`
		Period        string            `json:"period"`
		Headcount     uint32            `json:"headcount"`
		Vacancies     uint32            `json:"vacancies"`
		Hires         uint32            `json:"hires"`
		Separations   map[string]uint32 `json:"separations,omitempty"`
		Revision      uint32            `json:"revision"`
		ReportedAt    string            `json:"reported_at,omitempty"`
		Note          string            `json:"note,omitempty"`
	}
	o := out{SchemaVersion: SchemaVersion, FirmID: r.FirmID, Period: r.Period.String(),
		Headcount: r.Headcount, Vacancies: r.Vacancies, Hires: r.Hires, Revision: max(r.Revision, 1), Note: r.Note}
	if !r.ReportedAt.IsZero() {
		o.ReportedAt = r.ReportedAt.Format(time.RFC3339Nano)
	}
	for i, v := range r.Separations.Values() {
		if v > 0 {
			if o.Separations == nil {
				o.Separations = make(map[string]uint32, 8)
			}
			o.Separations[SeparationReasons[i]] = v
		}
	}
	return json.Marshal(o)
}
