package email

import (
	"cmp"
	"slices"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// maxSummaryLines is how many warnings a summary lists one by one; the
// rest are counted in their groups, so a first start on years of history
// still gives an email of reasonable size.
const maxSummaryLines = 1000

// summaryView is what the summary templates (summary_*.txt, summary_body.html)
// see beside view's fields: old warnings grouped, with counts.
type summaryView struct {
	FirstMonth, LastMonth string       // the months the warnings are about, "2024-01" … "2026-09"
	Levels                []levelCount // warnings (resolved ones apart) by level, most severe first
	Reasons               []reasonCount
	Groups                []groupView // warnings first, most severe first; then resolved ones
	Unlisted              int         // warnings counted but not listed one by one
}

type levelCount struct {
	Level, LevelLabel, Color string
	Count                    int
}

// reasonCount says why some of the warnings come this late.
type reasonCount struct {
	Reason, Label string
	Count         int
}

// groupView is the warnings of one level, rule and region (resolved ones
// apart).
type groupView struct {
	Resolved                 bool
	Level, LevelLabel, Color string
	Rule, Title              string // the rule's id and title
	Region, RegionCode       string // the firm's county or the region: full name and code
	Count                    int
	Lines                    []lineView
	More                     int // warnings of the group not listed
}

// lineView is one old warning.
type lineView struct {
	ID, Period, Place, Key string // Key: the firm id, or the region code
	IsFirm                 bool
	Summary                string
	Change                 string // a level change: "由III级调整为I级" / "Level III → I"; empty otherwise
	DashboardURL           string
}

// summary groups the notification's items (every one an old warning) by
// resolved or not, level, rule and region.
func (r *Renderer) summary(n Notification, lang string) summaryView {
	var s summaryView
	type key struct {
		resolved bool
		rank     int
		rule     string
		region   string
	}
	groups := map[key]*groupView{}
	members := map[key][]int{}
	levels := map[alertevent.Level]*levelCount{}
	reasons := map[string]int{}
	for i, it := range n.Items {
		e := it.Event
		if s.FirstMonth == "" || e.Period < s.FirstMonth {
			s.FirstMonth = oneLine(e.Period)
		}
		if e.Period > s.LastMonth {
			s.LastMonth = oneLine(e.Period)
		}
		reasons[e.Old]++
		_, label := levelLabel(e.Level, e.LevelFacts, lang)
		color := levelColor(e.LevelFacts)
		resolved := e.Kind == alertevent.Resolved
		if !resolved {
			lc := levels[e.Level]
			if lc == nil {
				lc = &levelCount{Level: e.Level.String(), LevelLabel: label, Color: color}
				levels[e.Level] = lc
			}
			lc.Count++
		}
		k := key{resolved: resolved, rank: e.Level.Rank(), rule: e.Rule, region: e.Region}
		g := groups[k]
		if g == nil {
			g = &groupView{Resolved: resolved, Level: e.Level.String(), LevelLabel: label, Color: color, Rule: oneLine(e.Rule),
				Title: oneLine(pick(lang, e.TitleZh, e.TitleEn)), Region: r.regionName(e.Region, lang), RegionCode: oneLine(e.Region)}
			if g.Region == "" {
				g.Region = g.RegionCode
			}
			groups[k] = g
		}
		g.Count++
		members[k] = append(members[k], i)
	}
	keys := make([]key, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.resolved != b.resolved {
			if a.resolved {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.rule, b.rule), cmp.Compare(a.region, b.region))
	})
	budget := maxSummaryLines
	for _, k := range keys {
		g := groups[k]
		idx := members[k]
		slices.SortFunc(idx, func(a, b int) int {
			ea, eb := n.Items[a].Event, n.Items[b].Event
			return cmp.Or(cmp.Compare(ea.Period, eb.Period), cmp.Compare(ea.Key, eb.Key), cmp.Compare(ea.ID, eb.ID))
		})
		for _, i := range idx {
			if budget == 0 {
				g.More++
				s.Unlisted++
				continue
			}
			budget--
			g.Lines = append(g.Lines, r.line(n.Items[i], lang))
		}
		s.Groups = append(s.Groups, *g)
	}
	for _, l := range alertevent.Levels() {
		if lc := levels[l]; lc != nil {
			s.Levels = append(s.Levels, *lc)
		}
	}
	for _, reason := range []string{alertevent.OldHistory, alertevent.OldLateData, alertevent.OldPlanChanged, alertevent.OldLateDelivery} {
		if reasons[reason] > 0 {
			s.Reasons = append(s.Reasons, reasonCount{Reason: reason, Label: reasonLabel(reason, lang), Count: reasons[reason]})
			delete(reasons, reason)
		}
	}
	other := 0
	for _, c := range reasons { // reasons this build does not know, and events not marked old
		other += c
	}
	if other > 0 {
		s.Reasons = append(s.Reasons, reasonCount{Reason: "other", Label: reasonLabel("", lang), Count: other})
	}
	return s
}

func (r *Renderer) line(it Item, lang string) lineView {
	e := it.Event
	l := lineView{ID: oneLine(e.ID), Period: oneLine(e.Period), Key: oneLine(e.Key), IsFirm: e.Scope == alertevent.ScopeFirm,
		Summary: oneLine(pick(lang, e.SummaryZh, e.SummaryEn)), DashboardURL: webURL(it.DashboardURL)}
	if l.Summary == "" {
		l.Summary = oneLine(pick(lang, e.TitleZh, e.TitleEn))
	}
	if l.IsFirm {
		l.Place = oneLine(e.Subject)
	} else {
		l.Place = r.regionName(e.Region, lang)
		if e.Industry != "" {
			l.Place += pick(lang, "（"+industryShort(e.Industry, lang)+"）", " ("+industryShort(e.Industry, lang)+")")
		}
	}
	if l.Place == "" {
		l.Place = l.Key
	}
	if e.Kind == alertevent.LevelChanged && e.PreviousLevel.Valid() {
		l.Change = pick(lang, "由"+e.PreviousLevel.String()+"级调整为"+e.Level.String()+"级", "Level "+e.PreviousLevel.String()+" → "+e.Level.String())
	}
	return l
}

// reasonLabel says in lang why old warnings come late; "" (or a reason
// this build does not know) is said generically.
func reasonLabel(reason, lang string) string {
	labels := map[string][2]string{
		alertevent.OldHistory:      {"首次载入历史数据时发现", "found when the history was first loaded"},
		alertevent.OldLateData:     {"由迟报或更正的数据触发", "raised by late or corrected reports"},
		alertevent.OldPlanChanged:  {"风险预案调整后触发", "raised by a change of the risk plan"},
		alertevent.OldLateDelivery: {"预警系统延迟处理", "handled late by the alert system"},
	}
	l, ok := labels[reason]
	if !ok {
		l = [2]string{"其他原因", "for other reasons"}
	}
	return pick(lang, l[0], l[1])
}

// levelColor is the colour the plan gives a level, or grey.
func levelColor(f alertevent.LevelFacts) string {
	if _, ok := parseColor(f.Color); ok {
		return f.Color
	}
	return "#607d8b"
}
