package grafana

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Provinces as tenants of one deployment (docs/security.md, "Provinces as
// tenants"): each province gets a ClickHouse user of its own that reads only
// its province's rows, and a Grafana organization holding one folder of the
// dashboards on one data source signed in as that user.
//
//	provinces ─► users.d XML: grafana_<code>, readonly, row filter on every table
//	          ─► Grafana: per province an org (orgId), its data source, its folder
//	          ─► compose override: the users file, the passwords, the provisioning

// BaseClickHouseUID is the uid of the provisioned ClickHouse data source the
// dashboards refer to.
const BaseClickHouseUID = "layoffwatch-clickhouse"

// TenantOptions say what WriteTenants generates.
type TenantOptions struct {
	// Provinces are GB/T 2260 province codes (620000), each with its Grafana
	// org id after "=" (620000=2) or, without, the id after the previous
	// province's (FirstOrg for the first).
	Provinces []string
	FirstOrg  int
	Database  string // the ClickHouse database (layoffwatch)
	Profile   string // the ClickHouse settings profile of the users (readonly, deploy/compose/clickhouse-users.xml)
	Host      string // ClickHouse host and native port for the data sources
	Port      int
	// Dashboards is the directory of the dashboards (deploy/grafana/dashboards);
	// Provisioning the base provisioning (deploy/grafana/provisioning), copied
	// beside the tenants' files.
	Dashboards, Provisioning string
	// Mount is the path of the output directory as the compose file that
	// includes the override sees it (relative to the project directory).
	Mount string
}

// Tenant is one province's share of the deployment.
type Tenant struct {
	Province      string // 620000
	Prefix        string // 62: the first two digits of every code in the province
	Name          string // 甘肃省
	Org           int    // Grafana org id
	User          string // ClickHouse user grafana_620000
	DatasourceUID string // layoffwatch-clickhouse-620000
	Secret        string // clickhouse_grafana_620000_password, in /run/secrets
	PasswordEnv   string // LAYOFFWATCH_CLICKHOUSE_GRAFANA_620000_PASSWORD, what ClickHouse reads it from
}

// Tenants checks the options and returns the tenants they describe.
func Tenants(opts TenantOptions) ([]Tenant, error) {
	if len(opts.Provinces) == 0 {
		return nil, errors.New("no province given")
	}
	if opts.FirstOrg < 2 {
		return nil, fmt.Errorf("first org %d: the provinces need orgs of their own, 2 or above (org 1 is the operators' Main Org)", opts.FirstOrg)
	}
	if !identRe.MatchString(opts.Database) {
		return nil, fmt.Errorf("database %q: want letters, digits and _", opts.Database)
	}
	var out []Tenant
	seen := map[string]bool{}
	orgs := map[int]string{}
	org := opts.FirstOrg - 1
	for _, p := range opts.Provinces {
		code, orgText, hasOrg := strings.Cut(strings.TrimSpace(p), "=")
		org++
		if hasOrg {
			n, err := strconv.Atoi(orgText)
			if err != nil || n < 2 {
				return nil, fmt.Errorf("province %s: org %q: want a number, 2 or above (org 1 is the operators' Main Org)", code, orgText)
			}
			org = n
		}
		if other, dup := orgs[org]; dup {
			return nil, fmt.Errorf("provinces %s and %s are both in org %d", other, code, org)
		}
		orgs[org] = code
		r, ok := region.China().Lookup(code)
		if !ok || r.Level != region.Province {
			return nil, fmt.Errorf("province %q: not a GB/T 2260 province code (e.g. 620000)", code)
		}
		if seen[code] {
			return nil, fmt.Errorf("province %s is listed twice", code)
		}
		seen[code] = true
		out = append(out, Tenant{
			Province:      code,
			Prefix:        code[:2],
			Name:          r.Name,
			Org:           org,
			User:          "grafana_" + code,
			DatasourceUID: BaseClickHouseUID + "-" + code,
			Secret:        "clickhouse_grafana_" + code + "_password",
			PasswordEnv:   "LAYOFFWATCH_CLICKHOUSE_GRAFANA_" + code + "_PASSWORD",
		})
	}
	return out, nil
}

var (
	identRe       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	hostRe        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9.-]*$`)
	createTableRe = regexp.MustCompile(`(?i)^\s*CREATE\s+TABLE\s+IF\s+NOT\s+EXISTS\s+([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)`)
)

// Tables returns every table the migrations create in database db, on a
// single server and on a cluster (the Distributed twins), sorted. Views are
// left out: they read these tables, whose filters apply.
func Tables(db string) ([]string, error) {
	seen := map[string]bool{}
	for _, cluster := range []string{"", "layoffwatch"} {
		migs, err := chdb.Migrations(db, cluster)
		if err != nil {
			return nil, err
		}
		for _, m := range migs {
			for _, st := range m.Statements {
				// a statement may start with its comment lines
				for line := range strings.SplitSeq(st, "\n") {
					if m := createTableRe.FindStringSubmatch(line); m != nil && m[1] == db {
						seen[m[2]] = true
					}
				}
			}
		}
	}
	if len(seen) == 0 {
		return nil, errors.New("the migrations create no table")
	}
	seen["schema_migrations"] = true // created by chdb.Migrate itself
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}

// RowFilters returns the row filter of every table in db for the tenant:
// the tables the dashboards read keep the province's rows, every other table
// none ("0"). A region column holds a county, prefecture or province code,
// whose first two digits are the province's; reports and acks carry no
// region and follow their firm and their alert.
func (t Tenant) RowFilters(db string, tables []string) map[string]string {
	inProvince := fmt.Sprintf("substring(region, 1, 2) = '%s'", t.Prefix)
	// FINAL: a firm moved to another province is the new one's (as far as
	// the server applies the firms filter after FINAL; docs/security.md)
	firmsOf := fmt.Sprintf("firm_id IN (SELECT firm_id FROM %s.firms FINAL WHERE %s)", db, inProvince)
	alertsOf := fmt.Sprintf("alert_id IN (SELECT alert_id FROM %s.alerts WHERE %s)", db, inProvince)
	read := map[string]string{
		"firms":         inProvince,
		"reports":       firmsOf,
		"reports_all":   firmsOf,
		"alerts":        inProvince,
		"alerts_all":    inProvince,
		"notifications": inProvince,
		"acks":          alertsOf,
		"console_audit": inProvince,
	}
	out := map[string]string{}
	for _, table := range tables {
		f, ok := read[table]
		if !ok {
			f = "0"
		}
		out[table] = f
	}
	return out
}

// UsersXML renders the ClickHouse users file (users.d) of the tenants: per
// province a user with the read-only profile, the database only, a password
// from the environment, and a row filter on every table of the database.
// ClickHouse 19.x and later (production: 25.8) turn the filters into row
// policies; 18.16 ignores them (docs/security.md).
func UsersXML(tenants []Tenant, db, profile string, tables []string) ([]byte, error) {
	if !identRe.MatchString(profile) {
		return nil, fmt.Errorf("profile %q: want letters, digits and _", profile)
	}
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>
<!--
  Generated by layoffwatch grafana-tenants: do not edit, generate again.
  One read-only ClickHouse user per province, for that province's Grafana
  data source. Each reads only the database below, with the profile named
  (readonly = 1: no INSERT, ALTER, DROP, CREATE, SET or table function), and
  through a row filter on every table of the database: its province's rows
  of the tables the dashboards read, no row of any other table. The password
  comes from the environment, which the clickhouse service's entrypoint
  fills from the secret named beside each user.
-->
<clickhouse>
  <users>
`)
	for _, t := range tenants {
		fmt.Fprintf(&b, "    <!-- %s %s; password: secret %s -->\n", t.Province, xmlText(t.Name), t.Secret)
		fmt.Fprintf(&b, "    <%s>\n", t.User)
		fmt.Fprintf(&b, "      <password from_env=\"%s\"/>\n", t.PasswordEnv)
		fmt.Fprintf(&b, "      <profile>%s</profile>\n", profile)
		b.WriteString("      <quota>default</quota>\n      <networks><ip>::/0</ip></networks>\n")
		fmt.Fprintf(&b, "      <allow_databases><database>%s</database></allow_databases>\n", db)
		b.WriteString("      <access_management>0</access_management>\n")
		fmt.Fprintf(&b, "      <databases>\n        <%s>\n", db)
		filters := t.RowFilters(db, tables)
		for _, table := range tables {
			fmt.Fprintf(&b, "          <%s><filter>%s</filter></%s>\n", table, xmlText(filters[table]), table)
		}
		fmt.Fprintf(&b, "        </%s>\n      </databases>\n", db)
		fmt.Fprintf(&b, "    </%s>\n", t.User)
	}
	b.WriteString("  </users>\n</clickhouse>\n")
	if err := xml.Unmarshal(b.Bytes(), new(struct{})); err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	return b.Bytes(), nil
}

