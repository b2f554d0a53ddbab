package alerts_test

import (
	"context"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// old makes e a warning about period, past the alert horizon for reason,
// as the detector marks it.
func old(e alertevent.Event, period, reason string) alertevent.Event {
	e.Period, e.Old = period, reason
	e.ID = alertevent.ID(e.Rule, e.Scope, e.Key, e.Period)
	p, _ := time.Parse("2006-01", period)
	e.UrgentUntil = p.AddDate(0, 1, 40)
	return e
}

// urgent gives e, about October 2026, the horizon the detector gives it.
func urgent(e alertevent.Event) alertevent.Event {
	e.UrgentUntil = time.Date(2026, 12, 10, 16, 0, 0, 0, time.UTC) // 11 December, Beijing time
	return e
}

// byKind splits the mailbox: who got which subjects of summaries, and of
// every other email.
func (r *rig) byKind() (summaries, others map[string][]smtptest.Message) {
	summaries, others = map[string][]smtptest.Message{}, map[string][]smtptest.Message{}
	for _, m := range r.smtp.Messages() {
		who := strings.Split(m.To[0], "@")[0]
		if m.Header.Get("X-Layoffwatch-Kind") == "summary" {
			summaries[who] = append(summaries[who], m)
		} else {
			others[who] = append(others[who], m)
		}
	}
	return summaries, others
}

// record stores events in the alerts table as the detector does (the rig
// sends them to Kafka only), so that a restarted alert component finds
// them.
func (r *rig) record(t *testing.T, events ...alertevent.Event) {
	t.Helper()
	ctx := context.Background()
	b, err := testenv.SQL(t, r.ch.Options()).PrepareBatch(ctx, `INSERT INTO alerts (alert_id, version, event, rule, scope, alert_key, period, level,
		previous_level, values_json, region, prefecture, industry, reported, expected, subject, title_zh, title_en, summary_zh, summary_en, plan, emitted_at,
		level_name_zh, level_name_en, level_color, level_action_zh, level_action_en, level_response_seconds, old, urgent_until)`)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		p, _ := time.Parse("2006-01", e.Period)
		f := e.LevelFacts
		if err := b.Append(e.ID, e.Version, e.Kind, e.Rule, e.Scope.String(), e.Key, p, e.Level.String(), e.PreviousLevel.String(), string(e.Values),
			e.Region, e.Prefecture, e.Industry, e.Reported, e.Expected, e.Subject, e.TitleZh, e.TitleEn, e.SummaryZh, e.SummaryEn, e.Plan, e.At,
			f.NameZh, f.NameEn, f.Color, f.ActionZh, f.ActionEn, f.ResponseSeconds, e.Old, e.UrgentUntil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) count(t *testing.T, query string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := testenv.SQL(t, r.ch.Options()).QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOldWarningsSummary: warnings about months past the alert horizon
// reach each of their officials in one summary email — grouped, naming
// every firm and region, without an acknowledge link or a deadline — and
// never alone; current ones are emailed as before. Nothing old escalates,
// not even an alert that was urgent when it was sent and whose month
// passed the horizon while nobody acknowledged it. A restart sends no
// summary again.
func TestOldWarningsSummary(t *testing.T) {
	r := newRig(t, smtptest.Options{})
	current := urgent(r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing)) // Chengguan, Lanzhou, the province's two
	ageing := r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620105", 1, alertevent.Firing)
	ageing.UrgentUntil = r.clock.now().Add(time.Hour) // Anning and Lanzhou; past the horizon before its deadline
	oldMajor := old(r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "2", 1, alertevent.Firing), "2025-01", alertevent.OldHistory)
	oldArt41 := old(r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "1", 1, alertevent.Firing), "2025-02", alertevent.OldHistory)
	oldCluster := old(r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620104", 1, alertevent.Firing), "2025-03", alertevent.OldHistory)
	oldMass := old(r.event("mass_layoff", alertevent.LevelIII, alertevent.ScopeFirm, "3", 1, alertevent.Firing), "2025-03", alertevent.OldLateData)
	oldFolded := old(r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "4", 1, alertevent.Firing), "2025-03", alertevent.OldHistory) // Xigu: never folded
	olds := []alertevent.Event{oldMajor, oldArt41, oldCluster, oldMass, oldFolded}
	r.record(t, append([]alertevent.Event{current, ageing}, olds...)...)
	r.send(append([]alertevent.Event{current, ageing}, olds...)...)

	// summaries: Qilihe (major cut, mass layoff), Lanzhou (major cut,
	// cluster), the province's two (major cut), Chengguan (art41), Xigu
	// (cluster, art41); alerts: the current major cut to four, the ageing
	// cluster to two
	want := map[string][]alertevent.Event{
		"qilihe": {oldMajor, oldMass}, "lanzhou": {oldMajor, oldCluster}, "jiuye": {oldMajor}, "deputy": {oldMajor},
		"chengguan": {oldArt41}, "xigu": {oldCluster, oldFolded},
	}
	r.waitMail(len(want) + 6)
	summaries, others := r.byKind()
	for who, events := range want {
		if len(summaries[who]) != 1 {
			t.Errorf("%s got %d summaries, want 1", who, len(summaries[who]))
			continue
		}
		m := summaries[who][0]
		text, htmlText := mailParts(t, m)
		for _, e := range events {
			name := e.Subject // a firm's name; a region by its full name
			if e.Scope != alertevent.ScopeFirm {
				name = "兰州市西固区"
			}
			for part, body := range map[string]string{"text": text, "HTML": htmlText} {
				if !strings.Contains(body, name) || !strings.Contains(body, e.Key) || !strings.Contains(body, e.ID) || !strings.Contains(body, e.Period) {
					t.Errorf("the %s part of %s's summary does not name %s %s (%s, %s):\n%s", part, who, e.Rule, name, e.Key, e.Period, body)
				}
			}
		}
		for _, not := range []string{"/ack?", "响应时限", "前响应", "Response time"} {
			if strings.Contains(text+htmlText, not) {
				t.Errorf("%s's summary says %q", who, not)
			}
		}
		subject := m.Header.Get("Subject")
		if !strings.Contains(text, "历史情况，不是紧急事件") && !strings.Contains(text, "history, not an emergency") {
			t.Errorf("%s's summary (%s) does not say the warnings are history:\n%s", who, subject, text)
		}
	}
	if _, ok := summaries["anning"]; ok || len(summaries) != len(want) {
		t.Errorf("summaries went to %d officials, want %d", len(summaries), len(want))
	}
	if text, _ := mailParts(t, summaries["deputy"][0]); !strings.Contains(text, "history, not an emergency") {
		t.Errorf("the English official's summary is not in English:\n%s", text)
	}
	var alertsTo []string
	for who, ms := range others {
		for _, m := range ms {
			alertsTo = append(alertsTo, who)
			if ids := m.Header.Get("X-Layoffwatch-Alerts"); ids != current.ID+"/1" && ids != ageing.ID+"/1" {
				t.Errorf("%s got an email of its own about %s", who, ids)
			}
		}
	}
	sort.Strings(alertsTo)
	if strings.Join(alertsTo, ",") != "anning,chengguan,deputy,jiuye,lanzhou,lanzhou" {
		t.Errorf("alert emails went to %v", alertsTo)
	}
	// the log: old warnings are sent as summaries only, each (alert,
	// recipient) once
	for _, e := range olds {
		if n := r.count(t, "SELECT count() FROM notifications WHERE alert_id = ? AND status = 'sent' AND kind != 'summary'", e.ID); n != 0 {
			t.Errorf("old alert %s %s logged %d emails of its own", e.Rule, e.Subject, n)
		}
	}
	if n := r.count(t, "SELECT count() FROM (SELECT alert_id, recipient FROM notifications WHERE kind = 'summary' AND status = 'sent' GROUP BY alert_id, recipient HAVING count() > 1)"); n != 0 {
		t.Errorf("%d (alert, recipient) pairs told in more than one summary", n)
	}

	// deadlines pass: the current level I alert escalates, nothing old
	// does, nor the cluster whose month passed the horizon unacknowledged
	before := len(r.smtp.Messages())
	r.clock.add(2*time.Hour + time.Minute)
	r.waitMail(before + 4) // the major cut again to its four officials
	r.clock.add(24 * time.Hour)
	r.waitMail(before + 8) // and once more, the last tier; then several escalation checks
	time.Sleep(2 * time.Second)
	for _, m := range r.smtp.Messages()[before:] {
		if ids := m.Header.Get("X-Layoffwatch-Alerts"); ids != current.ID+"/1" || m.Header.Get("X-Layoffwatch-Kind") != "escalation" {
			t.Errorf("after the deadlines: %s about %s to %v", m.Header.Get("X-Layoffwatch-Kind"), ids, m.To)
		}
	}
	if n := r.count(t, "SELECT count() FROM notifications WHERE kind = 'escalation' AND alert_id != ?", current.ID); n != 0 {
		t.Errorf("%d escalations of alerts that are not urgent", n)
	}

	// a restart sends nothing again, whatever is read again
	count := len(r.smtp.Messages())
	r.stop()
	r.start()
	r.send(oldMajor, oldCluster)
	r.clock.add(24 * time.Hour)
	time.Sleep(3 * time.Second)
	if n := len(r.smtp.Messages()); n != count {
		t.Errorf("after a restart %d more emails", n-count)
	}

	// a later pass with a late report: one more summary, to its officials
	late := old(r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "6", 1, alertevent.Firing), "2026-05", alertevent.OldLateData) // Chengguan
	resolved := oldArt41
	resolved.Version, resolved.Kind, resolved.Old = 2, alertevent.Resolved, alertevent.OldLateData
	r.record(t, late, resolved)
	r.send(late, resolved)
	r.waitMail(count + 1)
	m := r.smtp.Messages()[count]
	text, _ := mailParts(t, m)
	if m.To[0] != "chengguan@gs.example.cn" || m.Header.Get("X-Layoffwatch-Kind") != "summary" ||
		!strings.Contains(text, late.Key) || !strings.Contains(text, "已解除") || !strings.Contains(text, oldArt41.Key) {
		t.Errorf("the late report's summary to %v:\n%s", m.To, text)
	}
}

