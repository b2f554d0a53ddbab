package gateway

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// CSV uploads carry the wire format's fields as columns: firm_id, period,
// headcount, vacancies, hires, revision, note, schema_version (optional,
// default 1) and one column per separation reason, named by the reason
// (economic_layoff) or its field name (separations.economic_layoff). An
// empty cell is an absent field. reported_at is not a column: the gateway
// sets it.
//
// DecodeCSV only reshapes: every row becomes one JSON object of the wire
// format, and report.ValidateReceived judges it like any other report. What
// the reshaping would hide is judged here, on the bytes received: a row over
// 64 KiB is too_large, a cell that is not UTF-8 invalid_encoding (JSON
// encoding would replace it). Cells are
// data: a cell starting with = or holding a line break is carried as a JSON
// string, never interpreted (encoding/csv, like every RFC 4180 reader, turns
// a quoted CRLF into LF).

// CSVRecord is one data row of an upload as a wire-format JSON object.
type CSVRecord struct {
	Line int // line of the row in the file (1 is the header)
	JSON []byte
}

// CSVError is a problem with the upload as a whole or with one line.
type CSVError struct {
	Line    int
	Problem *report.Problem
}

func (e *CSVError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Problem) }

// csvColumn says how one column becomes a JSON field.
type csvColumn struct {
	name   string // JSON field, "" for a separation reason
	sep    string // separation reason
	number bool
}

var csvColumns = func() map[string]csvColumn {
	m := map[string]csvColumn{
		"schema_version": {name: "schema_version", number: true},
		"firm_id":        {name: "firm_id"},
		"period":         {name: "period"},
		"headcount":      {name: "headcount", number: true},
		"vacancies":      {name: "vacancies", number: true},
		"hires":          {name: "hires", number: true},
		"revision":       {name: "revision", number: true},
		"note":           {name: "note"},
	}
	for _, r := range report.SeparationReasons {
		m[r] = csvColumn{sep: r, number: true}
		m["separations."+r] = csvColumn{sep: r, number: true}
	}
	return m
}()

// DecodeCSV reads an upload of at most maxRows data rows.
func DecodeCSV(data []byte, maxRows int) ([]CSVRecord, error) {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &CSVError{Line: 1, Problem: &report.Problem{Reason: report.ReasonMissingField, Message: "the file is empty: the first line must name the columns"}}
	}
	if err != nil {
		return nil, csvSyntax(err)
	}
	cols := make([]csvColumn, len(head))
	seen := map[string]bool{}
	for i, h := range head {
		h = strings.TrimSpace(h)
		if !utf8.ValidString(h) {
			return nil, &CSVError{Line: 1, Problem: &report.Problem{Reason: report.ReasonInvalidEncoding, Message: "the header holds bytes that are not UTF-8"}}
		}
		c, ok := csvColumns[h]
		if !ok {
			msg := fmt.Sprintf("column %q is not a field of schema version %d", h, report.SchemaVersion)
			if h == "reported_at" {
				msg = "reported_at is set by the gateway; drop the column"
			}
			return nil, &CSVError{Line: 1, Problem: &report.Problem{Reason: report.ReasonUnknownField, Field: h, Message: msg}}
		}
		key := c.name + c.sep
		if seen[key] {
			return nil, &CSVError{Line: 1, Problem: &report.Problem{Reason: report.ReasonMalformedJSON, Field: h, Message: fmt.Sprintf("column %q appears more than once", h)}}
		}
		seen[key] = true
		cols[i] = c
	}
	var out []CSVRecord
	for {
		from := cr.InputOffset()
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvSyntax(err)
		}
		line, _ := cr.FieldPos(0)
		if len(out) == maxRows {
			return nil, &CSVError{Line: line, Problem: &report.Problem{Reason: report.ReasonTooLarge, Message: fmt.Sprintf("an upload holds at most %d reports", maxRows)}}
		}
		// a row is a report: judged on its bytes as received, like a message
		if n := cr.InputOffset() - from; n > report.MaxMessageBytes {
			return nil, &CSVError{Line: line, Problem: &report.Problem{Reason: report.ReasonTooLarge,
				Message: fmt.Sprintf("the row has %d bytes, the limit for one report is %d", n, report.MaxMessageBytes)}}
		}
		if len(rec) != len(head) {
			return nil, &CSVError{Line: line, Problem: &report.Problem{Reason: report.ReasonMalformedJSON, Message: fmt.Sprintf("line has %d cells, the header has %d", len(rec), len(head))}}
		}
		for i, cell := range rec {
			if !utf8.ValidString(cell) {
				return nil, &CSVError{Line: line, Problem: &report.Problem{Reason: report.ReasonInvalidEncoding, Field: strings.TrimSpace(head[i]),
					Message: fmt.Sprintf("column %s holds bytes that are not UTF-8", strings.TrimSpace(head[i]))}}
			}
		}
		out = append(out, CSVRecord{Line: line, JSON: rowJSON(cols, rec, !seen["schema_version"])})
	}
	if len(out) == 0 {
		return nil, &CSVError{Line: 2, Problem: &report.Problem{Reason: report.ReasonMissingField, Message: "the file has a header but no reports"}}
	}
	return out, nil
}

func csvSyntax(err error) error {
	line := 0
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		line = pe.Line
		err = pe.Err
	}
	return &CSVError{Line: line, Problem: &report.Problem{Reason: report.ReasonMalformedJSON, Message: "invalid CSV: " + err.Error()}}
}

// rowJSON builds the wire-format object of one row.
func rowJSON(cols []csvColumn, rec []string, addSchema bool) []byte {
	b := make([]byte, 0, 256)
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, name)
		b = append(b, ':')
	}
	if addSchema {
		field("schema_version")
		b = append(b, '1')
	}
	var seps []int
	for i, c := range cols {
		cell := rec[i]
		if c.number {
			cell = strings.TrimSpace(cell)
		} else if c.name != "note" {
			cell = strings.TrimSpace(cell)
		}
		if cell == "" {
			continue
		}
		if c.sep != "" {
			seps = append(seps, i)
			continue
		}
		field(c.name)
		b = appendCell(b, cell, c.number)
	}
	if len(seps) > 0 {
		field("separations")
		b = append(b, '{')
		for j, i := range seps {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, cols[i].sep)
			b = append(b, ':')
			b = appendCell(b, strings.TrimSpace(rec[i]), true)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// appendCell writes an integer cell as a JSON number when it is one, else
// as a string, so that validation reports "must be an integer, got string".
func appendCell(b []byte, cell string, number bool) []byte {
	if number {
		if d := strings.TrimPrefix(cell, "-"); d != "" && strings.Trim(d, "0123456789") == "" {
			if cell[0] == '-' {
				b = append(b, '-')
			}
			d = strings.TrimLeft(d, "0")
			if d == "" {
				d = "0"
			}
			return append(b, d...)
		}
	}
	return appendJSONString(b, cell)
}

func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}
