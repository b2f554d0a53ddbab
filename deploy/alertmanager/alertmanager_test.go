// Package alertmanager_test checks the Alertmanager configuration of the
// compose stack with amtool, and holds it to the rules it receives: every
// severity a rule sets is routed, and the inhibition names a real alert.
package alertmanager_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestAmtoolCheckConfig: Alertmanager's own parser takes the file.
func TestAmtoolCheckConfig(t *testing.T) {
	bin, err := exec.LookPath("amtool")
	if err != nil {
		t.Fatal("amtool not installed: `make deps` installs Debian's prometheus-alertmanager package, which has it")
	}
	out, err := exec.Command(bin, "check-config", "alertmanager.yml").CombinedOutput()
	if err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Fatalf("amtool check-config said:\n%s", out)
	}
}

// TestRoutesMatchTheRules: the rules' severities and the alert the
// inhibition names exist in deploy/prometheus/rules, and Prometheus sends
// to this Alertmanager.
func TestRoutesMatchTheRules(t *testing.T) {
	raw, err := os.ReadFile("../prometheus/rules/layoffwatch.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert  string            `yaml:"alert"`
				Labels map[string]string `yaml:"labels"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	alerts, severities := map[string]bool{}, map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			severities[r.Labels["severity"]] = true
		}
	}
	am, err := os.ReadFile("alertmanager.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !alerts["LayoffwatchComponentDown"] || !strings.Contains(string(am), `alertname="LayoffwatchComponentDown"`) {
		t.Error("the inhibition names an alert the rules do not define")
	}
	for s := range severities {
		if s != "critical" && s != "warning" {
			t.Errorf("a rule has severity %q, which the routes do not know", s)
		}
	}
	prom, err := os.ReadFile("../prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var pc struct {
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	if err := yaml.Unmarshal(prom, &pc); err != nil {
		t.Fatal(err)
	}
	if len(pc.Alerting.Alertmanagers) != 1 || len(pc.Alerting.Alertmanagers[0].StaticConfigs) != 1 ||
		strings.Join(pc.Alerting.Alertmanagers[0].StaticConfigs[0].Targets, ",") != "alertmanager:9093" {
		t.Errorf("prometheus.yml does not send to alertmanager:9093: %+v", pc.Alerting)
	}
}
