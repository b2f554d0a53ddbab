package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestLocalDemo runs the demo on a small province against the real local
// ClickHouse and the embedded broker: the table is printed, and ClickHouse
// holds each planted event's headcounts exactly as planted.
func TestLocalDemo(t *testing.T) {
	kport, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cport, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	gport, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	aport, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	code := run([]string{"local", "--dir", t.TempDir(), "--plan", "../../deploy/plans/default.yaml",
		"--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gport),
		"--smtp-addr", "127.0.0.1:0", "--alert-addr", fmt.Sprintf("127.0.0.1:%d", aport), "--alerts", "../../deploy/local/alerts.yaml", "--firms", "400", "--months", "14", "--layoffs", "4", "--end", "2026-06",
		"--kafka-port", fmt.Sprint(kport), "--clickhouse-port", fmt.Sprint(cport), "--metrics-addr", ""}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"400 firms, 2025-05 … 2026-06", "through the gateway API", "Lanzhou", "Gannan", "2026-06", "Planted layoff events"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	rows := regexp.MustCompile(`(?m)^\d{4}-\d{2}\s+(\S+).*?(\d+ → \d+)\s+(\d+ → \d+)\s+(.*?)\s*$`).FindAllStringSubmatch(out, -1)
	if len(rows) != 4 {
		t.Fatalf("found %d event rows, want 4:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[2] != r[3] {
			t.Errorf("event planted %s but ClickHouse holds %s", r[2], r[3])
		}
		// the detector raised the warning its kind calls for
		want, ok := map[string]string{"closure": "closure:", "mass_layoff": "mass_layoff:", "county_cluster": "county_cluster:II", "gradual": "art41:IV"}[r[1]]
		if !ok {
			t.Errorf("event kind %q: the test does not know which warning it calls for", r[1])
			continue
		}
		if !strings.Contains(r[4], want) {
			t.Errorf("%s event: detector warnings %q lack %q", r[1], r[4], want)
		}
	}
	if !strings.Contains(out, "Warnings raised by the detector") {
		t.Errorf("no warnings table:\n%s", out)
	}
	// the officials' emails, as .eml files: every level I–II alert went out
	m := regexp.MustCompile(`Emails to officials: (\d+) messages written to (\S+)`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("no emails written:\n%s", out)
	}
	files, _ := filepath.Glob(filepath.Join(m[2], "*.eml"))
	if fmt.Sprint(len(files)) != m[1] {
		t.Errorf("%d .eml files, the demo says %s", len(files), m[1])
	}
	if !strings.Contains(out, "[预警汇总]") && !strings.Contains(out, "级") {
		t.Errorf("no email subjects shown:\n%s", out)
	}
	// the province ends in 2026-06, long before today: every warning is
	// about a month past the alert horizon, and reached the officials in
	// summaries only, one per official
	cur := regexp.MustCompile(`current, about the latest months: (\d+)`).FindStringSubmatch(out)
	old := regexp.MustCompile(`old, about months past the alert horizon: (\d+) \(history \d+\) — not emergencies: (\d+) warnings told in (\d+) summary emails to (\d+) officials`).FindStringSubmatch(out)
	if cur == nil || old == nil || cur[1] != "0" || old[1] == "0" || old[2] == "0" || old[3] != old[4] || old[3] != m[1] {
		t.Errorf("the story of old warnings (current %v, old %v, %s emails):\n%s", cur, old, m[1], out)
	}
	for _, f := range files {
		b, err := os.ReadFile(f) //nolint:gosec // the test's own output
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(b, []byte("\r\nX-Layoffwatch-Kind: summary\r\n")) {
			t.Errorf("%s is not a summary:\n%.600s", f, b)
		}
	}
}

// TestSimulateThenValidate writes a province to files and checks every
// simulated report with `validate`: all valid, exit 0.
func TestSimulateThenValidate(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"simulate", "--out", dir, "--firms", "300", "--months", "13", "--layoffs", "3", "--end", "2025-12"}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("simulate: exit %d: %s", code, stderr.String())
	}
	for _, f := range []string{"firms.csv", "reports.jsonl", "events.jsonl", "labels.csv"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("%s missing or empty: %v", f, err)
		}
	}
	stdout.Reset()
	code := run([]string{"validate", "--firms", filepath.Join(dir, "firms.csv"), filepath.Join(dir, "reports.jsonl")}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("validate: exit %d; first lines:\n%.2000s", code, stdout.String())
	}
	if n := strings.Count(stdout.String(), `"ok":true`); n < 300*12 {
		t.Fatalf("only %d valid reports", n)
	}
}
