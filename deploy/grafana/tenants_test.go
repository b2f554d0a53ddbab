package grafana_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"gopkg.in/yaml.v3"

	"github.com/layoffwatch/layoffwatch/deploy/grafana"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func tenantOptions(db string) grafana.TenantOptions {
	return grafana.TenantOptions{
		Provinces: []string{"620000", "420000"}, FirstOrg: 2, Database: db, Profile: "readonly",
		Host: "clickhouse", Port: 9000, Dashboards: "dashboards", Provisioning: "provisioning", Mount: "deploy/tenants",
	}
}

// usersFile is the part of a ClickHouse users file the tests read.
type usersFile struct {
	Users struct {
		List []chUser `xml:",any"`
	} `xml:"users"`
}

type chUser struct {
	XMLName  xml.Name
	Password struct {
		FromEnv string `xml:"from_env,attr"`
		Text    string `xml:",chardata"`
	} `xml:"password"`
	Profile   string   `xml:"profile"`
	Databases []string `xml:"allow_databases>database"`
	Filters   struct {
		List []struct {
			XMLName xml.Name
			Tables  []struct {
				XMLName xml.Name
				Filter  string `xml:"filter"`
			} `xml:",any"`
		} `xml:",any"`
	} `xml:"databases"`
}

func readUsers(t *testing.T, path string) usersFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var u usersFile
	if err := xml.Unmarshal(b, &u); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return u
}

