// Package label owns the ground truth that warnings are judged against: a
// label says what really happened to a firm or a region over a range of
// months (a layoff, a closure, a seasonal dip, a data error, nothing at
// all), who says so (the simulator, an official closing a warning, an
// analyst) and why. It owns the label type, the kinds and whether each is an
// event a plan should catch, and the CSV file format that analysts edit in a
// spreadsheet:
//
//	scope,key,from,to,kind,source,note
//	firm,91620102MA7K10003N,2025-03,2025-03,layoff,analyst,120 cut; reported as resignations
//	county,620982/H,2025-11,2026-02,seasonal,analyst,Dunhuang hotels close for the winter
//
// It does not evaluate plans against labels (that is `plan eval`), does not
// produce them (internal/simulate, the alert component) and does not know
// whether a firm id is registered (internal/firms): it checks the form of
// keys and, given a region table, that region codes exist.
package label

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agnivade/levenshtein"

	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Scope is what a label is about.
type Scope string

// Scopes.
const (
	Firm       Scope = "firm"       // key: a unified social credit code
	County     Scope = "county"     // key: a county-level code, optionally /industry
	Prefecture Scope = "prefecture" // key: a prefecture-level code, optionally /industry
	Province   Scope = "province"   // key: a province code, optionally /industry
)

// Scopes lists the valid scopes.
var Scopes = []Scope{Firm, County, Prefecture, Province}

// Kind is what happened.
type Kind string

// Kinds. The first four are events a risk plan should catch; the others are
// negatives: a warning about them is a false warning.
const (
	// Layoff: people were laid off at once (one month, or a few months
	// for a layoff carried out in steps), whatever reason the reports gave.
	Layoff Kind = "layoff"
	// Closure: the firm closed or went bankrupt; its headcount fell to 0.
	Closure Kind = "closure"
	// SplitLayoff: several cuts, each below the art. 41 line (< 20 people
	// and < 10% of staff), together past it within 90 days.
	SplitLayoff Kind = "split_layoff"
	// RegionalDownturn: a county or prefecture losing real jobs, a few
	// percent a month for several months, across many firms.
	RegionalDownturn Kind = "regional_downturn"
	// Seasonal: a seasonal dip (winter stop, tourism off-season, Spring
	// Festival); no job is lost for good.
	Seasonal Kind = "seasonal"
	// DataError: a wrong report (a dropped digit, a mistyped headcount),
	// corrected later or never.
	DataError Kind = "data_error"
	// FalseAlarm: an official checked a warning and found nothing behind it.
	FalseAlarm Kind = "false_alarm"
	// Nothing: an ordinary period: turnover, a missing report, a project
	// that ended, slow structural decline.
	Nothing Kind = "nothing"
)

// Kinds lists the valid kinds, events first.
var Kinds = []Kind{Layoff, Closure, SplitLayoff, RegionalDownturn, Seasonal, DataError, FalseAlarm, Nothing}

// IsEvent reports whether k is an event to catch (layoff, closure,
// split_layoff, regional_downturn) rather than a negative.
func (k Kind) IsEvent() bool {
	switch k {
	case Layoff, Closure, SplitLayoff, RegionalDownturn:
		return true
	}
	return false
}

// Source is who says so.
type Source string

// Sources.
const (
	Simulator Source = "simulator" // planted by internal/simulate
	Official  Source = "official"  // an official's verdict when closing a warning
	Analyst   Source = "analyst"   // a file an analyst wrote
)

// Sources lists the valid sources.
var Sources = []Source{Simulator, Official, Analyst}

// MaxNoteRunes bounds the free-text note.
const MaxNoteRunes = 500

// Label is one piece of ground truth: scope and key name the firm or
// region, From..To (inclusive) the months.
type Label struct {
	Scope  Scope
	Key    string // firm id; or region code, optionally "region/industry"
	From   report.Period
	To     report.Period
	Kind   Kind
	Source Source
	Note   string
}

// Covers reports whether p falls in From..To.
func (l Label) Covers(p report.Period) bool { return p >= l.From && p <= l.To }

// Months is the number of months From..To spans.
func (l Label) Months() int { return int(l.To-l.From) + 1 }

// Region is the region code of a region label ("" for a firm label).
func (l Label) Region() string {
	if l.Scope == Firm {
		return ""
	}
	code, _, _ := strings.Cut(l.Key, "/")
	return code
}

// Industry is the GB/T 4754-2017 section of a "region/industry" key, or "".
func (l Label) Industry() string {
	if l.Scope == Firm {
		return ""
	}
	_, ind, _ := strings.Cut(l.Key, "/")
	return ind
}

// String formats the label as one CSV-like line, for messages.
func (l Label) String() string {
	return fmt.Sprintf("%s %s %s..%s %s (%s)", l.Scope, l.Key, l.From, l.To, l.Kind, l.Source)
}

