// Package prometheus_test checks the Prometheus configuration in this
// directory with promtool (config syntax, rule syntax, the rule unit tests in
// tests/) and holds the rules to the code: every metric a rule reads must be
// one a component registers, and every alert must be tested both firing and
// not firing.
package prometheus_test

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// promtool returns the path of promtool, failing the test when it is missing.
func promtool(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not installed: `make deps` installs Debian's prometheus package, which has it")
	}
	return bin
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPromtoolCheckConfig checks prometheus.yml and, through its rule_files,
// the rules.
func TestPromtoolCheckConfig(t *testing.T) {
	runPromtool(t, "check", "config", "prometheus.yml")
}

// TestPromtoolTestRules runs the rule unit tests.
func TestPromtoolTestRules(t *testing.T) {
	files, err := filepath.Glob("tests/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no rule tests in tests/*.yml")
	}
	runPromtool(t, append([]string{"test", "rules"}, files...)...)
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func readRules(t *testing.T) ruleFile {
	t.Helper()
	raw, err := os.ReadFile("rules/layoffwatch.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatalf("rules/layoffwatch.yml: %v", err)
	}
	return rf
}

// TestRulesAreRunbooks: every alert says how bad it is, which component it is
// about, and what to do.
func TestRulesAreRunbooks(t *testing.T) {
	n := 0
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("%s: severity label %q, want critical or warning", r.Alert, s)
			}
			if r.Labels["component"] == "" {
				t.Errorf("%s: no component label", r.Alert)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, a)
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no alert rules found")
	}
}

// TestRulesReadRegisteredMetrics fails when a rule reads a layoffwatch metric
// that no component registers (a renamed metric would silently never alert).
func TestRulesReadRegisteredMetrics(t *testing.T) {
	registered := map[string]bool{}
	decl := regexp.MustCompile(`Name:\s*"(layoffwatch_[a-z0-9_]+)"`)
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "../.." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			registered[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(registered) == 0 {
		t.Fatal("found no registered layoffwatch_ metrics in the source tree")
	}
	used := regexp.MustCompile(`layoffwatch_[a-z0-9_]+`)
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			for _, m := range used.FindAllString(r.Expr, -1) {
				base := m
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(m, suffix); ok && registered[b] {
						base = b
					}
				}
				if !registered[base] {
					t.Errorf("%s reads %s, which no component registers", r.Alert, m)
				}
			}
		}
	}
}

// TestRulesTestedBothWays: each alert has a test case where it fires and
// one where it must not.
func TestRulesTestedBothWays(t *testing.T) {
	files, err := filepath.Glob("tests/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(raw, &tf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range tf.Tests {
			for _, at := range tc.AlertRuleTest {
				if len(at.ExpAlerts) > 0 {
					fires[at.Alertname] = true
				} else {
					quiet[at.Alertname] = true
				}
			}
		}
	}
	var alerts []string
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	slices.Sort(alerts)
	for _, a := range alerts {
		if !fires[a] {
			t.Errorf("%s: no test where it fires", a)
		}
		if !quiet[a] {
			t.Errorf("%s: no test where it must not fire", a)
		}
	}
}
