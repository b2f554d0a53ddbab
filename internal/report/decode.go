package report

import (
	"math/bits"

	"github.com/valyala/fastjson"

	"bytes"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Reason codes, stable: they appear in `validate` output, in the DLQ headers,
// in the rejects table and in the gateway's problem details.
const (
	ReasonMalformedJSON     = "malformed_json"
	ReasonUnknownField      = "unknown_field"
	ReasonMissingField      = "missing_field"
	ReasonUnsupportedSchema = "unsupported_schema_version"
	ReasonInvalidFirmID     = "invalid_firm_id"
	ReasonUnknownFirm       = "unknown_firm"
	ReasonInvalidPeriod     = "invalid_period"
	ReasonFuturePeriod      = "future_period"
	ReasonOutOfRange        = "out_of_range"
	ReasonTooLarge          = "too_large"
	// ReasonInvalidEncoding: a string is not valid UTF-8 or escapes a lone
	// UTF-16 surrogate (\ud800): it is refused, never silently replaced.
	ReasonInvalidEncoding = "invalid_encoding"
	// ReasonDuplicateRevision: the same (firm, period, revision) was already
	// submitted or stored with other content. Decode cannot tell; ingest and
	// the gateway, which know what was stored, refuse with it.
	ReasonDuplicateRevision = "duplicate_revision"
)

// Problem says why a report was refused. It is an error.
type Problem struct {
	Reason  string `json:"reason"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p *Problem) Error() string {
	if p.Field == "" {
		return p.Reason + ": " + p.Message
	}
	return p.Reason + ": " + p.Field + ": " + p.Message
}

func problem(reason, field, format string, args ...any) *Problem {
	return &Problem{Reason: reason, Field: field, Message: fmt.Sprintf(format, args...)}
}

// TooLarge is the problem of a message of n bytes, over MaxMessageBytes.
func TooLarge(n int) *Problem {
	return problem(ReasonTooLarge, "", "message has %d bytes, the limit is %d", n, MaxMessageBytes)
}

// wire holds one decoded message: fill sets it from fastjson's parse (the
// keys are matched there, by name, not through struct tags); pointers tell
// a missing field from a zero.
type wire struct {
	SchemaVersion *int64
	Headcount     *int64
	Vacancies     *int64
	Hires         *int64
	sepSet        uint8    // which of sep were given, by index in SeparationReasons
	sep           [8]int64 // separations by index in SeparationReasons
	Revision      *int64

	// The string fields point into the parser's memory (valid until it is
	// reused: validate copies what it keeps); strs has the bit of each
	// field given, not null.
	FirmID, Period, ReportedAt, Note []byte
	strs                             int
	firmValid                        bool // set by check

	ints [6]int64 // storage the int pointers above point into
	num  [24]byte // a number's literal, for the check of its syntax
}

// shanghai is the bureau's clock; "the month of now" is read on it.
var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*3600) // no tzdata: China has had no DST since 1991
	}
	return loc
}()

// Shanghai returns the Asia/Shanghai location used for periods and deadlines.
func Shanghai() *time.Location { return shanghai }

// decoders are reused: a fastjson.Parser keeps its buffers between
// messages, and the wire is cleared, so a valid report decodes without
// allocating beyond its own strings.
var decoders = sync.Pool{New: func() any { return new(decoder) }}

type decoder struct {
	p fastjson.Parser
	w wire
}

// Decode parses and validates one message. now is the clock used when the
// report has no reported_at.
//
// JSON is parsed with valyala/fastjson: strict syntax, exact (case-sensitive)
// keys, and no allocation per message, which matters at ingest rates of
// hundreds of thousands of reports a second.
func Decode(data []byte, now time.Time) (Report, *Problem) {
	r, _, p := decode(data, now, false, nil)
	return r, p
}

// decode is Decode; with received, a reported_at in the message is judged
// (an RFC 3339 string, or absent) and then dropped: the report counts as
// reported at now. With in, the firm id is taken from it when it has the
// firm (interned: true), rather than allocated.
func decode(data []byte, now time.Time, received bool, in Interner) (r Report, interned bool, prob *Problem) {
	if len(data) > MaxMessageBytes {
		return Report{}, false, TooLarge(len(data))
	}
	d := decoders.Get().(*decoder)
	defer decoders.Put(d)
	v, err := d.p.ParseBytes(data)
	if err != nil {
		msg := err.Error()
		switch {
		case len(bytes.TrimSpace(data)) == 0:
			msg = "empty message: a report must be a JSON object"
		case strings.Contains(msg, "unexpected tail"):
			msg = "data after the JSON object"
		case strings.Contains(msg, "unexpected end"):
			msg = "empty or truncated JSON"
		default:
			msg = "invalid JSON: " + strings.TrimPrefix(msg, "cannot parse JSON: ")
		}
		return Report{}, false, problem(ReasonMalformedJSON, "", "%s", msg)
	}
	if prob := checkStrings(data); prob != nil {
		return Report{}, false, prob
	}
	d.w = wire{}
	w := &d.w
	if prob := w.fill(v); prob != nil {
		return Report{}, false, prob
	}
	return w.validate(now, received, in)
}

// field bits, to catch a key given twice
const (
	fSchema = 1 << iota
	fFirm
	fPeriod
	fHeadcount
	fVacancies
	fHires
	fSeparations
	fRevision
	fReportedAt
	fNote
)

// fill copies the parsed object into w, checking keys and JSON types; the
// rules on values are validate's.
func (w *wire) fill(v *fastjson.Value) *Problem {
	if v.Type() != fastjson.TypeObject {
		return problem(ReasonMalformedJSON, "", "a report must be a JSON object, got %s", kindOf(v))
	}
	obj, _ := v.Object()
	var seen int
	var prob *Problem
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if prob != nil {
			return
		}
		bit, ok := fieldBit(k)
		if !ok {
			key := string(k)
			prob = problem(ReasonUnknownField, key, "field %q is not part of schema version %d", key, SchemaVersion)
			return
		}
		key := fieldNames[bits.TrailingZeros(uint(bit))]
		if seen&bit != 0 {
			prob = problem(ReasonMalformedJSON, key, "field %q appears more than once", key)
			return
		}
		seen |= bit
		if v.Type() == fastjson.TypeNull {
			return // null is the same as absent
		}
		switch bit {
		case fSchema:
			w.SchemaVersion, prob = w.intField(key, v, &w.ints[0])
		case fFirm:
			w.FirmID, prob = stringField(key, v)
			w.strs |= bit
		case fPeriod:
			w.Period, prob = stringField(key, v)
			w.strs |= bit
		case fHeadcount:
			w.Headcount, prob = w.intField(key, v, &w.ints[1])
		case fVacancies:
			w.Vacancies, prob = w.intField(key, v, &w.ints[2])
		case fHires:
			w.Hires, prob = w.intField(key, v, &w.ints[3])
		case fRevision:
			w.Revision, prob = w.intField(key, v, &w.ints[4])
		case fReportedAt:
			w.ReportedAt, prob = stringField(key, v)
			w.strs |= bit
		case fNote:
			w.Note, prob = stringField(key, v)
			w.strs |= bit
		case fSeparations:
			prob = w.fillSeparations(v)
		}
	})
	return prob
}

// fieldNames are the keys of schema version 1 in the order of their bits.
var fieldNames = [...]string{"schema_version", "firm_id", "period", "headcount", "vacancies",
	"hires", "separations", "revision", "reported_at", "note"}

// fieldBit maps a key of schema version 1, spelled exactly, to its bit.
// (A switch on string(key) does not allocate.)
func fieldBit(key []byte) (int, bool) {
	switch string(key) {
	case "schema_version":
		return fSchema, true
	case "firm_id":
		return fFirm, true
	case "period":
		return fPeriod, true
	case "headcount":
		return fHeadcount, true
	case "vacancies":
		return fVacancies, true
	case "hires":
		return fHires, true
	case "separations":
		return fSeparations, true
	case "revision":
		return fRevision, true
	case "reported_at":
		return fReportedAt, true
	case "note":
		return fNote, true
	}
	return 0, false
}

// sepFields name the separations for problems: "separations.<reason>".
var sepFields = func() (f [len(SeparationReasons)]string) {
	for i, r := range SeparationReasons {
		f[i] = "separations." + r
	}
	return f
}()

// separationIndex is the index of reason in SeparationReasons, or -1.
func separationIndex(reason []byte) int {
	for i, r := range SeparationReasons {
		if string(reason) == r {
			return i
		}
	}
	return -1
}

func (w *wire) fillSeparations(v *fastjson.Value) *Problem {
	if v.Type() != fastjson.TypeObject {
		return problem(ReasonMalformedJSON, "separations", "separations must be an object, got %s", kindOf(v))
	}
	obj, _ := v.Object()
	var prob *Problem
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if prob != nil {
			return
		}
		i := separationIndex(k)
		switch {
		case i < 0:
			field := "separations." + string(k)
			prob = problem(ReasonUnknownField, field, "separation reason %q is not one of %s", k, strings.Join(SeparationReasons[:], ", "))
		case w.sepSet&(1<<i) != 0:
			prob = problem(ReasonMalformedJSON, sepFields[i], "field %q appears more than once", sepFields[i])
		case v.Type() == fastjson.TypeNull:
		default:
			if _, prob = w.intField(sepFields[i], v, &w.sep[i]); prob == nil {
				w.sepSet |= 1 << i
			}
		}
	})
	return prob
}

// intField reads an integer into slot and returns slot.
func (w *wire) intField(name string, v *fastjson.Value, slot *int64) (*int64, *Problem) {
	if v.Type() != fastjson.TypeNumber {
		return nil, problem(ReasonMalformedJSON, name, "%s must be an integer, got %s", name, kindOf(v))
	}
	if lit := v.MarshalTo(w.num[:0]); !isJSONNumber(lit) {
		// fastjson takes 01, +1, 1-, NaN and inf for numbers; RFC 8259 does not
		return nil, problem(ReasonMalformedJSON, name, "%s is not a JSON number: %s", name, string(lit))
	}
	n, err := v.Int64()
	if err != nil {
		lit := v.String()
		if !strings.ContainsAny(lit, ".eE") {
			// an integer, too large for 64 bits
			return nil, problem(ReasonOutOfRange, name, "%s must be between 0 and %d, got %s", name, MaxCount, lit)
		}
		return nil, problem(ReasonMalformedJSON, name, "%s must be an integer, got %s", name, lit)
	}
	*slot = n
	return slot, nil
}

// isJSONNumber reports whether lit is a number as RFC 8259 writes one:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber[T string | []byte](lit T) bool {
	i, n := 0, len(lit)
	digits := func() int {
		start := i
		for i < n && lit[i] >= '0' && lit[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < n && lit[i] == '-' {
		i++
	}
	switch {
	case i < n && lit[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < n && lit[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < n && (lit[i] == 'e' || lit[i] == 'E') {
		i++
		if i < n && (lit[i] == '+' || lit[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == n
}

// stringField returns the string's bytes, in the parser's memory
// (checkStrings has held them to UTF-8 and whole characters).
func stringField(name string, v *fastjson.Value) ([]byte, *Problem) {
	b, err := v.StringBytes()
	if err != nil {
		return nil, problem(ReasonMalformedJSON, name, "%s must be a string, got %s", name, kindOf(v))
	}
	return b, nil
}

func kindOf(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeObject:
		return "object"
	case fastjson.TypeArray:
		return "array"
	case fastjson.TypeString:
		return "string"
	case fastjson.TypeNumber:
		return "number"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "boolean"
	default:
		return "null"
	}
}

func (w *wire) validate(now time.Time, received bool, in Interner) (Report, bool, *Problem) {
	r, prob := w.check(now, received)
	if !w.firmValid {
		return r, false, prob
	}
	// a valid firm id is in the report, whatever else is wrong with it
	if in != nil {
		if id, ok := in.Intern(w.FirmID); ok {
			r.FirmID = id
			return r, true, prob
		}
	}
	r.FirmID = string(w.FirmID)
	return r, false, prob
}

// check applies the rules on values; it leaves r.FirmID to validate, which
// takes it from the registry when it can.
func (w *wire) check(now time.Time, received bool) (Report, *Problem) {
	var r Report
	if w.SchemaVersion == nil {
		return r, problem(ReasonMissingField, "schema_version", "schema_version is required")
	}
	if *w.SchemaVersion != SchemaVersion {
		return r, problem(ReasonUnsupportedSchema, "schema_version", "schema_version %d is not supported; use %d", *w.SchemaVersion, SchemaVersion)
	}
	if w.strs&fFirm == 0 {
		return r, problem(ReasonMissingField, "firm_id", "firm_id is required")
	}
	if err := checkFirmID(w.FirmID); err != nil {
		return r, problem(ReasonInvalidFirmID, "firm_id", "%v", err)
	}
	w.firmValid = true
	if w.strs&fPeriod == 0 {
		return r, problem(ReasonMissingField, "period", "period is required")
	}
	p, _, ok := parsePeriod(w.Period)
	if !ok || p == 0 {
		_, err := ParsePeriod(string(w.Period))
		return r, problem(ReasonInvalidPeriod, "period", "%v", err)
	}
	if p < MinPeriod {
		return r, problem(ReasonInvalidPeriod, "period", "period %s is before %s", p, MinPeriod)
	}
	r.Period = p
	if w.strs&fReportedAt != 0 {
		t, err := time.Parse(time.RFC3339, string(w.ReportedAt))
		if err != nil {
			return r, problem(ReasonMalformedJSON, "reported_at", "reported_at must be an RFC 3339 time: %v", err)
		}
		if !received {
			r.ReportedAt = t
		}
	}
	clock := now
	if !r.ReportedAt.IsZero() {
		clock = r.ReportedAt
	}
	if limit := PeriodOf(clock.In(shanghai)); p > limit {
		return r, problem(ReasonFuturePeriod, "period", "period %s is after %s, the month it was reported in", p, limit)
	}
	var prob *Problem
	count := func(field string, v *int64, required bool, def uint32) uint32 {
		if prob != nil {
			return 0
		}
		if v == nil {
			if required {
				prob = problem(ReasonMissingField, field, "%s is required", field)
			}
			return def
		}
		if *v < 0 || *v > MaxCount {
			prob = problem(ReasonOutOfRange, field, "%s must be between 0 and %d, got %d", field, MaxCount, *v)
			return 0
		}
		return uint32(*v)
	}
	r.Headcount = count("headcount", w.Headcount, true, 0)
	r.Vacancies = count("vacancies", w.Vacancies, true, 0)
	r.Hires = count("hires", w.Hires, false, 0)
	if prob != nil {
		return r, prob
	}
	if w.Revision != nil && *w.Revision < 1 {
		return r, problem(ReasonOutOfRange, "revision", "revision must be at least 1, got %d", *w.Revision)
	}
	if w.Revision != nil && *w.Revision > MaxCount {
		return r, problem(ReasonOutOfRange, "revision", "revision must be at most %d, got %d", MaxCount, *w.Revision)
	}
	r.Revision = 1
	if w.Revision != nil {
		r.Revision = uint32(*w.Revision)
	}
	for i, reason := range SeparationReasons {
		if w.sepSet&(1<<i) == 0 {
			continue
		}
		*r.Separations.slot(reason) = count(sepFields[i], &w.sep[i], false, 0)
		if prob != nil {
			return r, prob
		}
	}
	if w.strs&fNote != 0 {
		if n := utf8.RuneCount(w.Note); n > MaxNoteRunes {
			return r, problem(ReasonOutOfRange, "note", "note has %d characters, the limit is %d", n, MaxNoteRunes)
		}
		r.Note = string(w.Note)
	}
	return r, nil
}

func (s *Separations) slot(reason string) *uint32 {
	switch reason {
	case "economic_layoff":
		return &s.EconomicLayoff
	case "closure_bankruptcy":
		return &s.ClosureBankruptcy
	case "suspension":
		return &s.Suspension
	case "contract_expiry":
		return &s.ContractExpiry
	case "resignation":
		return &s.Resignation
	case "retirement":
		return &s.Retirement
	case "transfer":
		return &s.Transfer
	case "other":
		return &s.Other
	}
	return nil
}

// Values returns the counts in the order of SeparationReasons.
func (s Separations) Values() [8]uint32 {
	return [8]uint32{s.EconomicLayoff, s.ClosureBankruptcy, s.Suspension, s.ContractExpiry,
		s.Resignation, s.Retirement, s.Transfer, s.Other}
}