// xmlText escapes what XML text cannot hold (quotes can stay, for the
// filters to read as SQL).
var xmlText = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// The province the dashboards were written for: the region dashboard's
// first option is the whole province, and the wall's description names it.
const (
	baseProvince     = "620000"
	baseProvinceName = "甘肃省"
)

// TenantDashboard returns the dashboard JSON for one province's folder: the
// ClickHouse data source references point at the province's data source,
// and the whole-province option of the region dashboard (its default) and
// the province's name in descriptions are the tenant's. The names of
// prefectures and counties in the queries stay Gansu's: another province's
// show as their codes. ok is false for a dashboard that reads another data
// source (the pipeline dashboard's Prometheus): the operators' only, never
// a province's.
func TenantDashboard(raw []byte, t Tenant) (out []byte, ok bool, err error) {
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, false, err
	}
	wholeProvince := strings.NewReplacer(
		"'"+baseProvince+"' AS code, '"+baseProvinceName+"（全省）' AS name", "'"+t.Province+"' AS code, '"+t.Name+"（全省）' AS name")
	foreign := false
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if typ, _ := v["type"].(string); typ != "" {
				if uid, has := v["uid"].(string); has {
					switch {
					case typ == ClickHouseType && uid == BaseClickHouseUID:
						v["uid"] = t.DatasourceUID
					case typ == ClickHouseType || typ == PrometheusType:
						foreign = true
					}
				}
			}
			// a variable's selected value: the whole province
			if text, _ := v["text"].(string); text == baseProvinceName+"（全省）" && v["value"] == baseProvince {
				v["text"], v["value"] = t.Name+"（全省）", t.Province
			}
			for k, c := range v {
				switch c := c.(type) {
				case string:
					c = wholeProvince.Replace(c)
					if k == "description" {
						c = strings.ReplaceAll(c, baseProvinceName, t.Name)
					}
					v[k] = c
				default:
					walk(c)
				}
			}
		case []any:
			for _, c := range v {
				walk(c)
			}
		}
	}
	walk(doc)
	if foreign {
		return nil, false, nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // the SQL's <= stays readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, false, err
	}
	return b.Bytes(), true, nil
}

