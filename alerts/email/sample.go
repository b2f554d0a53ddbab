package email

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// Sample returns a notification of kind in lang with every optional part
// present (full: with the shipped default plan's level facts) or absent, for
// the start-up check of the templates and for previews of edited templates.
func Sample(kind, lang string, full bool) Notification {
	now := time.Date(2026, 4, 6, 2, 0, 0, 0, time.UTC)
	region := alertevent.Event{
		ID: "5e1d2c3b4a5f6e7d8c9b", Version: 1, Kind: alertevent.Firing, Rule: "county_cluster", Scope: alertevent.ScopeCounty,
		Key: "620102", Period: "2026-03", Level: alertevent.LevelII, LevelFacts: alertevent.DefaultLevelFacts(alertevent.LevelII),
		Values: json.RawMessage(`{"firms_cutting":5}`),
		Region: "620102", Prefecture: "620100", Reported: 12, Expected: 15, Subject: "城关区",
		TitleZh: "同一县区多家企业同期大幅减员", TitleEn: "Several firms of a county cutting at once",
		SummaryZh: "5家企业同月减员超过50人或30%", SummaryEn: "5 firms cut more than 50 staff or 30% in one month",
		Plan: "default.yaml", At: now.Add(-time.Hour),
	}
	firm := alertevent.Event{
		ID: "0a1b2c3d4e5f60718293", Version: 1, Kind: alertevent.Firing, Rule: "mass_layoff", Scope: alertevent.ScopeFirm,
		Key: "91620102MA71ABCD1X", Period: "2026-03", Level: alertevent.LevelIII, LevelFacts: alertevent.DefaultLevelFacts(alertevent.LevelIII),
		Values: json.RawMessage(`{"loss":60,"rate":0.3,"prev_headcount":200}`),
		Region: "620102", Prefecture: "620100", Industry: "C", Reported: 12, Expected: 15, Subject: "兰州示例机械有限公司",
		TitleZh: "规模性裁员", TitleEn: "Mass layoff", SummaryZh: "一次减员60人（30.0%）", SummaryEn: "cut 60 staff (30.0%) at once",
		Plan: "default.yaml", At: now.Add(-time.Hour),
	}
	n := Notification{
		MessageID: "sample." + kind + "@layoffwatch", Kind: kind, Now: now,
		To: Recipient{Name: "张三", Email: "zhangsan@example.org", Language: lang},
	}
	item := Item{Event: region, AckURL: "https://layoffwatch.example.org/ack?t=sample", DashboardURL: "https://grafana.example.org/d/layoffwatch"}
	switch kind {
	case KindDigest:
		item.Event = firm
		second := firm
		second.ID, second.Key, second.Subject, second.Rule = "1a2b3c4d5e6f70819203", "91620102MA71EFGH2Y", "兰州示例商贸有限公司", "art41"
		second.Level, second.LevelFacts = alertevent.LevelIV, alertevent.DefaultLevelFacts(alertevent.LevelIV)
		second.Values = json.RawMessage(`{"loss":25,"rate":0.1}`)
		n.Items = []Item{item, {Event: second, AckURL: item.AckURL, DashboardURL: item.DashboardURL}}
	case KindLevelChanged:
		item.Event.Kind, item.Event.Version = alertevent.LevelChanged, 2
		item.Event.PreviousLevel, item.Event.PreviousLevelFacts = alertevent.LevelIII, alertevent.DefaultLevelFacts(alertevent.LevelIII)
		n.Items = []Item{item}
	case KindResolved:
		item.Event.Kind, item.Event.Version = alertevent.Resolved, 2
		n.Items = []Item{item}
	case KindSummary:
		n.Items = sampleSummary(region, firm, item.DashboardURL)
	default:
		n.Items = []Item{item}
	}
	if !full {
		for i := range n.Items {
			e := &n.Items[i].Event
			e.Values, e.Reported, e.Expected, e.Industry, e.SummaryZh, e.SummaryEn, e.At = nil, 0, 0, "", "", "", time.Time{}
			e.LevelFacts, e.PreviousLevelFacts = alertevent.LevelFacts{}, alertevent.LevelFacts{}
			n.Items[i].AckURL, n.Items[i].DashboardURL = "", ""
		}
		n.To.Name = ""
		return n
	}
	for i := range n.Items {
		it := &n.Items[i]
		if it.Event.Scope == alertevent.ScopeCounty {
			f := firm
			it.Folded = []alertevent.Event{f}
		}
		if kind == KindSummary {
			continue // a summary has no charts
		}
		for m := 0; m < 24; m++ {
			p := time.Date(2024, time.Month(4+m), 1, 0, 0, 0, 0, time.UTC)
			h := 1000.0 - float64(m)
			if m == 23 {
				h = 700
			}
			it.Series = append(it.Series, Point{Period: p.Format("2006-01"), Headcount: h})
		}
	}
	return n
}

