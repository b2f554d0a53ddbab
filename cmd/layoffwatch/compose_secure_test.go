package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is what the hardening tests read of docker-compose.yml.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		User        string            `yaml:"user"`
		MemLimit    string            `yaml:"mem_limit"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Secrets     []string          `yaml:"secrets"`
		Command     []string          `yaml:"command"`
		Logging     struct {
			Driver  string            `yaml:"driver"`
			Options map[string]string `yaml:"options"`
		} `yaml:"logging"`
	} `yaml:"services"`
	Secrets map[string]any `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestComposeHardening: every service runs a digest-pinned image (but the
// one built here), has a memory limit and rotated logs; no secret comes
// from a file of the repository, and none is committed.
func TestComposeHardening(t *testing.T) {
	f := readCompose(t)
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$`)
	for name, svc := range f.Services {
		if svc.Image != "layoffwatch:dev" && !pinned.MatchString(svc.Image) {
			t.Errorf("%s: image %q is not pinned by digest (name:tag@sha256:…)", name, svc.Image)
		}
		if svc.MemLimit == "" {
			t.Errorf("%s: no mem_limit", name)
		}
		if svc.Logging.Driver != "json-file" || svc.Logging.Options["max-size"] == "" || svc.Logging.Options["max-file"] == "" {
			t.Errorf("%s: logs not rotated: %+v", name, svc.Logging)
		}
		if len(svc.Secrets) > 0 {
			t.Errorf("%s: file secrets %v: secrets come from the secrets volume", name, svc.Secrets)
		}
		for k, v := range svc.Environment {
			if strings.Contains(strings.ToUpper(k), "PASSWORD") && !strings.HasSuffix(k, "_FILE") {
				t.Errorf("%s: %s=%q: a password in the compose file", name, k, v)
			}
		}
		// a service that names a secret must mount the volume (a service's
		// own volumes: replace those of x-layoffwatch)
		for k, v := range svc.Environment {
			if strings.HasPrefix(v, "/run/secrets/") && !slices.Contains(svc.Volumes, "secrets:/run/secrets:ro") {
				t.Errorf("%s: %s=%s but the secrets volume is not mounted read-only at /run/secrets", name, k, v)
			}
		}
	}
	if len(f.Secrets) > 0 {
		t.Errorf("top-level secrets %v: none may come from a file of the repository", f.Secrets)
	}
	if _, ok := f.Volumes["secrets"]; !ok {
		t.Error("no secrets volume")
	}
	init, ok := f.Services["secrets-init"]
	if !ok || init.User != "0:0" || len(init.Command) < 3 || init.Command[0] != "secrets" {
		t.Fatalf("secrets-init: %+v", init)
	}
	// every secret a service reads is one secrets-init makes
	made := map[string]bool{}
	for _, arg := range init.Command[3:] {
		name, _, _ := strings.Cut(arg, ":")
		made[name] = true
	}
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := os.ReadFile("../../deploy/grafana/provisioning/datasources/datasources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`/run/secrets/([a-z_]+)`).FindAllStringSubmatch(string(raw)+string(ds), -1) {
		if !made[m[1]] {
			t.Errorf("/run/secrets/%s is read but secrets-init does not make it", m[1])
		}
	}
	// nothing that looks like a secret is committed under deploy/compose
	files, err := filepath.Glob("../../deploy/compose/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		base := strings.ToLower(filepath.Base(p))
		if strings.Contains(base, "password") || strings.Contains(base, "secret") || strings.HasSuffix(base, ".txt") || strings.HasSuffix(base, ".key") {
			t.Errorf("%s looks like a committed secret", p)
		}
	}
	grafana := f.Services["grafana"]
	if grafana.Environment["GF_PLUGINS_PREINSTALL_SYNC"] != "grafana-clickhouse-datasource@4.11.2" || grafana.Environment["GF_INSTALL_PLUGINS"] != "" {
		t.Errorf("grafana installs its plugin with %v, want GF_PLUGINS_PREINSTALL_SYNC=grafana-clickhouse-datasource@4.11.2", grafana.Environment)
	}
}

// TestGrafanaReadsReadOnly: the Grafana data source signs in as a user
// that the ClickHouse users file defines with a readonly = 1 profile,
// limited to the layoffwatch database, with a password from a secret.
func TestGrafanaReadsReadOnly(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/provisioning/datasources/datasources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ds struct {
		Datasources []struct {
			Type           string         `yaml:"type"`
			JSONData       map[string]any `yaml:"jsonData"`
			SecureJSONData map[string]any `yaml:"secureJsonData"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(raw, &ds); err != nil {
		t.Fatal(err)
	}
	user, password := "", ""
	for _, d := range ds.Datasources {
		if d.Type == "grafana-clickhouse-datasource" {
			user, _ = d.JSONData["username"].(string)
			password, _ = d.SecureJSONData["password"].(string)
		}
	}
	if user == "" || user == "layoffwatch" || user == "default" {
		t.Fatalf("the ClickHouse data source signs in as %q, not a read-only user of its own", user)
	}
	if !strings.HasPrefix(password, "$__file{/run/secrets/") {
		t.Errorf("the data source's password %q is not read from a secret", password)
	}

	raw, err = os.ReadFile("../../deploy/compose/clickhouse-users.xml")
	if err != nil {
		t.Fatal(err)
	}
	type node struct {
		XMLName xml.Name
		Attrs   []xml.Attr `xml:",any,attr"`
		Text    string     `xml:",chardata"`
		Nodes   []node     `xml:",any"`
	}
	var root node
	if err := xml.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	child := func(n *node, name string) *node {
		if n == nil {
			return nil
		}
		for i := range n.Nodes {
			if n.Nodes[i].XMLName.Local == name {
				return &n.Nodes[i]
			}
		}
		return nil
	}
	u := child(child(&root, "users"), user)
	if u == nil {
		t.Fatalf("clickhouse-users.xml does not define user %s", user)
	}
	profile := child(u, "profile")
	if profile == nil {
		t.Fatalf("user %s has no profile", user)
	}
	p := child(child(&root, "profiles"), strings.TrimSpace(profile.Text))
	if p == nil {
		t.Fatalf("profile %s is not defined", profile.Text)
	}
	if ro := child(p, "readonly"); ro == nil || strings.TrimSpace(ro.Text) != "1" {
		t.Fatalf("profile %s is not readonly = 1", profile.Text)
	}
	if db := child(child(u, "allow_databases"), "database"); db == nil || strings.TrimSpace(db.Text) != "layoffwatch" {
		t.Errorf("user %s is not limited to the layoffwatch database", user)
	}
	pw := child(u, "password")
	if pw == nil || strings.TrimSpace(pw.Text) != "" || len(pw.Attrs) != 1 || pw.Attrs[0].Name.Local != "from_env" {
		t.Errorf("user %s's password is not taken from the environment (from_env)", user)
	}
}
