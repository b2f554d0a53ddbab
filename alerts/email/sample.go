package email

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

// SampleLevels are the default plan's levels (deploy/plans/default.yaml),
// for samples and previews; the alerts component passes the loaded plan's.
func SampleLevels() map[string]LevelInfo {
	return map[string]LevelInfo{
		"I": {NameZh: "红色", NameEn: "red", Color: "#d32f2f", Response: 2 * time.Hour,
			ActionZh: "2小时内报告省人社厅和当地政府；启动失业风险应急预案。", ActionEn: "Report to the provincial human-resources department and the local government within 2 hours; activate the emergency plan."},
		"II": {NameZh: "橙色", NameEn: "orange", Color: "#f57c00", Response: 2 * time.Hour,
			ActionZh: "2小时内报告市（州）政府；核实裁员规模。", ActionEn: "Report to the prefecture government within 2 hours; verify the scale of the cuts."},
		"III": {NameZh: "黄色", NameEn: "yellow", Color: "#fbc02d", Response: 12 * time.Hour,
			ActionZh: "12小时内报告；核实情况，约谈企业。", ActionEn: "Report within 12 hours; verify the facts, meet the firm."},
		"IV": {NameZh: "蓝色", NameEn: "blue", Color: "#1976d2",
			ActionZh: "纳入重点监测；核实数据。", ActionEn: "Put under close monitoring; verify the figures."},
	}
}

// Sample returns a notification of kind in lang with every optional part
// present (full) or absent, for the start-up check of the templates and for
// previews of edited templates.
func Sample(kind, lang string, full bool) Notification {
	now := time.Date(2026, 4, 6, 2, 0, 0, 0, time.UTC)
	region := alertevent.Event{
		ID: "5e1d2c3b4a5f6e7d8c9b", Version: 1, Kind: alertevent.Firing, Rule: "county_cluster", Scope: "county",
		Key: "620102", Period: "2026-03", Level: "II", Values: json.RawMessage(`{"firms_cutting":5}`),
		Region: "620102", Prefecture: "620100", Reported: 12, Expected: 15, Subject: "城关区",
		TitleZh: "同一县区多家企业同期大幅减员", TitleEn: "Several firms of a county cutting at once",
		SummaryZh: "5家企业同月减员超过50人或30%", SummaryEn: "5 firms cut more than 50 staff or 30% in one month",
		Plan: "default.yaml", At: now.Add(-time.Hour),
	}
	firm := alertevent.Event{
		ID: "0a1b2c3d4e5f60718293", Version: 1, Kind: alertevent.Firing, Rule: "mass_layoff", Scope: "firm",
		Key: "91620102MA71ABCD1X", Period: "2026-03", Level: "III", Values: json.RawMessage(`{"loss":60,"rate":0.3,"prev_headcount":200}`),
		Region: "620102", Prefecture: "620100", Industry: "C", Reported: 12, Expected: 15, Subject: "兰州示例机械有限公司",
		TitleZh: "规模性裁员", TitleEn: "Mass layoff", SummaryZh: "一次减员60人（30.0%）", SummaryEn: "cut 60 staff (30.0%) at once",
		Plan: "default.yaml", At: now.Add(-time.Hour),
	}
	n := Notification{
		MessageID: "sample." + kind + "@layoffwatch", Kind: kind, Now: now,
		To:     Recipient{Name: "张三", Email: "zhangsan@example.org", Language: lang},
		Levels: SampleLevels(),
	}
	item := Item{Event: region, AckURL: "https://layoffwatch.example.org/ack?t=sample", DashboardURL: "https://grafana.example.org/d/layoffwatch"}
	switch kind {
	case KindDigest:
		item.Event = firm
		second := firm
		second.ID, second.Key, second.Subject, second.Level, second.Rule = "1a2b3c4d5e6f70819203", "91620102MA71EFGH2Y", "兰州示例商贸有限公司", "IV", "art41"
		second.Values = json.RawMessage(`{"loss":25,"rate":0.1}`)
		n.Items = []Item{item, {Event: second, AckURL: item.AckURL, DashboardURL: item.DashboardURL}}
	case KindLevelChanged:
		item.Event.Kind, item.Event.Version, item.Event.PreviousLevel = alertevent.LevelChanged, 2, "III"
		n.Items = []Item{item}
	case KindResolved:
		item.Event.Kind, item.Event.Version = alertevent.Resolved, 2
		n.Items = []Item{item}
	default:
		n.Items = []Item{item}
	}
	if !full {
		for i := range n.Items {
			e := &n.Items[i].Event
			e.Values, e.Reported, e.Expected, e.Industry, e.SummaryZh, e.SummaryEn, e.At = nil, 0, 0, "", "", "", time.Time{}
			n.Items[i].AckURL, n.Items[i].DashboardURL = "", ""
		}
		n.To.Name = ""
		n.Levels = nil
		return n
	}
	n.References = []string{"sample.first@layoffwatch"}
	for i := range n.Items {
		it := &n.Items[i]
		it.Condition = "firms_cutting >= 5"
		if it.Event.Scope == "county" {
			f := firm
			it.Folded = []alertevent.Event{f}
		}
		for m := 0; m < 24; m++ {
			p := time.Date(2024, time.Month(4+m), 1, 0, 0, 0, 0, time.UTC)
			h := 1000.0 - float64(m)
			if m == 23 {
				h = 700
			}
			it.Series = append(it.Series, Point{Period: p.Format("2006-01"), Headcount: h})
		}
		th := 800.0
		it.Threshold = &th
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
			}
		}
	}
	return nil
}
