package realdata

import (
	"fmt"
	"math"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Shock is a real, dated job loss in one series: a strike, a shutdown, the
// first month of the pandemic. Found by the project in the data (the month's
// change against the usual change of that month over the five years
// before) and matched with the public record named in Note.
type Shock struct {
	Series, From, To, Note string
}

// Shocks are the real shocks the benchmark expects a plan to catch.
var Shocks = []Shock{
	{"CEU3100000001", "1946-02", "1946-02", "durable goods: steel and auto strikes (−13.5%)"},
	{"CEU1000000001", "1949-10", "1949-10", "mining and logging: coal and steel strikes (−33%)"},
	{"CEU3100000001", "1949-10", "1949-10", "durable goods: steel strike (−5.6%)"},
	{"CEU1000000001", "1950-02", "1950-02", "mining and logging: coal strike (−27.5%)"},
	{"CEU3100000001", "1952-06", "1952-06", "durable goods: steel strike (−4.0%)"},
	{"CEU3100000001", "1959-08", "1959-10", "durable goods: steel strike (−5.5%)"},
	{"CEU3100000001", "1964-10", "1964-10", "durable goods: GM strike (−2.8%)"},
	{"CEU3100000001", "1970-10", "1970-11", "durable goods: GM strike (−4.8%, −2.0%)"},
	{"CEU1021000001", "1977-12", "1978-03", "mining: coal strike (−18%)"},
	{"CEU1021000001", "1981-04", "1981-05", "mining: coal strike (−13%)"},
	{"CEU4349200001", "1997-08", "1997-08", "couriers: UPS strike (−29%)"},
	{"CEU3133600101", "1998-07", "1998-07", "motor vehicles and parts: GM strike (−10.8%)"},
	{"CEU5051700001", "2000-08", "2000-08", "telecommunications: Verizon strike (−6.0%)"},
	{"CEU5051700001", "2011-08", "2011-08", "telecommunications: Verizon strike (−5.1%)"},
	{"CEU5051700001", "2016-05", "2016-05", "telecommunications: Verizon strike (−3.7%)"},
	{"CEU4348100001", "2001-10", "2001-11", "air transportation after 11 September (−3.5%, −5.6%)"},
	{"CEU7072100001", "2001-10", "2001-10", "accommodation after 11 September (−2.8%)"},
	{"CEU3133600001", "2008-10", "2008-10", "transportation equipment: Boeing strike (−3.1%)"},
	{"fedstl:paynsa", "2020-04", "2020-04", "total nonfarm: COVID-19 (−13.9%)"},
}

// Downturns are months of broad, real job loss (US recessions as dated by
// the NBER, the end of the census's temporary jobs): warnings in them are
// not false, and none is required.
var Downturns = []Shock{
	{"", "1948-11", "1949-10", "recession"}, {"", "1953-07", "1954-05", "recession"},
	{"", "1957-08", "1958-04", "recession"}, {"", "1960-04", "1961-02", "recession"},
	{"", "1969-12", "1970-11", "recession"}, {"", "1973-11", "1975-03", "recession"},
	{"", "1980-01", "1980-07", "recession"}, {"", "1981-07", "1982-11", "recession"},
	{"", "1990-07", "1991-03", "recession"}, {"", "2001-03", "2001-11", "recession"},
	{"", "2007-12", "2009-06", "recession"}, {"", "2020-02", "2020-06", "pandemic"},
	{"CEU9091100001", "1990-06", "1990-09", "federal: census temporary jobs end"},
	{"CEU9091100001", "2000-06", "2000-09", "federal: census temporary jobs end"},
	{"CEU9091100001", "2010-06", "2010-10", "federal: census temporary jobs end"},
}

// Peers says how series are placed in the registry.
type Peers int

const (
	// Alone puts every series in a province of its own: no firm has peers,
	// the plan judges each series on its own history only.
	Alone Peers = iota
	// ByIndustry puts every series in one county, with its industry: series
	// of one industry are peers.
	ByIndustry
)

// Province is the registry, reports and labels made from series.
type Province struct {
	Firms   []firms.Firm
	Reports []report.Report
	Labels  []label.Label
	Series  map[string]*Series // by firm id
}

// NewProvince makes one firm of `size` staff (the series' mean) per series,
// reporting its scaled value each month from … to (zero: the series' own
// range), and labels the known shocks (layoff) and downturns.
func NewProvince(series []*Series, size float64, peers Peers, from, to report.Period) (*Province, error) {
	if size < 100 {
		return nil, fmt.Errorf("realdata: size %g is below the sample's 100 staff", size)
	}
	provinces := region.China().Provinces()
	pv := &Province{Series: map[string]*Series{}}
	for i, s := range series {
		county := "620102" // Lanzhou Chengguan
		if peers == Alone {
			prov := provinces[i%len(provinces)].Code
			counties := region.China().Within(prov).Counties("")
			if len(counties) == 0 {
				return nil, fmt.Errorf("realdata: province %s has no county", prov)
			}
			county = counties[(i/len(provinces))%len(counties)].Code
		}
		body := fmt.Sprintf("91%s%09d", county, i+1)
		id := body + string(report.CreditCheckChar(body))
		lo, hi := s.Start, s.End()
		if from != 0 {
			lo = max(lo, from)
		}
		if to != 0 {
			hi = min(hi, to)
		}
		var sum float64
		var n int
		for p := lo; p <= hi; p++ {
			if v := s.Value(p); !math.IsNaN(v) {
				sum += v
				n++
			}
		}
		if n < 36 {
			continue // too short to judge
		}
		scale := size / (sum / float64(n))
		pv.Firms = append(pv.Firms, firms.Firm{ID: id, Name: s.ID + " " + s.Title, Region: county, Industry: Industry(s.ID),
			BaselineHeadcount: uint32(size)})
		pv.Series[id] = s
		for p := lo; p <= hi; p++ {
			v := s.Value(p)
			if math.IsNaN(v) {
				continue
			}
			pv.Reports = append(pv.Reports, report.Report{FirmID: id, Period: p, Revision: 1, Headcount: uint32(math.Round(v * scale))})
		}
		add := func(sh Shock, kind label.Kind) {
			a, errA := report.ParsePeriod(sh.From)
			b, errB := report.ParsePeriod(sh.To)
			if errA != nil || errB != nil || b < lo || a > hi {
				return
			}
			pv.Labels = append(pv.Labels, label.Label{Scope: label.Firm, Key: id, From: a, To: b, Kind: kind, Source: label.Analyst, Note: sh.Note})
		}
		for _, sh := range Shocks {
			if sh.Series == s.ID {
				add(sh, label.Layoff)
			}
		}
		for _, sh := range Downturns {
			if sh.Series == "" || sh.Series == s.ID {
				add(sh, label.RegionalDownturn)
			}
		}
	}
	return pv, nil
}

// Industry maps a CES series id (supersector digits) to a GB/T 4754-2017
// section, roughly; other series count as manufacturing.
func Industry(id string) string {
	code := strings.TrimPrefix(id, "CEU")
	switch {
	case strings.HasPrefix(code, "10"):
		return "B" // mining and logging
	case strings.HasPrefix(code, "20"):
		return "E" // construction
	case strings.HasPrefix(code, "3"):
		return "C" // manufacturing
	case strings.HasPrefix(code, "4142"), strings.HasPrefix(code, "42"):
		return "F" // wholesale and retail
	case strings.HasPrefix(code, "43"):
		return "G" // transportation and warehousing
	case strings.HasPrefix(code, "44"):
		return "D" // utilities
	case strings.HasPrefix(code, "50"):
		return "I" // information
	case strings.HasPrefix(code, "55"):
		return "J" // financial activities
	case strings.HasPrefix(code, "60"):
		return "L" // professional and business services
	case strings.HasPrefix(code, "6561"):
		return "P" // education
	case strings.HasPrefix(code, "65"):
		return "Q" // health care and social assistance
	case strings.HasPrefix(code, "7071"):
		return "R" // arts, entertainment, recreation
	case strings.HasPrefix(code, "70"):
		return "H" // accommodation and food services
	case strings.HasPrefix(code, "80"):
		return "O" // other services
	case strings.HasPrefix(code, "90"):
		return "S" // government
	}
	return "C"
}
