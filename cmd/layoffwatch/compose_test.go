package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestComposeCommandsParse reads docker-compose.yml and parses every
// layoffwatch service's command and LAYOFFWATCH_* environment with the real
// CLI, so the compose file cannot drift from the flags.
func TestComposeCommandsParse(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	// the secrets volume, as secrets-init fills it: options read their
	// secret files when they are checked
	secrets := t.TempDir()
	n := 0
	for name, svc := range file.Services {
		if !strings.HasPrefix(svc.Image, "layoffwatch") {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			for k, v := range svc.Environment {
				if strings.HasPrefix(k, "LAYOFFWATCH_") {
					if f, ok := strings.CutPrefix(v, "/run/secrets/"); ok {
						v = filepath.Join(secrets, f)
						if err := os.WriteFile(v, []byte("a-generated-secret-0123456789"), 0o600); err != nil {
							t.Fatal(err)
						}
					}
					t.Setenv(k, v)
				}
			}
			var c cli
			parser, err := newParser(&c, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parser.Parse(svc.Command); err != nil {
				t.Fatalf("command %q with its environment: %v", svc.Command, err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no layoffwatch services found")
	}
}

// TestComposeConfig validates the file with docker-compose itself.
func TestComposeConfig(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal("docker-compose not installed: `make deps` installs Debian's package")
	}
	cmd := exec.Command(bin, "config", "-q")
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
}

// TestComposeHealthChecksAskReadiness: every long-running layoffwatch
// service checks /readyz (its dependencies), not /healthz (only that the
// process runs), on the address its command serves it on.
func TestComposeHealthChecksAskReadiness(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]struct {
			Image       string   `yaml:"image"`
			Command     []string `yaml:"command"`
			Restart     string   `yaml:"restart"`
			Healthcheck struct {
				Test    []string `yaml:"test"`
				Disable bool     `yaml:"disable"`
			} `yaml:"healthcheck"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, svc := range file.Services {
		if !strings.HasPrefix(svc.Image, "layoffwatch") || svc.Healthcheck.Disable {
			continue
		}
		n++
		port := ""
		for _, arg := range svc.Command {
			for _, flag := range []string{"--metrics-addr=", "--http-addr="} {
				if v, ok := strings.CutPrefix(arg, flag); ok {
					port = v[strings.LastIndex(v, ":")+1:]
				}
			}
		}
		want := []string{"CMD", "/layoffwatch", "healthcheck", "http://127.0.0.1:" + port + "/readyz"}
		if port == "" || strings.Join(svc.Healthcheck.Test, " ") != strings.Join(want, " ") {
			t.Errorf("%s: health check %q, want %q", name, svc.Healthcheck.Test, want)
		}
	}
	if n != 5 {
		t.Errorf("%d layoffwatch services with a health check, want 5 (gateway, ingest, detect, alert, console)", n)
	}
}
