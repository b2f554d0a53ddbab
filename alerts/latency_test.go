package alerts_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/stack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// BenchmarkAlertLatency posts 100 reported layoffs to the gateway,
// one at a time, and times each from the POST to the first email naming its
// firm (name and id, in the decoded text part) arriving at the SMTP server —
// through the embedded Kafka, ingest, the local ClickHouse, the detector and
// the alert component, all real. Run it
// with `make bench-alert-latency` (one iteration: once a firm has crossed
// its threshold, posting again changes nothing). Target: p99 < 5 s.
func BenchmarkAlertLatency(b *testing.B) {
	const n = 100
	ctx := context.Background()
	k := testenv.Kafka(b, localstack.KafkaOptions{Partitions: 3})
	ch := testenv.ClickHouse(b)
	kOpts := kafkautil.Options{Brokers: k.Addrs(), Partitions: 3, ReplicationFactor: 1}
	chOpts := chdb.Options{Addr: testenv.ClickHouseAddr(b), Database: ch.Database(), User: "default", DialTimeout: 5 * time.Second}
	srv := smtptest.Start(b, smtptest.Options{})
	counties := []string{"620102", "620103", "620104", "620105", "620111"}
	var list []firms.Firm
	for i := 0; i < n; i++ {
		county := counties[i%len(counties)]
		list = append(list, firms.Firm{ID: testenv.FirmID(county, i+1), Name: fmt.Sprintf("延迟测试企业%03d", i), Region: county, Industry: "C", BaselineHeadcount: 1000})
	}
	if err := firms.NewStore(ch).Upsert(ctx, list); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	prev, cur := report.PeriodOf(now.In(report.Shanghai())).Add(-2), report.PeriodOf(now.In(report.Shanghai())).Add(-1)
	// history: last month at 1,000 staff, straight to Kafka
	var history []kafka.Message
	for _, f := range list {
		history = append(history, kafka.Message{Key: []byte(f.ID), Value: report.AppendEncode(nil, report.Report{FirmID: f.ID, Period: prev, Headcount: 1000, Vacancies: 10, Revision: 1})})
	}
	w := kafkautil.NewWriter(kOpts, "reports", testenv.Logger(b))
	if err := w.WriteMessages(ctx, history...); err != nil {
		b.Fatal(err)
	}
	_ = w.Close()

	port, _ := localstack.FreePort()
	cfgPath := filepath.Join(b.TempDir(), "alerts.yaml")
	cfg := fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true}
links: {ack_base_url: "http://127.0.0.1:%d"}
ack: {secret: bench-ack-secret-0123456789}
group_wait: 100ms
recipients:
  - {name: 城关区, email: a@gs.example.cn, region: "620102"}
  - {name: 七里河区, email: b@gs.example.cn, region: "620103"}
  - {name: 西固区, email: c@gs.example.cn, region: "620104"}
  - {name: 安宁区, email: d@gs.example.cn, region: "620105"}
  - {name: 红古区, email: e@gs.example.cn, region: "620111"}
  - {name: 兰州市, email: f@gs.example.cn, region: "620100"}
`, srv.Port, port)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	token, _, err := gateway.CreateToken(ctx, ch, gateway.Scope{Region: "620000"}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	// the whole pipeline in this process, as `layoffwatch local` runs it
	opts, err := stack.DefaultOptions()
	if err != nil {
		b.Fatal(err)
	}
	opts.Kafka, opts.ClickHouse = kOpts, chOpts
	opts.Ingest.BatchRows, opts.Ingest.BatchWait, opts.Ingest.SessionTimeout, opts.Ingest.ShutdownGrace = 1000, 50*time.Millisecond, 6*time.Second, 10*time.Second
	opts.Detector.Plans, opts.Detector.Poll = []string{"../deploy/plans/default.yaml"}, 100*time.Millisecond
	opts.Alerts.Config, opts.Alerts.HTTPAddr = cfgPath, fmt.Sprintf("127.0.0.1:%d", port)
	opts.Alerts.EscalationCheck, opts.Alerts.SessionTimeout = time.Minute, 6*time.Second
	opts.Gateway.Listen, opts.Gateway.Rate, opts.Gateway.Burst = "127.0.0.1:0", 1000, 1000
	st := stack.New(opts, testenv.Logger(b), prometheus.NewRegistry())
	b.Cleanup(func() {
		if err := st.Stop(); err != nil {
			b.Errorf("stop the stack: %v", err)
		}
	})
	if err := st.Start(ctx); err != nil {
		b.Fatal(err)
	}
	client := &gateway.Client{BaseURL: st.GatewayURL(), Token: token}

	// wait until the history is in ClickHouse and the detector has
	// evaluated it (a pass that began after the last batch was stored)
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := st.Wait(wctx, func(p stack.Progress) bool { return p.Stored.Reports >= n }); err != nil {
		b.Fatalf("history not ingested: %v", err)
	}
	seen := st.Progress().Evaluations
	if err := st.Wait(wctx, func(p stack.Progress) bool { return p.Evaluations > seen }); err != nil {
		b.Fatalf("history not evaluated: %v", err)
	}

	var lat []time.Duration
	for b.Loop() {
		lat = lat[:0]
		for i, f := range list {
			if i >= n {
				break
			}
			t0 := time.Now()
			// a layoff as firms report one: 400 economic layoffs. (A bare
			// 40% fall that every firm of the prefecture's industry shares
			// is, for the default plan, the region's and not each firm's:
			// province_fall says it once 60% of the firms have reported.)
			cut := report.Report{FirmID: f.ID, Period: cur, Headcount: 600, Vacancies: 0, Revision: 1, Separations: report.Separations{EconomicLayoff: 400}}
			if _, _, err := client.Submit(ctx, []report.Report{cut}); err != nil {
				b.Fatal(err)
			}
			timeout := time.After(30 * time.Second)
		wait:
			for {
				select {
				case m := <-srv.Received():
					// quoted-printable may break the id across lines of
					// the raw message: read it as a mail client does
					if text, _ := mailParts(b, m); strings.Contains(text, f.ID) && strings.Contains(text, f.Name) {
						lat = append(lat, time.Since(t0))
						break wait
					}
				case <-timeout:
					b.Fatalf("no email about firm %d within 30 s", i)
				}
			}
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(p(0.5).Seconds(), "p50_s")
	b.ReportMetric(p(0.99).Seconds(), "p99_s")
	fmt.Printf("\nbench-alert-latency: %d reports POSTed one at a time; POST → first email at the SMTP server\n", len(lat))
	fmt.Printf("  p50 %6.2f s   p99 %6.2f s   max %6.2f s   (target p99 < 5 s)\n\n", p(0.5).Seconds(), p(0.99).Seconds(), lat[len(lat)-1].Seconds())
}
