package stack_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/stack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestOldMonthsOnAFirstStart: the detector starts on 36 months of stored
// history (as in make demo) and marks what it finds about months past the
// alert horizon as old history; the alert component tells each official
// those in exactly one summary email, and emails warnings of its own only
// about the recent months. Started again, neither sends anything twice.
func TestOldMonthsOnAFirstStart(t *testing.T) {
	ctx := context.Background()
	ch := testenv.ClickHouse(t)
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	mail := smtptest.Start(t, smtptest.Options{})

	// four firms, flat at 1,000 but for cuts two years ago, a year ago
	// (a county of its own) and last month
	cur := report.PeriodOf(time.Now().In(report.Shanghai()))
	first, last := cur.Add(-36), cur.Add(-1)
	list := []firms.Firm{
		{ID: testenv.FirmID("620102", 1), Name: "城关机械厂", Region: "620102", Industry: "C", BaselineHeadcount: 1000},
		{ID: testenv.FirmID("620103", 2), Name: "七里河纺织厂", Region: "620103", Industry: "C", BaselineHeadcount: 1000},
		{ID: testenv.FirmID("620402", 3), Name: "白银冶炼厂", Region: "620402", Industry: "C", BaselineHeadcount: 1000},
		{ID: testenv.FirmID("620102", 4), Name: "城关食品厂", Region: "620102", Industry: "C", BaselineHeadcount: 1000},
	}
	cuts := map[string]map[report.Period]uint32{
		list[0].ID: {cur.Add(-24): 600},
		list[1].ID: {cur.Add(-12): 900},
		list[2].ID: {last: 700},
	}
	if err := firms.NewStore(ch).Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for _, f := range list {
		hc := uint32(1000)
		for p := first; p <= last; p++ {
			if v, ok := cuts[f.ID][p]; ok {
				hc = v
			}
			r := report.Report{FirmID: f.ID, Period: p, Headcount: hc, Vacancies: 3, Revision: 1}
			msgs = append(msgs, kafka.Message{Key: []byte(f.ID), Value: report.AppendEncode(nil, r)})
		}
	}

	alertAddr := freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "alerts.yaml")
	cfg := fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true}
links: {ack_base_url: "http://%s"}
ack: {secret: stack-test-ack-secret-0123456789}
group_wait: 500ms
recipients:
  - {name: 城关区, email: chengguan@gs.example.cn, region: "620102"}
  - {name: 七里河区, email: qilihe@gs.example.cn, region: "620103"}
  - {name: 白银区, email: baiyin@gs.example.cn, region: "620402"}
  - {name: 兰州市, email: lanzhou@gs.example.cn, region: "620100", min_level: III}
  - {name: 白银市, email: baiyinshi@gs.example.cn, region: "620400", min_level: III}
  - {name: 省厅, email: province@gs.example.cn, region: "620000", min_level: II, language: en}