// WriteTenants writes everything the tenants need into dir:
//
//	clickhouse/users.d/layoffwatch-grafana-tenants.xml    the users and their row filters
//	clickhouse/entrypoint.d/layoffwatch-grafana-tenants.sh exports each password from its secret
//	grafana/provisioning/…                                 the base provisioning, plus per province
//	                                                       its data source and its folder (in its org)
//	grafana/dashboards/<province>/*.json                   the dashboards on the province's data source
//	docker-compose.tenants.yml                             the override that wires it all
func WriteTenants(dir string, opts TenantOptions) ([]Tenant, error) {
	tenants, err := Tenants(opts)
	if err != nil {
		return nil, err
	}
	if !hostRe.MatchString(opts.Host) {
		return nil, fmt.Errorf("host %q is not a host name", opts.Host)
	}
	if opts.Port <= 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("port %d", opts.Port)
	}
	tables, err := Tables(opts.Database)
	if err != nil {
		return nil, err
	}
	users, err := UsersXML(tenants, opts.Database, opts.Profile, tables)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"clickhouse/users.d/layoffwatch-grafana-tenants.xml":     users,
		"clickhouse/entrypoint.d/layoffwatch-grafana-tenants.sh": entrypointScript(tenants),
		"grafana/provisioning/datasources/tenants.yaml":          datasourcesYAML(tenants, opts),
		"grafana/provisioning/dashboards/tenants.yaml":           providersYAML(tenants),
		"docker-compose.tenants.yml":                             composeOverride(tenants, opts),
	}
	// the base provisioning, since the override mounts this directory in
	// its place
	for _, sub := range []string{"datasources", "dashboards"} {
		entries, err := os.ReadDir(filepath.Join(opts.Provisioning, sub))
		if err != nil {
			return nil, fmt.Errorf("base provisioning: %w", err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
				continue
			}
			b, err := os.ReadFile(filepath.Join(opts.Provisioning, sub, e.Name()))
			if err != nil {
				return nil, fmt.Errorf("base provisioning: %w", err)
			}
			if e.Name() == "tenants.yaml" {
				return nil, fmt.Errorf("base provisioning %s: tenants.yaml is the generated file's name", sub)
			}
			files["grafana/provisioning/"+sub+"/"+e.Name()] = b
		}
	}
	dashFiles, err := filepath.Glob(filepath.Join(opts.Dashboards, "*.json"))
	if err != nil || len(dashFiles) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", opts.Dashboards)
	}
	for _, t := range tenants {
		n := 0
		for _, f := range dashFiles {
			raw, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			out, ok, err := TenantDashboard(raw, t)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if ok {
				files["grafana/dashboards/"+t.Province+"/"+filepath.Base(f)] = out
				n++
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("no dashboard in %s reads ClickHouse only", opts.Dashboards)
		}
	}
	for name, b := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(path, b, mode); err != nil { //nolint:gosec // configuration, no secret: read by the containers' users
			return nil, err
		}
	}
	return tenants, nil
}

