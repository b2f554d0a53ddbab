package simulate

import (
	"math"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Seasonal profiles. A profile gives, by calendar month (January first),
// the share of a firm's seasonal depth that its headcount has lost: 0 at
// the top of the season, 1 at the bottom. A firm's seasonal factor is
//
//	S(t) = (1 − w·W(t)) · (1 − u·T(t)) · (1 − f·F(t)) · (1 + g·G(t))
//
// with W the winter profile (construction or farm), T tourism, F the Spring
// Festival and G the graduate intake, each depth (w, u, f, g) drawn per firm
// from its Options range and multiplied, every year, by a factor that
// varies around 1 (SeasonYearVar), mostly shared by the prefecture. In a
// given year and prefecture an industry's winter or tourism season may come
// a month early or late (SeasonShiftProb); the Spring Festival moves with
// the lunar calendar.
var (
	// Construction in Gansu stops from December to February (frozen
	// ground); sites thin out in November and restart in March–April.
	profileConstruction = [12]float64{1, 1, 0.6, 0.15, 0, 0, 0, 0, 0, 0, 0.3, 0.75}
	// Agriculture: winter trough, planting from March, harvest to October.
	profileFarm = [12]float64{1, 1, 0.8, 0.4, 0.15, 0, 0, 0, 0, 0.1, 0.5, 0.9}
	// Tourism, catering, culture: peak July–September, closed in winter.
	profileTourism = [12]float64{1, 1, 0.9, 0.7, 0.45, 0.2, 0, 0, 0, 0.3, 0.75, 1}
	// Graduate intake: hired in July–August, absorbed by attrition over
	// the year (here a gain: S rises by g·G).
	profileGraduation = [12]float64{0.55, 0.45, 0.35, 0.25, 0.15, 0.05, 0.6, 1, 0.95, 0.85, 0.75, 0.65}
	// Spring Festival: migrant workers go home before it and some do not
	// come back; the dip sits in the festival's month and the next.
	// Indexed Dec, Jan, Feb, Mar by when the festival falls.
	festivalInJanuary    = [4]float64{0.2, 1, 0.6, 0.1}  // on or before 31 January
	festivalEarlyFeb     = [4]float64{0.1, 0.5, 1, 0.3}  // 1–10 February
	festivalLateFebruary = [4]float64{0.05, 0.2, 1, 0.5} // from 11 February
)

// tourismDeepPrefectures have the deepest tourism seasons: Jiuquan
// (Dunhuang's Mogao caves, 620982) and Jiayuguan (the pass).
var tourismDeepPrefectures = map[string]bool{"620900": true, "620200": true}

// profileKind names the profiles for the year factors and shifts.
type profileKind uint8

const (
	kindWinter profileKind = iota + 1
	kindTourism
	kindFestival
	kindGraduation
)

// seasonal are a firm's seasonal depths; zero means the component is off.
type seasonal struct {
	winter     float64      // depth of the winter dip
	winterProf *[12]float64 // profileConstruction or profileFarm
	tourism    float64
	festival   float64
	graduation float64
}

func (s seasonal) any() bool {
	return s.winter > 0 || s.tourism > 0 || s.festival > 0 || s.graduation > 0
}

// deep reports whether the firm has a winter or tourism season of at least d.
func (s seasonal) deep(d float64) bool { return s.winter >= d || s.tourism >= d }

// drawSeasonal draws the seasonal depths of a firm of industry ind in
// prefecture pref. Sections: GB/T 4754-2017.
func drawSeasonal(o *Options, r *rng, ind byte, pref string) seasonal {
	var s seasonal
	half := func(x float64) float64 { return x / 2 }
	switch ind {
	case 'A':
		s.winter, s.winterProf = o.Farm.draw(r), &profileFarm
	case 'E':
		s.winter, s.winterProf = o.Construction.draw(r), &profileConstruction
	case 'H', 'R':
		if tourismDeepPrefectures[pref] {
			s.tourism = o.TourismDeep.draw(r)
		} else {
			s.tourism = o.Tourism.draw(r)
		}
	case 'C':
		s.festival = o.Festival.draw(r)
		s.graduation = half(o.Graduation.draw(r))
	case 'B', 'F', 'G', 'L', 'N', 'O':
		s.festival = o.FestivalServices.draw(r)
	case 'K':
		s.festival = half(o.FestivalServices.draw(r))
		s.graduation = half(o.Graduation.draw(r))
	case 'I', 'J', 'M', 'P':
		s.graduation = o.Graduation.draw(r)
	case 'D', 'Q', 'S', 'T':
		s.graduation = half(o.Graduation.draw(r))
	}
	return s
}

// season is firm i's seasonal factor S in period per (1 = no effect).
func (s *Simulation) season(i int, per report.Period) float64 {
	p := &s.params[i]
	if !p.season.any() {
		return 1
	}
	c := seasonCtx{seed: s.opts.Seed, o: &s.opts, firm: i, pref: p.prefCode}
	return c.factor(&p.season, per)
}

// seasonCtx is what the seasonal factor of one firm needs besides its
// depths.
type seasonCtx struct {
	seed int64
	o    *Options
	firm int
	pref uint64 // prefecture code as a number
}

func (c *seasonCtx) factor(s *seasonal, per report.Period) float64 {
	f := 1.0
	m := int(per.Month()) - 1
	if s.winter > 0 {
		sy := per.Add(-6).Year() // seasons run July to June: a new year's depth starts in summer
		shift, yf := c.yearly(kindWinter, sy)
		f *= 1 - min(0.9, s.winter*yf*s.winterProf[(m-shift+12)%12])
	}
	if s.tourism > 0 {
		sy := per.Add(-7).Year() // seasons run August to July: a new year's depth starts at the top
		shift, yf := c.yearly(kindTourism, sy)
		f *= 1 - min(0.9, s.tourism*yf*profileTourism[(m-shift+12)%12])
	}
	if s.festival > 0 {
		if p := festivalProfile(per); p > 0 {
			fy := per.Year()
			if per.Month() == time.December {
				fy++
			}
			_, yf := c.yearly(kindFestival, fy)
			f *= 1 - min(0.5, s.festival*yf*p)
		}
	}
	if s.graduation > 0 {
		sy := per.Add(-6).Year()
		_, yf := c.yearly(kindGraduation, sy)
		f *= 1 + s.graduation*yf*profileGraduation[m]
	}
	return f
}

// yearly returns the shift (−1 early, 0, +1 late) and depth factor of a
// profile in season-year sy. Both are shared by the prefecture; the depth
// factor has a firm's own part too. The factor is log-normal with mean
// SeasonDepth.
func (c *seasonCtx) yearly(k profileKind, sy int) (shift int, factor float64) {
	r := newRNG(c.seed, c.pref<<8|uint64(k), uint64(sy), saltSeason)
	if k == kindWinter || k == kindTourism {
		switch u := r.float(); {
		case u < c.o.SeasonShiftProb/2:
			shift = -1
		case u < c.o.SeasonShiftProb:
			shift = 1
		}
	}
	zPref := r.normal()
	fr := newRNG(c.seed, uint64(c.firm), uint64(sy)<<8|uint64(k), saltFirmYear)
	zFirm := fr.normal()
	v := c.o.SeasonYearVar
	factor = c.o.SeasonDepth * math.Exp(v*(0.8*zPref+0.6*zFirm)-v*v/2)
	return shift, factor
}

// festivalProfile is the share of the Spring Festival depth lost in per.
func festivalProfile(per report.Period) float64 {
	var idx int
	y := per.Year()
	switch per.Month() {
	case time.December:
		idx, y = 0, y+1
	case time.January:
		idx = 1
	case time.February:
		idx = 2
	case time.March:
		idx = 3
	default:
		return 0
	}
	month, day := springFestival(y)
	switch {
	case month == time.January:
		return festivalInJanuary[idx]
	case day <= 10:
		return festivalEarlyFeb[idx]
	default:
		return festivalLateFebruary[idx]
	}
}

// springFestivalDates are the first days of the lunar year, 2000–2040, as
// month*100 + day.
var springFestivalDates = [...]int{
	205, 124, 212, 201, 122, 209, 129, 218, 207, 126, // 2000–2009
	214, 203, 123, 210, 131, 219, 208, 128, 216, 205, // 2010–2019
	125, 212, 201, 122, 210, 129, 217, 206, 126, 213, // 2020–2029
	203, 123, 211, 131, 219, 208, 128, 215, 204, 124, // 2030–2039
	212, // 2040
}

// springFestival returns the date of the Spring Festival of year y. Outside
// 2000–2040 it uses the date 19 years earlier or later (the Metonic cycle
// brings the lunar calendar back within a day or two).
func springFestival(y int) (time.Month, int) {
	for y < 2000 {
		y += 19
	}
	for y > 2040 {
		y -= 19
	}
	d := springFestivalDates[y-2000]
	return time.Month(d / 100), d % 100
}
