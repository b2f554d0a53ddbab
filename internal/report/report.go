// Package report owns the monthly report of a monitored firm: its wire format
// (version 1, one JSON object per Kafka message), strict decoding, and every
// validation rule. Ingest, the gateway and `layoffwatch validate` all call
// Decode and Validate here, so a report is judged the same way on every path.
//
// It does not own the firm registry (internal/firms) or storage (internal/chdb).
package report

import (
	"fmt"
	"time"
)

// Limits of the wire format.
const (
	SchemaVersion = 1
	// MaxMessageBytes is the largest message accepted; larger ones are
	// rejected unread as too_large.
	MaxMessageBytes = 64 << 10
	// MaxCount bounds headcount, vacancies, hires and every separation.
	MaxCount = 10_000_000
	// MaxNoteRunes bounds the free-text note.
	MaxNoteRunes = 500
)

// SeparationReasons lists the keys allowed in the separations object, in the
// order they are stored.
var SeparationReasons = [...]string{
	"economic_layoff", "closure_bankruptcy", "suspension", "contract_expiry",
	"resignation", "retirement", "transfer", "other",
}

// Separations counts people who left during the period, by reason.
type Separations struct {
	EconomicLayoff    uint32 `json:"economic_layoff,omitempty"`
	ClosureBankruptcy uint32 `json:"closure_bankruptcy,omitempty"`
	Suspension        uint32 `json:"suspension,omitempty"`
	ContractExpiry    uint32 `json:"contract_expiry,omitempty"`
	Resignation       uint32 `json:"resignation,omitempty"`
	Retirement        uint32 `json:"retirement,omitempty"`
	Transfer          uint32 `json:"transfer,omitempty"`
	Other             uint32 `json:"other,omitempty"`
}

// Total is the sum over all reasons.
func (s Separations) Total() uint32 {
	return s.EconomicLayoff + s.ClosureBankruptcy + s.Suspension + s.ContractExpiry +
		s.Resignation + s.Retirement + s.Transfer + s.Other
}

// Report is one validated monthly report.
type Report struct {
	FirmID      string      `json:"firm_id"`
	Period      Period      `json:"period"`
	Headcount   uint32      `json:"headcount"`
	Vacancies   uint32      `json:"vacancies"`
	Hires       uint32      `json:"hires"`
	Separations Separations `json:"separations"`
	Revision    uint32      `json:"revision"`
	ReportedAt  time.Time   `json:"reported_at,omitzero"`
	Note        string      `json:"note,omitempty"`
}

// Period is a calendar month, stored as year*12 + (month-1) so that month
// arithmetic is integer arithmetic.
type Period int32

// MinPeriod is 2000-01, the earliest period accepted.
const MinPeriod = Period(2000 * 12)

// NewPeriod returns the period of year and month (1–12).
func NewPeriod(year int, month time.Month) Period {
	return Period(year*12 + int(month) - 1)
}

// PeriodOf returns the month that t falls in, in t's location.
func PeriodOf(t time.Time) Period { return NewPeriod(t.Year(), t.Month()) }

// Year of the period.
func (p Period) Year() int { return int(p) / 12 }

// Month of the period.
func (p Period) Month() time.Month { return time.Month(int(p)%12 + 1) }

// Add returns the period n months later (earlier when n < 0).
func (p Period) Add(n int) Period { return p + Period(n) }

// Start is the first day of the period, 00:00 UTC.
func (p Period) Start() time.Time {
	return time.Date(p.Year(), p.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// String formats the period as YYYY-MM.
func (p Period) String() string { return fmt.Sprintf("%04d-%02d", p.Year(), int(p.Month())) }

// ParsePeriod parses YYYY-MM strictly.
func ParsePeriod(s string) (Period, error) {
	if len(s) != 7 || s[4] != '-' {
		return 0, fmt.Errorf("period %q is not YYYY-MM", s)
	}
	p, m, ok := parsePeriod(s)
	switch {
	case !ok:
		return 0, fmt.Errorf("period %q is not YYYY-MM", s)
	case m < 1 || m > 12:
		return 0, fmt.Errorf("period %q has no month %d", s, m)
	}
	return p, nil
}

// parsePeriod reads YYYY-MM without allocating: ok when s has that shape,
// p valid when the month m is 1..12 too.
func parsePeriod[T string | []byte](s T) (p Period, m int, ok bool) {
	if len(s) != 7 || s[4] != '-' {
		return 0, 0, false
	}
	y := 0
	for i := range len(s) {
		c := s[i]
		if i == 4 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, 0, false
		}
		if i < 4 {
			y = y*10 + int(c-'0')
		} else {
			m = m*10 + int(c-'0')
		}
	}
	if m < 1 || m > 12 {
		return 0, m, true
	}
	return NewPeriod(y, time.Month(m)), m, true
}

// MarshalText implements encoding.TextMarshaler.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}
