package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanTestPerProvince: `plan test` takes the plans as detect does —
// repeated, or a directory — and prints what the detector's golden case
// expects, each line naming its plan; two plans claiming a province, or
// both without one, are refused naming both files. `plan eval` takes a set
// as one candidate (a directory, or files joined with +).
func TestPlanTestPerProvince(t *testing.T) {
	dir := "../../detector/testdata/two_provinces/"
	want, err := os.ReadFile(dir + "expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	// the golden file names the plans as the detector's test loads them
	rel := strings.ReplaceAll(string(want), "testdata/two_provinces/", dir)
	for _, args := range [][]string{
		{"--plan", dir + "plans"},
		{"--plan", dir + "plans/gansu.yaml", "--plan", dir + "plans/hubei.yaml"},
	} {
		var stdout, stderr bytes.Buffer
		full := append([]string{"plan", "test", "--firms", dir + "firms.csv", "--reports", dir + "reports.jsonl"}, args...)
		if code := run(full, nil, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		// kong makes the paths absolute
		got := strings.ReplaceAll(stdout.String(), mustAbs(t, dir), dir)
		if got != rel {
			t.Errorf("%v:\n got %s\nwant %s", args, got, rel)
		}
		if !strings.Contains(stderr.String(), "110000") {
			t.Errorf("%v: the province no plan applies to is not named: %s", args, stderr.String())
		}
	}
	twice := filepath.Join(t.TempDir(), "gansu2.yaml")
	b, err := os.ReadFile(dir + "plans/gansu.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(twice, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"plan", "test", "--firms", dir + "firms.csv", "--reports", dir + "reports.jsonl", "--plan", dir + "plans", "--plan", twice}, nil, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "gansu.yaml and "+twice+" both claim province 620000") {
		t.Fatalf("two plans for Gansu: exit %d, stderr %s", code, stderr.String())
	}
	// plan check --set: the same check as detect's start
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"plan", "check", "--set", dir + "plans"}, nil, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "hubei.yaml: ok, 1 rules, for 420000") {
		t.Fatalf("plan check --set: exit %d, %s%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"plan", "check", "--set", dir + "plans", twice}, nil, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "both claim province 620000") {
		t.Fatalf("plan check --set with Gansu twice: exit %d, %s", code, stderr.String())
	}
	labels := filepath.Join(t.TempDir(), "labels.csv")
	if err := os.WriteFile(labels, []byte("scope,key,from,to,kind,source,note\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	stderr.Reset()
	code = run([]string{"plan", "eval", "--firms", dir + "firms.csv", "--reports", dir + "reports.jsonl", "--labels", labels, "--format", "json",
		"--plan", dir + "plans", "--plan", dir + "plans/gansu.yaml+" + dir + "plans/hubei.yaml", "--plan", dir + "plans/gansu.yaml"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("plan eval: exit %d: %s", code, stderr.String())
	}
	if n := strings.Count(stdout.String(), `"plan":`); n != 3 {
		t.Fatalf("plan eval judged %d candidates, want 3: %s", n, stdout.String())
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a + "/"
}
