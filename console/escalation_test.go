package console

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestClosingStopsEscalation runs the alert component (embedded Kafka, the
// console's ClickHouse, real SMTP) beside the console: two level II county
// warnings are emailed; an official works one to closure in the console;
// past the deadline the other is escalated and the closed one is not —
// the console's acknowledgement is the alert component's.
func TestClosingStopsEscalation(t *testing.T) {
	h := newHarness(t)
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 1})
	kopts := kafkautil.Options{Brokers: k.Addrs(), Partitions: 1, ReplicationFactor: 1}
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "alerts.yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, `smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true, timeout: 5s}
links: {ack_base_url: "http://127.0.0.1:%d"}
ack: {secret: console-test-secret-0123456789}
group_wait: 300ms
recipients:
  - {name: 城关区人社局, email: cg@bureau.example, region: "620102"}
  - {name: 兰州市人社局, email: lz@bureau.example, region: "620100"}
  - {name: 甘肃省人社厅, email: gs@bureau.example, region: "620000"}
`, h.smtp.Port, port), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Now()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- alerts.Run(ctx, alerts.Options{Kafka: kopts, ClickHouse: h.chOpts, Config: cfg,
			Topic: "alerts", Group: "console-test", HTTPAddr: fmt.Sprintf("127.0.0.1:%d", port), EscalationCheck: 100 * time.Millisecond,
			SessionTimeout: 6 * time.Second, Now: clock.now, DataDir: t.TempDir()}, testenv.Logger(t), prometheus.NewRegistry())
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("alert component: %v", err)
		}
	})

	// ready (its topic made) when its HTTP side answers
	testenv.WaitFor(t, "the alert component", 60*time.Second, func() (bool, string) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return true, ""
	})

	period := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1).String()
	var events []alertevent.Event
	for _, county := range []string{"620102", "620102"} {
		rule := []string{"county_cluster", "county_drop"}[len(events)]
		// as the detector emits it: with its level's facts (the deadline escalation keeps)
		e := alertevent.Event{Rule: rule, Level: alertevent.LevelII, LevelFacts: alertevent.DefaultLevelFacts(alertevent.LevelII),
			Scope: alertevent.ScopeCounty, Key: county, Period: period, Version: 1, Kind: alertevent.Firing,
			Values: json.RawMessage(`{"firms_cutting":6}`), At: clock.now(), Region: county, Prefecture: "620100", Subject: "城关区",
			TitleZh: "同一县区多家企业同期大幅减员", TitleEn: "Several firms cutting", SummaryZh: "6家企业", SummaryEn: "6 firms"}
		e.ID = alertevent.ID(e.Rule, e.Scope, e.Key, e.Period)
		events = append(events, e)
		// the detector records it in ClickHouse as it emits it
		b, err := h.sql.PrepareBatch(ctx, `INSERT INTO alerts (alert_id, version, event, rule, scope, alert_key, period, level, previous_level,
			values_json, region, prefecture, industry, reported, expected, subject, title_zh, title_en, summary_zh, summary_en, plan, emitted_at,
			level_name_zh, level_name_en, level_color, level_action_zh, level_action_en, level_response_seconds)`)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := time.Parse("2006-01", period)
		if err := b.Append(e.ID, e.Version, e.Kind, e.Rule, e.Scope.String(), e.Key, p, e.Level.String(), "", string(e.Values), e.Region, e.Prefecture, "",
			uint32(0), uint32(0), e.Subject, e.TitleZh, e.TitleEn, e.SummaryZh, e.SummaryEn, "default", e.At.UTC().Truncate(time.Second),
			e.LevelFacts.NameZh, e.LevelFacts.NameEn, e.LevelFacts.Color, e.LevelFacts.ActionZh, e.LevelFacts.ActionEn, e.LevelFacts.ResponseSeconds); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	w := kafkautil.NewWriter(kopts, "alerts", slog.New(slog.DiscardHandler))
	var msgs []kafka.Message
	for _, e := range events {
		b, _ := json.Marshal(e)
		msgs = append(msgs, kafka.Message{Key: []byte(e.ID), Value: b})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	// level II: the county and the prefecture, one email each per warning
	testenv.WaitFor(t, "the warning emails", 60*time.Second, func() (bool, string) {
		var log []string
		rows, err := h.sql.Query(ctx, "SELECT alert_id, recipient, kind, status, detail FROM notifications ORDER BY at, alert_id, recipient, status")
		if err == nil {
			for rows.Next() {
				var a, r, k, st, d string
				_ = rows.Scan(&a, &r, &k, &st, &d)
				log = append(log, a+" "+r+" "+k+" "+st+" "+d)
			}
			rows.Close()
		}
		return len(h.smtp.Messages()) >= 4, fmt.Sprint(len(h.smtp.Messages()), " emails; log ", log)
	})
	sent := len(h.smtp.Messages())

	// the Chengguan official works the first warning to closure
	c := h.client()
	c.signIn("cg")
	id := events[0].ID
	for i, step := range []struct {
		action string
		form   url.Values
	}{
		{"ack", url.Values{}},
		{"verify", url.Values{"method": {"phone"}, "finding": {"seasonal"}, "contacted_at": {time.Now().In(report.Shanghai()).Format("2006-01-02T15:04")}}},
		{"close", url.Values{"verdict": {"seasonal"}}},
	} {
		c.get("/warnings/" + id)
		step.form.Set("seq", fmt.Sprint(i))
		if code, loc, _ := c.post("/warnings/"+id+"/"+step.action, step.form); code != http.StatusSeeOther || len(loc) == 0 || loc[len(loc)-1] == 'x' {
			t.Fatalf("%s: %d %s", step.action, code, loc)
		}
	}

	// past the two-hour deadline: the open one escalates to the province
	clock.add(2*time.Hour + time.Minute)
	testenv.WaitFor(t, "the escalation of the open warning", 60*time.Second, func() (bool, string) {
		return len(h.smtp.Messages()) > sent, fmt.Sprint(len(h.smtp.Messages()), " emails")
	})
	time.Sleep(2 * time.Second) // anything else due would be sent by now
	for _, m := range h.smtp.Messages()[sent:] {
		for _, a := range []string{m.Header.Get("X-Layoffwatch-Alerts")} {
			if len(a) >= len(id) && a[:len(id)] == id {
				t.Errorf("the closed warning was escalated: %s to %v", m.Header.Get("X-Layoffwatch-Kind"), m.To)
			}
		}
		if m.Header.Get("X-Layoffwatch-Kind") != "escalation" {
			t.Errorf("unexpected %s email after the deadline", m.Header.Get("X-Layoffwatch-Kind"))
		}
	}
}
