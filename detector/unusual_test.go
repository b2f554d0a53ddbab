package detector

import (
	"math"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// TestUnusualSeparations checks unusual_separations against hand
// computations: a reason the firm never uses counts from the first person,
// ordinary Poisson noise on a reason it uses counts nothing, a seasonal habit
// (contract ends every January, or a month early one year) is not unusual, a
// doubling of it is, and a firm with too little history is not judged.
func TestUnusualSeparations(t *testing.T) {
	const (
		contract    = 3 // indexes in report.SeparationReasons
		resignation = 4
		other       = 7
	)
	if report.SeparationReasons[contract] != "contract_expiry" || report.SeparationReasons[resignation] != "resignation" || report.SeparationReasons[other] != "other" {
		t.Fatalf("separation reasons moved: %v", report.SeparationReasons)
	}
	start, err := report.ParsePeriod("2023-01")
	if err != nil {
		t.Fatal(err)
	}
	end := start.Add(36) // 2026-01
	// month k's separations: 16 resignations; in January (k = 0, 12, 24)
	// 30 contract ends — or, for the early firm, in the Decembers before
	// 2024 and 2025 (the same calendar month alone would see no habit)
	habit := func(early bool) func(k int) [8]uint32 {
		return func(k int) [8]uint32 {
			var s [8]uint32
			s[resignation] = 16
			jan := k%12 == 0
			if early && k > 0 { // a month early in 2024 and 2025
				jan = k%12 == 11
			}
			if jan {
				s[contract] = 30
			}
			return s
		}
	}
	tests := []struct {
		name    string
		history int // months reported before the last
		early   bool
		last    [8]uint32
		want    float64
	}{
		{"a reason never used", 36, false, sep(contract, 30, resignation, 16, other, 10), 10},
		{"ordinary noise on a reason in use", 36, false, sep(contract, 30, resignation, 24), 0},
		{"well beyond the noise", 36, false, sep(contract, 30, resignation, 30), 30 - 16 - 8},
		{"the season's contract ends", 36, false, sep(contract, 30, resignation, 16), 0},
		{"twice the season's contract ends", 36, false, sep(contract, 60, resignation, 16), 60 - 30 - 2*math.Sqrt(30)},
		{"the season a month early the last two years", 36, true, sep(contract, 30, resignation, 16), 0},
		{"five months of history", 5, false, sep(resignation, 16, other, 10), 0},
		{"six months of history", 6, false, sep(resignation, 16, other, 10), 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := firms.Firm{ID: "91620102000000010X", Region: "620102", Industry: "C", BaselineHeadcount: 1000}
			ds, err := NewDataset([]firms.Firm{f}, start, end)
			if err != nil {
				t.Fatal(err)
			}
			month := habit(tt.early)
			for k := 36 - tt.history; k < 36; k++ {
				ds.Set(f.ID, start.Add(k), 1, 1000, 0, 16, month(k))
			}
			ds.Set(f.ID, end, 1, 1000, 0, 16, tt.last)
			got := unusualSeparations(ds, 0, 36)
			if math.Abs(got-tt.want) > 1e-9 {
				t.Errorf("unusual_separations = %v, want %v", got, tt.want)
			}
		})
	}
}

// sep makes a separations array from reason index, count pairs.
func sep(pairs ...int) (s [8]uint32) {
	for i := 0; i+1 < len(pairs); i += 2 {
		s[pairs[i]] = uint32(pairs[i+1])
	}
	return s
}

// TestHabitualLayoffSeparations checks the part of a month's reported
// layoffs that the firm's habit explains: a winter stop reported as 25
// economic layoffs every January is habitual up to 25 + 2√25 = 35; without
// 6 months of history nothing is, nor is one layoff in the same season of
// one earlier year.
func TestHabitualLayoffSeparations(t *testing.T) {
	const economic = 0
	start, err := report.ParsePeriod("2023-01")
	if err != nil {
		t.Fatal(err)
	}
	end := start.Add(36) // 2026-01
	for _, tt := range []struct {
		name    string
		history int
		last    uint32
		want    float64
		once    bool // 25 layoffs in February 2025 only, not every January
	}{
		{"its usual winter", 36, 25, 25, false},
		{"more than its habit", 36, 55, 35, false},
		{"a new firm", 5, 25, 0, false},
		{"one past layoff is not a habit", 36, 25, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := firms.Firm{ID: "91620102000000010X", Region: "620102", Industry: "E", BaselineHeadcount: 300}
			ds, err := NewDataset([]firms.Firm{f}, start, end)
			if err != nil {
				t.Fatal(err)
			}
			for k := 36 - tt.history; k < 36; k++ {
				var s [8]uint32
				if !tt.once && k%12 == 0 || tt.once && k == 25 {
					s[economic] = 25
				}
				ds.Set(f.ID, start.Add(k), 1, 300, 0, s[economic], s)
			}
			ds.Set(f.ID, end, 1, 300, 0, tt.last, sep(economic, int(tt.last)))
			if got := habitualLayoffSeparations(ds, 0, 36); got != tt.want {
				t.Errorf("habitual_layoff_separations = %v, want %v", got, tt.want)
			}
		})
	}
}
