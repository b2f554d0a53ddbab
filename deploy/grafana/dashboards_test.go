package grafana_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"gopkg.in/yaml.v3"

	"github.com/layoffwatch/layoffwatch/deploy/grafana"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	clickHouseType = grafana.ClickHouseType
	prometheusType = grafana.PrometheusType
	planFile       = "../plans/default.yaml"
)

type (
	dashboard = grafana.Dashboard
	target    = grafana.Target
	variable  = grafana.Variable
)

func loadDashboards(t *testing.T) []*dashboard {
	t.Helper()
	out, err := grafana.LoadDashboards("dashboards")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// provisioned reads the data sources file: uid → type, and the ClickHouse
// settings.
type provisionedDS struct {
	Name           string         `yaml:"name"`
	UID            string         `yaml:"uid"`
	Type           string         `yaml:"type"`
	URL            string         `yaml:"url"`
	JSONData       map[string]any `yaml:"jsonData"`
	SecureJSONData map[string]any `yaml:"secureJsonData"`
}

func loadDatasources(t *testing.T) map[string]provisionedDS {
	t.Helper()
	b, err := os.ReadFile("provisioning/datasources/datasources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		APIVersion  int             `yaml:"apiVersion"`
		Datasources []provisionedDS `yaml:"datasources"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("datasources.yaml: %v", err)
	}
	out := map[string]provisionedDS{}
	for _, ds := range f.Datasources {
		if ds.UID == "" {
			t.Fatalf("datasources.yaml: %s has no fixed uid", ds.Name)
		}
		if _, dup := out[ds.UID]; dup {
			t.Fatalf("datasources.yaml: uid %s twice", ds.UID)
		}
		out[ds.UID] = ds
	}
	return out
}

func TestProvisioning(t *testing.T) {
	dss := loadDatasources(t)
	var ch, prom *provisionedDS
	for _, ds := range dss {
		switch ds.Type {
		case clickHouseType:
			ch = &ds
		case prometheusType:
			prom = &ds
		}
	}
	if ch == nil || prom == nil {
		t.Fatalf("want one ClickHouse and one Prometheus data source, got %v", dss)
	}
	want := map[string]any{"host": "clickhouse", "port": 9000, "protocol": "native", "defaultDatabase": "layoffwatch", "username": "grafana"}
	for k, v := range want {
		if ch.JSONData[k] != v {
			t.Errorf("ClickHouse jsonData.%s = %v, want %v", k, ch.JSONData[k], v)
		}
	}
	if pw, _ := ch.SecureJSONData["password"].(string); !strings.HasPrefix(pw, "$") {
		t.Errorf("ClickHouse password must come from a secret or the environment ($...), got %q", pw)
	}
	if prom.URL != "http://prometheus:9090" {
		t.Errorf("Prometheus url = %q", prom.URL)
	}

	b, err := os.ReadFile("provisioning/dashboards/dashboards.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Providers []struct {
			Type    string `yaml:"type"`
			Options struct {
				Path string `yaml:"path"`
			} `yaml:"options"`
		} `yaml:"providers"`
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatalf("dashboards.yaml: %v", err)
	}
	if len(p.Providers) != 1 || p.Providers[0].Type != "file" || p.Providers[0].Options.Path == "" {
		t.Fatalf("dashboards.yaml: want one file provider with a path, got %+v", p.Providers)
	}
}

// TestDashboardsStatic checks what needs no server: uids, data sources,
// target fields, the links the alert emails use, the metric names, and that
// colours, bands and deadlines agree with the default risk plan.
func TestDashboardsStatic(t *testing.T) {
	dss := loadDatasources(t)
	dashes := loadDashboards(t)
	metrics := metricNames(t)
	uids := map[string]string{}
	for _, d := range dashes {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid and title are required", d.File)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s: uid %s is also the uid of %s", d.File, d.UID, other)
		}
		uids[d.UID] = d.File
		ids := map[int]bool{}
		for _, p := range d.AllPanels() {
			where := fmt.Sprintf("%s / %q", d.Title, p.Title)
			if ids[p.ID] {
				t.Errorf("%s: panel id %d twice", where, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || dss[p.Datasource.UID].Type != p.Datasource.Type {
				t.Errorf("%s: data source %+v is not provisioned", where, p.Datasource)
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			for _, tg := range p.Targets {
				if tg.Datasource != nil && *tg.Datasource != *p.Datasource {
					t.Errorf("%s: target %s uses %+v, the panel %+v", where, tg.RefID, tg.Datasource, p.Datasource)
				}
				switch p.Datasource.Type {
				case clickHouseType:
					checkCHTarget(t, where, tg)
				case prometheusType:
					for _, m := range unknownMetrics(tg.Expr, metrics) {
						t.Errorf("%s: %s is not a metric any component registers", where, m)
					}
					if tg.Expr == "" {
						t.Errorf("%s: empty expression", where)
					}
				}
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" && (v.Datasource == nil || dss[v.Datasource.UID].Type != v.Datasource.Type) {
				t.Errorf("%s: variable %s: data source %+v is not provisioned", d.Title, v.Name, v.Datasource)
			}
		}
	}
	// the alert emails link to /d/layoffwatch-firm?var-firm=<id> and
	// /d/layoffwatch-region?var-region=<code>
	for uid, name := range map[string]string{"layoffwatch-firm": "firm", "layoffwatch-region": "region"} {
		d := byUID(dashes, uid)
		if d == nil {
			t.Errorf("no dashboard with uid %s (the alert emails link to it)", uid)
			continue
		}
		if !slices.ContainsFunc(d.Templating.List, func(v variable) bool { return v.Name == name && v.Type == "query" }) {
			t.Errorf("%s: no query variable %q (the alert emails set var-%s)", uid, name, name)
		}
	}
	checkPlan(t, dashes)
	checkRegionNames(t, dashes)
}

var (
	transformCall = regexp.MustCompile(`transform\([^,\[]+,\s*\[([^\]]*)\],\s*\[([^\]]*)\]`)
	quoted        = regexp.MustCompile(`'([^']*)'`)
)

