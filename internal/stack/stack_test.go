package stack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/stack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func freeAddr(t *testing.T) string {
	t.Helper()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func readyz(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadinessFollowsClickHouse runs the whole stack against a ClickHouse
// server of its own, stops the server, and sees /readyz turn not-ready
// within 10 s, naming ClickHouse for every component; then starts the
// server again and sees every component ready again. On the way it sends a
// report through the gateway and waits for ingest's hook to say it is
// stored. The console runs beside the pipeline and follows ClickHouse too.
func TestReadinessFollowsClickHouse(t *testing.T) {
	ctx := context.Background()
	server, ch := testenv.OwnClickHouse(t, "stack_test")
	chOpts := ch.Options()
	firm := firms.Firm{ID: testenv.FirmID("620102", 1), Name: "就绪测试企业", Region: "620102", Industry: "C", BaselineHeadcount: 300}
	if err := firms.NewStore(ch).Upsert(ctx, []firms.Firm{firm}); err != nil {
		t.Fatal(err)
	}
	token, _, err := gateway.CreateToken(ctx, ch, gateway.Scope{FirmID: firm.ID}, "stack test")
	if err != nil {
		t.Fatal(err)
	}
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	mail := smtptest.Start(t, smtptest.Options{})
	alertAddr := freeAddr(t)
	cfgPath := filepath.Join(t.TempDir(), "alerts.yaml")
	cfg := fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true}
links: {ack_base_url: "http://%s"}
ack: {secret: stack-test-ack-secret-0123456789}
recipients:
  - {name: 城关区, email: a@gs.example.cn, region: "620102"}
`, mail.Port, alertAddr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	opts, err := stack.DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Kafka.Brokers, opts.ClickHouse, opts.MetricsAddr = k.Addrs(), chOpts, freeAddr(t)
	opts.Ingest.BatchWait = 100 * time.Millisecond
	opts.Detector.Plans, opts.Detector.Poll = []string{"../../deploy/plans/default.yaml"}, 200*time.Millisecond
	opts.Alerts.Config, opts.Alerts.HTTPAddr = cfgPath, alertAddr
	opts.Gateway.Listen = "127.0.0.1:0"
	opts.Console.Listen, opts.Console.DataDir, opts.Console.Plans = "127.0.0.1:0", t.TempDir(), []string{"../../deploy/plans/default.yaml"}
	s := stack.New(opts, testenv.Logger(t), obs.NewRegistry())
	t.Cleanup(func() { _ = s.Stop() })
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s.ConsoleURL() != "" {
		t.Fatal("Start with no component named started the console")
	}
	if err := s.Start(ctx, stack.Console); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(s.ConsoleURL() + "/readyz"); code != 200 || !strings.Contains(body, "ok   clickhouse") {
		t.Fatalf("console's own /readyz: %d\n%s", code, body)
	}

	client := &gateway.Client{BaseURL: s.GatewayURL(), Token: token}
	r := report.Report{FirmID: firm.ID, Period: report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1), Headcount: 300, Vacancies: 2, Revision: 1}
	if _, _, err := client.Submit(ctx, []report.Report{r}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.Wait(wctx, func(p stack.Progress) bool { return p.Stored.Reports == 1 && p.Evaluations >= 1 }); err != nil {
		t.Fatalf("report stored and evaluated: %v", err)
	}

	stackURL := "http://" + opts.MetricsAddr + "/readyz"
	alertURL := "http://" + alertAddr + "/readyz"
	testenv.WaitFor(t, "the stack ready", 60*time.Second, func() (bool, string) {
		code, body := readyz(stackURL)
		return code == 200, body
	})
	if code, body := readyz(alertURL); code != 200 || !strings.Contains(body, "ok   smtp") {
		t.Fatalf("alert's own /readyz: %d\n%s", code, body)
	}

	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	t.Log("clickhouse stopped")
	components := []string{"ingest", "alert", "detect", "gateway", "console"}
	testenv.WaitFor(t, "/readyz to name ClickHouse for every component", 10*time.Second, func() (bool, string) {
		code, body := readyz(stackURL)
		if code != http.StatusServiceUnavailable {
			return false, body
		}
		for _, c := range components {
			if !strings.Contains(body, "FAIL "+c+" clickhouse: ") {
				return false, body
			}
		}
		return !strings.Contains(body, "FAIL ingest kafka"), body
	})
	t.Logf("not ready %s after the stop", time.Since(stopped).Round(100*time.Millisecond))
	if code, body := readyz(alertURL); code != http.StatusServiceUnavailable || !strings.Contains(body, "FAIL clickhouse: ") {
		t.Errorf("alert's own /readyz while ClickHouse is down: %d\n%s", code, body)
	}

	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse started again")
	testenv.WaitFor(t, "every component ready again", 60*time.Second, func() (bool, string) {
		code, body := readyz(stackURL)
		return code == 200, body
	})
	if err := s.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestStartFailureNamesTheComponent: a component that cannot start (here:
// the detector with a plan that does not exist) fails Start with its name,
// and Stop stops the ones already running.
func TestStartFailureNamesTheComponent(t *testing.T) {
	ch := testenv.ClickHouse(t)
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	opts, err := stack.DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.Kafka.Brokers, opts.ClickHouse = k.Addrs(), ch.Options()
	opts.Detector.Plans = []string{filepath.Join(t.TempDir(), "missing.yaml")}
	s := stack.New(opts, testenv.Logger(t), prometheus.NewRegistry())
	err = s.Start(context.Background(), stack.Ingest, stack.Detector)
	if err == nil || !strings.Contains(err.Error(), "detect did not start") || !strings.Contains(err.Error(), "missing.yaml") {
		t.Fatalf("Start: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}
