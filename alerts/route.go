package alerts

import (
	"slices"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Tiers of responsibility, from the closest.
const (
	TierCounty = iota
	TierPrefecture
	TierProvince
)

// routed is one recipient of an alert, at a tier.
type routed struct {
	r    *Recipient
	tier int
}

// Router picks an alert's recipients.
type Router struct{ cfg *Config }

// NewRouter routes with cfg.
func NewRouter(cfg *Config) *Router { return &Router{cfg: cfg} }

// Route returns the recipients of event at escalation tier `extra` (0: the
// default routing; each step adds the next tier up), without duplicates.
//
// Default routing: firm and county alerts go to the county's officials;
// level II and above also to the prefecture's; level I also to the
// province's. Prefecture alerts go to the prefecture, level I also to the
// province; province alerts to the province. Each official gets only levels
// at least as severe as their min_level, and only the rules and industries
// of their filters. Routes add recipients by rule, industry and region —
// only recipients of the alert's province: a deployment serving several
// provinces never tells one province's officials about another's alerts.
func (rt *Router) Route(e alertevent.Event, extra int) []routed {
	county, prefecture, province := "", "", region.ProvinceOf(e.Region)
	switch region.LevelOf(e.Region) {
	case region.County:
		county, prefecture = e.Region, region.PrefectureOf(e.Region)
	case region.Prefecture:
		prefecture = e.Region
	}
	top := TierCounty // the highest tier notified by default
	switch {
	case county == "" && prefecture == "":
		top = TierProvince
	case county == "":
		top = TierPrefecture
		if e.Level == alertevent.LevelI {
			top = TierProvince
		}
	default:
		if e.Level.AtLeast(alertevent.LevelII) {
			top = TierPrefecture
		}
		if e.Level == alertevent.LevelI {
			top = TierProvince
		}
	}
	top = min(top+extra, TierProvince)
	var out []routed
	add := func(r *Recipient, tier int) {
		for _, o := range out {
			if o.r == r {
				return
			}
		}
		out = append(out, routed{r, tier})
	}
	for i := range rt.cfg.Recipients {
		r := &rt.cfg.Recipients[i]
		if !e.Level.AtLeast(r.minLevel) || !filters(r.Rules, e.Rule) || !filters(r.Industries, e.Industry) {
			continue
		}
		switch {
		case county != "" && r.Region == county:
			add(r, TierCounty)
		case prefecture != "" && r.Region == prefecture && top >= TierPrefecture:
			add(r, TierPrefecture)
		case r.Region == province && top >= TierProvince:
			add(r, TierProvince)
		}
	}
	for _, route := range rt.cfg.Routes {
		if !route.matches(e) {
			continue
		}
		for _, email := range route.Recipients {
			if r := rt.cfg.recipient(email); r != nil && region.ProvinceOf(r.Region) == province {
				add(r, TierCounty)
			}
		}
	}
	return out
}

func filters(allowed []string, v string) bool {
	return len(allowed) == 0 || slices.Contains(allowed, v)
}

func (r Route) matches(e alertevent.Event) bool {
	m := r.Match
	if m.minLevel != 0 && !e.Level.AtLeast(m.minLevel) {
		return false
	}
	if !filters(m.Rules, e.Rule) || !filters(m.Industries, e.Industry) {
		return false
	}
	if len(m.Regions) > 0 {
		for _, p := range m.Regions {
			if strings.HasPrefix(e.Region, strings.TrimRight(p, "0")) || e.Region == p {
				return true
			}
		}
		return false
	}
	return true
}

// Recipients returns the email addresses event is sent to by default (tier
// 0): what `layoffwatch plan eval` counts as an official's workload.
func (rt *Router) Recipients(e alertevent.Event) []string {
	var out []string
	for _, r := range rt.Route(e, 0) {
		out = append(out, r.r.Email)
	}
	return out
}