// checkRegionNames compares the code → name tables that the queries carry
// in transform(code, [codes], [names], code) with internal/region.
func checkRegionNames(t *testing.T, dashes []*dashboard) {
	t.Helper()
	regions := region.Gansu()
	checked := 0
	for _, d := range dashes {
		var sqls []string
		for _, p := range d.AllPanels() {
			for _, tg := range p.Targets {
				sqls = append(sqls, tg.RawSQL)
			}
		}
		for _, v := range d.Templating.List {
			q, _ := v.QueryText()
			sqls = append(sqls, q)
		}
		for _, sql := range sqls {
			for _, m := range transformCall.FindAllStringSubmatch(sql, -1) {
				codes, names := quoted.FindAllStringSubmatch(m[1], -1), quoted.FindAllStringSubmatch(m[2], -1)
				if len(codes) != len(names) {
					t.Errorf("%s: transform with %d codes and %d names", d.Title, len(codes), len(names))
					continue
				}
				for i, c := range codes {
					r, ok := regions.Lookup(c[1])
					if !ok {
						continue // not a region code (industry letters)
					}
					if r.Name != names[i][1] {
						t.Errorf("%s: region %s is named %q in a query, %q in internal/region", d.Title, c[1], names[i][1], r.Name)
					}
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Error("no region name table found in the queries")
	}
}

func checkCHTarget(t *testing.T, where string, tg target) {
	t.Helper()
	if tg.EditorType != "sql" || strings.TrimSpace(tg.RawSQL) == "" {
		t.Errorf("%s: want editorType sql and rawSql, got %q", where, tg.EditorType)
	}
	switch {
	case tg.Format == nil:
		t.Errorf("%s: no format", where)
	case *tg.Format == 0 && tg.QueryType != "timeseries", *tg.Format == 1 && tg.QueryType != "table", *tg.Format > 1:
		t.Errorf("%s: format %d does not match queryType %q", where, *tg.Format, tg.QueryType)
	}
}

func byUID(dashes []*dashboard, uid string) *dashboard {
	for _, d := range dashes {
		if d.UID == uid {
			return d
		}
	}
	return nil
}

var metricRef = regexp.MustCompile(`\blayoffwatch_[a-z0-9_]+`)

// metricNames finds every metric the components register: the
// Name: "layoffwatch_..." strings of the module's Go sources.
func metricNames(t *testing.T) map[string]bool {
	t.Helper()
	def := regexp.MustCompile(`Name:\s*"(layoffwatch_[a-z0-9_]+)"`)
	names := map[string]bool{}
	err := filepath.WalkDir("../..", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && (strings.HasPrefix(e.Name(), ".") && path != "../.." || e.Name() == "testdata" || e.Name() == "vendor") {
			return filepath.SkipDir
		}
		if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range def.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 20 {
		t.Fatalf("found only %d metric names in the sources", len(names))
	}
	return names
}

func unknownMetrics(expr string, known map[string]bool) []string {
	var out []string
	for _, m := range metricRef.FindAllString(expr, -1) {
		base := m
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(m, suf); ok && known[b] {
				base = b
			}
		}
		if !known[base] {
			out = append(out, m)
		}
	}
	return out
}

// checkPlan compares the dashboards with the default risk plan: the wall's
// level colours, the job-loss-rate colour bands (prefecture_rate) and the
// acknowledgement deadlines of the alerts dashboard.
func checkPlan(t *testing.T, dashes []*dashboard) {
	t.Helper()
	plan, err := detector.LoadPlan(planFile)
	if err != nil {
		t.Fatal(err)
	}
	color := func(name string) string {
		lv, err := alertevent.ParseLevel(name)
		if err != nil {
			t.Fatal(err)
		}
		return strings.ToLower(plan.Levels[lv].Color)
	}
	wall := byUID(dashes, "layoffwatch-wall")
	if wall == nil {
		t.Fatal("no wall dashboard (uid layoffwatch-wall)")
	}
	for _, lv := range alertevent.Levels() {
		name := lv.String()
		title := name + "级预警"
		found := false
		for _, p := range wall.Panels {
			if strings.HasPrefix(p.Title, title) {
				found = true
				if got := strings.ToLower(p.FieldConfig.Defaults.Color.FixedColor); got != color(name) {
					t.Errorf("wall %q: colour %s, the plan says %s", p.Title, got, color(name))
				}
			}
		}
		if !found {
			t.Errorf("wall: no stat panel %q…", title)
		}
	}

	// the statutory plan's prefecture_rate: "mom_change <= -0.05" → level I;
	// the panels show the raw job-loss rate −mom_change, coloured by those
	// literal bands (the default plan judges a region against its
	// expectation instead, which a colour scale cannot show)
	statutory, err := detector.LoadPlan("../plans/statutory.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rule, ok := statutory.Rule("prefecture_rate")
	if !ok {
		t.Fatal("the statutory plan has no rule prefecture_rate")
	}
	band := regexp.MustCompile(`^mom_change\s*<=\s*-([0-9.]+)$`)
	want := map[float64]string{}
	for _, b := range rule.Bands {
		m := band.FindStringSubmatch(strings.TrimSpace(b.When.Src))
		if m == nil {
			t.Fatalf("prefecture_rate band %q: cannot read the threshold", b.When.Src)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		want[v] = color(b.Level.String())
	}
	checked := 0
	for _, d := range dashes {
		for _, p := range d.AllPanels() {
			if !strings.Contains(p.Title, "岗位流失率") {
				continue
			}
			got := map[float64]string{}
			for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
				if s.Value != nil {
					got[*s.Value] = strings.ToLower(s.Color)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s / %q: colour steps %v, the plan's prefecture_rate bands give %v", d.Title, p.Title, got, want)
			}
			checked++
		}
	}
	if checked == 0 {
		t.Error("no job-loss-rate panel found")
	}

	for _, uid := range []string{"layoffwatch-alerts", "layoffwatch-handling"} {
		checkDeadlines(t, plan, dashes, uid)
	}
}

// checkDeadlines compares a dashboard's deadline_I… constants with the
// plan's response deadlines.
func checkDeadlines(t *testing.T, plan *detector.Plan, dashes []*dashboard, uid string) {
	t.Helper()
	alerts := byUID(dashes, uid)
	if alerts == nil {
		t.Fatalf("no dashboard with uid %s", uid)
	}
	for _, lv := range alertevent.Levels() {
		name := lv.String()
		wantS := strconv.Itoa(int(plan.Levels[lv].ResponseSeconds))
		i := slices.IndexFunc(alerts.Templating.List, func(v variable) bool { return v.Name == "deadline_"+name })
		if i < 0 {
			t.Errorf("%s: no constant deadline_%s", uid, name)
			continue
		}
		got, _ := alerts.Templating.List[i].QueryText()
		if got != wantS {
			t.Errorf("%s: deadline_%s = %s s, the plan's response is %s s", uid, name, got, wantS)
		}
	}
}

// TestQueriesRunOnClickHouse runs every query of the ClickHouse data
// source — panel targets and template variables — on a real server holding
// a simulated province, its alerts and a notification log, and fails on an
// error or an empty result.
func TestQueriesRunOnClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ch := testenv.ClickHouse(t)
	data := loadDemoData(ctx, t, ch)
	sql := testenv.SQL(t, ch.Options())
	dashes := loadDashboards(t)

	cluster := data.event(simulate.CountyCluster)
	closure := data.event(simulate.Closure)
	// scenarios: variable values a user would pick (or an email link sets);
	// variables not named take the first option their query returns, or
	// every option when "All" is allowed
	scenarios := map[string][]map[string]string{
		"layoffwatch-region": {
			{"region": "620000"},
			{"region": region.PrefectureOf(cluster.Region)},
			{"region": cluster.Region},
		},
		"layoffwatch-firm": {
			{}, // the first option: the firm with most open warnings
			{"firm": closure.Firms[0].FirmID},
			{"firm": cluster.Firms[0].FirmID},
		},
	}
	rng := grafana.TimeRange{From: data.start, To: data.now}
	queries := 0
	for _, d := range dashes {
		runs := scenarios[d.UID]
		if len(runs) == 0 {
			runs = []map[string]string{{}}
		}
		for _, pick := range runs {
			name := d.UID
			for k, v := range pick {
				name += "/" + k + "=" + v
			}
			t.Run(name, func(t *testing.T) {
				eachQuery(ctx, t, sql, d, pick, rng, func(p grafana.Panel, tg target, query string) {
					n, err := countRows(ctx, sql, query)
					queries++
					switch {
					case err != nil:
						t.Errorf("%s / %q (target %s): %v\n%s", d.Title, p.Title, tg.RefID, err, query)
					case n == 0:
						t.Errorf("%s / %q (target %s): empty result\n%s", d.Title, p.Title, tg.RefID, query)
					}
				})
			})
		}
	}
	t.Logf("ran %d panel queries on ClickHouse", queries)
}

// eachQuery resolves d's variables as Grafana does (those in pick as
// given, the others their first option, or all) on conn and calls fn with
// every ClickHouse panel query, expanded; what cannot be resolved or
// expanded is a test error.
func eachQuery(ctx context.Context, t *testing.T, conn driver.Conn, d *dashboard, pick map[string]string, rng grafana.TimeRange, fn func(p grafana.Panel, tg target, query string)) {
	t.Helper()
	vars, err := grafana.ResolveVariables(d, pick, rng, func(q string) ([]string, error) { return firstColumn(ctx, conn, q) })
	if err != nil {
		t.Errorf("%s: %v", d.Title, err)
		return
	}
	for _, p := range d.AllPanels() {
		if p.Datasource == nil || p.Datasource.Type != clickHouseType {
			continue
		}
		for _, tg := range p.Targets {
			query, err := grafana.Expand(tg.RawSQL, vars, rng)
			if err != nil {
				t.Errorf("%s / %q: %v", d.Title, p.Title, err)
				continue
			}
			fn(p, tg, query)
		}
	}
}

func countRows(ctx context.Context, ch driver.Conn, sql string) (int, error) {
	rows, err := ch.Query(ctx, sql)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}

func firstColumn(ctx context.Context, ch driver.Conn, sql string) ([]string, error) {
	rows, err := ch.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		// variable queries return (value, text) or value alone, as strings
		vals := make([]any, len(rows.Columns()))
		for i := range vals {
			vals[i] = new(string)
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, fmt.Errorf("variable columns must be strings: %w", err)
		}
		s := vals[0].(*string)
		out = append(out, *s)
	}
	return out, rows.Err()
}

// demoData is what loadDemoData stored.
type demoData struct {
	start, now time.Time
	events     []simulate.Event
}

func (d demoData) event(kind simulate.EventKind) simulate.Event {
	for _, e := range d.events {
		if e.Kind == kind {
			return e
		}
	}
	panic("no planted event of kind " + string(kind))
}

// loadDemoData fills the database the way `layoffwatch local` does, without
// Kafka: a simulated province ending last month (firms and reports), the
// alerts the default plan raises over it, and a notification log with
// acknowledgements and escalations.
func loadDemoData(ctx context.Context, t *testing.T, ch *chdb.Client) demoData {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Second)
	opts := simulate.DefaultOptions()
	end := report.PeriodOf(now.In(report.Shanghai())).Add(-1)
	opts.Start = end.Add(1 - opts.Months)
	sim, err := simulate.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	list := sim.Firms()
	if err := firms.NewStore(ch).Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	var reports []report.Report
	rows := &chdb.ReportRows{}
	for r := range sim.Reports {
		reports = append(reports, r)
		rows.Add(r, now, 0, int64(rows.Len()))
	}
	if err := ch.InsertReports(ctx, rows); err != nil {
		t.Fatal(err)
	}

	plan, err := detector.LoadPlan(planFile)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := detector.NewEvaluator(plan)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := detector.BuildDataset(list, reports)
	if err != nil {
		t.Fatal(err)
	}
	firings, err := ev.Evaluate(ds, detector.EvalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events := alertEvents(plan, list, firings, now)
	if len(events) == 0 {
		t.Fatal("the plan raised no alert over the simulated province")
	}
	if err := detector.NewStore(ch).InsertAlertEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	if err := insertNotificationLog(ctx, testenv.SQL(t, ch.Options()), events); err != nil {
		t.Fatal(err)
	}
	if err := insertConsoleCases(ctx, testenv.SQL(t, ch.Options()), events); err != nil {
		t.Fatal(err)
	}
	return demoData{start: opts.Start.Start(), now: now, events: sim.Events()}
}

// alertEvents turns firings into the events the detector daemon would emit:
// each fires a few days after its month's reporting deadline; every 50th is
// resolved a day later (a corrected report). As a daemon's first start on
// the history does, those about months past the alert horizon (35 days
// after the month's deadline) at now are marked old history.
func alertEvents(plan *detector.Plan, list []firms.Firm, firings []detector.Firing, now time.Time) []alertevent.Event {
	byID := map[string]firms.Firm{}
	for _, f := range list {
		byID[f.ID] = f
	}
	regions := region.Gansu()
	var out []alertevent.Event
	for i, f := range firings {
		at := f.Period.Add(1).Start().AddDate(0, 0, 6).Add(time.Duration(i%600) * time.Second)
		if at.After(now.Add(-time.Hour)) {
			at = now.Add(-time.Hour)
		}
		e := plan.Event(f, byID[f.Key], regions, at)
		e.UrgentUntil = report.Deadline(f.Period, report.DefaultDeadlineDay).Add(840 * time.Hour).UTC()
		if !now.Before(e.UrgentUntil) {
			e.Old = alertevent.OldHistory
		}
		out = append(out, e)
		if i%50 == 49 {
			r := e
			r.Version, r.Kind, r.At = 2, alertevent.Resolved, at.Add(24*time.Hour)
			out = append(out, r)
		}
	}
	return out
}

// insertNotificationLog writes what the alert component would have logged
// for the first alerts of each level: the email (pending, then sent; one
// failure), and then an acknowledgement in time, a late one, or none and an
// escalation after the level's deadline.
func insertNotificationLog(ctx context.Context, ch driver.Conn, events []alertevent.Event) error {
	type row struct {
		msg, alert, rcpt, kind, status, level, rule, region string
		version                                             uint32
		tier                                                uint8
		fired, at                                           time.Time
	}
	var log []row
	var ackID, ackWho, ackVia []string
	var ackAt []time.Time
	perLevel := map[alertevent.Level]int{}
	summarized := 0
	sort.SliceStable(events, func(i, j int) bool { return events[i].At.After(events[j].At) })
	for _, e := range events {
		if e.Kind == alertevent.Firing && e.Old != "" && summarized < 40 {
			// an old warning: queued, then told in a summary
			summarized++
			base := row{msg: fmt.Sprintf("s-%d", summarized/10), alert: e.ID, rcpt: "rsj-" + e.Region + "@gs.example.cn", kind: "summary",
				level: e.Level.String(), rule: e.Rule, region: e.Region, version: e.Version, fired: e.At}
			queued, done := base, base
			queued.msg, queued.status, queued.at = "", "queued", e.At.Add(time.Second)
			done.status, done.at = "sent", e.At.Add(time.Minute)
			log = append(log, queued, done)
			continue
		}
		if e.Kind != alertevent.Firing || e.Old != "" || perLevel[e.Level] >= 40 {
			continue
		}
		n := perLevel[e.Level]
		perLevel[e.Level]++
		kind := "digest"
		if e.Level.AtLeast(alertevent.LevelII) {
			kind = "alert"
		}
		rcpt := "rsj-" + e.Region + "@gs.example.cn"
		sent := e.At.Add(time.Minute)
		base := row{alert: e.ID, rcpt: rcpt, kind: kind, level: e.Level.String(), rule: e.Rule, region: e.Region, version: e.Version, fired: e.At}
		pending, done := base, base
		pending.msg, pending.status, pending.at = fmt.Sprintf("m-%s-1", e.ID), "pending", e.At.Add(30*time.Second)
		done.msg, done.status, done.at = pending.msg, "sent", sent
		if n == 7 {
			done.status = "failed"
		}
		log = append(log, pending, done)
		deadline := e.LevelFacts.Response()
		switch n % 3 {
		case 0:
			ackID, ackWho, ackVia, ackAt = append(ackID, e.ID), append(ackWho, rcpt), append(ackVia, "link"), append(ackAt, sent.Add(30*time.Minute))
		case 1:
			ackID, ackWho, ackVia, ackAt = append(ackID, e.ID), append(ackWho, rcpt), append(ackVia, "web"), append(ackAt, sent.Add(deadline+time.Hour))
		default:
			if deadline > 0 {
				esc := base
				esc.msg, esc.kind, esc.status, esc.tier, esc.at = fmt.Sprintf("m-%s-2", e.ID), "escalation", "sent", 1, sent.Add(deadline)
				log = append(log, esc)
			}
		}
	}
	cols := make([][]string, 8)
	var versions []uint32
	var tiers []uint8
	var fired, at []time.Time
	for _, r := range log {
		for i, v := range []string{r.msg, r.alert, r.rcpt, r.kind, r.status, "", r.level, r.rule} {
			cols[i] = append(cols[i], v)
		}
		versions, tiers, fired, at = append(versions, r.version), append(tiers, r.tier), append(fired, r.fired.UTC()), append(at, r.at.UTC())
	}
	regions := make([]string, len(log))
	for i, r := range log {
		regions[i] = r.region
	}
	if err := insert(ctx, ch, "notifications",
		[]string{"message_id", "alert_id", "alert_version", "recipient", "kind", "tier", "status", "detail", "level", "rule", "region", "fired_at", "at"},
		[]any{cols[0], cols[1], versions, cols[2], cols[3], tiers, cols[4], cols[5], cols[6], cols[7], regions, fired, at}); err != nil {
		return fmt.Errorf("insert notifications: %w", err)
	}
	for i := range ackAt {
		ackAt[i] = ackAt[i].UTC()
	}
	comments := make([]string, len(ackID))
	if err := insert(ctx, ch, "acks", []string{"alert_id", "recipient", "at", "comment", "via"},
		[]any{ackID, ackWho, ackAt, comments, ackVia}); err != nil {
		return fmt.Errorf("insert acks: %w", err)
	}
	return nil
}

// insert writes test rows into table, one slice per column.
func insert(ctx context.Context, ch driver.Conn, table string, names []string, cols []any) error {
	b, err := ch.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(names, ", ")+")")
	if err != nil {
		return err
	}
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			_ = b.Abort()
			return fmt.Errorf("column %s: %w", names[i], err)
		}
	}
	return b.Send()
}