// Validate reports the first problem with l as a FieldError. regions may be
// nil to check only the form of region codes.
func (l Label) Validate(regions *region.Table) error {
	switch {
	case l.Scope == "":
		return fieldErr("scope", "scope is empty (one of %s)", join(Scopes))
	case l.Kind == "":
		return fieldErr("kind", "kind is empty (one of %s)", join(Kinds))
	case l.Source == "":
		return fieldErr("source", "source is empty (one of %s)", join(Sources))
	}
	if !contains(Scopes, l.Scope) {
		return fieldErr("scope", "scope %q is not known; did you mean %q? (one of %s)", l.Scope, nearest(string(l.Scope), Scopes), join(Scopes))
	}
	if err := checkKey(l.Scope, l.Key, regions); err != nil {
		return &FieldError{Column: "key", Err: err}
	}
	if l.From < report.MinPeriod || l.From > maxPeriod {
		return fieldErr("from", "from %s is outside %s..%s", l.From, report.MinPeriod, maxPeriod)
	}
	if l.To < l.From {
		return fieldErr("to", "to %s is before from %s", l.To, l.From)
	}
	if l.To > maxPeriod {
		return fieldErr("to", "to %s is after %s", l.To, maxPeriod)
	}
	if !contains(Kinds, l.Kind) {
		return fieldErr("kind", "kind %q is not known; did you mean %q? (one of %s)", l.Kind, nearest(string(l.Kind), Kinds), join(Kinds))
	}
	if !contains(Sources, l.Source) {
		return fieldErr("source", "source %q is not known; did you mean %q? (one of %s)", l.Source, nearest(string(l.Source), Sources), join(Sources))
	}
	if !utf8.ValidString(l.Note) || utf8.RuneCountInString(l.Note) > MaxNoteRunes {
		return fieldErr("note", "note must be valid UTF-8 of at most %d characters", MaxNoteRunes)
	}
	for _, c := range l.Note {
		if c < ' ' && c != '\n' && c != '\t' || c == 0x7f {
			return fieldErr("note", "note contains the control character %U (only line breaks and tabs are allowed)", c)
		}
	}
	return nil
}

// maxPeriod is the last period a label may name: 9999-12.
var maxPeriod = report.NewPeriod(9999, 12)

// checkKey checks that key names something of scope.
func checkKey(scope Scope, key string, regions *region.Table) error {
	if key == "" {
		return fmt.Errorf("key is empty; a %s label needs %s", scope, keyHint(scope))
	}
	if scope == Firm {
		if err := report.CheckFirmID(key); err != nil {
			if len(key) == 6 || len(key) > 6 && key[6] == '/' {
				return fmt.Errorf("key %q is a region, not a firm id; use the scope county, prefecture or province", key)
			}
			return fmt.Errorf("key %q: %w", key, err)
		}
		return nil
	}
	code, ind, hasInd := strings.Cut(key, "/")
	if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
		return fmt.Errorf("key %q: %q is not a 6-digit GB/T 2260 region code; a %s label needs %s", key, code, scope, keyHint(scope))
	}
	want := map[Scope]region.Level{County: region.County, Prefecture: region.Prefecture, Province: region.Province}[scope]
	if got := region.LevelOf(code); got != want {
		return fmt.Errorf("key %q: %s is a %s code, the scope is %s", key, code, got, scope)
	}
	if regions != nil {
		if _, ok := regions.Lookup(code); !ok {
			return fmt.Errorf("key %q: region %s is not a known code", key, code)
		}
	}
	if hasInd && (len(ind) != 1 || ind[0] < 'A' || ind[0] > 'T') {
		return fmt.Errorf("key %q: industry %q after the / is not a GB/T 4754-2017 section letter A–T", key, ind)
	}
	return nil
}

func keyHint(s Scope) string {
	switch s {
	case Firm:
		return "an 18-character unified social credit code"
	case County:
		return "a county code such as 620982, or 620982/H for one industry"
	case Prefecture:
		return "a prefecture code such as 620900, or 620900/E for one industry"
	}
	return "a province code such as 620000, or 620000/C for one industry"
}

// FieldError is a problem with one field of a label.
type FieldError struct {
	Column string
	Err    error
}

func (e *FieldError) Error() string { return e.Column + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(col, format string, args ...any) *FieldError {
	return &FieldError{Column: col, Err: fmt.Errorf(format, args...)}
}

func contains[T ~string](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func join[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, v := range list {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// nearest returns the valid value closest to s by edit distance, ignoring
// case (ties go to the earlier value).
func nearest[T ~string](s string, valid []T) T {
	s = strings.ToLower(strings.TrimSpace(s))
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64]) // a note pasted into the kind column: any answer will do
	}
	best, bestD := valid[0], -1
	for _, v := range valid {
		if d := levenshtein.ComputeDistance(s, string(v)); bestD < 0 || d < bestD {
			best, bestD = v, d
		}
	}
	return best
}
