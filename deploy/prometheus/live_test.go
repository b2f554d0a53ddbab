package prometheus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// promAlert is one alert of Prometheus's /api/v1/alerts.
type promAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

func alertState(base, name string) (string, error) {
	resp, err := http.Get(base + "/api/v1/alerts")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", fmt.Errorf("decode alerts: %w", err)
	}
	for _, a := range out.Data.Alerts {
		if a.Labels["alertname"] == name {
			return a.State, nil
		}
	}
	return "inactive", nil
}

func query(base, q string) (string, error) {
	resp, err := http.Get(base + "/api/v1/query?query=" + strings.ReplaceAll(q, " ", "%20"))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Data struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if len(out.Data.Result) == 0 {
		return "", nil
	}
	return fmt.Sprint(out.Data.Result[0].Value[1]), nil
}

// TestStalledRuleFiresLive runs Debian's prometheus on loopback with the
// project's own rules file, unchanged, scraping a real ingest whose
// ClickHouse server is then stopped while reports arrive: the real
// LayoffwatchIngestStalled rule, evaluated on the real metrics, goes
// pending and fires (after its `for: 5m`), and clears once ClickHouse is
// back and the reports are inserted. The ingest has inserted nothing since
// it started (a restart), so its last-insert time is 0 and only the lag —
// read from the broker, since nothing is committed — says reports wait.
//
// It takes about six minutes of mostly waiting.
func TestStalledRuleFiresLive(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not installed: `make deps` installs Debian's prometheus package")
	}
	ctx := context.Background()
	server, ch := testenv.OwnClickHouse(t, "live_rules")
	chOpts := ch.Options()
	var list []firms.Firm
	for i := range 200 {
		list = append(list, firms.Firm{ID: testenv.FirmID("620102", i+1), Name: fmt.Sprintf("企业%d", i), Region: "620102", Industry: "C", BaselineHeadcount: 100})
	}
	if err := firms.NewStore(ch).Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})

	// ingest, as `layoffwatch ingest` with its defaults, metrics on loopback
	opts, err := ingest.DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	metricsPort, _ := localstack.FreePort()
	opts.Kafka.Brokers, opts.ClickHouse = k.Addrs(), chOpts
	opts.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", metricsPort)
	ictx, cancelIngest := context.WithCancel(ctx)
	ingestDone := make(chan error, 1)
	go func() { ingestDone <- ingest.Run(ictx, opts, testenv.Logger(t), obs.NewRegistry()) }()
	var ingestErr error
	stopped := false
	stopIngest := func() error {
		if !stopped {
			stopped = true
			cancelIngest()
			ingestErr = <-ingestDone
		}
		return ingestErr
	}
	t.Cleanup(func() { _ = stopIngest() })

	// prometheus with the project's rules file, scraping and evaluating
	// every second
	dir := t.TempDir()
	rules, err := filepath.Abs("rules/layoffwatch.yml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: ingest
    static_configs: [{targets: ["%s"]}]
`, rules, opts.MetricsAddr)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	promPort, _ := localstack.FreePort()
	base := fmt.Sprintf("http://127.0.0.1:%d", promPort)
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		_ = logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "prometheus.log"))
			t.Logf("prometheus log:\n%s", b)
		}
	})
	testenv.WaitFor(t, "prometheus scraping ingest", 60*time.Second, func() (bool, string) {
		v, err := query(base, `up{job="ingest"}`)
		return err == nil && v == "1", fmt.Sprint(v, err)
	})
	testenv.WaitFor(t, "the lag exported and scraped", 60*time.Second, func() (bool, string) {
		v, err := query(base, `count(layoffwatch_ingest_consumer_lag)`)
		return err == nil && v == "3", fmt.Sprint(v, err)
	})
	if s, err := alertState(base, "LayoffwatchIngestStalled"); err != nil || s != "inactive" {
		t.Fatalf("an idle ingest: LayoffwatchIngestStalled is %s (%v)", s, err)
	}

	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse stopped; sending reports")
	var msgs []kafka.Message
	for i, f := range list {
		msgs = append(msgs, kafka.Message{Key: []byte(f.ID), Value: report.AppendEncode(nil,
			report.Report{FirmID: f.ID, Period: report.NewPeriod(2025, 6), Headcount: uint32(100 + i), Revision: 1})})
	}
	w := kafkautil.NewWriter(opts.Kafka, "reports", testenv.Logger(t))
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()

	testenv.WaitFor(t, "the alert pending", 2*time.Minute, func() (bool, string) {
		s, err := alertState(base, "LayoffwatchIngestStalled")
		return s == "pending" || s == "firing", fmt.Sprint(s, err)
	})
	pending := time.Now()
	t.Log("LayoffwatchIngestStalled pending")
	// nothing is committed, yet the lag says what waits
	testenv.WaitFor(t, "the scraped lag to count every waiting report", time.Minute, func() (bool, string) {
		v, err := query(base, `sum(layoffwatch_ingest_consumer_lag)`)
		return v == fmt.Sprint(len(msgs)), fmt.Sprint(v, err)
	})
	testenv.WaitFor(t, "the alert firing", 8*time.Minute, func() (bool, string) {
		s, err := alertState(base, "LayoffwatchIngestStalled")
		return s == "firing", fmt.Sprint(s, err)
	})
	t.Logf("LayoffwatchIngestStalled firing %s after it went pending", time.Since(pending).Round(time.Second))

	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse started again")
	testenv.WaitFor(t, "the alert cleared once the reports are inserted", 3*time.Minute, func() (bool, string) {
		s, err := alertState(base, "LayoffwatchIngestStalled")
		return s == "inactive", fmt.Sprint(s, err)
	})
	if err := stopIngest(); err != nil {
		t.Fatalf("ingest stopped with %v", err)
	}
}
