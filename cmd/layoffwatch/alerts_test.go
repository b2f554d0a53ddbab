package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestAlertsListShowsOld: `alerts list` shows open alerts about months
// past the alert horizon with why they came late, and current ones
// without; --json carries old and urgent_until.
func TestAlertsListShowsOld(t *testing.T) {
	ch := testenv.ClickHouse(t)
	now := time.Now().UTC().Truncate(time.Second)
	event := func(key, period, old string, urgentUntil time.Time) alertevent.Event {
		return alertevent.Event{ID: alertevent.ID("art41", alertevent.ScopeFirm, key, period), Version: 1, Kind: alertevent.Firing, Rule: "art41",
			Scope: alertevent.ScopeFirm, Key: key, Period: period, Level: alertevent.LevelIV, LevelFacts: alertevent.DefaultLevelFacts(alertevent.LevelIV),
			Values: json.RawMessage(`{}`), Region: "620102", Prefecture: "620100", Subject: "企业" + key[len(key)-2:], At: now, Old: old, UrgentUntil: urgentUntil}
	}
	current := event(testenv.FirmID("620102", 1), "2026-10", "", now.Add(240*time.Hour))
	history := event(testenv.FirmID("620102", 2), "2024-01", alertevent.OldHistory, time.Date(2024, 3, 12, 16, 0, 0, 0, time.UTC))
	aged := event(testenv.FirmID("620102", 3), "2026-08", "", now.Add(-time.Hour))
	if err := detector.NewStore(ch).InsertAlertEvents(context.Background(), []alertevent.Event{current, history, aged}); err != nil {
		t.Fatal(err)
	}
	db := []string{"--clickhouse-addr", testenv.ClickHouseAddr(t), "--clickhouse-database", ch.Database()}
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"alerts", "list"}, db...), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("alerts list: exit %d: %s", code, stderr.String())
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n")[1:] {
		f := strings.Fields(line)
		rows[f[0]] = f
	}
	for id, want := range map[string]string{current.ID: "-", history.ID: "history", aged.ID: "past_horizon"} {
		if f := rows[id]; len(f) < 4 || f[3] != want {
			t.Errorf("alert %s: OLD %v, want %s:\n%s", id, f, want, stdout.String())
		}
	}
	stdout.Reset()
	if code := run(append([]string{"alerts", "list", "--json"}, db...), nil, &stdout, &stderr); code != 0 {
		t.Fatalf("alerts list --json: exit %d: %s", code, stderr.String())
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var e alertevent.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.ID == history.ID {
			seen++
			if e.Old != alertevent.OldHistory || !e.UrgentUntil.Equal(history.UrgentUntil) {
				t.Errorf("JSON of the old alert: old %q, urgent until %s", e.Old, e.UrgentUntil)
			}
		}
	}
	if seen != 1 {
		t.Errorf("the old alert is %d times in the JSON:\n%s", seen, stdout.String())
	}
}
