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

// TestValidateFirmsOfAnyProvince: a registry of firms in Guangdong and
// Beijing is accepted (by validate and by firms import's reader), and their
// reports validate.
func TestValidateFirmsOfAnyProvince(t *testing.T) {
	dir := t.TempDir()
	registry := dir + "/firms.csv"
	if err := os.WriteFile(registry, []byte("firm_id,name,region,industry,baseline_headcount\n"+
		"91440305MA5F00001J,深圳示例电子有限公司,440305,C,1200\n"+
		"91110105MA01A00025,北京示例软件有限公司,110105,I,300\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reports := `{"schema_version":1,"firm_id":"91440305MA5F00001J","period":"2025-05","headcount":1180,"vacancies":12}` + "\n" +
		`{"schema_version":1,"firm_id":"91110105MA01A00025","period":"2025-05","headcount":301,"vacancies":4}` + "\n" +
		`{"schema_version":1,"firm_id":"91441900MA4W000037","period":"2025-05","headcount":10,"vacancies":0}` + "\n"
	var stdout, stderr bytes.Buffer
	code := run([]string{"validate", "--now", "2025-06-15T12:00:00+08:00", "--firms", registry, "-"}, strings.NewReader(reports), &stdout, &stderr)
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if code != 1 || len(lines) != 3 || lines[0] != `{"line":1,"ok":true}` || lines[1] != `{"line":2,"ok":true}` ||
		!strings.Contains(lines[2], `"line":3,"ok":false`) { // a firm the registry does not have
		t.Fatalf("exit %d, output %q, stderr %q", code, stdout.String(), stderr.String())
	}

	list, err := readFirms(registry)
	if err != nil || len(list) != 2 || list[0].Prefecture() != "440300" || list[1].Prefecture() != "110100" {
		t.Fatalf("readFirms = %+v, %v", list, err)
	}
}