`, mail.Port, alertAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := stack.DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Kafka.Brokers, opts.Kafka.Partitions, opts.Kafka.ReplicationFactor, opts.ClickHouse = k.Addrs(), 3, 1, ch.Options()
	opts.Ingest.BatchWait = 100 * time.Millisecond
	opts.Detector.Plans, opts.Detector.Poll = []string{"../../deploy/plans/statutory.yaml"}, 200*time.Millisecond
	opts.Detector.Window, opts.Detector.AlertMonths = 37, 37 // every month of the history is evaluated and alerted about
	opts.Alerts.Config, opts.Alerts.HTTPAddr = cfgPath, alertAddr
	run := func(which ...stack.Component) *stack.Stack {
		s := stack.New(opts, testenv.Logger(t), obs.NewRegistry())
		t.Cleanup(func() { _ = s.Stop() })
		if err := s.Start(ctx, which...); err != nil {
			t.Fatal(err)
		}
		return s
	}
	wait := func(s *stack.Stack, what string, cond func(stack.Progress) bool) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		if err := s.Wait(wctx, cond); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// the history is stored before the detector starts
	s := run(stack.Ingest)
	w := kafkautil.NewWriter(opts.Kafka, "reports", slog.New(slog.DiscardHandler))
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	wait(s, "history stored", func(p stack.Progress) bool { return p.Stored.Reports >= len(msgs) })
	if err := s.Start(ctx, stack.Alerts, stack.Detector); err != nil {
		t.Fatal(err)
	}
	wait(s, "every alert event handled", func(p stack.Progress) bool {
		return p.Evaluations >= 1 && p.Emitted > 0 && p.Handled >= p.Emitted
	})

	// the detector's marks, as recorded: old exactly when the month's
	// window closed more than 35 days ago
	type alert struct {
		period          time.Time
		scope, key, old string
		region          string
		urgentUntil     time.Time
	}
	alerts := map[string]alert{}
	rows, err := testenv.SQL(t, ch.Options()).Query(ctx, "SELECT alert_id, period, scope, alert_key, region, old, urgent_until FROM alerts FINAL WHERE version = 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var a alert
		if err := rows.Scan(&id, &a.period, &a.scope, &a.key, &a.region, &a.old, &a.urgentUntil); err != nil {
			t.Fatal(err)
		}
		alerts[id] = a
	}
	rows.Close()
	now := time.Now()
	var oldFirm, recent int
	for id, a := range alerts {
		p := report.PeriodOf(a.period.UTC())
		until := report.Deadline(p, 5).Add(840 * time.Hour)
		if !a.urgentUntil.Equal(until) {
			t.Errorf("alert %s about %s is urgent until %s, want %s", id, p, a.urgentUntil, until)
		}
		switch {
		case !now.Before(until) && a.old != alertevent.OldHistory:
			t.Errorf("alert %s about %s (%s %s) is not marked old history: %q", id, p, a.scope, a.key, a.old)
		case now.Before(until) && a.old != "":
			t.Errorf("alert %s about the recent %s is marked old: %q", id, p, a.old)
		case a.old != "" && a.scope == "firm":
			oldFirm++
		case a.old == "":
			recent++
		}
	}
	if oldFirm == 0 || recent == 0 {
		t.Fatalf("%d old firm alerts and %d recent alerts: the history must give both", oldFirm, recent)
	}

	// one summary per official with old warnings; emails of their own
	// only for recent alerts
	summaries := map[string]int{}
	for _, m := range mail.Messages() {
		kind := m.Header.Get("X-Layoffwatch-Kind")
		if kind == "summary" {
			summaries[m.To[0]]++
			continue
		}
		for _, item := range strings.Fields(m.Header.Get("X-Layoffwatch-Alerts")) {
			id, _, _ := strings.Cut(item, "/")
			if a := alerts[id]; a.old != "" {
				t.Errorf("a %s email to %v about the old alert %s (%s, %s)", kind, m.To, id, a.period.Format("2006-01"), a.key)
			}
		}
	}
	for _, who := range []string{"chengguan@gs.example.cn", "qilihe@gs.example.cn"} {
		if summaries[who] != 1 {
			t.Errorf("%s got %d summaries, want 1", who, summaries[who])
		}
	}
	for who, n := range summaries {
		if n != 1 {
			t.Errorf("%s got %d summaries, want 1", who, n)
		}
	}
	// every old firm alert was in its county official's summary
	told := map[string]bool{}
	lrows, err := testenv.SQL(t, ch.Options()).Query(ctx, "SELECT alert_id, recipient FROM notifications WHERE kind = 'summary' AND status = 'sent'")
	if err != nil {
		t.Fatal(err)
	}
	for lrows.Next() {
		var id, who string
		if err := lrows.Scan(&id, &who); err != nil {
			t.Fatal(err)
		}
		told[id+"|"+who] = true
	}
	lrows.Close()
	county := map[string]string{"620102": "chengguan@gs.example.cn", "620103": "qilihe@gs.example.cn", "620402": "baiyin@gs.example.cn"}
	for id, a := range alerts {
		if a.old != "" && a.scope == "firm" && !told[id+"|"+county[a.region]] {
			t.Errorf("old firm alert %s (%s, %s) not in %s's summary", id, a.period.Format("2006-01"), a.key, county[a.region])
		}
	}
	t.Logf("%d alerts (%d recent), %d emails, summaries %v", len(alerts), recent, len(mail.Messages()), summaries)

	// started again: the detector emits nothing, nobody is emailed again
	sent := len(mail.Messages())
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	s = run(stack.Alerts, stack.Detector)
	wait(s, "a detector pass after the restart", func(p stack.Progress) bool { return p.Evaluations >= 1 })
	time.Sleep(3 * time.Second)
	if p := s.Progress(); p.Emitted != 0 {
		t.Errorf("the restarted detector emitted %d events", p.Emitted)
	}
	if n := len(mail.Messages()); n != sent {
		t.Errorf("%d emails after the restart", n-sent)
	}
}
