package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

func TestDecodeCSV(t *testing.T) {
	const firm = "91620102MA71ABCD1X"
	cases := []struct {
		name   string
		in     string
		want   []string // JSON per row
		reason string   // problem reason when an error is expected
		line   int
	}{
		{"all columns", "\ufefffirm_id,period,headcount,vacancies,hires,economic_layoff,separations.resignation,revision,note\n" +
			firm + ",2026-03,412,6,3,20,2,2,\"a, b\"\n",
			[]string{`{"schema_version":1,"firm_id":"` + firm + `","period":"2026-03","headcount":412,"vacancies":6,"hires":3,"revision":2,"note":"a, b","separations":{"economic_layoff":20,"resignation":2}}`}, "", 0},
		{"empty cells are absent, CRLF line ends", "firm_id,period,headcount,vacancies,hires\r\n" + firm + ",2026-03,007,0,\r\n",
			[]string{`{"schema_version":1,"firm_id":"` + firm + `","period":"2026-03","headcount":7,"vacancies":0}`}, "", 0},
		{"text in a number column stays text", "firm_id,period,headcount,vacancies\n" + firm + ",2026-03,=1+2,-5\n",
			[]string{`{"schema_version":1,"firm_id":"` + firm + `","period":"2026-03","headcount":"=1+2","vacancies":-5}`}, "", 0},
		{"formula and CRLF cells are data", "firm_id,period,headcount,vacancies,note\n" + firm + ",2026-03,1,0,\"=cmd|' /C calc'!A0\r\nBcc: x@example.com\"\n",
			// encoding/csv turns a quoted CRLF into LF, as RFC 4180 readers do
			[]string{`{"schema_version":1,"firm_id":"` + firm + `","period":"2026-03","headcount":1,"vacancies":0,"note":"=cmd|' /C calc'!A0\nBcc: x@example.com"}`}, "", 0},
		{"unknown column", "firm_id,period,bonus\n", nil, report.ReasonUnknownField, 1},
		{"reported_at column", "firm_id,reported_at\n", nil, report.ReasonUnknownField, 1},
		{"column twice", "firm_id,economic_layoff,separations.economic_layoff\n", nil, report.ReasonMalformedJSON, 1},
		{"empty file", "", nil, report.ReasonMissingField, 1},
		{"header only", "firm_id,period\n", nil, report.ReasonMissingField, 2},
		{"short row", "firm_id,period,headcount\n" + firm + ",2026-03,1\n" + firm + ",2026-04\n", nil, report.ReasonMalformedJSON, 3},
		{"bare quote", "firm_id,period\n" + firm + ",20\"26\n", nil, report.ReasonMalformedJSON, 2},
		{"too many rows", "firm_id\n" + strings.Repeat(firm+"\n", 3), nil, report.ReasonTooLarge, 4},
		{"a cell that is not UTF-8", "firm_id,note\n" + firm + ",\"a\xffb\"\n", nil, report.ReasonInvalidEncoding, 2},
		{"a header that is not UTF-8", "firm_id,no\xffte\n", nil, report.ReasonInvalidEncoding, 1},
		{"a row over 64 KiB, whatever the cell", "firm_id,headcount\n" + firm + "," + strings.Repeat(" ", report.MaxMessageBytes) + "1\n", nil, report.ReasonTooLarge, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, err := DecodeCSV([]byte(c.in), 2)
			if c.reason != "" {
				ce, ok := errors.AsType[*CSVError](err)
				if !ok || ce.Problem.Reason != c.reason || ce.Line != c.line {
					t.Fatalf("error %v, want %s on line %d", err, c.reason, c.line)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(c.want) {
				t.Fatalf("%d records, want %d", len(recs), len(c.want))
			}
			for i, w := range c.want {
				if string(recs[i].JSON) != w {
					t.Errorf("row %d:\n got %s\nwant %s", i, recs[i].JSON, w)
				}
			}
		})
	}
}

// FuzzDecodeCSV: whatever the upload, DecodeCSV does not panic, every row
// it returns is one JSON object that report.Decode can judge, and a text
// cell comes back unchanged (as data, never interpreted).
func FuzzDecodeCSV(f *testing.F) {
	f.Add([]byte("firm_id,period,headcount,vacancies,note\n91620102MA71ABCD1X,2026-03,412,6,\"=cmd|' /C calc'!A0\r\nx\"\n"))
	f.Add([]byte("\ufeffheadcount,economic_layoff,separations.other\n-0,0007,\"1\"\n"))
	f.Add([]byte("note\n\"a\"\"b\"\n"))
	f.Add([]byte("firm_id,period\n\"unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := DecodeCSV(data, MaxBatch)
		if err != nil {
			if _, ok := errors.AsType[*CSVError](err); !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, rec := range recs {
			var obj map[string]any
			if err := json.Unmarshal(rec.JSON, &obj); err != nil {
				t.Fatalf("row on line %d is not a JSON object: %v: %s", rec.Line, err, rec.JSON)
			}
			_, _ = report.Decode(rec.JSON, time.Now()) // judged, whatever the verdict
		}
	})
}
