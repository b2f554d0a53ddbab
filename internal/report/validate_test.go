package report_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

var update = flag.Bool("update", false, "rewrite expected files in testdata")

// fakeRegistry is a hand-written report.Registry.
type fakeRegistry map[string]bool

func (f fakeRegistry) Has(id string) bool { return f[id] }

func TestValidate(t *testing.T) {
	const known, unknown = "914403001922038216", "9144030071526726XG"
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	good := []byte(`{"schema_version":1,"firm_id":"` + known + `","period":"2025-05","headcount":1,"vacancies":0}`)
	stranger := []byte(`{"schema_version":1,"firm_id":"` + unknown + `","period":"2025-05","headcount":1,"vacancies":0}`)
	tests := []struct {
		name      string
		data      []byte
		reg       report.Registry
		wantRsn   string
		wantField string
	}{
		{name: "registered firm", data: good, reg: fakeRegistry{known: true}},
		{name: "unregistered firm", data: stranger, reg: fakeRegistry{known: true}, wantRsn: report.ReasonUnknownFirm, wantField: "firm_id"},
		{name: "empty registry", data: good, reg: fakeRegistry{}, wantRsn: report.ReasonUnknownFirm, wantField: "firm_id"},
		{name: "nil registry checks nothing", data: stranger, reg: nil},
		{name: "decode problem wins over registry", data: []byte(`{"schema_version":1,"firm_id":"x"}`), reg: fakeRegistry{}, wantRsn: report.ReasonInvalidFirmID, wantField: "firm_id"},
		{name: "registry is consulted only for valid reports", data: []byte(`{"schema_version":1,"firm_id":"` + unknown + `","period":"2099-01","headcount":1,"vacancies":0}`), reg: fakeRegistry{}, wantRsn: report.ReasonFuturePeriod, wantField: "period"},
		{name: "firms.Registry satisfies the interface", data: stranger, reg: firms.NewRegistry([]firms.Firm{{ID: known}}), wantRsn: report.ReasonUnknownFirm, wantField: "firm_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, p := report.Validate(tt.data, now, tt.reg)
			if tt.wantRsn == "" {
				if p != nil {
					t.Fatalf("Validate = %v, want no problem", p)
				}
				if r.FirmID == "" {
					t.Fatalf("Validate returned an empty report")
				}
				return
			}
			if p == nil || p.Reason != tt.wantRsn || p.Field != tt.wantField {
				t.Fatalf("Validate = %v, want %s on %q", p, tt.wantRsn, tt.wantField)
			}
		})
	}
}

// TestValidateReceived: as a receiver that stamps reports sees them, the
// message's reported_at is judged on its form and size, then ignored.
func TestValidateReceived(t *testing.T) {
	const known = "914403001922038216"
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	reg := fakeRegistry{known: true}
	msg := func(extra string) []byte {
		return []byte(`{"schema_version":1,"firm_id":"` + known + `","period":"2025-06","headcount":1,"vacancies":0` + extra + `}`)
	}
	tests := []struct {
		name, extra, reason string
	}{
		{"absent", "", ""},
		{"null", `,"reported_at":null`, ""},
		{"a past time does not make the period future", `,"reported_at":"2001-01-01T00:00:00Z"`, ""},
		{"a number", `,"reported_at":1748827800`, report.ReasonMalformedJSON},
		{"an object", `,"reported_at":{}`, report.ReasonMalformedJSON},
		{"not RFC 3339", `,"reported_at":"2025-06-02"`, report.ReasonMalformedJSON},
		{"a lone surrogate", `,"reported_at":"\ud800"`, report.ReasonInvalidEncoding},
		{"bulk over 64 KiB", `,"reported_at":"` + strings.Repeat("1", report.MaxMessageBytes) + `"`, report.ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, p := report.ValidateReceived(msg(tt.extra), now, reg)
			if tt.reason == "" {
				if p != nil || !r.ReportedAt.IsZero() || r.Period != report.NewPeriod(2025, 6) {
					t.Fatalf("ValidateReceived = %+v, %v; want accepted without reported_at", r, p)
				}
				return
			}
			if p == nil || p.Reason != tt.reason {
				t.Fatalf("ValidateReceived = %v, want %s", p, tt.reason)
			}
		})
	}
	// Validate, by contrast, keeps reported_at and judges the period by it
	if _, p := report.Validate(msg(`,"reported_at":"2001-01-01T00:00:00Z"`), now, reg); p == nil || p.Reason != report.ReasonFuturePeriod {
		t.Fatalf("Validate = %v, want future_period", p)
	}
}

// result is one line of `layoffwatch validate` output.
type result struct {
	Line    int    `json:"line"`
	OK      bool   `json:"ok"`
	Reason  string `json:"reason,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message,omitempty"`
}

func TestValidateGolden(t *testing.T) {
	dir := filepath.Join("testdata", "validate")
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, report.Shanghai())

	f, err := os.Open(filepath.Join(dir, "firms.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	list, err := firms.ParseCSV(f, region.Gansu())
	if err != nil {
		t.Fatalf("firms.csv: %v", err)
	}
	reg := firms.NewRegistry(list)

	in, err := os.ReadFile(filepath.Join(dir, "reports.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	seen := map[string]bool{}
	for i, line := range bytes.Split(bytes.TrimSuffix(in, []byte("\n")), []byte("\n")) {
		res := result{Line: i + 1, OK: true}
		if _, p := report.Validate(line, now, reg); p != nil {
			res = result{Line: i + 1, Reason: p.Reason, Field: p.Field, Message: p.Message}
			seen[p.Reason] = true
		}
		if err := enc.Encode(res); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []string{report.ReasonMalformedJSON, report.ReasonUnknownField, report.ReasonMissingField,
		report.ReasonUnsupportedSchema, report.ReasonInvalidFirmID, report.ReasonUnknownFirm, report.ReasonInvalidPeriod,
		report.ReasonFuturePeriod, report.ReasonOutOfRange, report.ReasonTooLarge, report.ReasonInvalidEncoding} {
		if !seen[r] {
			t.Errorf("reports.jsonl has no line refused as %s", r)
		}
	}

	path := filepath.Join(dir, "expected.jsonl")
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gotLines := bytes.Split(out.Bytes(), []byte("\n"))
	wantLines := bytes.Split(want, []byte("\n"))
	for i := 0; i < max(len(gotLines), len(wantLines)); i++ {
		var g, w []byte
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if !bytes.Equal(g, w) {
			t.Errorf("expected.jsonl line %d:\n got  %s\n want %s", i+1, g, w)
		}
	}
}
