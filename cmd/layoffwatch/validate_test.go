package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestValidateGolden runs the command on the golden folder shared with
// internal/report: the exact verdict per line and exit status 1.
func TestValidateGolden(t *testing.T) {
	dir := "../../internal/report/testdata/validate/"
	want, err := os.ReadFile(dir + "expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", "--now", "2025-06-15T12:00:00+08:00", "--firms", dir + "firms.csv", dir + "reports.jsonl"}, nil, &stdout, &stderr)
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr: %s", code, stderr.String())
	}
	got, wantLines := strings.Split(stdout.String(), "\n"), strings.Split(string(want), "\n")
	if len(got) != len(wantLines) {
		t.Fatalf("%d output lines, want %d", len(got), len(wantLines))
	}
	for i := range got {
		if got[i] != wantLines[i] {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], wantLines[i])
		}
	}
}

func TestValidateAllOKExitsZero(t *testing.T) {
	dir := "../../internal/report/testdata/validate/"
	lines, err := os.ReadFile(dir + "reports.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	first := strings.SplitN(string(lines), "\n", 2)[0] // line 1 of the golden case is valid
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", "--now", "2025-06-15T12:00:00+08:00", "--firms", dir + "firms.csv", "-"}, strings.NewReader(first+"\r\n"+first), &stdout, &stderr)
	if code != 0 || stdout.String() != "{\"line\":1,\"ok\":true}\n{\"line\":2,\"ok\":true}\n" {
		t.Fatalf("exit %d, output %q, stderr %q", code, stdout.String(), stderr.String())
	}
}

func TestValidateBadRegistryIsAnError(t *testing.T) {
	f := t.TempDir() + "/firms.csv"
	if err := os.WriteFile(f, []byte("firm_id,name\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", "--firms", f, "-"}, strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "region") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
