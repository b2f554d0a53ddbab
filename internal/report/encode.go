package report

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Encode writes r in the wire format (schema version 1).
func Encode(r Report) ([]byte, error) { return AppendEncode(make([]byte, 0, 256), r), nil }

// sortedReasons are the separation keys in sorted order (as encoding/json
// writes map keys), each with its index in SeparationReasons.
var sortedReasons = [8]struct {
	key   string
	index int
}{
	{`"closure_bankruptcy":`, 1}, {`"contract_expiry":`, 3}, {`"economic_layoff":`, 0}, {`"other":`, 7},
	{`"resignation":`, 4}, {`"retirement":`, 5}, {`"suspension":`, 2}, {`"transfer":`, 6},
}

// AppendEncode appends the wire form of r to b without allocating: the
// simulator and the gateway encode millions of reports. The bytes are those
// encoding/json would write for the same object (a test and a fuzz target
// hold them equal to a reference built on encoding/json).
func AppendEncode(b []byte, r Report) []byte {
	b = append(b, `{"schema_version":`...)
	b = strconv.AppendInt(b, SchemaVersion, 10)
	b = append(b, `,"firm_id":`...)
	b = appendString(b, r.FirmID)
	b = append(b, `,"period":"`...)
	if y := r.Period.Year(); r.Period >= 0 && y <= 9999 {
		m := int(r.Period.Month())
		b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-', byte('0'+m/10), byte('0'+m%10))
	} else {
		b = append(b, r.Period.String()...)
	}
	b = append(b, `","headcount":`...)
	b = strconv.AppendUint(b, uint64(r.Headcount), 10)
	b = append(b, `,"vacancies":`...)
	b = strconv.AppendUint(b, uint64(r.Vacancies), 10)
	b = append(b, `,"hires":`...)
	b = strconv.AppendUint(b, uint64(r.Hires), 10)
	values := r.Separations.Values()
	first := true
	for _, s := range sortedReasons {
		v := values[s.index]
		if v == 0 {
			continue
		}
		if first {
			b = append(b, `,"separations":{`...)
			first = false
		} else {
			b = append(b, ',')
		}
		b = append(b, s.key...)
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	if !first {
		b = append(b, '}')
	}
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, uint64(max(r.Revision, 1)), 10)
	if !r.ReportedAt.IsZero() {
		b = append(b, `,"reported_at":"`...)
		b = r.ReportedAt.AppendFormat(b, time.RFC3339Nano) // RFC3339 would drop fractional seconds
		b = append(b, '"')
	}
	if r.Note != "" {
		b = append(b, `,"note":`...)
		b = appendString(b, r.Note)
	}
	return append(b, '}')
}

// appendString appends s as a JSON string, escaped as encoding/json does.
func appendString(b []byte, s string) []byte {
	if plainString(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	q, _ := json.Marshal(s) // cannot fail for a string
	return append(b, q...)
}

// plainString reports whether encoding/json writes s unchanged between quotes.
func plainString(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return false
		}
		i += size
	}
	return true
}
