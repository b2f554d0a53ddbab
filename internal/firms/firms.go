// Package firms owns the registry of monitored firms: the CSV format
// (firm_id,name,region,industry,baseline_headcount[,ownership,enrolled_from,enrolled_to,
// contact_name,contact_email,contact_phone]),
// its validation, lookups by id, and the registry's ClickHouse table (Store).
// It does not judge reports (internal/report does).
package firms

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/layoffwatch/layoffwatch/internal/csvcell"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Firm is one monitored enterprise.
type Firm struct {
	ID                string
	Name              string
	Region            string // county code (GB/T 2260)
	Industry          string // GB/T 4754-2017 section letter A–T
	BaselineHeadcount uint32
	Ownership         string
	EnrolledFrom      time.Time // zero: always enrolled
	EnrolledTo        time.Time // zero: still enrolled; else the first day no longer in the sample
	// Contact is whom the bureau calls about a warning and reminds to
	// report (all optional).
	ContactName  string
	ContactEmail string
	ContactPhone string
}

// Prefecture returns the firm's prefecture code.
func (f Firm) Prefecture() string { return region.PrefectureOf(f.Region) }

// EnrolledIn reports whether the firm belongs to the sample in period p: it
// joined on or before the period's last day and had not left by its first.
func (f Firm) EnrolledIn(p report.Period) bool {
	if !f.EnrolledFrom.IsZero() && f.EnrolledFrom.After(p.Add(1).Start().Add(-time.Nanosecond)) {
		return false
	}
	if !f.EnrolledTo.IsZero() && !f.EnrolledTo.After(p.Start()) {
		return false
	}
	return true
}

// Header is the required CSV header; OptionalColumns may follow it.
var (
	Header          = []string{"firm_id", "name", "region", "industry", "baseline_headcount"}
	OptionalColumns = []string{"ownership", "enrolled_from", "enrolled_to", "contact_name", "contact_email", "contact_phone"}
)

// Ownership values accepted in the ownership column.
var Ownerships = []string{"state", "collective", "private", "foreign", "hmt", "mixed", "other"}

// Registry is a validated set of firms.
type Registry struct {
	byID map[string]Firm
}

// NewRegistry builds a registry from firms (later entries win).
func NewRegistry(list []Firm) *Registry {
	r := &Registry{byID: make(map[string]Firm, len(list))}
	for _, f := range list {
		r.byID[f.ID] = f
	}
	return r
}

// Lookup returns the firm with id.
func (r *Registry) Lookup(id string) (Firm, bool) {
	f, ok := r.byID[id]
	return f, ok
}

// Len is the number of firms.
func (r *Registry) Len() int { return len(r.byID) }

