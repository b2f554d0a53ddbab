package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
	"github.com/layoffwatch/layoffwatch/internal/tlsconf/tlstest"
)

// TestVersionFlag: --version and the version command print the release,
// the revision and the Go version, and exit 0.
func TestVersionFlag(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}} {
		var stdout, stderr bytes.Buffer
		if code := run(args, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		want := fmt.Sprintf("layoffwatch dev (revision unknown, %s)\n", runtime.Version())
		if stdout.String() != want {
			t.Fatalf("%v printed %q, want %q", args, stdout.String(), want)
		}
	}
	reg, err := newRegistry()
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "layoffwatch_build_info" {
			return
		}
	}
	t.Fatal("the registry every command serves has no layoffwatch_build_info")
}

// TestSecureIngest runs `layoffwatch migrate`, `firms import` and `ingest`
// as an operator would against a Kafka that requires SCRAM-SHA-512 over TLS
// and a ClickHouse that is reached over TLS with a password: every secret
// comes from a file named by a LAYOFFWATCH_* variable, a report produced to
// the secured topic lands in ClickHouse, and ingest's /metrics says which
// build runs (layoffwatch_build_info).
func TestSecureIngest(t *testing.T) {
	dir := t.TempDir()
	kpki := tlstest.New(t, filepath.Join(dir, "kafka"), "kafka", false)
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(time.Second), kfake.AllowAutoTopicCreation(),
		kfake.EnableSASL(), kfake.Superuser("SCRAM-SHA-512", "ingest", "kafka-s3cret"), kfake.TLS(kpki.ServerConfig()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)

	cpki := tlstest.New(t, filepath.Join(dir, "ch-pki"), "clickhouse", true)
	securePort, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	chDir := filepath.Join(dir, "clickhouse")
	if err := os.MkdirAll(filepath.Join(chDir, "config.d"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(chDir, "config.d", "tls.xml"), []byte(cpki.ClickHouseConfig(securePort, "layoffwatch", "ch-s3cret")), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: chDir, MaxMemory: 1 << 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	secureAddr := fmt.Sprintf("127.0.0.1:%d", securePort)
	testenv.WaitFor(t, "clickhouse's TLS port", 30*time.Second, func() (bool, string) {
		c, err := net.DialTimeout("tcp", secureAddr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err == nil, fmt.Sprint(err)
	})

	secret := func(name, value string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for k, v := range map[string]string{
		"LAYOFFWATCH_KAFKA_BROKERS":              strings.Join(cluster.ListenAddrs(), ","),
		"LAYOFFWATCH_KAFKA_SASL_MECHANISM":       "SCRAM-SHA-512",
		"LAYOFFWATCH_KAFKA_SASL_USER":            "ingest",
		"LAYOFFWATCH_KAFKA_SASL_PASSWORD_FILE":   secret("kafka-password", "kafka-s3cret"),
		"LAYOFFWATCH_KAFKA_TLS_CA_FILE":          kpki.CAFile,
		"LAYOFFWATCH_CLICKHOUSE_ADDR":            secureAddr,
		"LAYOFFWATCH_CLICKHOUSE_DATABASE":        "secure",
		"LAYOFFWATCH_CLICKHOUSE_USER":            "layoffwatch",
		"LAYOFFWATCH_CLICKHOUSE_PASSWORD_FILE":   secret("clickhouse-password", "ch-s3cret"),
		"LAYOFFWATCH_CLICKHOUSE_TLS_CA_FILE":     cpki.CAFile,
		"LAYOFFWATCH_CLICKHOUSE_TLS_SERVER_NAME": "localhost",
	} {
		t.Setenv(k, v)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"migrate"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("migrate over tls: exit %d\n%s", code, stderr.String())
	}
	firm := testenv.FirmID("620102", 1)
	csv := fmt.Sprintf("firm_id,name,region,industry,baseline_headcount\n%s,安全测试有限公司,620102,C,500\n", firm)
	if code := run([]string{"firms", "import", secret("firms.csv", csv)}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("firms import over tls: exit %d\n%s", code, stderr.String())
	}

	mport, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	var ingestErr syncBuffer
	go func() {
		done <- run([]string{"ingest", "--metrics-addr", fmt.Sprintf("127.0.0.1:%d", mport), "--session-timeout", "6s"}, nil, io.Discard, &ingestErr)
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = syscall.Kill(syscall.Getpid(), syscall.SIGINT)
			<-done
		}
	}()

	ko := kafkautil.Options{Brokers: cluster.ListenAddrs(), Partitions: 1, Security: kafkautil.Security{SASLMechanism: "SCRAM-SHA-512",
		SASLUser: "ingest", SASLPassword: "kafka-s3cret", TLSCAFile: kpki.CAFile}}
	w := kafkautil.NewWriter(ko, "reports", testenv.Logger(t))
	period := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1)
	b, err := report.Encode(report.Report{FirmID: firm, Period: period, Headcount: 480, Vacancies: 2, Revision: 1})
	if err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the report produced to the secured topic", time.Minute, func() (bool, string) {
		err := w.WriteMessages(ctx, kafka.Message{Key: []byte(firm), Value: b})
		return err == nil, fmt.Sprint(err)
	})
	_ = w.Close()

	plain := testenv.SQL(t, chdb.Options{Addr: srv.Addr(), Database: "secure", User: "default", DialTimeout: 5 * time.Second})
	testenv.WaitFor(t, "the report in ClickHouse", 2*time.Minute, func() (bool, string) {
		var n uint64
		if err := plain.QueryRow(ctx, "SELECT count() FROM reports WHERE firm_id = ?", firm).Scan(&n); err != nil {
			return false, err.Error()
		}
		select {
		case code := <-done:
			t.Fatalf("ingest exited %d:\n%s", code, ingestErr.String())
		default:
		}
		return n == 1, fmt.Sprintf("%d reports; ingest log:\n%s", n, ingestErr.String())
	})

	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", mport))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := regexp.MustCompile(`(?m)^layoffwatch_build_info\{goversion="go[0-9.]+",revision="[^"]+",version="dev"\} 1$`)
	if !want.Match(body) {
		t.Fatalf("ingest's /metrics lacks layoffwatch_build_info:\n%.2000s", body)
	}
	if strings.Contains(ingestErr.String(), "kafka-s3cret") || strings.Contains(ingestErr.String(), "ch-s3cret") {
		t.Fatal("a password is in ingest's log")
	}

	stopped = true
	_ = syscall.Kill(syscall.Getpid(), syscall.SIGINT)
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("ingest exited %d after SIGINT:\n%s", code, ingestErr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("ingest did not stop")
	}
}

// TestHealthcheckHTTPS: the container health check reaches a component
// that serves HTTPS with a certificate of the operator's CA.
func TestHealthcheckHTTPS(t *testing.T) {
	pki := tlstest.New(t, t.TempDir(), "http", false)
	tc, err := obs.ServerTLS{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey}.Config()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := obs.Listen("127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	h := &obs.Health{}
	h.SetReady(true)
	mux := http.NewServeMux()
	h.Register(mux)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = obs.ServeListener(ctx, ln, mux, testenv.Logger(t)) }()
	url := "https://" + ln.Addr().String() + "/readyz"
	var stdout, stderr bytes.Buffer
	if code := run([]string{"healthcheck", "--tls-ca-file", pki.CAFile, url}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"healthcheck", url}, nil, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "unknown authority") {
		t.Fatalf("without the CA: exit %d, %s", code, stderr.String())
	}
}