// entrypointScript is sourced by the clickhouse service's entrypoint (as
// root, before the server starts): it exports each province's password
// from its secret and stops the start when one is missing or empty, since
// ClickHouse would take an empty password and open the user.
func entrypointScript(tenants []Tenant) []byte {
	var b bytes.Buffer
	b.WriteString("# Generated by layoffwatch grafana-tenants; sourced by the clickhouse service's entrypoint.\n")
	for _, t := range tenants {
		fmt.Fprintf(&b, "%s=\"$(cat /run/secrets/%s 2>/dev/null || true)\"\n", t.PasswordEnv, t.Secret)
		fmt.Fprintf(&b, "[ -n \"$%s\" ] || { echo \"secret %s is missing or empty\" >&2; exit 1; }\n", t.PasswordEnv, t.Secret)
		fmt.Fprintf(&b, "export %s\n", t.PasswordEnv)
	}
	return b.Bytes()
}

// datasourcesYAML: per province, in its org, the ClickHouse data source as
// its user. Prometheus is not provisioned in the provinces' orgs: the
// pipeline's metrics are the operators'.
func datasourcesYAML(tenants []Tenant, opts TenantOptions) []byte {
	var b bytes.Buffer
	b.WriteString(`# Generated by layoffwatch grafana-tenants: do not edit, generate again.
# Per province, in the Grafana org of its own, a ClickHouse data source that
# signs in as the province's read-only user (row filters: its province only).
# The orgs must exist before Grafana loads this file (docs/operations.md).
apiVersion: 1

datasources:
`)
	for _, t := range tenants {
		fmt.Fprintf(&b, `  - name: layoffwatch ClickHouse %[1]s
    uid: %[2]s
    orgId: %[3]d
    type: %[4]s
    access: proxy
    isDefault: true
    editable: false
    jsonData:
      host: %[5]s
      port: %[6]d
      protocol: native
      secure: false
      username: %[7]s
      defaultDatabase: %[8]s
      dialTimeout: "10"
      queryTimeout: "60"
    secureJsonData:
      password: $__file{/run/secrets/%[9]s}

`, t.Province, t.DatasourceUID, t.Org, ClickHouseType, opts.Host, opts.Port, t.User, opts.Database, t.Secret)
	}
	return b.Bytes()
}

