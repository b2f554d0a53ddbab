package label

import (
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

var update = flag.Bool("update", false, "rewrite the .want files of testdata/good and testdata/bad")

const idA = "91620102MA7K10003N"

func period(t testing.TB, s string) report.Period {
	t.Helper()
	p, err := report.ParsePeriod(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGolden reads every file of testdata/good and testdata/bad with the
// Gansu region table. A good file must load, and its .want is what Write
// makes of it; a bad file must load nothing, and its .want lists the
// errors, one a line. Run with -update to rewrite the .want files after a
// reviewed change.
func TestGolden(t *testing.T) {
	gansu := region.Gansu()
	for _, dir := range []string{"good", "bad"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "*.csv"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no golden files in testdata/%s: %v", dir, err)
		}
		for _, path := range files {
			t.Run(dir+"/"+filepath.Base(path), func(t *testing.T) {
				list, err := ReadFile(path, gansu)
				var got bytes.Buffer
				switch {
				case dir == "good" && err != nil:
					t.Fatalf("a good file: %v", err)
				case dir == "bad" && err == nil:
					t.Fatalf("a bad file loaded %d labels without an error", len(list))
				case dir == "bad" && list != nil:
					t.Fatalf("a bad file returned %d labels with its error", len(list))
				case dir == "good":
					if err := Write(&got, list); err != nil {
						t.Fatal(err)
					}
				default:
					got.WriteString(strings.ReplaceAll(err.Error(), path, "FILE") + "\n")
				}
				want := strings.TrimSuffix(path, ".csv") + ".want"
				if *update {
					if err := os.WriteFile(want, got.Bytes(), 0o600); err != nil {
						t.Fatal(err)
					}
					return
				}
				w, err := os.ReadFile(want)
				if err != nil {
					t.Fatalf("%v (run with -update to create it)", err)
				}
				if !bytes.Equal(got.Bytes(), w) {
					t.Errorf("got:\n%s\nwant (%s):\n%s", got.Bytes(), want, w)
				}
			})
		}
	}
}

// TestReadLineErrors checks the line numbers and columns of the errors, not
// only their text: every bad line is reported, good lines between them
// are not.
func TestReadLineErrors(t *testing.T) {
	type le struct {
		line   int
		column string
	}
	head := strings.Join(Header, ",") + "\n"
	good := "firm," + idA + ",2025-03,2025-03,layoff,analyst,\n"
	tests := []struct {
		name string
		in   string
		want []le
	}{
		{name: "unknown kind", in: head + good + "firm," + idA + ",2025-04,2025-04,layof,analyst,\n", want: []le{{3, "kind"}}},
		{name: "every bad line", in: head + "firm,x,2025-03,2025-03,layoff,analyst,\n" + good +
			"county,620102,2025-13,2025-13,layoff,analyst,\n" + "county,620102,2025-03,2025-03,layoff,Analyst,\n",
			want: []le{{2, "key"}, {4, "from"}, {5, "source"}}},
		{name: "field count", in: head + "firm," + idA + ",2025-03\n", want: []le{{2, ""}}},
		{name: "duplicate", in: head + good + good, want: []le{{3, ""}}},
		{name: "quoted newline counts lines", in: head + "firm," + idA + ",2025-03,2025-03,layoff,analyst,\"a\nb\"\n" +
			"firm," + idA + ",2025-03,2025-02,layoff,analyst,\n", want: []le{{4, "to"}}},
		{name: "header", in: "scope,key\n", want: []le{{1, "from"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			list, err := Read(strings.NewReader(tt.in), region.Gansu())
			if err == nil || list != nil {
				t.Fatalf("Read = %d labels, %v; want only an error", len(list), err)
			}
			var errs []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			} else {
				errs = []error{err}
			}
			var got []le
			for _, e := range errs {
				var l *LineError
				if !errors.As(e, &l) {
					t.Fatalf("error %v is not a *LineError", e)
				}
				got = append(got, le{l.Line, l.Column})
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("errors at %v, want %v\n%v", got, tt.want, err)
			}
		})
	}
}

func TestMaxErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(strings.Join(Header, ",") + "\n")
	for range MaxErrors + 50 {
		b.WriteString("firm,x,2025-03,2025-03,layoff,analyst,\n")
	}
	_, err := Read(strings.NewReader(b.String()), nil)
	if err == nil || !strings.Contains(err.Error(), "stopped after 1000 errors") {
		t.Fatalf("error does not say it stopped: %.200v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != MaxErrors+1 {
		t.Fatalf("%d error lines, want %d", n, MaxErrors+1)
	}
}

func TestNearest(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
	}{
		{"layof", Layoff},
		{"Layoff", Layoff},
		{"layoffs", Layoff},
		{"closed", Closure},
		{"split-layoff", SplitLayoff},
		{"seasonl", Seasonal},
		{"data error", DataError},
		{"falsealarm", FalseAlarm},
		{"regional downturn", RegionalDownturn},
		{"none", Nothing},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := nearest(tt.in, Kinds); got != tt.want {
				t.Errorf("nearest(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsEvent(t *testing.T) {
	events := map[Kind]bool{Layoff: true, Closure: true, SplitLayoff: true, RegionalDownturn: true}
	for _, k := range Kinds {
		if k.IsEvent() != events[k] {
			t.Errorf("%s.IsEvent() = %v", k, k.IsEvent())
		}
	}
	if Kind("layoffs").IsEvent() {
		t.Error("an unknown kind is an event")
	}
}

func TestLabelMethods(t *testing.T) {
	tests := []struct {
		name           string
		l              Label
		region, ind    string
		months         int
		in, out        string
		wantErr        string
		wantErrColumns string
	}{
		{name: "firm", l: Label{Scope: Firm, Key: idA, From: period(t, "2025-03"), To: period(t, "2025-05"), Kind: Layoff, Source: Analyst},
			months: 3, in: "2025-05", out: "2025-06"},
		{name: "county with industry", l: Label{Scope: County, Key: "620982/H", From: period(t, "2025-11"), To: period(t, "2025-11"), Kind: Seasonal, Source: Simulator},
			region: "620982", ind: "H", months: 1, in: "2025-11", out: "2025-10"},
		{name: "province", l: Label{Scope: Province, Key: "620000", From: period(t, "2025-01"), To: period(t, "2026-12"), Kind: Nothing, Source: Official},
			region: "620000", months: 24, in: "2026-12", out: "2027-01"},
		{name: "prefecture code under province", l: Label{Scope: Province, Key: "620900", From: period(t, "2025-01"), To: period(t, "2025-01"), Kind: Nothing, Source: Official},
			region: "620900", months: 1, in: "2025-01", out: "2025-02", wantErr: "is a prefecture code, the scope is province", wantErrColumns: "key"},
		{name: "note with a carriage return", l: Label{Scope: Firm, Key: idA, From: period(t, "2025-01"), To: period(t, "2025-01"), Kind: Nothing, Source: Official, Note: "a\rb"},
			months: 1, in: "2025-01", out: "2024-12", wantErr: "control character", wantErrColumns: "note"},
		{name: "long note", l: Label{Scope: Firm, Key: idA, From: period(t, "2025-01"), To: period(t, "2025-01"), Kind: Nothing, Source: Official, Note: strings.Repeat("裁", MaxNoteRunes+1)},
			months: 1, in: "2025-01", out: "2024-12", wantErr: "at most 500", wantErrColumns: "note"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.l.Region(); got != tt.region {
				t.Errorf("Region() = %q, want %q", got, tt.region)
			}
			if got := tt.l.Industry(); got != tt.ind {
				t.Errorf("Industry() = %q, want %q", got, tt.ind)
			}
			if got := tt.l.Months(); got != tt.months {
				t.Errorf("Months() = %d, want %d", got, tt.months)
			}
			if !tt.l.Covers(period(t, tt.in)) || tt.l.Covers(period(t, tt.out)) {
				t.Errorf("Covers(%s) = %v, Covers(%s) = %v", tt.in, tt.l.Covers(period(t, tt.in)), tt.out, tt.l.Covers(period(t, tt.out)))
			}
			err := tt.l.Validate(region.Gansu())
			var fe *FieldError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate: %v, want an error containing %q", err, tt.wantErr)
			case tt.wantErr != "" && (!errors.As(err, &fe) || fe.Column != tt.wantErrColumns):
				t.Fatalf("Validate: %v, want a FieldError on %s", err, tt.wantErrColumns)
			}
			// Write refuses what Read would refuse
			if err := Write(&bytes.Buffer{}, []Label{tt.l}); (err != nil) != (tt.wantErr != "") {
				t.Fatalf("Write: %v", err)
			}
		})
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	list := []Label{
		{Scope: Firm, Key: idA, From: period(t, "2025-03"), To: period(t, "2025-05"), Kind: SplitLayoff, Source: Simulator, Note: "cuts of 8, 7 and 9 — \"below the line\"\nsecond line"},
		{Scope: Prefecture, Key: "620900/H", From: period(t, "2025-11"), To: period(t, "2026-02"), Kind: Seasonal, Source: Analyst},
		{Scope: County, Key: "620982", From: period(t, "2025-11"), To: period(t, "2025-11"), Kind: RegionalDownturn, Source: Official},
	}
	var buf bytes.Buffer
	if err := Write(&buf, list); err != nil {
		t.Fatal(err)
	}
	got, err := Read(&buf, region.Gansu())
	if err != nil {
		t.Fatalf("Read(Write(list)): %v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got, list) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, list)
	}
}

// TestWriteNeutralisesFormulas: a note that a spreadsheet would run as a
// formula is written with a leading apostrophe and read back as it was.
func TestWriteNeutralisesFormulas(t *testing.T) {
	notes := []string{`=HYPERLINK("http://evil.example","兰州")`, "+1 裁员", "-30% 人员", "@SUM(A1)", "'=quoted", "'plain", "plain"}
	var list []Label
	for i, n := range notes {
		p := period(t, fmt.Sprintf("2025-%02d", i+1))
		list = append(list, Label{Scope: Firm, Key: idA, From: p, To: p, Kind: SplitLayoff, Source: Analyst, Note: n})
	}
	var buf bytes.Buffer
	if err := Write(&buf, list); err != nil {
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
	got, err := Read(&buf, region.Gansu())
	if err != nil {
		t.Fatalf("Read(Write(list)): %v\n%s", err, buf.String())
	}
	if !reflect.DeepEqual(got, list) {
		t.Fatalf("round trip\n got %+v\nwant %+v", got, list)
	}
}

func TestReadFileMissing(t *testing.T) {
	_, err := ReadFile(filepath.Join(t.TempDir(), "nope.csv"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadFile of a missing file: %v", err)
	}
}

func FuzzParseCSV(f *testing.F) {
	for _, s := range []string{
		"scope,key,from,to,kind,source,note\nfirm," + idA + ",2025-03,2025-03,layoff,analyst,x\n",
		"\ufeffnote,kind,source,scope,key,to,from\r\n\"a, b\nc\",seasonal,analyst,county,620982/H,,2025-11\r\n",
		"scope,key,from,to,kind,source,note\nfirm," + idA + ",2025-03,2025-03,layof,analyst,\n",
		"scope,key,from,to,kind,source,note\nprovince,620000/E,2025-12,2026-02,seasonal,simulator,\n",
		"scope,key,from,to,kind,source,note\ncounty,620102,2025-03,2025-02,layoff,analyst,\n",
		"scope,key,from,to,kind,source,note\nfirm,x,2025-03,2025-03,layoff,analyst,\"bare\n",
		"scope,key\n",
		"",
	} {
		f.Add([]byte(s))
	}
	gansu := region.Gansu()
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := Read(bytes.NewReader(data), gansu)
		if err != nil {
			if list != nil {
				t.Fatalf("Read returned %d labels and %v", len(list), err)
			}
			return
		}
		for _, l := range list {
			if err := l.Validate(gansu); err != nil {
				t.Fatalf("accepted an invalid label %+v: %v", l, err)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, list); err != nil {
			t.Fatalf("Write of accepted labels: %v", err)
		}
		again, err := Read(bytes.NewReader(buf.Bytes()), gansu)
		if err != nil {
			t.Fatalf("Read(Write(labels)): %v\n%q", err, buf.String())
		}
		if len(again) != len(list) || len(list) > 0 && !reflect.DeepEqual(again, list) {
			t.Fatalf("round trip\n got %+v\nwant %+v", again, list)
		}
	})
}
