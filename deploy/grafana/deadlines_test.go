package grafana_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/deploy/grafana"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestDeadlinesFollowEachAlert: the dashboards judge an alert overdue by
// the response deadline its own plan gave its level (recorded with the
// alert: a province's plan may differ from the default), and fall back on
// the default plan's constants only for alerts recorded without one. Five
// unacknowledged alerts were sent three hours ago; two are overdue: the
// level-III one whose plan allows one hour, and the level-II one recorded
// without facts (the constant: 2 hours) — not the level-I ones whose plans
// allow a day or set no deadline (the constant would say 2 hours), nor the
// level-III one without facts (12 hours).
func TestDeadlinesFollowEachAlert(t *testing.T) {
	ctx := context.Background()
	ch := testenv.ClickHouse(t)
	sql := testenv.SQL(t, ch.Options())
	now := time.Now().UTC().Truncate(time.Second)
	sent := now.Add(-3 * time.Hour)
	period := report.PeriodOf(now.In(report.Shanghai())).Add(-1)
	facts := func(lv alertevent.Level, seconds uint32) alertevent.LevelFacts {
		f := alertevent.DefaultLevelFacts(lv)
		f.ResponseSeconds = seconds
		return f
	}
	cases := []struct {
		id    string
		level alertevent.Level
		facts alertevent.LevelFacts
	}{
		{"a-one-hour", alertevent.LevelIII, facts(alertevent.LevelIII, 3600)}, // overdue (the constant: 12 h)
		{"a-one-day", alertevent.LevelI, facts(alertevent.LevelI, 86400)},     // not (the constant: 2 h)
		{"a-no-deadline", alertevent.LevelI, facts(alertevent.LevelI, 0)},     // not (the constant: 2 h)
		{"a-no-facts", alertevent.LevelII, alertevent.LevelFacts{}},           // overdue: the constant, 2 h
		{"a-no-facts-iii", alertevent.LevelIII, alertevent.LevelFacts{}},      // not: the constant, 12 h
	}
	var events []alertevent.Event
	var ids, rcpts, kinds, statuses, details, levels, rules, regions, msgs []string
	var versions []uint32
	var tiers []uint8
	var fired, at []time.Time
	for _, c := range cases {
		events = append(events, alertevent.Event{ID: c.id, Version: 1, Kind: alertevent.Firing, Rule: "art41",
			Scope: alertevent.ScopeFirm, Key: testenv.FirmID("620102", len(events)), Period: period.String(),
			Level: c.level, LevelFacts: c.facts, Values: json.RawMessage(`{}`), Region: "620102", Prefecture: "620100",
			Subject: "test firm", TitleZh: "测试", TitleEn: "test", Plan: "test.yaml", At: sent,
			UrgentUntil: now.Add(24 * time.Hour)})
		msgs, ids, rcpts = append(msgs, "m-"+c.id), append(ids, c.id), append(rcpts, "rsj-620102@example.cn")
		kinds, statuses, details = append(kinds, "alert"), append(statuses, "sent"), append(details, "")
		levels, rules, regions = append(levels, c.level.String()), append(rules, "art41"), append(regions, "620102")
		versions, tiers, fired, at = append(versions, 1), append(tiers, 0), append(fired, sent), append(at, sent)
	}
	if err := detector.NewStore(ch).InsertAlertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, sql, "notifications",
		[]string{"message_id", "alert_id", "alert_version", "recipient", "kind", "tier", "status", "detail", "level", "rule", "region", "fired_at", "at"},
		[]any{msgs, ids, versions, rcpts, kinds, tiers, statuses, details, levels, rules, regions, fired, at}); err != nil {
		t.Fatal(err)
	}

	rng := grafana.TimeRange{From: now.Add(-24 * time.Hour), To: now.Add(time.Minute)}
	for _, uid := range []string{"layoffwatch-alerts", "layoffwatch-handling"} {
		d := byUID(loadDashboards(t), uid)
		if d == nil {
			t.Fatalf("no dashboard %s", uid)
		}
		found := false
		eachQuery(ctx, t, sql, d, nil, rng, func(p grafana.Panel, _ target, q string) {
			if p.Title != "超时未确认" {
				return
			}
			found = true
			var got uint64
			if err := sql.QueryRow(ctx, q).Scan(&got); err != nil {
				t.Fatalf("%s / %s: %v\n%s", uid, p.Title, err, q)
			}
			if got != 2 {
				t.Errorf("%s / %s: %d overdue, want 2 (the level-III alert whose plan allows one hour, the level-II one without facts)", uid, p.Title, got)
			}
		})
		if !found {
			t.Errorf("%s: no panel 超时未确认", uid)
		}
	}
}