// providersYAML: per province, in its org, the folder of its dashboards.
func providersYAML(tenants []Tenant) []byte {
	var b bytes.Buffer
	b.WriteString(`# Generated by layoffwatch grafana-tenants: do not edit, generate again.
# Per province, in its org, a folder holding the dashboards on the province's
# data source (grafana/dashboards/<province>, mounted below).
apiVersion: 1

providers:
`)
	for _, t := range tenants {
		fmt.Fprintf(&b, `  - name: layoffwatch-%[1]s
    orgId: %[2]d
    folder: "%[3]s %[1]s"
    folderUid: layoffwatch-%[1]s
    type: file
    disableDeletion: true
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: %[4]s/%[1]s
      foldersFromFilesStructure: false

`, t.Province, t.Org, t.Name, TenantDashboardsPath)
	}
	return b.Bytes()
}

// TenantDashboardsPath is where the grafana service sees the provinces'
// dashboards.
const TenantDashboardsPath = "/var/lib/grafana/dashboards/tenants"

// composeOverride: the second compose file (docker-compose -f
// docker-compose.yml -f <out>/docker-compose.tenants.yml).
func composeOverride(tenants []Tenant, opts TenantOptions) []byte {
	m := strings.TrimSuffix(opts.Mount, "/")
	if !strings.HasPrefix(m, "/") && !strings.HasPrefix(m, ".") {
		m = "./" + m // a host path, whatever compose's reading of a bare name
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Generated by layoffwatch grafana-tenants: do not edit, generate again.
# Provinces as tenants (docs/operations.md): use as a second compose file,
#   docker-compose -f docker-compose.yml -f %[1]s/docker-compose.tenants.yml up -d
# It generates each province's ClickHouse password into the secrets volume,
# gives ClickHouse the provinces' users, and Grafana their data sources and
# folders (in the orgs the operator created first).
services:
  secrets-init-tenants:
    image: layoffwatch:dev
    restart: "no"
    user: "0:0"
    command:
      - secrets
      - init
      - --secrets-dir=/run/secrets
`, m)
	for _, t := range tenants {
		fmt.Fprintf(&b, "      - %s:472\n", t.Secret)
	}
	fmt.Fprintf(&b, `    volumes: ["secrets:/run/secrets"]
    healthcheck: {disable: true}
    logging: {driver: json-file, options: {max-size: "10m", max-file: "5"}}
    mem_limit: 64m
    depends_on:
      secrets-init: {condition: service_completed_successfully}

  clickhouse:
    volumes:
      - %[1]s/clickhouse/users.d/layoffwatch-grafana-tenants.xml:/etc/clickhouse-server/users.d/layoffwatch-grafana-tenants.xml:ro
      - %[1]s/clickhouse/entrypoint.d:/etc/layoffwatch/clickhouse-entrypoint.d:ro
    depends_on:
      secrets-init-tenants: {condition: service_completed_successfully}

  grafana:
    environment:
      # a user Grafana creates (sign-in through LDAP or OAuth) gets an empty
      # org of their own, never the Main Org, whose data source reads every
      # province; the operator adds them to their province's org
      GF_USERS_AUTO_ASSIGN_ORG: "false"
    volumes:
      - %[1]s/grafana/provisioning:/etc/grafana/provisioning:ro
      - %[1]s/grafana/dashboards:%[2]s:ro
    depends_on:
      secrets-init-tenants: {condition: service_completed_successfully}
`, m, TenantDashboardsPath)
	return b.Bytes()
}