// TestTenantsFiles checks the generated files without a server: each
// province's folder holds the dashboards on its own data source only, in
// its own org, signed in as its own user, whose password comes from its
// secret; the users file filters every table the migrations create.
func TestTenantsFiles(t *testing.T) {
	dir := t.TempDir()
	opts := tenantOptions("layoffwatch")
	tenants, err := grafana.WriteTenants(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(tenants) != 2 || tenants[0].Org == tenants[1].Org || tenants[0].DatasourceUID == tenants[1].DatasourceUID {
		t.Fatalf("tenants %+v", tenants)
	}

	// data sources: one per province, in its org, as its user
	b, err := os.ReadFile(filepath.Join(dir, "grafana/provisioning/datasources/tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var dsf struct {
		Datasources []struct {
			provisionedDS `yaml:",inline"`
			OrgID         int `yaml:"orgId"`
		} `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &dsf); err != nil {
		t.Fatal(err)
	}
	if len(dsf.Datasources) != len(tenants) {
		t.Fatalf("%d data sources for %d provinces", len(dsf.Datasources), len(tenants))
	}
	for i, ten := range tenants {
		ds := dsf.Datasources[i]
		if ds.UID != ten.DatasourceUID || ds.OrgID != ten.Org || ds.Type != clickHouseType {
			t.Errorf("%s: data source %s in org %d (%s), want %s in org %d", ten.Province, ds.UID, ds.OrgID, ds.Type, ten.DatasourceUID, ten.Org)
		}
		if ds.JSONData["username"] != ten.User || ds.JSONData["defaultDatabase"] != "layoffwatch" || ds.JSONData["protocol"] != "native" {
			t.Errorf("%s: jsonData %v", ten.Province, ds.JSONData)
		}
		if pw := ds.SecureJSONData["password"]; pw != "$__file{/run/secrets/"+ten.Secret+"}" {
			t.Errorf("%s: password %v, want the secret %s", ten.Province, pw, ten.Secret)
		}
	}

	// folders: one per province, in the same org as its data source
	b, err = os.ReadFile(filepath.Join(dir, "grafana/provisioning/dashboards/tenants.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pf struct {
		Providers []struct {
			OrgID     int    `yaml:"orgId"`
			Folder    string `yaml:"folder"`
			FolderUID string `yaml:"folderUid"`
			Type      string `yaml:"type"`
			Options   struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &pf); err != nil {
		t.Fatal(err)
	}
	if len(pf.Providers) != len(tenants) {
		t.Fatalf("%d folders for %d provinces", len(pf.Providers), len(tenants))
	}
	for i, ten := range tenants {
		p := pf.Providers[i]
		if p.OrgID != ten.Org || p.Type != "file" || p.Options.Path != grafana.TenantDashboardsPath+"/"+ten.Province ||
			!strings.Contains(p.Folder, ten.Name) || p.FolderUID != "layoffwatch-"+ten.Province {
			t.Errorf("%s: folder %+v", ten.Province, p)
		}
	}

	// the base provisioning is copied as it is (the override mounts the
	// generated directory in its place)
	for _, f := range []string{"datasources/datasources.yaml", "dashboards/dashboards.yaml"} {
		want, _ := os.ReadFile(filepath.Join("provisioning", f))
		got, err := os.ReadFile(filepath.Join(dir, "grafana/provisioning", f))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s is not the base file (%v)", f, err)
		}
	}

	// each folder: every ClickHouse dashboard, with the uids the emails
	// link to, on the province's data source only
	base := loadDashboards(t)
	for _, ten := range tenants {
		dashes, err := grafana.LoadDashboards(filepath.Join(dir, "grafana/dashboards", ten.Province))
		if err != nil {
			t.Fatal(err)
		}
		var got, want []string
		for _, d := range dashes {
			got = append(got, d.UID)
		}
		for _, d := range base {
			if refs := datasourceRefs(d); !slices.ContainsFunc(refs, func(r grafana.DSRef) bool { return r.Type == prometheusType }) {
				want = append(want, d.UID)
			}
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || slices.Contains(got, "layoffwatch-pipeline") {
			t.Errorf("%s: dashboards %v, want %v (every one reading ClickHouse only)", ten.Province, got, want)
		}
		region := byUID(dashes, "layoffwatch-region")
		if region == nil || len(region.Templating.List) == 0 {
			t.Fatalf("%s: no region dashboard", ten.Province)
		}
		if q, _ := region.Templating.List[0].QueryText(); !strings.Contains(q, "'"+ten.Province+"' AS code, '"+ten.Name+"（全省）' AS name") ||
			ten.Province != "620000" && strings.Contains(q, "'620000' AS code") {
			t.Errorf("%s: the region dashboard's whole-province option is not the province's:\n%.200s", ten.Province, q)
		}
		for _, d := range dashes {
			refs := datasourceRefs(d)
			if len(refs) == 0 {
				t.Errorf("%s / %s: no data source reference", ten.Province, d.Title)
			}
			for _, r := range refs {
				if r != (grafana.DSRef{Type: clickHouseType, UID: ten.DatasourceUID}) {
					t.Errorf("%s / %s: uses data source %+v, want only %s", ten.Province, d.Title, r, ten.DatasourceUID)
				}
			}
		}
	}

	// users: per province, read-only, the database only, a password from the
	// environment the entrypoint script fills from the province's secret,
	// and a filter on every table
	tables, err := grafana.Tables("layoffwatch")
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join(dir, "clickhouse/entrypoint.d/layoffwatch-grafana-tenants.sh"))
	if err != nil {
		t.Fatal(err)
	}
	users := readUsers(t, filepath.Join(dir, "clickhouse/users.d/layoffwatch-grafana-tenants.xml"))
	if len(users.Users.List) != len(tenants) {
		t.Fatalf("%d users for %d provinces", len(users.Users.List), len(tenants))
	}
	for i, ten := range tenants {
		u := users.Users.List[i]
		if u.XMLName.Local != ten.User || u.Profile != "readonly" || !slices.Equal(u.Databases, []string{"layoffwatch"}) {
			t.Errorf("%s: user %s, profile %s, databases %v", ten.Province, u.XMLName.Local, u.Profile, u.Databases)
		}
		if u.Password.FromEnv != ten.PasswordEnv || strings.TrimSpace(u.Password.Text) != "" {
			t.Errorf("%s: the password must come from %s only", ten.Province, ten.PasswordEnv)
		}
		if !strings.Contains(string(script), ten.PasswordEnv+`="$(cat /run/secrets/`+ten.Secret+` 2>/dev/null || true)"`) ||
			!strings.Contains(string(script), `[ -n "$`+ten.PasswordEnv+`" ] || {`) {
			t.Errorf("%s: the entrypoint script does not fill %s from %s, or accepts it empty", ten.Province, ten.PasswordEnv, ten.Secret)
		}
		if len(u.Filters.List) != 1 || u.Filters.List[0].XMLName.Local != "layoffwatch" {
			t.Fatalf("%s: want filters on database layoffwatch only", ten.Province)
		}
		var filtered []string
		for _, f := range u.Filters.List[0].Tables {
			filtered = append(filtered, f.XMLName.Local)
			if f.Filter == "" {
				t.Errorf("%s: table %s has an empty filter", ten.Province, f.XMLName.Local)
			}
		}
		if !slices.Equal(filtered, tables) {
			t.Errorf("%s: filtered tables %v, want every table %v", ten.Province, filtered, tables)
		}
	}

	b, err = os.ReadFile(filepath.Join(dir, "docker-compose.tenants.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"./deploy/tenants/clickhouse/users.d/layoffwatch-grafana-tenants.xml:/etc/clickhouse-server/users.d/",
		"./deploy/tenants/clickhouse/entrypoint.d:/etc/layoffwatch/clickhouse-entrypoint.d:ro",
		"./deploy/tenants/grafana/provisioning:/etc/grafana/provisioning:ro",
		"./deploy/tenants/grafana/dashboards:" + grafana.TenantDashboardsPath + ":ro",
		"- clickhouse_grafana_620000_password:472",
		"- clickhouse_grafana_420000_password:472",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("docker-compose.tenants.yml lacks %q", want)
		}
	}
}

// datasourceRefs lists every data source reference of a dashboard's
// panels, targets and query variables.
func datasourceRefs(d *grafana.Dashboard) []grafana.DSRef {
	var out []grafana.DSRef
	for _, p := range d.AllPanels() {
		if p.Datasource != nil {
			out = append(out, *p.Datasource)
		}
		for _, tg := range p.Targets {
			if tg.Datasource != nil {
				out = append(out, *tg.Datasource)
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && v.Datasource != nil {
			out = append(out, *v.Datasource)
		}
	}
	return out
}

func TestTenantsOrgs(t *testing.T) {
	opts := tenantOptions("layoffwatch")
	opts.Provinces = []string{"620000", "420000=5", "110000", "310000=3"}
	tenants, err := grafana.Tenants(opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ten := range tenants {
		got = append(got, fmt.Sprintf("%s=%d", ten.Province, ten.Org))
	}
	if want := []string{"620000=2", "420000=5", "110000=6", "310000=3"}; !slices.Equal(got, want) {
		t.Errorf("orgs %v, want %v", got, want)
	}
}

func TestTenantsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*grafana.TenantOptions)
		want string
	}{
		{"none", func(o *grafana.TenantOptions) { o.Provinces = nil }, "no province"},
		{"prefecture", func(o *grafana.TenantOptions) { o.Provinces = []string{"620100"} }, "not a GB/T 2260 province"},
		{"unknown", func(o *grafana.TenantOptions) { o.Provinces = []string{"990000"} }, "not a GB/T 2260 province"},
		{"twice", func(o *grafana.TenantOptions) { o.Provinces = []string{"620000", "620000"} }, "twice"},
		{"main org", func(o *grafana.TenantOptions) { o.FirstOrg = 1 }, "orgs of their own"},
		{"org 1", func(o *grafana.TenantOptions) { o.Provinces = []string{"620000=1"} }, "Main Org"},
		{"org text", func(o *grafana.TenantOptions) { o.Provinces = []string{"620000=x"} }, "want a number"},
		{"same org", func(o *grafana.TenantOptions) { o.Provinces = []string{"620000=3", "420000=2", "110000"} }, "both in org 3"},
		{"database", func(o *grafana.TenantOptions) { o.Database = "a;b" }, "database"},
		{"profile", func(o *grafana.TenantOptions) { o.Profile = "<x>" }, "profile"},
		{"host", func(o *grafana.TenantOptions) { o.Host = "a b" }, "host"},
		{"dashboards", func(o *grafana.TenantOptions) { o.Dashboards = t.TempDir() }, "no dashboards"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tenantOptions("layoffwatch")
			tc.edit(&opts)
			dir := t.TempDir()
			_, err := grafana.WriteTenants(dir, opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("wrote %d entries despite the error", len(entries))
			}
		})
	}
}

// TestTenantsOnClickHouse loads two provinces into a real ClickHouse that
// has the generated users file, then checks
//   - what the server enforces: a province's user signs in with its
//     password only, reads only its database, cannot write, create, or use
//     a table function (remote() would sign in as another user);
//   - that every dashboard query runs as that user;
//   - the row filters of the file, as a server that honours them applies
//     them (ClickHouse 19.x on, production 25.8; the tests' 18.16 ignores
//     them): a copy of the database with each table's rows cut by the
//     user's filter holds exactly the province's rows in every table the
//     dashboards read and none of any other table, and every dashboard
//     query answers on it as on a database holding that province alone.
func TestTenantsOnClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	const db = "layoffwatch"
	dir := t.TempDir()
	tenants, err := grafana.WriteTenants(dir, tenantOptions(db))
	if err != nil {
		t.Fatal(err)
	}
	usersXML, err := os.ReadFile(filepath.Join(dir, "clickhouse/users.d/layoffwatch-grafana-tenants.xml"))
	if err != nil {
		t.Fatal(err)
	}
	// the profile the users name: the compose stack's readonly profile
	// (deploy/compose/clickhouse-users.xml) without its constraints, which
	// 18.16 does not know (readonly = 1 forbids every setting change there)
	profile := `<clickhouse><profiles><readonly><readonly>1</readonly></readonly></profiles></clickhouse>`
	passwords := map[string]string{}
	for _, ten := range tenants {
		passwords[ten.Province] = "pw-" + ten.Province + "-" + fmt.Sprint(time.Now().UnixNano())
		t.Setenv(ten.PasswordEnv, passwords[ten.Province]) // the server inherits it
	}
	_, ch := testenv.OwnClickHouseConfig(t, db, map[string]string{
		"profile.xml":                     profile,
		"layoffwatch-grafana-tenants.xml": string(usersXML),
	})
	admin := testenv.SQL(t, ch.Options())

	// province 62: the simulated Gansu; province 42: the same data with its
	// codes and ids moved to Hubei. ref_62 and ref_42 hold each alone.
	data := loadDemoData(ctx, t, ch)
	refs := map[string]string{"620000": "ref_62", "420000": "ref_42"}
	for _, ref := range refs {
		migrate(ctx, t, ch.Options(), ref)
	}
	tables := dataTables(ctx, t, admin, db)
	for _, table := range tables {
		copyRows(ctx, t, admin, db, "ref_62", table, nil, "")
		copyRows(ctx, t, admin, db, "ref_42", table, toHubei, "")
	}
	for _, table := range tables {
		copyRows(ctx, t, admin, "ref_42", db, table, nil, "")
	}
	if n := count(ctx, t, admin, "SELECT count() FROM "+db+".firms WHERE substring(region, 1, 2) = '42'"); n == 0 {
		t.Fatal("no firm of the second province loaded")
	}

	all, err := grafana.Tables(db)
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for _, table := range dataTables(ctx, t, admin, db) {
		present[table] = true
		if !slices.Contains(all, table) {
			t.Errorf("table %s is on the server, but grafana.Tables does not list it: the users file would not filter it", table)
		}
	}

	rng := grafana.TimeRange{From: data.start, To: data.now}
	for _, ten := range tenants {
		t.Run(ten.Province, func(t *testing.T) {
			// the province's folder
			dashes, err := grafana.LoadDashboards(filepath.Join(dir, "grafana/dashboards", ten.Province))
			if err != nil {
				t.Fatal(err)
			}
			opts := ch.Options()
			opts.User, opts.Password = ten.User, passwords[ten.Province]
			user := testenv.SQL(t, opts)
			checkUserLimits(ctx, t, user, ch.Options(), ten, db)

			// every dashboard query runs as the province's user
			runDashboards(ctx, t, user, dashes, rng)

			// the filters, applied as a row policy does
			filters := ten.RowFilters(db, all)
			copyDB := "tenant_" + ten.Prefix
			migrate(ctx, t, ch.Options(), copyDB)
			for _, table := range all {
				if !present[table] {
					continue
				}
				copyRows(ctx, t, admin, db, copyDB, table, nil, filters[table])
			}
			for _, table := range all {
				if !present[table] || table == "schema_migrations" {
					continue
				}
				got := tableDigest(ctx, t, admin, copyDB, table)
				want := "0 rows"
				if filters[table] != "0" {
					want = tableDigest(ctx, t, admin, refs[ten.Province], table)
				} else if got != want {
					t.Errorf("%s: the filter %q leaves rows of a table the dashboards do not read", table, filters[table])
				}
				if got != want {
					t.Errorf("%s: the filter %q keeps %s, the province alone has %s", table, filters[table], got, want)
				}
			}
			for _, table := range []string{"firms", "reports", "alerts", "notifications", "acks", "console_audit"} {
				if tableDigest(ctx, t, admin, copyDB, table) == "0 rows" {
					t.Errorf("%s: no row of the province: the comparison proves nothing", table)
				}
			}
			copyOpts := ch.Options()
			copyOpts.Database = copyDB
			refOpts := ch.Options()
			refOpts.Database = refs[ten.Province]
			got := runDashboards(ctx, t, testenv.SQL(t, copyOpts), dashes, rng)
			want := runDashboards(ctx, t, testenv.SQL(t, refOpts), dashes, rng)
			compared, empty := 0, 0
			for q, w := range want {
				compared++
				if w == "" {
					empty++
				}
				if got[q] != w {
					t.Errorf("a dashboard query answers differently on the filtered rows than on the province alone:\n%s\ngot:\n%s\nwant:\n%s", q, clip(got[q]), clip(w))
				}
			}
			t.Logf("%d dashboard queries (%d of them empty) answer on the filtered rows as on the province alone", compared, empty)
			if compared < 50 || empty > compared/10 {
				t.Errorf("%d dashboard queries compared, %d of them empty: too few to prove anything", compared, empty)
			}
		})
	}
}

// checkUserLimits: what ClickHouse 18.16 already enforces on a province's
// user.
func checkUserLimits(ctx context.Context, t *testing.T, user driver.Conn, adminOpts chdb.Options, ten grafana.Tenant, db string) {
	t.Helper()
	if n := count(ctx, t, user, "SELECT count() FROM firms"); n == 0 {
		t.Fatal("the province's user reads no firm")
	}
	for _, tc := range []struct{ name, sql, want string }{
		{"insert", "INSERT INTO " + db + ".silences (id) SELECT 'x'", "readonly"},
		{"create", "CREATE TABLE " + db + ".x (a UInt8) ENGINE = Memory", "readonly"},
		{"drop", "DROP TABLE " + db + ".firms", "readonly"},
		{"other database", "SELECT count() FROM ref_62.firms", "Access denied"},
		{"a view of another database", "SELECT count() FROM ref_62.reports_latest", "Access denied"},
		{"table function", "SELECT count() FROM remote('" + adminOpts.Addr + "', " + db + ".firms, 'default', '')", "readonly"},
		{"file", "SELECT count() FROM file('x.csv', 'CSV', 'a String')", "readonly"},
	} {
		err := user.Exec(ctx, tc.sql)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s as %s: err = %v, want %q", tc.name, ten.User, err, tc.want)
		}
	}
	// the password is the province's own: another's is refused
	opts := adminOpts
	opts.User, opts.Password = ten.User, "wrong"
	conn := testenv.SQL(t, opts)
	if err := conn.Exec(ctx, "SELECT 1"); err == nil {
		t.Errorf("%s signs in with a wrong password", ten.User)
	}
}

// runDashboards runs every ClickHouse query of the dashboards (variables
// resolved as Grafana does, their first option or all) and returns each
// expanded query's answer as sorted text lines.
func runDashboards(ctx context.Context, t *testing.T, conn driver.Conn, dashes []*grafana.Dashboard, rng grafana.TimeRange) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range dashes {
		eachQuery(ctx, t, conn, d, nil, rng, func(p grafana.Panel, tg target, q string) {
			text, err := answer(ctx, conn, q)
			if err != nil {
				t.Errorf("%s / %q: %v\n%s", d.Title, p.Title, err, q)
				return
			}
			out[d.UID+" / "+p.Title+" / "+tg.RefID+"\n"+q] = text
		})
	}
	return out
}

func answer(ctx context.Context, conn driver.Conn, q string) (string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	types := rows.ColumnTypes()
	for rows.Next() {
		vals := make([]any, len(types))
		for i, ct := range types {
			vals[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return "", err
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(reflect.ValueOf(v).Elem().Interface())
		}
		lines = append(lines, strings.Join(parts, "\t"))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), rows.Err()
}

func clip(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}

func migrate(ctx context.Context, t *testing.T, opts chdb.Options, db string) {
	t.Helper()
	opts.Database = db
	c, err := chdb.Open(ctx, opts, testenv.Logger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

// dataTables lists the tables (not views) of db.
func dataTables(ctx context.Context, t *testing.T, conn driver.Conn, db string) []string {
	t.Helper()
	names, err := firstColumn(ctx, conn, "SELECT name FROM system.tables WHERE database = '"+db+"' AND engine NOT LIKE '%View' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func columns(ctx context.Context, t *testing.T, conn driver.Conn, db, table string) []string {
	t.Helper()
	cols, err := firstColumn(ctx, conn, "SELECT name FROM system.columns WHERE database = '"+db+"' AND table = '"+table+"'")
	if err != nil || len(cols) == 0 {
		t.Fatalf("columns of %s.%s: %v", db, table, err)
	}
	return cols
}

// toHubei moves a row of Gansu (62) to Hubei (42): region codes, firm ids
// (the credit code's region digits) and alert ids, so that no key of one
// province meets the other's.
func toHubei(table, col string) string {
	switch {
	case col == "region" || col == "prefecture":
		return "if(" + col + " = '', '', concat('42', substring(" + col + ", 3)))"
	case col == "firm_id":
		return "if(firm_id = '', '', concat(substring(firm_id, 1, 2), '42', substring(firm_id, 5)))"
	case col == "alert_id" || col == "message_id" || table == "console_audit" && (col == "id" || col == "object_id"):
		return "if(" + col + " = '', '', concat('hb-', " + col + "))"
	}
	return col
}

// copyRows copies src.table into dst.table, each column through edit (nil:
// as it is), keeping only the rows where filter holds (empty: all; "0":
// none).
func copyRows(ctx context.Context, t *testing.T, conn driver.Conn, src, dst, table string, edit func(table, col string) string, filter string) {
	t.Helper()
	if table == "schema_migrations" || filter == "0" {
		return
	}
	cols := columns(ctx, t, conn, src, table)
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = c
		if edit != nil {
			exprs[i] = edit(table, c)
		}
	}
	where := ""
	if filter != "" {
		where = " WHERE " + filter
	}
	q := fmt.Sprintf("INSERT INTO %s.%s (%s) SELECT %s FROM %s.%s%s", dst, table, strings.Join(cols, ", "), strings.Join(exprs, ", "), src, table, where)
	if err := conn.Exec(ctx, q); err != nil {
		t.Fatalf("copy %s.%s to %s: %v\n%s", src, table, dst, err, q)
	}
}

// tableDigest: the rows of a table as a multiset (count and a sum of row
// hashes), unmerged rows included.
func tableDigest(ctx context.Context, t *testing.T, conn driver.Conn, db, table string) string {
	t.Helper()
	var args []string
	for _, c := range columns(ctx, t, conn, db, table) {
		args = append(args, "isNull("+c+")", "assumeNotNull("+c+")") // a Nullable column's NULL would make the hash NULL
	}
	var n, sum uint64
	q := fmt.Sprintf("SELECT count(), sum(cityHash64(%s)) FROM %s.%s", strings.Join(args, ", "), db, table)
	if err := conn.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
		t.Fatalf("digest %s.%s: %v", db, table, err)
	}
	if n == 0 {
		return "0 rows"
	}
	return fmt.Sprintf("%d rows, hash %x", n, sum)
}

func count(ctx context.Context, t *testing.T, conn driver.Conn, q string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}