// All returns the firms sorted by id.
func (r *Registry) All() []Firm {
	out := make([]Firm, 0, len(r.byID))
	for _, f := range r.byID {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// LineError is a problem with one line of the registry.
type LineError = csvcell.LineError

// MaxErrors caps how many line errors are collected before reading stops.
const MaxErrors = csvcell.MaxErrors

// ParseCSV reads and validates a registry. It reports every bad line (up to
// MaxErrors) joined in one error and returns no firms when any line is bad,
// so that a file with errors is never loaded in part. regions may be nil to
// check only the code's form.
func ParseCSV(r io.Reader, regions *region.Table) ([]Firm, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	cols, err := columns(head)
	if err != nil {
		return nil, err
	}
	var (
		out  []Firm
		errs []error
		seen = make(map[string]int)
	)
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				// cannot happen with FieldsPerRecord = -1; kept for safety
				errs = append(errs, &LineError{Line: pe.Line, Err: pe.Err})
				continue
			}
			errs = append(errs, fmt.Errorf("read csv: %w", err))
			break
		}
		// Only after a successful Read: FieldPos panics when the record
		// failed to parse in its first field.
		line, _ := cr.FieldPos(0)
		if len(rec) != len(head) {
			errs = append(errs, &LineError{Line: line, Err: fmt.Errorf("has %d fields, the header has %d", len(rec), len(head))})
			continue
		}
		f, lerr := parseRow(rec, cols, regions)
		if lerr != nil {
			lerr.Line = line
			errs = append(errs, lerr)
		} else if first, dup := seen[f.ID]; dup {
			errs = append(errs, &LineError{Line: line, Column: "firm_id", Err: fmt.Errorf("firm %s is listed again (first on line %d)", f.ID, first)})
		} else {
			seen[f.ID] = line
			out = append(out, f)
		}
		if len(errs) >= MaxErrors {
			errs = append(errs, fmt.Errorf("stopped after %d errors", MaxErrors))
			break
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

type colIndex map[string]int

// LoadFile reads and checks a registry CSV against Gansu's division codes
// (the shipped table). A file with any bad line is an error that lists
// every bad line with its number.
func LoadFile(path string) ([]Firm, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open firm registry: %w", err)
	}
	defer f.Close()
	list, err := ParseCSV(f, region.China())
	if err != nil {
		return nil, fmt.Errorf("firm registry %s: %w", path, err)
	}
	return list, nil
}

func columns(head []string) (colIndex, error) {
	cols := colIndex{}
	for i, h := range head {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if _, dup := cols[h]; dup {
			return nil, &LineError{Line: 1, Column: h, Err: errors.New("column appears twice")}
		}
		cols[h] = i
	}
	for _, h := range Header {
		if _, ok := cols[h]; !ok {
			return nil, &LineError{Line: 1, Column: h, Err: fmt.Errorf("required column missing; the header must start with %s", strings.Join(Header, ","))}
		}
	}
	known := map[string]bool{}
	for _, h := range append(append([]string{}, Header...), OptionalColumns...) {
		known[h] = true
	}
	for h := range cols {
		if !known[h] {
			return nil, &LineError{Line: 1, Column: h, Err: fmt.Errorf("unknown column; allowed: %s", strings.Join(append(append([]string{}, Header...), OptionalColumns...), ", "))}
		}
	}
	return cols, nil
}

func (c colIndex) get(rec []string, name string) string {
	i, ok := c[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

func parseRow(rec []string, cols colIndex, regions *region.Table) (Firm, *LineError) {
	bad := func(col string, format string, args ...any) (Firm, *LineError) {
		return Firm{}, &LineError{Column: col, Err: fmt.Errorf(format, args...)}
	}
	f := Firm{
		ID:        cols.get(rec, "firm_id"),
		Name:      csvcell.Restore(cols.get(rec, "name")), // a file written by WriteCSV reads back as stored
		Region:    cols.get(rec, "region"),
		Industry:  cols.get(rec, "industry"),
		Ownership: cols.get(rec, "ownership"),

		ContactName:  csvcell.Restore(cols.get(rec, "contact_name")),
		ContactEmail: csvcell.Restore(cols.get(rec, "contact_email")),
		ContactPhone: csvcell.Restore(cols.get(rec, "contact_phone")),
	}
	if err := report.CheckFirmID(f.ID); err != nil {
		return bad("firm_id", "%v", err)
	}
	if f.Name == "" {
		return bad("name", "name is empty")
	}
	if n := utf8.RuneCountInString(f.Name); n > 200 || !utf8.ValidString(f.Name) {
		return bad("name", "name must be valid UTF-8 of at most 200 characters")
	}
	if strings.ContainsAny(f.Name, "\r\n\x00") {
		return bad("name", "name must be one line")
	}
	if regions != nil {
		if err := regions.CheckCounty(f.Region); err != nil {
			return bad("region", "%v", err)
		}
	} else if !isDigits(f.Region, 6) || region.LevelOf(f.Region) != region.County {
		return bad("region", "region %q is not a 6-digit county code", f.Region)
	}
	if len(f.Industry) != 1 || f.Industry[0] < 'A' || f.Industry[0] > 'T' {
		return bad("industry", "industry %q is not a GB/T 4754-2017 section letter A–T", f.Industry)
	}
	n, err := strconv.ParseUint(cols.get(rec, "baseline_headcount"), 10, 32)
	if err != nil || n > report.MaxCount {
		return bad("baseline_headcount", "baseline_headcount %q is not a whole number from 0 to %d", cols.get(rec, "baseline_headcount"), report.MaxCount)
	}
	f.BaselineHeadcount = uint32(n)
	if f.Ownership != "" && !slices.Contains(Ownerships, f.Ownership) {
		return bad("ownership", "ownership %q is not one of %s", f.Ownership, strings.Join(Ownerships, ", "))
	}
	for _, c := range []struct {
		col string
		dst *time.Time
	}{{"enrolled_from", &f.EnrolledFrom}, {"enrolled_to", &f.EnrolledTo}} {
		s := cols.get(rec, c.col)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return bad(c.col, "%s %q is not a date YYYY-MM-DD", c.col, s)
		}
		*c.dst = t
	}
	if !f.EnrolledFrom.IsZero() && !f.EnrolledTo.IsZero() && !f.EnrolledTo.After(f.EnrolledFrom) {
		return bad("enrolled_to", "enrolled_to %s is not after enrolled_from %s", f.EnrolledTo.Format(time.DateOnly), f.EnrolledFrom.Format(time.DateOnly))
	}
	if col, err := checkContact(f); err != nil {
		return bad(col, "%v", err)
	}
	return f, nil
}

// checkContact checks the optional contact columns: a one-line name, a
// plain email address (reminders are sent to it), a phone number of digits
// and the usual separators.
func checkContact(f Firm) (column string, err error) {
	if n := utf8.RuneCountInString(f.ContactName); n > 100 || !utf8.ValidString(f.ContactName) || strings.ContainsAny(f.ContactName, "\r\n\x00") {
		return "contact_name", errors.New("contact_name must be one line of at most 100 characters")
	}
	if f.ContactEmail != "" {
		addr, err := mail.ParseAddress(f.ContactEmail)
		if err != nil || addr.Address != f.ContactEmail || len(f.ContactEmail) > 254 {
			return "contact_email", fmt.Errorf("contact_email %q is not a plain email address", f.ContactEmail)
		}
	}
	if len(f.ContactPhone) > 32 || strings.Trim(f.ContactPhone, "0123456789+-() ") != "" {
		return "contact_phone", fmt.Errorf("contact_phone %q must be digits with + - ( ) or spaces, at most 32", f.ContactPhone)
	}
	return "", nil
}

func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// WriteCSV writes firms in the registry format with all optional columns.
// Text that a spreadsheet would run as a formula is neutralised
// (csvcell.Neutralize); ParseCSV reads it back as stored.
func WriteCSV(w io.Writer, list []Firm) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(append(append([]string{}, Header...), OptionalColumns...)); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	date := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.Format(time.DateOnly)
	}
	for _, f := range list {
		row := []string{f.ID, f.Name, f.Region, f.Industry, strconv.FormatUint(uint64(f.BaselineHeadcount), 10),
			f.Ownership, date(f.EnrolledFrom), date(f.EnrolledTo), f.ContactName, f.ContactEmail, f.ContactPhone}
		for i := range row {
			row[i] = csvcell.Neutralize(row[i])
		}
		if err := cw.Write(row); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// Has reports whether id is registered; it makes a Registry a report.Registry.
func (r *Registry) Has(id string) bool {
	_, ok := r.byID[id]
	return ok
}
