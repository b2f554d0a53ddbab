package report

import (
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Period
		wantErr bool
	}{
		{name: "first accepted by Decode", in: "2000-01", want: NewPeriod(2000, time.January)},
		{name: "ordinary", in: "2025-05", want: NewPeriod(2025, time.May)},
		{name: "December", in: "2024-12", want: NewPeriod(2024, time.December)},
		{name: "year 0000 parses, Decode rejects it", in: "0000-01", want: 0},
		{name: "year 9999", in: "9999-12", want: NewPeriod(9999, time.December)},
		{name: "before 2000 parses", in: "1999-12", want: NewPeriod(1999, time.December)},

		{name: "month 00", in: "2025-00", wantErr: true},
		{name: "month 13", in: "2025-13", wantErr: true},
		{name: "month 99", in: "2025-99", wantErr: true},
		{name: "one-digit month", in: "2025-5", wantErr: true},
		{name: "two-digit year", in: "25-05", wantErr: true},
		{name: "with day", in: "2025-05-01", wantErr: true},
		{name: "slash", in: "2025/05", wantErr: true},
		{name: "no separator", in: "202505", wantErr: true},
		{name: "separator elsewhere", in: "202-505", wantErr: true},
		{name: "sign", in: "+025-05", wantErr: true},
		{name: "space", in: "2025-5 ", wantErr: true},
		{name: "letters", in: "20x5-05", wantErr: true},
		{name: "full-width digits", in: "２０２５-05", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParsePeriod(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParsePeriod(%q) = %s, want error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePeriod(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParsePeriod(%q) = %d, want %d", tt.in, got, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Fatalf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestPeriodString(t *testing.T) {
	tests := []struct {
		name  string
		p     Period
		want  string
		year  int
		month time.Month
	}{
		{name: "zero", p: 0, want: "0000-01", year: 0, month: time.January},
		{name: "MinPeriod", p: MinPeriod, want: "2000-01", year: 2000, month: time.January},
		{name: "December", p: NewPeriod(2024, time.December), want: "2024-12", year: 2024, month: time.December},
		{name: "short year padded", p: NewPeriod(987, time.March), want: "0987-03", year: 987, month: time.March},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Fatalf("String() = %q, want %q", got, tt.want)
			}
			if tt.p.Year() != tt.year || tt.p.Month() != tt.month {
				t.Fatalf("Year, Month = %d, %v, want %d, %v", tt.p.Year(), tt.p.Month(), tt.year, tt.month)
			}
			b, err := tt.p.MarshalText()
			if err != nil || string(b) != tt.want {
				t.Fatalf("MarshalText() = %q, %v", b, err)
			}
			var back Period
			if err := back.UnmarshalText(b); err != nil || back != tt.p {
				t.Fatalf("UnmarshalText(%q) = %s, %v", b, back, err)
			}
		})
	}
}

func TestPeriodAdd(t *testing.T) {
	tests := []struct {
		name string
		from string
		n    int
		want string
	}{
		{name: "zero", from: "2025-05", n: 0, want: "2025-05"},
		{name: "next month", from: "2025-05", n: 1, want: "2025-06"},
		{name: "December to January", from: "2024-12", n: 1, want: "2025-01"},
		{name: "January to December", from: "2025-01", n: -1, want: "2024-12"},
		{name: "a year", from: "2025-05", n: 12, want: "2026-05"},
		{name: "a year back", from: "2025-05", n: -12, want: "2024-05"},
		{name: "13 back across two year ends", from: "2025-01", n: -13, want: "2023-12"},
		{name: "23 forward", from: "2024-02", n: 23, want: "2026-01"},
		{name: "before MinPeriod", from: "2000-01", n: -1, want: "1999-12"},
		{name: "to year 0", from: "0001-01", n: -12, want: "0000-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePeriod(tt.from)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Add(tt.n).String(); got != tt.want {
				t.Fatalf("%s.Add(%d) = %s, want %s", tt.from, tt.n, got, tt.want)
			}
		})
	}
}

func TestPeriodOfAndStart(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{name: "UTC", t: time.Date(2025, 3, 31, 17, 0, 0, 0, time.UTC), want: "2025-03"},
		{name: "same instant in Shanghai", t: time.Date(2025, 3, 31, 17, 0, 0, 0, time.UTC).In(Shanghai()), want: "2025-04"},
		{name: "new year's eve", t: time.Date(2024, 12, 31, 23, 59, 59, 999999999, Shanghai()), want: "2024-12"},
		{name: "new year", t: time.Date(2025, 1, 1, 0, 0, 0, 0, Shanghai()), want: "2025-01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PeriodOf(tt.t)
			if p.String() != tt.want {
				t.Fatalf("PeriodOf(%v) = %s, want %s", tt.t, p, tt.want)
			}
			start := p.Start()
			if start.Location() != time.UTC || start.Day() != 1 || start.Hour() != 0 || PeriodOf(start) != p {
				t.Fatalf("Start() = %v", start)
			}
			if PeriodOf(p.Add(1).Start().Add(-time.Nanosecond)) != p {
				t.Fatalf("the last nanosecond before the next Start is not in %s", p)
			}
		})
	}
}

func TestShanghaiHasNoDST(t *testing.T) {
	for _, m := range []time.Month{time.January, time.July} {
		if _, off := time.Date(2025, m, 1, 0, 0, 0, 0, Shanghai()).Zone(); off != 8*3600 {
			t.Errorf("Shanghai offset in %v = %d, want +8h", m, off)
		}
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"2025-05", "2000-01", "1999-12", "0000-01", "9999-12", "2025-13", "2025-00", "2025-5", "", "２０２５-05", "2025-05\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePeriod(s)
		if err != nil {
			return
		}
		if p.String() != s {
			t.Fatalf("ParsePeriod(%q) = %s", s, p)
		}
		if p.Month() < time.January || p.Month() > time.December || p.Year() < 0 || p.Year() > 9999 {
			t.Fatalf("ParsePeriod(%q): year %d month %d", s, p.Year(), p.Month())
		}
		if NewPeriod(p.Year(), p.Month()) != p || PeriodOf(p.Start()) != p {
			t.Fatalf("ParsePeriod(%q) = %d does not round-trip through NewPeriod/Start", s, p)
		}
		if next := p.Add(1); next.Add(-1) != p || next <= p {
			t.Fatalf("Add is not monotonic at %s", p)
		}
	})
}