// TestOldWarningsWaitAcrossARestart: with summary_wait, old warnings wait
// in the notification log ("queued"); a restart meanwhile loses none and
// sends them in one summary per official once the wait is over, and a
// second restart sends nothing again.
func TestOldWarningsWaitAcrossARestart(t *testing.T) {
	r := newRig(t, smtptest.Options{})
	r.stop()
	cfg, err := os.ReadFile(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.cfg, append(cfg, []byte("summary_wait: 1h\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	a := old(r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "1", 1, alertevent.Firing), "2025-01", alertevent.OldHistory)
	b := old(r.event("mass_layoff", alertevent.LevelIII, alertevent.ScopeFirm, "6", 1, alertevent.Firing), "2025-02", alertevent.OldHistory)
	r.record(t, a, b)
	r.send(a)
	testenv.WaitFor(t, "the first old warning queued", 30*time.Second, func() (bool, string) {
		n := r.count(t, "SELECT count() FROM notifications WHERE status = 'queued'")
		return n == 1, ""
	})
	r.clock.add(30 * time.Minute)
	r.send(b)
	testenv.WaitFor(t, "the second old warning queued", 30*time.Second, func() (bool, string) {
		n := r.count(t, "SELECT count() FROM notifications WHERE status = 'queued'")
		return n == 2, ""
	})
	time.Sleep(time.Second)
	if n := len(r.smtp.Messages()); n != 0 {
		t.Fatalf("%d emails before summary_wait passed", n)
	}
	r.stop()
	r.clock.add(31 * time.Minute) // an hour after the first was queued
	r.start()
	r.waitMail(1)
	m := r.smtp.Messages()[0]
	text, _ := mailParts(t, m)
	if m.To[0] != "chengguan@gs.example.cn" || m.Header.Get("X-Layoffwatch-Kind") != "summary" ||
		!strings.Contains(text, a.ID) || !strings.Contains(text, b.ID) {
		t.Fatalf("summary to %v:\n%s", m.To, text)
	}
	r.stop()
	r.start()
	r.clock.add(2 * time.Hour)
	time.Sleep(2 * time.Second)
	if n := len(r.smtp.Messages()); n != 1 {
		t.Errorf("%d emails after a second restart, want the one summary", n)
	}
}