// selfTest renders a sample of every kind in every language, full and
// bare, so that a template that fails on some data fails at start-up.
// Charts are drawn once, the rest without.
func (r *Renderer) selfTest() error {
	drew := false
	for _, lang := range languages() {
		for _, kind := range kinds() {
			for _, full := range []bool{true, false} {
				n := Sample(kind, lang, full)
				v, err := r.buildView(n, full && !drew)
				if err != nil {
					return fmt.Errorf("email templates: sample %s/%s: %w", lang, kind, err)
				}
				drew = drew || full
				if _, _, _, err := r.langs[lang].execute(v); err != nil {
					return fmt.Errorf("sample %s %s notification: %w", lang, kind, err)
				}
				if _, err := r.Chat(n); err != nil {
					return fmt.Errorf("sample %s %s chat message: %w", lang, kind, err)
				}
			}
		}
	}
	return nil
}

// sampleSummary is old warnings of several levels, rules, regions and
// months, one of them a level change and one resolved.
func sampleSummary(region, firm alertevent.Event, dashboard string) []Item {
	old := func(e alertevent.Event, period, reason string) alertevent.Event {
		e.Period, e.Old = period, reason
		e.ID = alertevent.ID(e.Rule, e.Scope, e.Key, e.Period)
		p, _ := time.Parse("2006-01", period)
		e.UrgentUntil = p.AddDate(0, 1, 5+35)
		return e
	}
	a := old(firm, "2025-01", alertevent.OldHistory)
	b := old(firm, "2025-02", alertevent.OldHistory)
	b.Key, b.Subject, b.Rule, b.TitleZh, b.TitleEn = "91620102MA71EFGH2Y", "兰州示例商贸有限公司", "art41", "经济性裁员达到劳动合同法第四十一条标准", "Economic layoff under Labor Contract Law art. 41"
	b.Level, b.LevelFacts = alertevent.LevelIV, alertevent.DefaultLevelFacts(alertevent.LevelIV)
	b.ID = alertevent.ID(b.Rule, b.Scope, b.Key, b.Period)
	c := old(region, "2025-03", alertevent.OldHistory)
	d := old(firm, "2025-06", alertevent.OldLateData)
	d.Kind, d.Version, d.Level, d.LevelFacts = alertevent.LevelChanged, 2, alertevent.LevelI, alertevent.DefaultLevelFacts(alertevent.LevelI)
	d.PreviousLevel, d.PreviousLevelFacts = alertevent.LevelIII, alertevent.DefaultLevelFacts(alertevent.LevelIII)
	d.Rule, d.TitleZh, d.TitleEn = "major_cut", "大型企业大幅减员", "Major cut at a large firm"
	d.ID = alertevent.ID(d.Rule, d.Scope, d.Key, d.Period)
	r := old(firm, "2024-11", alertevent.OldLateData)
	r.Kind, r.Version = alertevent.Resolved, 2
	var out []Item
	for _, e := range []alertevent.Event{a, b, c, d, r} {
		out = append(out, Item{Event: e, DashboardURL: dashboard})
	}
	return out
}
