package label

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/csvcell"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Header is the CSV header. Read accepts the columns in any order (a
// spreadsheet may move them); Write writes them in this order.
var Header = []string{"scope", "key", "from", "to", "kind", "source", "note"}

// LineError is a problem with one line of a label file.
type LineError = csvcell.LineError

// MaxErrors caps how many line errors are collected before reading stops.
const MaxErrors = csvcell.MaxErrors

// Read reads and validates a label file. It reports every bad line (up to
// MaxErrors) with its line number, joined in one error, and returns no
// labels when any line is bad, so a file with errors is never used in part.
// regions may be nil to check only the form of region codes.
//
// Fields are trimmed of surrounding spaces; a UTF-8 byte-order mark before
// the header (as spreadsheets write) is ignored; an empty `to` means the
// single month `from`. The same label (scope, key, from, to, kind) listed
// twice is an error.
func Read(r io.Reader, regions *region.Table) ([]Label, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &LineError{Line: 1, Err: fmt.Errorf("the file is empty; the header must be %s", strings.Join(Header, ","))}
		}
		return nil, fmt.Errorf("read header: %w", err)
	}
	cols, err := columns(head)
	if err != nil {
		return nil, err
	}
	type ident struct {
		scope    Scope
		key      string
		from, to report.Period
		kind     Kind
	}
	var (
		out  []Label
		errs []error
		seen = map[ident]int{}
	)
	for {
		if len(errs) >= MaxErrors {
			errs = append(errs, fmt.Errorf("stopped after %d errors", MaxErrors))
			break
		}
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				errs = append(errs, fmt.Errorf("read csv: %w", err))
				break
			}
			// a quoting error: the reader goes on with the next record
			errs = append(errs, &LineError{Line: pe.Line, Err: pe.Err})
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			errs = append(errs, &LineError{Line: line, Err: fmt.Errorf("has %d fields, the header has %d", len(rec), len(head))})
		} else if l, lerr := parseRow(rec, cols, regions); lerr != nil {
			lerr.Line = line
			errs = append(errs, lerr)
		} else {
			id := ident{l.Scope, l.Key, l.From, l.To, l.Kind}
			if first, dup := seen[id]; dup {
				errs = append(errs, &LineError{Line: line, Err: fmt.Errorf("the label %s is listed again (first on line %d)", l, first)})
			} else {
				seen[id] = line
				out = append(out, l)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ReadFile reads the label file at path; errors name the file.
func ReadFile(path string, regions *region.Table) ([]Label, error) {
	f, err := os.Open(path) //nolint:gosec // the operator names the file
	if err != nil {
		return nil, fmt.Errorf("labels: %w", err)
	}
	defer func() { _ = f.Close() }()
	list, err := Read(f, regions)
	if err != nil {
		return nil, fmt.Errorf("labels %s: %w", path, err)
	}
	return list, nil
}

// Write writes labels with the header, in the order given. It refuses a
// label that Read would refuse, so what it writes can be read back. A note
// a spreadsheet would run as a formula is neutralised
// (csvcell.Neutralize); Read reads it back as it was.
func Write(w io.Writer, labels []Label) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Header); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	for i, l := range labels {
		if err := l.Validate(nil); err != nil {
			return fmt.Errorf("write labels: label %d (%s): %w", i+1, l, err)
		}
		// the note is the one free text: a spreadsheet must not run it as a
		// formula (csvcell); Read restores it
		if err := cw.Write([]string{string(l.Scope), l.Key, l.From.String(), l.To.String(), string(l.Kind), string(l.Source), csvcell.Neutralize(l.Note)}); err != nil {
			return fmt.Errorf("write labels: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	return nil
}

type colIndex map[string]int

func columns(head []string) (colIndex, error) {
	cols := colIndex{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := cols[h]; dup {
			return nil, &LineError{Line: 1, Column: h, Err: errors.New("column appears twice")}
		}
		cols[h] = i
	}
	want := strings.Join(Header, ",")
	for _, h := range Header {
		if _, ok := cols[h]; !ok {
			return nil, &LineError{Line: 1, Column: h, Err: fmt.Errorf("column missing; the header must be %s", want)}
		}
	}
	for h := range cols {
		if !contains(Header, h) {
			return nil, &LineError{Line: 1, Column: h, Err: fmt.Errorf("unknown column; the header must be %s", want)}
		}
	}
	return cols, nil
}

func (c colIndex) get(rec []string, name string) string {
	return strings.TrimSpace(rec[c[name]])
}

func parseRow(rec []string, cols colIndex, regions *region.Table) (Label, *LineError) {
	l := Label{
		Scope:  Scope(cols.get(rec, "scope")),
		Key:    cols.get(rec, "key"),
		Kind:   Kind(cols.get(rec, "kind")),
		Source: Source(cols.get(rec, "source")),
		Note:   csvcell.Restore(cols.get(rec, "note")), // a file written by Write reads back as written
	}
	for _, p := range []struct {
		col string
		dst *report.Period
	}{{"from", &l.From}, {"to", &l.To}} {
		s := cols.get(rec, p.col)
		if s == "" && p.col == "to" {
			l.To = l.From
			continue
		}
		v, err := report.ParsePeriod(s)
		if err != nil {
			return Label{}, &LineError{Column: p.col, Err: fmt.Errorf("%w (write months as YYYY-MM; in a spreadsheet, format the column as text)", err)}
		}
		*p.dst = v
	}
	if err := l.Validate(regions); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return Label{}, &LineError{Column: fe.Column, Err: fe.Err}
		}
		return Label{}, &LineError{Err: err}
	}
	return l, nil
}
