// Package csvcell keeps text exported to CSV (and to spreadsheets) from
// being read as a formula: a cell that starts with = + - @, a tab or a
// carriage return is run by Excel, LibreOffice and Google Sheets as a formula
// (CSV injection, CWE-1236), so an exported cell starting so gets a leading
// apostrophe, which spreadsheets take as "this is text". Data is stored raw;
// only exports are neutralised, and Restore lets an importer read an
// exported file back to the stored text.
//
// Every CSV or xlsx export of the project writes its text cells through
// Neutralize (today: the firm registry with its contacts,
// internal/firms.WriteCSV; the labels' notes, internal/label.Write; the
// console's monthly report, CSV and xlsx). Grafana's own CSV download
// neutralises likewise (since Grafana 6.2.2).
package csvcell

import (
	"fmt"
	"strings"
)

// formulaStart holds the characters a spreadsheet reads a formula from.
const formulaStart = "=+-@\t\r"

// Neutralize returns s as an exported cell: with a leading apostrophe when
// s starts with a formula character, or with an apostrophe that Restore
// would otherwise take away; unchanged otherwise.
func Neutralize(s string) string {
	if s == "" {
		return s
	}
	if strings.IndexByte(formulaStart, s[0]) >= 0 || s[0] == '\'' && len(s) > 1 && escaped(s[1]) {
		return "'" + s
	}
	return s
}

// Restore undoes Neutralize: Restore(Neutralize(s)) == s for every s.
func Restore(s string) string {
	if len(s) > 1 && s[0] == '\'' && escaped(s[1]) {
		return s[1:]
	}
	return s
}

// escaped reports whether c after a leading apostrophe means the apostrophe
// was added by Neutralize.
func escaped(c byte) bool { return c == '\'' || strings.IndexByte(formulaStart, c) >= 0 }

// LineError is a problem with one line of an imported CSV file (the firm
// registry, a label file): its line number, the column when the problem is
// one field, and the error.
type LineError struct {
	Line   int
	Column string // "" when the problem is the whole line
	Err    error
}

func (e *LineError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("line %d: %s: %v", e.Line, e.Column, e.Err)
}

func (e *LineError) Unwrap() error { return e.Err }

// MaxErrors caps how many line errors an importer collects before it stops.
const MaxErrors = 1000
