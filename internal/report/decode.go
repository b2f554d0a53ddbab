package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
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

// wire mirrors the JSON object; pointers tell a missing field from a zero.
type wire struct {
	SchemaVersion *int64           `json:"schema_version"`
	FirmID        *string          `json:"firm_id"`
	Period        *string          `json:"period"`
	Headcount     *int64           `json:"headcount"`
	Vacancies     *int64           `json:"vacancies"`
	Hires         *int64           `json:"hires"`
	Separations   map[string]int64 `json:"separations"`
	Revision      *int64           `json:"revision"`
	ReportedAt    *string          `json:"reported_at"`
	Note          *string          `json:"note"`
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

// Decode parses and validates one message. now is the clock used when the
// report has no reported_at. The error is always a *Problem.
func Decode(data []byte, now time.Time) (Report, *Problem) {
	if len(data) > MaxMessageBytes {
		return Report{}, TooLarge(len(data))
	}
	var w wire
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&w); err != nil {
		return Report{}, jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Report{}, problem(ReasonMalformedJSON, "", "data after the JSON object")
	}
	if p := checkKeys(data); p != nil {
		return Report{}, p
	}
	return w.validate(now)
}

// wireFields are the top-level keys of schema version 1, spelled exactly.
var wireFields = map[string]bool{
	"schema_version": true, "firm_id": true, "period": true, "headcount": true, "vacancies": true,
	"hires": true, "separations": true, "revision": true, "reported_at": true, "note": true,
}

// checkKeys closes two gaps left by encoding/json on data it has already
// decoded without error: a top-level null (which decodes into nothing) and
// keys that differ from a field only in case ("Firm_ID"), which encoding/json
// matches case-insensitively even with DisallowUnknownFields.
func checkKeys(data []byte) *Problem {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return problem(ReasonMalformedJSON, "", "a report must be a JSON object, got null")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return problem(ReasonMalformedJSON, "", "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
		key, _ := tok.(string)
		if !wireFields[key] {
			return problem(ReasonUnknownField, key, "field %q is not part of schema version %d", key, SchemaVersion)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return problem(ReasonMalformedJSON, key, "%s", strings.TrimPrefix(err.Error(), "json: "))
		}
	}
	return nil
}

func jsonProblem(err error) *Problem {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		return problem(ReasonUnknownField, name, "field %q is not part of schema version %d", name, SchemaVersion)
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return problem(ReasonMalformedJSON, "", "a report must be a JSON object, got %s", typeErr.Value)
		}
		return problem(ReasonMalformedJSON, field, "%s must be %s, got %s", field, jsonKind(typeErr.Type.String()), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return problem(ReasonMalformedJSON, "", "invalid JSON at byte %d: %s", syntaxErr.Offset, strings.TrimPrefix(msg, "json: "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return problem(ReasonMalformedJSON, "", "empty or truncated JSON")
	default:
		return problem(ReasonMalformedJSON, "", "%s", strings.TrimPrefix(msg, "json: "))
	}
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "map"): // first: map[string]int64 contains "int"
		return "an object"
	case strings.Contains(goType, "int"):
		return "an integer"
	case strings.Contains(goType, "string"):
		return "a string"
	default:
		return goType
	}
}

func (w *wire) validate(now time.Time) (Report, *Problem) {
	var r Report
	if w.SchemaVersion == nil {
		return r, problem(ReasonMissingField, "schema_version", "schema_version is required")
	}
	if *w.SchemaVersion != SchemaVersion {
		return r, problem(ReasonUnsupportedSchema, "schema_version", "schema_version %d is not supported; use %d", *w.SchemaVersion, SchemaVersion)
	}
	if w.FirmID == nil {
		return r, problem(ReasonMissingField, "firm_id", "firm_id is required")
	}
	if err := CheckFirmID(*w.FirmID); err != nil {
		return r, problem(ReasonInvalidFirmID, "firm_id", "%v", err)
	}
	r.FirmID = *w.FirmID
	if w.Period == nil {
		return r, problem(ReasonMissingField, "period", "period is required")
	}
	p, err := ParsePeriod(*w.Period)
	if err != nil {
		return r, problem(ReasonInvalidPeriod, "period", "%v", err)
	}
	if p < MinPeriod {
		return r, problem(ReasonInvalidPeriod, "period", "period %s is before %s", p, MinPeriod)
	}
	r.Period = p
	if w.ReportedAt != nil {
		t, err := time.Parse(time.RFC3339, *w.ReportedAt)
		if err != nil {
			return r, problem(ReasonMalformedJSON, "reported_at", "reported_at must be an RFC 3339 time: %v", err)
		}
		r.ReportedAt = t
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
	for _, k := range sortedKeys(w.Separations) {
		v := w.Separations[k]
		slot := r.Separations.slot(k)
		field := "separations." + k
		if slot == nil {
			return r, problem(ReasonUnknownField, field, "separation reason %q is not one of %s", k, strings.Join(SeparationReasons[:], ", "))
		}
		*slot = count(field, &v, false, 0)
		if prob != nil {
			return r, prob
		}
	}
	if w.Note != nil {
		if !utf8.ValidString(*w.Note) {
			return r, problem(ReasonMalformedJSON, "note", "note is not valid UTF-8")
		}
		if n := utf8.RuneCountInString(*w.Note); n > MaxNoteRunes {
			return r, problem(ReasonOutOfRange, "note", "note has %d characters, the limit is %d", n, MaxNoteRunes)
		}
		r.Note = *w.Note
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

func sortedKeys(m map[string]int64) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// insertion sort: at most a handful of keys
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Encode writes r in the wire format (schema version 1).
func Encode(r Report) ([]byte, error) {
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
		o.ReportedAt = r.ReportedAt.Format(time.RFC3339Nano) // RFC3339 would drop fractional seconds
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
