// Package region owns the administrative division codes (GB/T 2260) the
// project knows: Gansu's province, its 14 prefecture-level units and their
// county-level units, with Chinese and English names. It derives a county's
// prefecture and province from its code. It does not know firms.
package region

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"sort"
	"strings"
)

//go:embed gansu.csv
var gansuCSV string

// Level of an administrative division.
type Level int

// Levels, from the top.
const (
	Province Level = iota + 1
	Prefecture
	County
)

func (l Level) String() string {
	switch l {
	case Province:
		return "province"
	case Prefecture:
		return "prefecture"
	case County:
		return "county"
	}
	return "unknown"
}

// Region is one division.
type Region struct {
	Code   string
	Name   string // Chinese
	NameEn string
	Level  Level
}

// Table holds a set of divisions indexed by code.
type Table struct {
	byCode map[string]Region
}

// Gansu returns the shipped table of Gansu's divisions.
func Gansu() *Table {
	t, err := Parse(gansuCSV)
	if err != nil {
		panic(fmt.Sprintf("embedded gansu.csv: %v", err)) // a build-time asset; tested
	}
	return t
}

// Parse reads a table from CSV with header code,name,name_en.
func Parse(data string) (*Table, error) {
	rows, err := csv.NewReader(strings.NewReader(data)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse region table: %w", err)
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "code,name,name_en" {
		return nil, fmt.Errorf("parse region table: header must be code,name,name_en")
	}
	t := &Table{byCode: make(map[string]Region, len(rows))}
	for i, row := range rows[1:] {
		if !isCode(row[0]) {
			return nil, fmt.Errorf("parse region table: line %d: %q is not a 6-digit code", i+2, row[0])
		}
		t.byCode[row[0]] = Region{Code: row[0], Name: row[1], NameEn: row[2], Level: LevelOf(row[0])}
	}
	return t, nil
}

func isCode(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < 6; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// LevelOf tells the level a well-formed code denotes by its trailing zeros.
func LevelOf(code string) Level {
	switch {
	case strings.HasSuffix(code, "0000"):
		return Province
	case strings.HasSuffix(code, "00"):
		return Prefecture
	default:
		return County
	}
}

// PrefectureOf returns the prefecture code of a county code: its first four
// digits followed by 00.
func PrefectureOf(code string) string {
	if len(code) != 6 {
		return ""
	}
	return code[:4] + "00"
}

// ProvinceOf returns the province code: the first two digits and 0000.
func ProvinceOf(code string) string {
	if len(code) != 6 {
		return ""
	}
	return code[:2] + "0000"
}

// Lookup returns the division with code.
func (t *Table) Lookup(code string) (Region, bool) {
	r, ok := t.byCode[code]
	return r, ok
}

// Counties returns the county-level divisions, sorted by code. With prefecture
// set, only that prefecture's.
func (t *Table) Counties(prefecture string) []Region {
	return t.list(func(r Region) bool {
		return r.Level == County && (prefecture == "" || PrefectureOf(r.Code) == prefecture)
	})
}

// Prefectures returns the prefecture-level divisions, sorted by code.
func (t *Table) Prefectures() []Region {
	return t.list(func(r Region) bool { return r.Level == Prefecture })
}

func (t *Table) list(keep func(Region) bool) []Region {
	var out []Region
	for _, r := range t.byCode {
		if keep(r) {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// CheckCounty reports why code is not a county-level code of the table.
func (t *Table) CheckCounty(code string) error {
	if !isCode(code) {
		return fmt.Errorf("region %q is not a 6-digit GB/T 2260 code", code)
	}
	r, ok := t.byCode[code]
	if !ok {
		return fmt.Errorf("region %s is not a known county-level code", code)
	}
	if r.Level != County {
		return fmt.Errorf("region %s (%s) is a %s, firms are registered to a county", code, r.Name, r.Level)
	}
	return nil
}
