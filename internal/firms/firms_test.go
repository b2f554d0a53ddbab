package firms

import (
	"bytes"
	"encoding/csv"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Valid unified social credit codes (check characters computed by hand).
const (
	idA = "91620102MA7K10003N" // Lanzhou, Chengguan
	idB = "91620103MA7K20009F" // Lanzhou, Qilihe
	idC = "91620402224360013R" // Baiyin
)

const head = "firm_id,name,region,industry,baseline_headcount\n"

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// lineErr is what a test expects of one *LineError.
type lineErr struct {
	line   int
	column string
}

// lineErrors unpacks the errors.Join of ParseCSV; other errors come back with line 0.
func lineErrors(err error) []lineErr {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	var out []lineErr
	for _, e := range list {
		var le *LineError
		if errors.As(e, &le) {
			out = append(out, lineErr{le.Line, le.Column})
		} else {
			out = append(out, lineErr{})
		}
	}
	return out
}

func TestParseCSV(t *testing.T) {
	gansu := region.Gansu()
	tests := []struct {
		name    string
		in      string
		noTable bool      // parse with a nil region table
		want    []Firm    // when no error is expected
		wantErr []lineErr // every error, in order
		wantMsg string    // substring of the joined error
	}{
		{name: "required columns only", in: head + idA + ",兰州示例机械有限公司,620102,C,420\n",
			want: []Firm{{ID: idA, Name: "兰州示例机械有限公司", Region: "620102", Industry: "C", BaselineHeadcount: 420}}},
		{name: "every column, any order", in: "enrolled_to,ownership,baseline_headcount,industry,region,name,firm_id,enrolled_from\n" +
			"2026-01-01,state,2300,C,620402,白银示例有色金属有限公司," + idC + ",2024-07-01\n",
			want: []Firm{{ID: idC, Name: "白银示例有色金属有限公司", Region: "620402", Industry: "C", BaselineHeadcount: 2300,
				Ownership: "state", EnrolledFrom: date("2024-07-01"), EnrolledTo: date("2026-01-01")}}},
		{name: "empty optional values", in: strings.TrimSuffix(head, "\n") + ",ownership,enrolled_from,enrolled_to\n" + idA + ",x,620102,C,1,,,\n",
			want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1}}},
		{name: "BOM before the header", in: "\ufeff" + head + idA + ",x,620102,C,1\n",
			want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1}}},
		{name: "CRLF and no final newline", in: strings.ReplaceAll(head, "\n", "\r\n") + idA + ",x,620102,C,1\r\n" + idB + ",y,620103,G,2",
			want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1}, {ID: idB, Name: "y", Region: "620103", Industry: "G", BaselineHeadcount: 2}}},
		{name: "spaces around values and header names are trimmed", in: "firm_id, name ,region,industry,baseline_headcount\n " + idA + " , x ,620102 , C , 1 \n",
			want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1}}},
		{name: "quoted name with comma", in: head + idA + `,"兰州示例机械有限公司, 第二分厂",620102,C,1` + "\n",
			want: []Firm{{ID: idA, Name: "兰州示例机械有限公司, 第二分厂", Region: "620102", Industry: "C", BaselineHeadcount: 1}}},
		{name: "header only", in: head, want: nil},
		{name: "blank lines are skipped", in: head + "\n" + idA + ",x,620102,C,1\n\n", want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1}}},
		{name: "Jiayuguan's districts code", in: head + "91620201MA75E700X1,x,620201,C,1\n", want: []Firm{{ID: "91620201MA75E700X1", Name: "x", Region: "620201", Industry: "C", BaselineHeadcount: 1}}},

		// header
		{name: "empty file", in: "", wantErr: []lineErr{{}}, wantMsg: "read header"},
		{name: "missing required column", in: "firm_id,name,region,baseline_headcount\n", wantErr: []lineErr{{1, "industry"}}, wantMsg: "required column missing"},
		{name: "unknown column", in: strings.TrimSuffix(head, "\n") + ",employees\n", wantErr: []lineErr{{1, "employees"}}, wantMsg: "unknown column"},
		{name: "column twice", in: strings.TrimSuffix(head, "\n") + ",name\n", wantErr: []lineErr{{1, "name"}}, wantMsg: "appears twice"},
		{name: "header in other case", in: strings.ToUpper(head), wantErr: []lineErr{{1, "firm_id"}}},

		// firm_id
		{name: "firm_id wrong check char", in: head + "91620102MA7K10003M,x,620102,C,1\n", wantErr: []lineErr{{2, "firm_id"}}, wantMsg: "want 'N'"},
		{name: "firm_id lower case", in: head + strings.ToLower(idA) + ",x,620102,C,1\n", wantErr: []lineErr{{2, "firm_id"}}},
		{name: "firm_id empty", in: head + ",x,620102,C,1\n", wantErr: []lineErr{{2, "firm_id"}}},
		{name: "firm_id 17 characters", in: head + idA[:17] + ",x,620102,C,1\n", wantErr: []lineErr{{2, "firm_id"}}},
		{name: "duplicate firm", in: head + idA + ",x,620102,C,1\n" + idB + ",y,620103,C,1\n" + idA + ",z,620102,C,1\n",
			wantErr: []lineErr{{4, "firm_id"}}, wantMsg: "line 4: firm_id: firm " + idA + " is listed again (first on line 2)"},

		// name
		{name: "name empty", in: head + idA + ",,620102,C,1\n", wantErr: []lineErr{{2, "name"}}},
		{name: "name only spaces", in: head + idA + ",   ,620102,C,1\n", wantErr: []lineErr{{2, "name"}}},
		{name: "name 200 characters", in: head + idA + "," + strings.Repeat("厂", 200) + ",620102,C,1\n",
			want: []Firm{{ID: idA, Name: strings.Repeat("厂", 200), Region: "620102", Industry: "C", BaselineHeadcount: 1}}},
		{name: "name 201 characters", in: head + idA + "," + strings.Repeat("厂", 201) + ",620102,C,1\n", wantErr: []lineErr{{2, "name"}}},
		{name: "name invalid UTF-8", in: head + idA + ",\xff\xfe,620102,C,1\n", wantErr: []lineErr{{2, "name"}}},
		{name: "name on two lines", in: head + idA + ",\"a\nb\",620102,C,1\n", wantErr: []lineErr{{2, "name"}}, wantMsg: "one line"},
		{name: "name with NUL", in: head + idA + ",a\x00b,620102,C,1\n", wantErr: []lineErr{{2, "name"}}},

		// region
		{name: "region a prefecture", in: head + idA + ",x,620100,C,1\n", wantErr: []lineErr{{2, "region"}}, wantMsg: "is a prefecture"},
		{name: "region the province", in: head + idA + ",x,620000,C,1\n", wantErr: []lineErr{{2, "region"}}, wantMsg: "is a province"},
		{name: "region unknown county", in: head + idA + ",x,620199,C,1\n", wantErr: []lineErr{{2, "region"}}, wantMsg: "not a known county"},
		{name: "region outside Gansu", in: head + idA + ",x,440305,C,1\n", wantErr: []lineErr{{2, "region"}}},
		{name: "region 5 digits", in: head + idA + ",x,62010,C,1\n", wantErr: []lineErr{{2, "region"}}},
		{name: "region empty", in: head + idA + ",x,,C,1\n", wantErr: []lineErr{{2, "region"}}},
		{name: "no table: any county-form code", in: head + idA + ",x,440305,C,1\n", noTable: true,
			want: []Firm{{ID: idA, Name: "x", Region: "440305", Industry: "C", BaselineHeadcount: 1}}},
		{name: "no table: prefecture", in: head + idA + ",x,620100,C,1\n", noTable: true, wantErr: []lineErr{{2, "region"}}},
		{name: "no table: letters", in: head + idA + ",x,62010a,C,1\n", noTable: true, wantErr: []lineErr{{2, "region"}}},
		{name: "no table: 7 digits", in: head + idA + ",x,6201021,C,1\n", noTable: true, wantErr: []lineErr{{2, "region"}}},

		// industry
		{name: "industry A", in: head + idA + ",x,620102,A,1\n", want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "A", BaselineHeadcount: 1}}},
		{name: "industry T", in: head + idA + ",x,620102,T,1\n", want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "T", BaselineHeadcount: 1}}},
		{name: "industry U", in: head + idA + ",x,620102,U,1\n", wantErr: []lineErr{{2, "industry"}}},
		{name: "industry lower case", in: head + idA + ",x,620102,c,1\n", wantErr: []lineErr{{2, "industry"}}},
		{name: "industry two letters", in: head + idA + ",x,620102,CC,1\n", wantErr: []lineErr{{2, "industry"}}},
		{name: "industry division code", in: head + idA + ",x,620102,C13,1\n", wantErr: []lineErr{{2, "industry"}}},
		{name: "industry empty", in: head + idA + ",x,620102,,1\n", wantErr: []lineErr{{2, "industry"}}},

		// baseline_headcount
		{name: "headcount 0", in: head + idA + ",x,620102,C,0\n", want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C"}}},
		{name: "headcount 10,000,000", in: head + idA + ",x,620102,C,10000000\n", want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: report.MaxCount}}},
		{name: "headcount 10,000,001", in: head + idA + ",x,620102,C,10000001\n", wantErr: []lineErr{{2, "baseline_headcount"}}},
		{name: "headcount -1", in: head + idA + ",x,620102,C,-1\n", wantErr: []lineErr{{2, "baseline_headcount"}}},
		{name: "headcount empty", in: head + idA + ",x,620102,C,\n", wantErr: []lineErr{{2, "baseline_headcount"}}},
		{name: "headcount fraction", in: head + idA + ",x,620102,C,1.5\n", wantErr: []lineErr{{2, "baseline_headcount"}}},
		{name: "headcount thousands separator", in: head + idA + ",x,620102,C,\"1,000\"\n", wantErr: []lineErr{{2, "baseline_headcount"}}},
		{name: "headcount beyond uint32", in: head + idA + ",x,620102,C,4294967296\n", wantErr: []lineErr{{2, "baseline_headcount"}}},

		// ownership
		{name: "ownership each value", in: "firm_id,name,region,industry,baseline_headcount,ownership\n" +
			"91620102MA7K10003N,x,620102,C,1,state\n" + "91620103MA7K20009F,x,620103,C,1,collective\n" + "91620402224360013R,x,620402,C,1,private\n",
			want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1, Ownership: "state"},
				{ID: idB, Name: "x", Region: "620103", Industry: "C", BaselineHeadcount: 1, Ownership: "collective"},
				{ID: idC, Name: "x", Region: "620402", Industry: "C", BaselineHeadcount: 1, Ownership: "private"}}},
		{name: "ownership unknown", in: "firm_id,name,region,industry,baseline_headcount,ownership\n" + idA + ",x,620102,C,1,public\n", wantErr: []lineErr{{2, "ownership"}}},
		{name: "ownership upper case", in: "firm_id,name,region,industry,baseline_headcount,ownership\n" + idA + ",x,620102,C,1,STATE\n", wantErr: []lineErr{{2, "ownership"}}},

		// enrolment dates
		{name: "enrolled_from slashes", in: strings.TrimSuffix(head, "\n") + ",enrolled_from\n" + idA + ",x,620102,C,1,2025/01/01\n", wantErr: []lineErr{{2, "enrolled_from"}}},
		{name: "enrolled_from February 30", in: strings.TrimSuffix(head, "\n") + ",enrolled_from\n" + idA + ",x,620102,C,1,2025-02-30\n", wantErr: []lineErr{{2, "enrolled_from"}}},
		{name: "enrolled_to with time", in: strings.TrimSuffix(head, "\n") + ",enrolled_to\n" + idA + ",x,620102,C,1,2025-01-01T00:00:00Z\n", wantErr: []lineErr{{2, "enrolled_to"}}},
		{name: "enrolled_to equal to enrolled_from", in: strings.TrimSuffix(head, "\n") + ",enrolled_from,enrolled_to\n" + idA + ",x,620102,C,1,2025-01-01,2025-01-01\n", wantErr: []lineErr{{2, "enrolled_to"}}},
		{name: "enrolled_to before enrolled_from", in: strings.TrimSuffix(head, "\n") + ",enrolled_from,enrolled_to\n" + idA + ",x,620102,C,1,2025-01-02,2025-01-01\n", wantErr: []lineErr{{2, "enrolled_to"}}},
		{name: "enrolled one day", in: strings.TrimSuffix(head, "\n") + ",enrolled_from,enrolled_to\n" + idA + ",x,620102,C,1,2025-01-01,2025-01-02\n",
			want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1, EnrolledFrom: date("2025-01-01"), EnrolledTo: date("2025-01-02")}}},

		// contacts
		{name: "contact columns", in: strings.TrimSuffix(head, "\n") + ",contact_name,contact_email,contact_phone\n" + idA + ",x,620102,C,1,王芳,hr@example.cn,0931-8881234\n",
			want: []Firm{{ID: idA, Name: "x", Region: "620102", Industry: "C", BaselineHeadcount: 1, ContactName: "王芳", ContactEmail: "hr@example.cn", ContactPhone: "0931-8881234"}}},
		{name: "contact email with a display name", in: strings.TrimSuffix(head, "\n") + ",contact_email\n" + idA + ",x,620102,C,1,Wang <hr@example.cn>\n", wantErr: []lineErr{{2, "contact_email"}}},
		{name: "contact email not an address", in: strings.TrimSuffix(head, "\n") + ",contact_email\n" + idA + ",x,620102,C,1,hr at example\n", wantErr: []lineErr{{2, "contact_email"}}},
		{name: "contact phone with letters", in: strings.TrimSuffix(head, "\n") + ",contact_phone\n" + idA + ",x,620102,C,1,call me\n", wantErr: []lineErr{{2, "contact_phone"}}},
		{name: "contact name on two lines", in: strings.TrimSuffix(head, "\n") + ",contact_name\n" + idA + ",x,620102,C,1,\"a\nb\"\n", wantErr: []lineErr{{2, "contact_name"}}},

		// shape of lines
		{name: "too few fields", in: head + idA + ",x,620102,C\n", wantErr: []lineErr{{2, ""}}, wantMsg: "has 4 fields, the header has 5"},
		{name: "too many fields", in: head + idA + ",x,620102,C,1,extra\n", wantErr: []lineErr{{2, ""}}},
		{name: "bare quote in the first field", in: head + idA + ",x,620102,C,1\n" + `9162"0102,x,620102,C,1` + "\n", wantErr: []lineErr{{}}, wantMsg: "bare \" in non-quoted-field"},
		{name: "unterminated quote", in: head + idA + `,"x,620102,C,1` + "\n", wantErr: []lineErr{{}}, wantMsg: "read csv"},

		// several bad lines: all reported, nothing returned
		{name: "every bad line is reported", in: head +
			idA + ",x,620102,C,1\n" + // 2 ok
			"91620102MA7K10003M,x,620102,C,1\n" + // 3 check char
			idB + ",y,620100,C,1\n" + // 4 prefecture
			idC + ",\"two\nlines\",620402,C,1\n" + // 5–6 name
			idC + ",z,620402,Z,1\n" + // 7 industry
			idA + ",x,620102,C,1\n" + // 8 duplicate of 2
			idC + ",z,620402,C\n" + // 9 field count
			idC + ",z,620402,C,-5\n", // 10 headcount
			wantErr: []lineErr{{3, "firm_id"}, {4, "region"}, {5, "name"}, {7, "industry"}, {8, "firm_id"}, {9, ""}, {10, "baseline_headcount"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			regions := gansu
			if tt.noTable {
				regions = nil
			}
			got, err := ParseCSV(strings.NewReader(tt.in), regions)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("ParseCSV: %v", err)
				}
				if !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("ParseCSV\n got  %+v\n want %+v", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseCSV = %+v, want errors %v", got, tt.wantErr)
			}
			if got != nil {
				t.Errorf("ParseCSV returned %d firms with an error, want none", len(got))
			}
			if gotErrs := lineErrors(err); !reflect.DeepEqual(gotErrs, tt.wantErr) {
				t.Errorf("errors %v, want %v\n%v", gotErrs, tt.wantErr, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q, want it to contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseCSVStopsAtMaxErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(head)
	for i := 0; i < MaxErrors+50; i++ {
		b.WriteString(idA + ",x,620102,C,-1\n")
	}
	got, err := ParseCSV(strings.NewReader(b.String()), nil)
	if got != nil || err == nil {
		t.Fatalf("ParseCSV = %d firms, %v", len(got), err)
	}
	errs := lineErrors(err)
	if len(errs) != MaxErrors+1 {
		t.Fatalf("%d errors, want %d and a last one saying it stopped", len(errs), MaxErrors+1)
	}
	if last := errs[len(errs)-2]; last.line != MaxErrors+1 {
		t.Fatalf("last line error on line %d, want %d", last.line, MaxErrors+1)
	}
	if !strings.Contains(err.Error(), "stopped after 1000 errors") {
		t.Fatalf("error does not say it stopped: %.200s", err)
	}
}

func TestLineError(t *testing.T) {
	inner := errors.New("boom")
	tests := []struct {
		name string
		err  *LineError
		want string
	}{
		{name: "with column", err: &LineError{Line: 3, Column: "region", Err: inner}, want: "line 3: region: boom"},
		{name: "without column", err: &LineError{Line: 4, Err: inner}, want: "line 4: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, inner) {
				t.Fatal("Unwrap does not reach the cause")
			}
		})
	}
}

func TestEnrolledIn(t *testing.T) {
	p := func(s string) report.Period {
		v, err := report.ParsePeriod(s)
		if err != nil {
			panic(err)
		}
		return v
	}
	tests := []struct {
		name     string
		from, to string
		period   string
		want     bool
	}{
		{name: "no dates", period: "2000-01", want: true},
		{name: "joined on the first, that month", from: "2025-03-01", period: "2025-03", want: true},
		{name: "joined on the first, month before", from: "2025-03-01", period: "2025-02", want: false},
		{name: "joined on the last day counts", from: "2025-03-31", period: "2025-03", want: true},
		{name: "joined on the last day, month before", from: "2025-03-31", period: "2025-02", want: false},
		{name: "joined next month", from: "2025-04-01", period: "2025-03", want: false},
		{name: "joined 29 February", from: "2024-02-29", period: "2024-02", want: true},
		{name: "joined new year's eve, December", from: "2024-12-31", period: "2024-12", want: true},
		{name: "joined new year's eve, November", from: "2024-12-31", period: "2024-11", want: false},
		{name: "joined new year's eve, January", from: "2024-12-31", period: "2025-01", want: true},
		{name: "left on the first: not that month", to: "2025-03-01", period: "2025-03", want: false},
		{name: "left on the first: month before", to: "2025-03-01", period: "2025-02", want: true},
		{name: "left on the second: that month", to: "2025-03-02", period: "2025-03", want: true},
		{name: "left on the second: month after", to: "2025-03-02", period: "2025-04", want: false},
		{name: "left on new year's day: December", to: "2025-01-01", period: "2024-12", want: true},
		{name: "left on new year's day: January", to: "2025-01-01", period: "2025-01", want: false},
		{name: "window, before", from: "2024-11-15", to: "2025-02-01", period: "2024-10", want: false},
		{name: "window, first month", from: "2024-11-15", to: "2025-02-01", period: "2024-11", want: true},
		{name: "window, across the year", from: "2024-11-15", to: "2025-02-01", period: "2025-01", want: true},
		{name: "window, after", from: "2024-11-15", to: "2025-02-01", period: "2025-02", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Firm
			if tt.from != "" {
				f.EnrolledFrom = date(tt.from)
			}
			if tt.to != "" {
				f.EnrolledTo = date(tt.to)
			}
			if got := f.EnrolledIn(p(tt.period)); got != tt.want {
				t.Fatalf("EnrolledIn(%s) from %q to %q = %v, want %v", tt.period, tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	reg := NewRegistry([]Firm{
		{ID: idC, Name: "c", Region: "620402"},
		{ID: idA, Name: "first", Region: "620102"},
		{ID: idB, Name: "b", Region: "620103"},
		{ID: idA, Name: "second", Region: "620102"},
	})
	tests := []struct {
		name     string
		id       string
		wantOK   bool
		wantName string
		wantPref string
	}{
		{name: "later entry wins", id: idA, wantOK: true, wantName: "second", wantPref: "620100"},
		{name: "Baiyin", id: idC, wantOK: true, wantName: "c", wantPref: "620400"},
		{name: "absent", id: "914403001922038216"},
		{name: "empty id", id: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := reg.Lookup(tt.id)
			if ok != tt.wantOK || reg.Has(tt.id) != tt.wantOK {
				t.Fatalf("Lookup/Has(%q) = %v/%v, want %v", tt.id, ok, reg.Has(tt.id), tt.wantOK)
			}
			if ok && (f.Name != tt.wantName || f.Prefecture() != tt.wantPref) {
				t.Fatalf("Lookup(%q) = %+v (prefecture %s)", tt.id, f, f.Prefecture())
			}
		})
	}
	if reg.Len() != 3 {
		t.Errorf("Len() = %d, want 3", reg.Len())
	}
	var ids []string
	for _, f := range reg.All() {
		ids = append(ids, f.ID)
	}
	if want := []string{idA, idB, idC}; !reflect.DeepEqual(ids, want) {
		t.Errorf("All() ids = %v, want %v", ids, want)
	}
	var _ report.Registry = reg
}

func TestWriteCSVRoundTrip(t *testing.T) {
	list := []Firm{
		{ID: idA, Name: "兰州示例机械有限公司, \"第二\"分厂", Region: "620102", Industry: "C", BaselineHeadcount: 420, Ownership: "private",
			EnrolledFrom: date("2024-01-01"), EnrolledTo: date("2026-01-01")},
		{ID: idB, Name: "y", Region: "620103", Industry: "G", ContactName: "王芳, 人事科", ContactEmail: "hr@example.cn", ContactPhone: "+86 (931) 888-1234"},
		{ID: idC, Name: "z", Region: "620402", Industry: "T", BaselineHeadcount: report.MaxCount, EnrolledFrom: date("2000-02-29")},
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, list); err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(buf.String(), "\n"); first != "firm_id,name,region,industry,baseline_headcount,ownership,enrolled_from,enrolled_to,contact_name,contact_email,contact_phone" {
		t.Fatalf("header %q", first)
	}
	got, err := ParseCSV(&buf, region.Gansu())
	if err != nil {
		t.Fatalf("ParseCSV(WriteCSV): %v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got, list) {
		t.Fatalf("round trip\n got  %+v\n want %+v", got, list)
	}
}

// TestWriteCSVNeutralisesFormulas: a firm name that a spreadsheet would run
// as a formula is stored as it was imported, exported with a leading
// apostrophe, and read back by ParseCSV as stored.
func TestWriteCSVNeutralisesFormulas(t *testing.T) {
	names := []string{`=HYPERLINK("http://evil.example","兰州")`, "+1+1 公司", "-2+3 公司", "@SUM(A1) 公司", "'=quoted 公司", "'plain 公司"}
	ids := []string{idA, idB, idC, "91620302224936000X", "91620502MA71A30038", "91620602MA72B4002U"}
	var list []Firm
	for i, n := range names {
		list = append(list, Firm{ID: ids[i], Name: n, Region: "620102", Industry: "C"})
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, list); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs[1:] {
		for _, cell := range rec {
			if cell != "" && strings.ContainsAny(cell[:1], "=+-@\t\r") {
				t.Errorf("exported cell %q starts a formula", cell)
			}
		}
	}
	got, err := ParseCSV(&buf, region.Gansu())
	if err != nil {
		t.Fatalf("ParseCSV(WriteCSV): %v", err)
	}
	if !reflect.DeepEqual(got, list) {
		t.Fatalf("round trip\n got  %+v\n want %+v", got, list)
	}
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{
		head + idA + ",兰州示例机械有限公司,620102,C,420\n",
		"\ufeff" + strings.TrimSuffix(head, "\n") + ",ownership,enrolled_from,enrolled_to\r\n" + idC + ",\"a, b\",620402,T,0,state,2024-07-01,2026-01-01\r\n",
		head + idA + ",x,620102,C,1\n" + idA + ",x,620102,C,1\n",
		head + idA + ",x,620100,C,1\n",
		head + idA + ",\"a\nb\",620102,C,1\n",
		head + `9162"0102,x,620102,C,1` + "\n",
		head + idA + ",x,620102,C\n",
		"firm_id,name\n",
		"",
	} {
		f.Add([]byte(s))
	}
	gansu := region.Gansu()
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseCSV(bytes.NewReader(data), gansu)
		if err != nil {
			if list != nil {
				t.Fatalf("ParseCSV returned %d firms and %v", len(list), err)
			}
			return
		}
		seen := map[string]bool{}
		for _, fm := range list {
			if err := report.CheckFirmID(fm.ID); err != nil {
				t.Fatalf("accepted firm id %q: %v", fm.ID, err)
			}
			if err := gansu.CheckCounty(fm.Region); err != nil {
				t.Fatalf("accepted region %q: %v", fm.Region, err)
			}
			if seen[fm.ID] {
				t.Fatalf("accepted %s twice", fm.ID)
			}
			seen[fm.ID] = true
		}
		var buf bytes.Buffer
		if err := WriteCSV(&buf, list); err != nil {
			t.Fatalf("WriteCSV: %v", err)
		}
		again, err := ParseCSV(bytes.NewReader(buf.Bytes()), gansu)
		if err != nil {
			t.Fatalf("ParseCSV(WriteCSV(firms)): %v\n%q", err, buf.String())
		}
		if !reflect.DeepEqual(again, list) {
			t.Fatalf("round trip\n got  %+v\n want %+v\n%q", again, list, buf.String())
		}
	})
}

// TestParseCSVAnyProvince: with the table of all China, the registry enrols
// firms of every province, including the special cases of internal/region
// (a municipality's district, a city without counties through its stand-in,
// a county the province administers directly), and still refuses what is
// not a county.
func TestParseCSVAnyProvince(t *testing.T) {
	const (
		shenzhen = "91440305MA5F00001J" // Guangdong, Shenzhen, Nanshan
		beijing  = "91110105MA01A00025" // Beijing, Chaoyang
		dongguan = "91441900MA4W000037" // Guangdong, Dongguan
		xiantao  = "91429004MA4900004F" // Hubei, Xiantao
	)
	in := head +
		shenzhen + ",深圳示例电子有限公司,440305,C,1200\n" +
		beijing + ",北京示例软件有限公司,110105,I,300\n" +
		dongguan + ",东莞示例制衣有限公司,441901,C,800\n" +
		xiantao + ",仙桃示例无纺布有限公司,429004,C,450\n" +
		idA + ",兰州示例机械有限公司,620102,C,420\n"
	got, err := ParseCSV(strings.NewReader(in), region.China())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ id, region, prefecture string }{
		{shenzhen, "440305", "440300"},
		{beijing, "110105", "110100"},
		{dongguan, "441901", "441900"},
		{xiantao, "429004", "429000"},
		{idA, "620102", "620100"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d firms, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].ID != w.id || got[i].Region != w.region || got[i].Prefecture() != w.prefecture {
			t.Errorf("firm %d = %s in %s (prefecture %s), want %s in %s (%s)", i, got[i].ID, got[i].Region, got[i].Prefecture(), w.id, w.region, w.prefecture)
		}
	}

	bad := head +
		shenzhen + ",x,440300,C,1\n" + // Shenzhen itself
		beijing + ",x,110000,C,1\n" + // Beijing itself
		dongguan + ",x,441900,C,1\n" + // Dongguan: its stand-in county is 441901
		xiantao + ",x,330103,C,1\n" // a district abolished in 2021
	_, err = ParseCSV(strings.NewReader(bad), region.China())
	if got, want := lineErrors(err), []lineErr{{2, "region"}, {3, "region"}, {4, "region"}, {5, "region"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("errors %v, want %v (%v)", got, want, err)
	}
	if !strings.Contains(err.Error(), "here 441901") {
		t.Errorf("the error for Dongguan does not name its stand-in county: %v", err)
	}
}
