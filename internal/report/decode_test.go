package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

const testFirm = "914403001922038216"

// testNow is the clock for reports without reported_at: mid-June 2025 in Shanghai.
var testNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

// edit changes one top-level field of the base message; raw is the JSON
// value, and an empty raw removes the field.
type edit struct{ key, raw string }

func set(key, raw string) edit { return edit{key, raw} }
func del(key string) edit      { return edit{key: key} }

// msg builds a message from a valid base report and edits, keeping the field
// order stable so that failures are readable.
func msg(edits ...edit) []byte {
	keys := []string{"schema_version", "firm_id", "period", "headcount", "vacancies"}
	vals := map[string]string{
		"schema_version": `1`, "firm_id": `"` + testFirm + `"`, "period": `"2025-05"`,
		"headcount": `120`, "vacancies": `4`,
	}
	for _, e := range edits {
		if _, ok := vals[e.key]; !ok {
			keys = append(keys, e.key)
		}
		vals[e.key] = e.raw
	}
	var b strings.Builder
	b.WriteByte('{')
	first := true
	for _, k := range keys {
		if vals[k] == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(`"` + k + `":` + vals[k])
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// base is what msg() with no edits decodes to.
func base() Report {
	return Report{FirmID: testFirm, Period: NewPeriod(2025, time.May), Headcount: 120, Vacancies: 4, Revision: 1}
}

func with(f func(r *Report)) *Report {
	r := base()
	f(&r)
	return &r
}

func quote(s string) string { return `"` + s + `"` }

// sameReport compares reports, times by instant.
func sameReport(a, b Report) bool {
	ta, tb := a.ReportedAt, b.ReportedAt
	a.ReportedAt, b.ReportedAt = time.Time{}, time.Time{}
	return a == b && ta.Equal(tb)
}

var knownReasons = map[string]bool{
	ReasonMalformedJSON: true, ReasonUnknownField: true, ReasonMissingField: true,
	ReasonUnsupportedSchema: true, ReasonInvalidFirmID: true, ReasonUnknownFirm: true,
	ReasonInvalidPeriod: true, ReasonFuturePeriod: true, ReasonOutOfRange: true, ReasonTooLarge: true,
	ReasonInvalidEncoding: true, ReasonDuplicateRevision: true,
}

func TestDecode(t *testing.T) {
	zh500 := strings.Repeat("裁", 500)
	// A valid message padded with spaces to exactly the limit, and one byte over.
	atLimit := append(msg(), bytes.Repeat([]byte(" "), MaxMessageBytes-len(msg()))...)
	overLimit := append(append([]byte(nil), atLimit...), ' ')

	tests := []struct {
		name      string
		data      []byte
		now       time.Time // zero: testNow
		want      *Report   // for accepted messages
		wantRsn   string    // for refused messages
		wantField string
		wantMsg   string // substring of the message, optional
	}{
		// Accepted, and defaults.
		{name: "minimal: hires 0, revision 1, no separations", data: msg(), want: with(func(*Report) {})},
		{name: "all fields", data: msg(
			set("hires", `7`),
			set("separations", `{"economic_layoff":1,"closure_bankruptcy":2,"suspension":3,"contract_expiry":4,"resignation":5,"retirement":6,"transfer":7,"other":8}`),
			set("revision", `3`),
			set("reported_at", `"2025-06-02T09:30:00+08:00"`),
			set("note", `"二季度订单下降"`)),
			want: with(func(r *Report) {
				r.Hires = 7
				r.Separations = Separations{1, 2, 3, 4, 5, 6, 7, 8}
				r.Revision = 3
				r.ReportedAt = time.Date(2025, 6, 2, 1, 30, 0, 0, time.UTC)
				r.Note = "二季度订单下降"
			})},
		{name: "fields in any order, whitespace", data: []byte(" {\n\t\"vacancies\": 4, \"headcount\": 120,\n \"period\": \"2025-05\", \"firm_id\": \"" + testFirm + "\", \"schema_version\": 1 }\n"), want: with(func(*Report) {})},
		{name: "escaped key", data: []byte(`{"schema_version":1,"firm\u005fid":"` + testFirm + `","period":"2025-05","headcount":120,"vacancies":4}`), want: with(func(*Report) {})},
		{name: "null optional fields are absent", data: msg(set("hires", `null`), set("separations", `null`), set("revision", `null`), set("reported_at", `null`), set("note", `null`)), want: with(func(*Report) {})},
		{name: "empty separations", data: msg(set("separations", `{}`)), want: with(func(*Report) {})},
		{name: "explicit zero separation", data: msg(set("separations", `{"other":0}`)), want: with(func(*Report) {})},
		{name: "negative zero is zero", data: msg(set("headcount", `-0`)), want: with(func(r *Report) { r.Headcount = 0 })},
		{name: "empty note", data: msg(set("note", `""`)), want: with(func(*Report) {})},

		// schema_version
		{name: "schema_version missing", data: msg(del("schema_version")), wantRsn: ReasonMissingField, wantField: "schema_version"},
		{name: "schema_version null", data: msg(set("schema_version", `null`)), wantRsn: ReasonMissingField, wantField: "schema_version"},
		{name: "schema_version 2", data: msg(set("schema_version", `2`)), wantRsn: ReasonUnsupportedSchema, wantField: "schema_version", wantMsg: "schema_version 2 is not supported"},
		{name: "schema_version 0", data: msg(set("schema_version", `0`)), wantRsn: ReasonUnsupportedSchema, wantField: "schema_version"},
		{name: "schema_version -1", data: msg(set("schema_version", `-1`)), wantRsn: ReasonUnsupportedSchema, wantField: "schema_version"},
		{name: "schema_version string", data: msg(set("schema_version", `"1"`)), wantRsn: ReasonMalformedJSON, wantField: "schema_version", wantMsg: "must be an integer, got string"},
		{name: "schema_version 1.0", data: msg(set("schema_version", `1.0`)), wantRsn: ReasonMalformedJSON, wantField: "schema_version"},
		{name: "unsupported schema checked before other fields", data: msg(set("schema_version", `2`), del("firm_id")), wantRsn: ReasonUnsupportedSchema, wantField: "schema_version"},

		// firm_id
		{name: "firm_id missing", data: msg(del("firm_id")), wantRsn: ReasonMissingField, wantField: "firm_id"},
		{name: "firm_id empty", data: msg(set("firm_id", `""`)), wantRsn: ReasonInvalidFirmID, wantField: "firm_id"},
		{name: "firm_id wrong check char", data: msg(set("firm_id", `"914403001922038217"`)), wantRsn: ReasonInvalidFirmID, wantField: "firm_id", wantMsg: "want '6'"},
		{name: "firm_id lower case", data: msg(set("firm_id", `"9144030071526726xg"`)), wantRsn: ReasonInvalidFirmID, wantField: "firm_id"},
		{name: "firm_id 17 chars", data: msg(set("firm_id", `"91440300192203821"`)), wantRsn: ReasonInvalidFirmID, wantField: "firm_id"},
		{name: "firm_id a number", data: msg(set("firm_id", `914403001922038216`)), wantRsn: ReasonMalformedJSON, wantField: "firm_id", wantMsg: "firm_id must be a string"},
		{name: "firm_id letter check accepted", data: msg(set("firm_id", `"9144030071526726XG"`)), want: with(func(r *Report) { r.FirmID = "9144030071526726XG" })},

		// period
		{name: "period missing", data: msg(del("period")), wantRsn: ReasonMissingField, wantField: "period"},
		{name: "period 2000-01, the first accepted", data: msg(set("period", `"2000-01"`)), want: with(func(r *Report) { r.Period = MinPeriod })},
		{name: "period 1999-12", data: msg(set("period", `"1999-12"`)), wantRsn: ReasonInvalidPeriod, wantField: "period", wantMsg: "before 2000-01"},
		{name: "period month 13", data: msg(set("period", `"2025-13"`)), wantRsn: ReasonInvalidPeriod, wantField: "period"},
		{name: "period month 00", data: msg(set("period", `"2025-00"`)), wantRsn: ReasonInvalidPeriod, wantField: "period"},
		{name: "period one-digit month", data: msg(set("period", `"2025-5"`)), wantRsn: ReasonInvalidPeriod, wantField: "period"},
		{name: "period with day", data: msg(set("period", `"2025-05-01"`)), wantRsn: ReasonInvalidPeriod, wantField: "period"},
		{name: "period slash", data: msg(set("period", `"2025/05"`)), wantRsn: ReasonInvalidPeriod, wantField: "period"},
		{name: "period empty", data: msg(set("period", `""`)), wantRsn: ReasonInvalidPeriod, wantField: "period"},
		{name: "period a number", data: msg(set("period", `202505`)), wantRsn: ReasonMalformedJSON, wantField: "period"},

		// future_period against reported_at, months read in Asia/Shanghai.
		{name: "period = month of reported_at", data: msg(set("period", `"2025-03"`), set("reported_at", `"2025-03-01T00:00:00+08:00"`)),
			want: with(func(r *Report) {
				r.Period = NewPeriod(2025, time.March)
				r.ReportedAt = time.Date(2025, 2, 28, 16, 0, 0, 0, time.UTC)
			})},
		{name: "period = month after reported_at", data: msg(set("period", `"2025-04"`), set("reported_at", `"2025-03-31T23:59:59+08:00"`)), wantRsn: ReasonFuturePeriod, wantField: "period", wantMsg: "after 2025-03"},
		{name: "UTC March 31 17:00 is April in Shanghai", data: msg(set("period", `"2025-04"`), set("reported_at", `"2025-03-31T17:00:00Z"`)),
			want: with(func(r *Report) {
				r.Period = NewPeriod(2025, time.April)
				r.ReportedAt = time.Date(2025, 3, 31, 17, 0, 0, 0, time.UTC)
			})},
		{name: "UTC March 31 15:59:59 is still March in Shanghai", data: msg(set("period", `"2025-04"`), set("reported_at", `"2025-03-31T15:59:59Z"`)), wantRsn: ReasonFuturePeriod, wantField: "period"},
		{name: "Tokyo April 1 00:30 is March in Shanghai", data: msg(set("period", `"2025-04"`), set("reported_at", `"2025-04-01T00:30:00+09:00"`)), wantRsn: ReasonFuturePeriod, wantField: "period"},
		{name: "December report for January across the year", data: msg(set("period", `"2026-01"`), set("reported_at", `"2025-12-31T12:00:00Z"`)), wantRsn: ReasonFuturePeriod, wantField: "period"},
		{name: "reported_at overrides now", data: msg(set("period", `"2025-03"`), set("reported_at", `"2025-02-10T00:00:00+08:00"`)), now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), wantRsn: ReasonFuturePeriod, wantField: "period"},
		{name: "without reported_at: month of now", data: msg(set("period", `"2025-06"`)), want: with(func(r *Report) { r.Period = NewPeriod(2025, time.June) })},
		{name: "without reported_at: month after now", data: msg(set("period", `"2025-07"`)), wantRsn: ReasonFuturePeriod, wantField: "period"},
		{name: "without reported_at: now read in Shanghai", data: msg(set("period", `"2025-07"`)), now: time.Date(2025, 6, 30, 16, 0, 0, 0, time.UTC), want: with(func(r *Report) { r.Period = NewPeriod(2025, time.July) })},
		{name: "without reported_at: now just before Shanghai midnight", data: msg(set("period", `"2025-07"`)), now: time.Date(2025, 6, 30, 15, 59, 59, 0, time.UTC), wantRsn: ReasonFuturePeriod, wantField: "period"},
		{name: "invalid period reported before future check", data: msg(set("period", `"1999-12"`), set("reported_at", `"1990-01-01T00:00:00Z"`)), wantRsn: ReasonInvalidPeriod, wantField: "period"},

		// reported_at
		{name: "reported_at fractional seconds", data: msg(set("reported_at", `"2025-06-02T09:30:00.123456789+08:00"`)),
			want: with(func(r *Report) { r.ReportedAt = time.Date(2025, 6, 2, 1, 30, 0, 123456789, time.UTC) })},
		{name: "reported_at date only", data: msg(set("reported_at", `"2025-06-02"`)), wantRsn: ReasonMalformedJSON, wantField: "reported_at", wantMsg: "RFC 3339"},
		{name: "reported_at space separator", data: msg(set("reported_at", `"2025-06-02 09:30:00+08:00"`)), wantRsn: ReasonMalformedJSON, wantField: "reported_at"},
		{name: "reported_at without zone", data: msg(set("reported_at", `"2025-06-02T09:30:00"`)), wantRsn: ReasonMalformedJSON, wantField: "reported_at"},
		{name: "reported_at a number", data: msg(set("reported_at", `1748827800`)), wantRsn: ReasonMalformedJSON, wantField: "reported_at"},

		// headcount, vacancies, hires: required/optional and bounds.
		{name: "headcount missing", data: msg(del("headcount")), wantRsn: ReasonMissingField, wantField: "headcount"},
		{name: "headcount null", data: msg(set("headcount", `null`)), wantRsn: ReasonMissingField, wantField: "headcount"},
		{name: "headcount 0", data: msg(set("headcount", `0`)), want: with(func(r *Report) { r.Headcount = 0 })},
		{name: "headcount 10,000,000", data: msg(set("headcount", `10000000`)), want: with(func(r *Report) { r.Headcount = MaxCount })},
		{name: "headcount 10,000,001", data: msg(set("headcount", `10000001`)), wantRsn: ReasonOutOfRange, wantField: "headcount", wantMsg: "between 0 and 10000000, got 10000001"},
		{name: "headcount -1", data: msg(set("headcount", `-1`)), wantRsn: ReasonOutOfRange, wantField: "headcount"},
		{name: "headcount beyond int64", data: msg(set("headcount", `99999999999999999999`)), wantRsn: ReasonOutOfRange, wantField: "headcount"},
		{name: "headcount fraction", data: msg(set("headcount", `1.5`)), wantRsn: ReasonMalformedJSON, wantField: "headcount", wantMsg: "must be an integer, got 1.5"},
		{name: "headcount exponent", data: msg(set("headcount", `1e3`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount string", data: msg(set("headcount", `"120"`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		// numbers as RFC 8259 writes them, not as fastjson tolerates them
		{name: "headcount 00", data: msg(set("headcount", `00`)), wantRsn: ReasonMalformedJSON, wantField: "headcount", wantMsg: "not a JSON number: 00"},
		{name: "headcount leading zero", data: msg(set("headcount", `0120`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount -01", data: msg(set("headcount", `-01`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount +1", data: msg(set("headcount", `+1`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount 1-", data: msg(set("headcount", `1-`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount NaN", data: msg(set("headcount", `NaN`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount inf", data: msg(set("headcount", `inf`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount 1.", data: msg(set("headcount", `1.`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount .5", data: msg(set("headcount", `.5`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "headcount 1e+", data: msg(set("headcount", `1e+`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "revision 01", data: msg(set("revision", `01`)), wantRsn: ReasonMalformedJSON, wantField: "revision"},
		{name: "separation 007", data: msg(set("separations", `{"economic_layoff":007}`)), wantRsn: ReasonMalformedJSON, wantField: "separations.economic_layoff"},
		{name: "headcount bool", data: msg(set("headcount", `true`)), wantRsn: ReasonMalformedJSON, wantField: "headcount"},
		{name: "vacancies missing", data: msg(del("vacancies")), wantRsn: ReasonMissingField, wantField: "vacancies"},
		{name: "vacancies 0", data: msg(set("vacancies", `0`)), want: with(func(r *Report) { r.Vacancies = 0 })},
		{name: "vacancies 10,000,000", data: msg(set("vacancies", `10000000`)), want: with(func(r *Report) { r.Vacancies = MaxCount })},
		{name: "vacancies 10,000,001", data: msg(set("vacancies", `10000001`)), wantRsn: ReasonOutOfRange, wantField: "vacancies"},
		{name: "vacancies -1", data: msg(set("vacancies", `-1`)), wantRsn: ReasonOutOfRange, wantField: "vacancies"},
		{name: "vacancies object", data: msg(set("vacancies", `{}`)), wantRsn: ReasonMalformedJSON, wantField: "vacancies"},
		{name: "hires 0", data: msg(set("hires", `0`)), want: with(func(*Report) {})},
		{name: "hires 10,000,000", data: msg(set("hires", `10000000`)), want: with(func(r *Report) { r.Hires = MaxCount })},
		{name: "hires 10,000,001", data: msg(set("hires", `10000001`)), wantRsn: ReasonOutOfRange, wantField: "hires"},
		{name: "hires -1", data: msg(set("hires", `-1`)), wantRsn: ReasonOutOfRange, wantField: "hires"},
		{name: "hires array", data: msg(set("hires", `[1]`)), wantRsn: ReasonMalformedJSON, wantField: "hires"},
		{name: "first missing count wins", data: msg(del("headcount"), del("vacancies")), wantRsn: ReasonMissingField, wantField: "headcount"},

		// revision
		{name: "revision 1", data: msg(set("revision", `1`)), want: with(func(*Report) {})},
		{name: "revision 2", data: msg(set("revision", `2`)), want: with(func(r *Report) { r.Revision = 2 })},
		{name: "revision 0", data: msg(set("revision", `0`)), wantRsn: ReasonOutOfRange, wantField: "revision", wantMsg: "at least 1"},
		{name: "revision -1", data: msg(set("revision", `-1`)), wantRsn: ReasonOutOfRange, wantField: "revision"},
		{name: "revision 10,000,000", data: msg(set("revision", `10000000`)), want: with(func(r *Report) { r.Revision = MaxCount })},
		{name: "revision 10,000,001", data: msg(set("revision", `10000001`)), wantRsn: ReasonOutOfRange, wantField: "revision"},
		{name: "revision string", data: msg(set("revision", `"2"`)), wantRsn: ReasonMalformedJSON, wantField: "revision"},

		// separations
		{name: "separation 0", data: msg(set("separations", `{"economic_layoff":0}`)), want: with(func(*Report) {})},
		{name: "separation 10,000,000", data: msg(set("separations", `{"retirement":10000000}`)), want: with(func(r *Report) { r.Separations.Retirement = MaxCount })},
		{name: "separation 10,000,001", data: msg(set("separations", `{"economic_layoff":10000001}`)), wantRsn: ReasonOutOfRange, wantField: "separations.economic_layoff"},
		{name: "separation -1", data: msg(set("separations", `{"transfer":-1}`)), wantRsn: ReasonOutOfRange, wantField: "separations.transfer"},
		{name: "unknown separation key", data: msg(set("separations", `{"x":1}`)), wantRsn: ReasonUnknownField, wantField: "separations.x", wantMsg: "economic_layoff, closure_bankruptcy"},
		{name: "separation key case matters", data: msg(set("separations", `{"Economic_Layoff":1}`)), wantRsn: ReasonUnknownField, wantField: "separations.Economic_Layoff"},
		{name: "separation keys checked in document order", data: msg(set("separations", `{"zzz":1,"other":-1}`)), wantRsn: ReasonUnknownField, wantField: "separations.zzz"},
		{name: "separation value string", data: msg(set("separations", `{"other":"1"}`)), wantRsn: ReasonMalformedJSON, wantField: "separations.other"},
		{name: "separation value fraction", data: msg(set("separations", `{"other":0.5}`)), wantRsn: ReasonMalformedJSON, wantField: "separations.other"},
		{name: "separations an array", data: msg(set("separations", `[1,2]`)), wantRsn: ReasonMalformedJSON, wantField: "separations", wantMsg: "must be an object"},
		{name: "separations a number", data: msg(set("separations", `3`)), wantRsn: ReasonMalformedJSON, wantField: "separations"},

		// note
		{name: "note 500 Chinese characters", data: msg(set("note", quote(zh500))), want: with(func(r *Report) { r.Note = zh500 })},
		{name: "note 501 Chinese characters", data: msg(set("note", quote(zh500+"员"))), wantRsn: ReasonOutOfRange, wantField: "note", wantMsg: "501 characters, the limit is 500"},
		{name: "note 500 characters with escapes", data: msg(set("note", quote(strings.Repeat(`\n`, 500)))), want: with(func(r *Report) { r.Note = strings.Repeat("\n", 500) })},
		{name: "note number", data: msg(set("note", `5`)), wantRsn: ReasonMalformedJSON, wantField: "note"},

		// unknown fields
		{name: "unknown field", data: msg(set("employees", `5`)), wantRsn: ReasonUnknownField, wantField: "employees", wantMsg: `"employees" is not part of schema version 1`},
		{name: "field in other case", data: msg(set("Headcount", `5`)), wantRsn: ReasonUnknownField, wantField: "Headcount"},
		{name: "field in upper case replacing a required one", data: msg(del("firm_id"), set("FIRM_ID", quote(testFirm))), wantRsn: ReasonUnknownField, wantField: "FIRM_ID"},
		{name: "unknown field wins over later missing field", data: msg(del("schema_version"), set("extra", `{}`)), wantRsn: ReasonUnknownField, wantField: "extra"},

		// not a single JSON object
		{name: "empty", data: []byte(""), wantRsn: ReasonMalformedJSON},
		{name: "whitespace", data: []byte(" \n"), wantRsn: ReasonMalformedJSON},
		{name: "truncated", data: msg()[:20], wantRsn: ReasonMalformedJSON},
		{name: "syntax error", data: []byte(`{"schema_version":}`), wantRsn: ReasonMalformedJSON, wantMsg: "invalid JSON: cannot parse object"},
		{name: "single quotes", data: []byte(`{'schema_version':1}`), wantRsn: ReasonMalformedJSON},
		{name: "null", data: []byte(`null`), wantRsn: ReasonMalformedJSON, wantMsg: "must be a JSON object"},
		{name: "array", data: []byte(`[]`), wantRsn: ReasonMalformedJSON, wantMsg: "must be a JSON object, got array"},
		{name: "array holding a valid report", data: []byte("[" + string(msg()) + "]"), wantRsn: ReasonMalformedJSON},
		{name: "string", data: []byte(`"report"`), wantRsn: ReasonMalformedJSON},
		{name: "number", data: []byte(`1`), wantRsn: ReasonMalformedJSON},
		{name: "two objects", data: append(msg(), msg()...), wantRsn: ReasonMalformedJSON, wantMsg: "data after the JSON object"},
		{name: "two objects on two lines", data: []byte(string(msg()) + "\n" + string(msg())), wantRsn: ReasonMalformedJSON, wantMsg: "data after"},
		{name: "trailing garbage", data: append(msg(), " x"...), wantRsn: ReasonMalformedJSON},
		{name: "trailing brace", data: append(msg(), '}'), wantRsn: ReasonMalformedJSON},
		{name: "trailing comma", data: append(msg(), ','), wantRsn: ReasonMalformedJSON},
		{name: "trailing newline is fine", data: append(msg(), "\r\n"...), want: with(func(*Report) {})},

		// encoding: every string must be valid UTF-8 and escape to characters
		// (never silently replaced); escapes and control characters as RFC 8259 says
		{name: "invalid UTF-8 in the note", data: msg(set("note", "\"a\xffb\"")), wantRsn: ReasonInvalidEncoding, wantField: "note", wantMsg: "not UTF-8"},
		{name: "invalid UTF-8 in firm_id", data: msg(set("firm_id", "\"91440300192203821\xc0\"")), wantRsn: ReasonInvalidEncoding, wantField: "firm_id"},
		{name: "overlong UTF-8", data: msg(set("note", "\"\xc0\xaf\"")), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "UTF-8 encoded surrogate", data: msg(set("note", "\"\xed\xa0\x80\"")), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "truncated UTF-8 sequence", data: msg(set("note", "\"\xe8\xa3\"")), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "invalid UTF-8 in a key", data: msg(set("no\xfete", `"x"`)), wantRsn: ReasonInvalidEncoding, wantMsg: "key"},
		{name: "invalid UTF-8 in an unknown field", data: msg(set("extra", "\"\xff\"")), wantRsn: ReasonInvalidEncoding, wantField: "extra"},
		{name: "invalid UTF-8 in a separation key", data: msg(set("separations", "{\"x\xff\":1}")), wantRsn: ReasonInvalidEncoding, wantField: "separations"},
		{name: "lone high surrogate", data: msg(set("note", `"a\ud800b"`)), wantRsn: ReasonInvalidEncoding, wantField: "note", wantMsg: `lone UTF-16 surrogate \ud800`},
		{name: "lone high surrogate at the end", data: msg(set("note", `"a\uD800"`)), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "lone low surrogate", data: msg(set("note", `"\udc00"`)), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "high surrogate before a letter", data: msg(set("note", `"\ud800\u0041"`)), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "surrogates reversed", data: msg(set("note", `"\udc00\ud800"`)), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "two high surrogates", data: msg(set("note", `"\ud800\ud800\udc00"`)), wantRsn: ReasonInvalidEncoding, wantField: "note"},
		{name: "lone surrogate in a key", data: msg(set(`\ud800`, `1`)), wantRsn: ReasonInvalidEncoding},
		{name: "lone surrogate in firm_id", data: msg(set("firm_id", `"\ud800"`)), wantRsn: ReasonInvalidEncoding, wantField: "firm_id"},
		{name: "surrogate pair is one character", data: msg(set("note", `"\ud83d\ude00 \u88c1"`)), want: with(func(r *Report) { r.Note = "😀 裁" })},
		{name: "escaped backslash before u is not an escape", data: msg(set("note", `"\\ud800"`)), want: with(func(r *Report) { r.Note = `\ud800` })},
		{name: "every escape of RFC 8259", data: msg(set("note", `"\"\\\/\b\f\n\r\t\u0000"`)), want: with(func(r *Report) { r.Note = "\"\\/\b\f\n\r\t\x00" })},
		{name: "unknown escape", data: msg(set("note", `"a\xb"`)), wantRsn: ReasonMalformedJSON, wantField: "note", wantMsg: `invalid escape \x`},
		{name: "short unicode escape", data: msg(set("note", `"\u12"`)), wantRsn: ReasonMalformedJSON, wantField: "note"},
		{name: "unicode escape with a non-hex digit", data: msg(set("note", `"\u12G4"`)), wantRsn: ReasonMalformedJSON, wantField: "note"},
		{name: "raw tab in a string", data: msg(set("note", "\"a\tb\"")), wantRsn: ReasonMalformedJSON, wantField: "note", wantMsg: "control character"},
		{name: "raw newline in a string", data: msg(set("note", "\"a\nb\"")), wantRsn: ReasonMalformedJSON, wantField: "note"},
		{name: "raw NUL in a string", data: msg(set("note", "\"a\x00b\"")), wantRsn: ReasonMalformedJSON, wantField: "note"},
		{name: "raw DEL is a character", data: msg(set("note", "\"a\x7fb\"")), want: with(func(r *Report) { r.Note = "a\x7fb" })},

		// size
		{name: "exactly 64 KiB", data: atLimit, want: with(func(*Report) {})},
		{name: "64 KiB + 1", data: overLimit, wantRsn: ReasonTooLarge, wantMsg: "65537 bytes, the limit is 65536"},
		{name: "64 KiB + 1 of garbage is not read", data: bytes.Repeat([]byte{'{'}, MaxMessageBytes+1), wantRsn: ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.want == nil) == (tt.wantRsn == "") {
				t.Fatal("bad test case: set exactly one of want and wantRsn")
			}
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			got, p := Decode(tt.data, now)
			if tt.want != nil {
				if p != nil {
					t.Fatalf("Decode(%.200s) = %v, want no problem", tt.data, p)
				}
				if !sameReport(got, *tt.want) {
					t.Fatalf("Decode(%.200s)\n got  %+v\n want %+v", tt.data, got, *tt.want)
				}
				return
			}
			if p == nil {
				t.Fatalf("Decode(%.200s) = %+v, want %s", tt.data, got, tt.wantRsn)
			}
			if p.Reason != tt.wantRsn || p.Field != tt.wantField {
				t.Fatalf("Decode(%.200s) = %v\n want reason %q field %q", tt.data, p, tt.wantRsn, tt.wantField)
			}
			if p.Message == "" || !strings.Contains(p.Message, tt.wantMsg) {
				t.Fatalf("message %q, want it to contain %q", p.Message, tt.wantMsg)
			}
		})
	}
}

func TestDecodeCoversEveryReason(t *testing.T) {
	// unknown_firm comes from Validate (see validate_test.go), duplicate_revision
	// from ingest and the gateway, which compare with what was stored.
	seen := map[string]bool{ReasonUnknownFirm: true, ReasonDuplicateRevision: true}
	for _, data := range [][]byte{
		[]byte("{"), msg(set("x", "1")), msg(del("period")), msg(set("schema_version", "2")),
		msg(set("firm_id", `"x"`)), msg(set("period", `"1999-12"`)), msg(set("period", `"2099-01"`)),
		msg(set("headcount", "-1")), bytes.Repeat([]byte(" "), MaxMessageBytes+1), msg(set("note", `"\ud800"`)),
	} {
		if _, p := Decode(data, testNow); p != nil {
			seen[p.Reason] = true
		}
	}
	for r := range knownReasons {
		if !seen[r] {
			t.Errorf("no test produces %s", r)
		}
	}
}

func TestProblemError(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{name: "with field", p: Problem{Reason: ReasonOutOfRange, Field: "headcount", Message: "too big"}, want: "out_of_range: headcount: too big"},
		{name: "without field", p: Problem{Reason: ReasonTooLarge, Message: "too big"}, want: "too_large: too big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEncode(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		want string
	}{
		{name: "minimal", r: base(),
			want: `{"schema_version":1,"firm_id":"914403001922038216","period":"2025-05","headcount":120,"vacancies":4,"hires":0,"revision":1}`},
		{name: "zero revision is written as 1", r: *with(func(r *Report) { r.Revision = 0 }),
			want: `{"schema_version":1,"firm_id":"914403001922038216","period":"2025-05","headcount":120,"vacancies":4,"hires":0,"revision":1}`},
		{name: "only non-zero separations, offset kept", r: *with(func(r *Report) {
			r.Separations = Separations{EconomicLayoff: 3, Other: 1}
			r.ReportedAt = time.Date(2025, 6, 2, 9, 30, 0, 0, Shanghai())
			r.Note = "注"
		}),
			want: `{"schema_version":1,"firm_id":"914403001922038216","period":"2025-05","headcount":120,"vacancies":4,"hires":0,"separations":{"economic_layoff":3,"other":1},"revision":1,"reported_at":"2025-06-02T09:30:00+08:00","note":"注"}`},
		{name: "fractional seconds kept", r: *with(func(r *Report) { r.ReportedAt = time.Date(2025, 6, 2, 1, 30, 0, 500_000_000, time.UTC) }),
			want: `{"schema_version":1,"firm_id":"914403001922038216","period":"2025-05","headcount":120,"vacancies":4,"hires":0,"revision":1,"reported_at":"2025-06-02T01:30:00.5Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Encode(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Encode\n got  %s\n want %s", got, tt.want)
			}
		})
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tokyo := time.FixedZone("", 9*3600)
	tests := []struct {
		name string
		r    Report
	}{
		{name: "minimal", r: base()},
		{name: "bounds", r: Report{FirmID: "9144030071526726XG", Period: MinPeriod, Headcount: MaxCount, Vacancies: 0, Hires: MaxCount,
			Separations: Separations{MaxCount, MaxCount, MaxCount, MaxCount, MaxCount, MaxCount, MaxCount, MaxCount}, Revision: MaxCount}},
		{name: "every field", r: Report{FirmID: "91620102MA7K10003N", Period: NewPeriod(2024, time.December), Headcount: 420, Vacancies: 3, Hires: 2,
			Separations: Separations{EconomicLayoff: 30, Resignation: 4}, Revision: 2,
			ReportedAt: time.Date(2025, 1, 5, 8, 0, 0, 0, Shanghai()), Note: "订单减少，\"停产\"两周 <b>&</b>"}},
		{name: "nanoseconds and another offset", r: *with(func(r *Report) {
			r.ReportedAt = time.Date(2025, 6, 1, 0, 0, 0, 1, tokyo)
		})},
		{name: "500-character note", r: *with(func(r *Report) { r.Note = strings.Repeat("裁员", 250) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Encode(tt.r)
			if err != nil {
				t.Fatal(err)
			}
			got, p := Decode(data, testNow)
			if p != nil {
				t.Fatalf("Decode(Encode(r)) = %v\n message %s", p, data)
			}
			if !sameReport(got, tt.r) {
				t.Fatalf("round trip\n got  %+v\n want %+v", got, tt.r)
			}
			_, gotOff := got.ReportedAt.Zone()
			_, wantOff := tt.r.ReportedAt.Zone()
			if !tt.r.ReportedAt.IsZero() && gotOff != wantOff {
				t.Fatalf("offset %d, want %d", gotOff, wantOff)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range [][]byte{
		msg(),
		msg(set("hires", "7"), set("separations", `{"economic_layoff":1,"other":10000000}`), set("revision", "2"),
			set("reported_at", `"2025-06-02T09:30:00.5+08:00"`), set("note", `"订单下降\n"`)),
		msg(set("reported_at", `"2025-03-31T17:00:00Z"`), set("period", `"2025-04"`)),
		msg(set("period", `"2000-01"`), set("headcount", "0"), set("vacancies", "10000000")),
		msg(set("firm_id", `"9144030071526726XG"`)),
		msg(set("headcount", "10000001")),
		msg(set("revision", "0")),
		msg(set("separations", `{"x":1}`)),
		msg(set("period", `"1999-12"`)),
		msg(set("period", `"2025-07"`)),
		msg(set("Period", `"2025-05"`)),
		msg(set("note", quote(strings.Repeat("裁", 501)))),
		msg(set("reported_at", `"0001-01-01T00:00:00Z"`)),
		msg(set("reported_at", `"9999-12-31T23:59:59-23:59"`)),
		msg(del("schema_version")),
		msg(set("headcount", `1.5`)),
		msg(set("note", `"\ud83d\ude00\ud800\u88c1\\u0041\t"`)),
		msg(set("note", "\"\xe8\xa3\x81\xff\"")),
		[]byte(`null`), []byte(`[]`), []byte(`{}`), []byte(``), []byte(`{"a":`),
		append(msg(), msg()...),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, p := Decode(data, testNow)
		if p != nil {
			if !knownReasons[p.Reason] || p.Reason == ReasonUnknownFirm {
				t.Fatalf("Decode returned reason %q", p.Reason)
			}
			if p.Message == "" {
				t.Fatalf("problem %q without message", p.Reason)
			}
			return
		}
		if err := CheckFirmID(r.FirmID); err != nil {
			t.Fatalf("accepted firm id %q: %v", r.FirmID, err)
		}
		if r.Period < MinPeriod || r.Period > PeriodOf(testNow.In(Shanghai())) && r.ReportedAt.IsZero() {
			t.Fatalf("accepted period %s", r.Period)
		}
		seps := r.Separations.Values()
		for _, v := range append(seps[:], r.Headcount, r.Vacancies, r.Hires) {
			if v > MaxCount {
				t.Fatalf("accepted count %d", v)
			}
		}
		if r.Revision < 1 || utf8.RuneCountInString(r.Note) > MaxNoteRunes || !utf8.ValidString(r.Note) {
			t.Fatalf("accepted %+v", r)
		}
		// Nothing accepted was altered: the message is strict JSON and valid
		// UTF-8, and encoding/json (which replaces what is not a character
		// with U+FFFD) reads the same strings.
		var ref struct {
			FirmID string `json:"firm_id"`
			Note   string `json:"note"`
		}
		if !utf8.Valid(data) || json.Unmarshal(data, &ref) != nil || ref.FirmID != r.FirmID || ref.Note != r.Note {
			t.Fatalf("accepted %q as %+v; encoding/json reads %+v", data, r, ref)
		}
		enc, err := Encode(r)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", r, err)
		}
		r2, p := Decode(enc, testNow)
		if p != nil {
			t.Fatalf("Decode(Encode(r)) = %v\n input   %q\n encoded %s", p, data, enc)
		}
		if !sameReport(r, r2) {
			t.Fatalf("round trip changed the report\n first  %+v\n second %+v\n encoded %s", r, r2, enc)
		}
	})
}
