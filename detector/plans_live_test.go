package detector_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestDetectLivePlanPerProvince: one deployment serving Gansu and Hubei,
// each with its own plan (testdata/two_provinces/plans), on the real
// ClickHouse and broker. The same cuts in both provinces raise Gansu's
// art41 (IV, a cut of 20) on both Gansu firms and Hubei's hubei_cut (III,
// a cut of 30) on the Hubei firm that cut 35 only; each event records its
// plan's file and level facts; the firm of Beijing, which no plan covers,
// raises nothing. The same again with two replicas dividing the
// prefectures (--shards 2): every event once.
func TestDetectLivePlanPerProvince(t *testing.T) {
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			gansuA, gansuB := testenv.FirmID("620102", 1), testenv.FirmID("620402", 2)
			hubeiA, hubeiB := testenv.FirmID("420102", 3), testenv.FirmID("420502", 4)
			beijing := testenv.FirmID("110101", 5)
			list := []firms.Firm{
				{ID: gansuA, Name: "兰州机械厂", Region: "620102", Industry: "C", BaselineHeadcount: 1000},
				{ID: gansuB, Name: "白银冶炼厂", Region: "620402", Industry: "C", BaselineHeadcount: 1000},
				{ID: hubeiA, Name: "武汉机械厂", Region: "420102", Industry: "C", BaselineHeadcount: 1000},
				{ID: hubeiB, Name: "宜昌冶炼厂", Region: "420502", Industry: "C", BaselineHeadcount: 1000},
				{ID: beijing, Name: "北京机械厂", Region: "110101", Industry: "C", BaselineHeadcount: 1000},
			}
			s := newLiveStack(t, list)
			dir := t.TempDir()
			for _, name := range []string{"gansu.yaml", "hubei.yaml"} {
				b, err := os.ReadFile(filepath.Join("testdata/two_provinces/plans", name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			set, err := detector.LoadPlans(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := range shards {
				s.start(t, fmt.Sprintf("detect %d", i), func(ctx context.Context) error {
					opts, err := detector.DefaultOptions()
					if err != nil {
						return err
					}
					opts.Kafka, opts.ClickHouse, opts.Plans, opts.MetricsAddr = s.kafka, s.chOpt, []string{dir}, ""
					opts.Poll, opts.ShareEpoch = 200*time.Millisecond, time.Second
					if shards > 1 {
						opts.Shard, opts.Shards = i, shards
					}
					return detector.Run(ctx, opts, testenv.Logger(t), prometheus.NewRegistry())
				})
			}
			cur := report.PeriodOf(time.Now().In(report.Shanghai()))
			p1, p2 := cur.Add(-2), cur.Add(-1)
			var reports []report.Report
			for _, c := range []struct {
				id   string
				last uint32
			}{{gansuA, 975}, {gansuB, 965}, {hubeiA, 975}, {hubeiB, 965}, {beijing, 950}} {
				reports = append(reports,
					report.Report{FirmID: c.id, Period: p1, Headcount: 1000, Revision: 1},
					report.Report{FirmID: c.id, Period: p2, Headcount: c.last, Revision: 1})
			}
			s.send(t, reports...)
			waitEvents(t, s, []string{
				fmt.Sprintf("art41 %s %s firing IV", gansuA, p2),
				fmt.Sprintf("art41 %s %s firing IV", gansuB, p2),
				fmt.Sprintf("hubei_cut %s %s firing III", hubeiB, p2),
			}, "art41", "hubei_cut")
			time.Sleep(2 * time.Second) // more passes: nothing else comes
			events := s.events(t)
			if len(events) != 3 {
				t.Fatalf("%d events, want 3: %v", len(events), summary(events, "art41", "hubei_cut"))
			}
			for _, e := range events {
				plan := set.For(e.Region)
				if plan == nil || e.Plan != plan.File || e.LevelFacts != plan.Levels[e.Level] {
					t.Errorf("%s %s (%s): plan %q, level facts %+v; its province's plan is %v", e.Rule, e.Key, e.Region, e.Plan, e.LevelFacts, plan)
				}
			}
			var n uint64
			if err := testenv.SQL(t, s.ch.Options()).QueryRow(context.Background(),
				"SELECT count() FROM alerts FINAL WHERE plan = ?", filepath.Join(dir, "hubei.yaml")).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Fatalf("the alerts table has %d events of Hubei's plan, want 1", n)
			}
		})
	}
}
