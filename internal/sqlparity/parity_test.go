package sqlparity_test

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/deploy/grafana"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
)

const db = "layoffwatch"

func TestMain(m *testing.M) {
	code := m.Run()
	if workerDir != "" {
		_ = os.RemoveAll(workerDir)
	}
	os.Exit(code)
}

// TestParity loads the same data into ClickHouse 18.16 and the current
// engine and requires the same answer from both to every statement of
// every catalog and every Grafana query: with merges pending (FINAL doing
// the work) and after OPTIMIZE FINAL, with the servers in UTC and in
// Asia/Shanghai.
func TestParity(t *testing.T) {
	lib := chdbLib(t)
	fx, err := newFixture(declaredInserts())
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	cases, err := statementCases(fx)
	if err != nil {
		t.Fatal(err)
	}
	dashes, err := grafana.LoadDashboards("../../deploy/grafana/dashboards")
	if err != nil {
		t.Fatal(err)
	}
	for _, tz := range []string{"UTC", "Asia/Shanghai"} {
		t.Run(strings.ReplaceAll(tz, "/", "_"), func(t *testing.T) {
			start := time.Now()
			z := startZone(t, lib, tz)
			z.load(t, fx)
			t.Logf("%s: engines up and fixture loaded in %s", tz, time.Since(start).Round(time.Second))
			for _, phase := range []string{"merges pending", "merged"} {
				start := time.Now()
				if phase == "merged" {
					z.optimize(t)
				}
				n := z.compareStatements(t, phase, cases)
				n += z.compareDashboards(t, phase, fx, dashes)
				t.Logf("%s, %s: %d queries compared in %s", tz, phase, n, time.Since(start).Round(time.Second))
			}
			// a comparison of empty answers proves little: every statement
			// and every panel must answer with rows somewhere
			for _, name := range slices.Sorted(maps.Keys(z.answered)) {
				if !z.answered[name] {
					t.Errorf("%s returned no row in any run: give it arguments or data that it finds", name)
				}
			}
		})
	}
}

// zone is the two engines in one time zone.
type zone struct {
	tz     *time.Location
	server *server
	client *chdb.Client // the server through clickhouse-go, as the components use it
	worker *worker
	// answered: statement or panel → whether some run returned rows
	answered map[string]bool
}

func startZone(t *testing.T, lib, tz string) *zone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ch, err := localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: t.TempDir(), MaxMemory: 2 << 30, Timezone: tz}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Start(ctx); err != nil {
		t.Fatalf("ClickHouse 18.16: %v", err)
	}
	t.Cleanup(func() { _ = ch.Stop() })
	z := &zone{answered: map[string]bool{}, server: &server{url: "http://" + ch.HTTPAddr(), db: db, client: &http.Client{Timeout: 2 * time.Minute}}}
	log := slog.New(obs.QuietOldServer(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	z.client, err = chdb.Open(ctx, chdb.Options{Addr: ch.Addr(), Database: db, User: "default", DialTimeout: 10 * time.Second}, log, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = z.client.Close() })
	z.worker = startWorker(t, lib, tz)
	if err := z.worker.exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		t.Fatalf("26.7: %v", err)
	}
	if err := z.worker.exec(ctx, "USE "+db); err != nil {
		t.Fatalf("26.7: %v", err)
	}
	for _, e := range z.engines() {
		got, err := e.eng.query(ctx, "SELECT timezone()")
		if err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		name := strings.TrimSuffix(got[strings.LastIndexByte(strings.TrimSuffix(got, "\n"), '\n')+1:], "\n")
		if name != tz && name != "Etc/"+tz {
			t.Fatalf("%s: time zone %s, want %s", e.name, name, tz)
		}
		if e.name == "18.16" {
			// clickhouse-go binds times against the zone the server names
			if z.tz, err = time.LoadLocation(name); err != nil {
				t.Fatal(err)
			}
		}
	}
	// the migrations, rendered for one server, on both
	migs, err := chdb.Migrations(db, "")
	if err != nil {
		t.Fatal(err)
	}
	stmts := []string{chdb.SchemaMigrationsDDL(db, "")}
	for _, m := range migs {
		stmts = append(stmts, m.Statements...)
	}
	stmts = append(stmts, "SYSTEM STOP MERGES")
	for _, s := range stmts {
		for _, e := range z.engines() {
			if err := e.eng.exec(ctx, s); err != nil {
				t.Fatalf("%s: %v\n%s", e.name, err, s)
			}
		}
	}
	return z
}

type namedEngine struct {
	name string
	eng  engine
}

func (z *zone) engines() []namedEngine {
	return []namedEngine{{"18.16", z.server}, {"26.7", z.worker}}
}

// load writes the fixture batch by batch: on 18.16 through the client's
// InsertColumns, on the current engine as VALUES of the same columns.
func (z *zone) load(t *testing.T, fx *fixture) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	types := map[string][]string{}
	for _, b := range fx.batches {
		if err := z.client.InsertColumns(ctx, b.ins, b.cols...); err != nil {
			t.Fatalf("18.16: %s: %v", b.ins, err)
		}
		ts, ok := types[b.ins.Table()]
		if !ok {
			ts = z.columnTypes(t, b.ins)
			types[b.ins.Table()] = ts
		}
		sql, err := valuesInsert(b.ins.SQL(), ts, b.cols)
		if err != nil {
			t.Fatalf("%s: %v", b.ins, err)
		}
		if err := z.worker.exec(ctx, sql); err != nil {
			t.Fatalf("26.7: %s: %v", b.ins, err)
		}
	}
}

func (z *zone) columnTypes(t *testing.T, ins chdb.Insert) []string {
	t.Helper()
	out, err := z.worker.query(context.Background(), fmt.Sprintf("SELECT name, type FROM system.columns WHERE database = '%s' AND table = '%s'", db, ins.Table()))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parseTSV(out)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, r := range res.rows {
		name, typ, _ := strings.Cut(r, "\t")
		byName[name] = typ
	}
	var types []string
	for _, c := range ins.Columns() {
		if byName[c] == "" {
			t.Fatalf("%s: table %s has no column %s", ins, ins.Table(), c)
		}
		types = append(types, byName[c])
	}
	return types
}

// optimize merges every table of the database on both engines.
func (z *zone) optimize(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := z.server.query(ctx, fmt.Sprintf("SELECT name FROM system.tables WHERE database = '%s' AND engine LIKE '%%MergeTree' ORDER BY name", db))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parseTSV(out)
	if err != nil || len(res.rows) < 8 {
		t.Fatalf("tables: %v %v", res.rows, err)
	}
	for _, e := range z.engines() {
		if err := e.eng.exec(ctx, "SYSTEM START MERGES"); err != nil {
			t.Fatalf("%s: %v", e.name, err)
		}
		for _, table := range res.rows {
			if err := e.eng.exec(ctx, fmt.Sprintf("OPTIMIZE TABLE %s.%s FINAL", db, table)); err != nil {
				t.Fatalf("%s: optimize %s: %v", e.name, table, err)
			}
		}
	}
}

// compare runs sql on both engines and fails the test when the answers
// differ. It returns the 18.16 answer.
func (z *zone) compare(t *testing.T, ctx context.Context, phase, name, sql string, names bool) (result, bool) {
	return z.compareReduced(t, ctx, phase, name, sql, names, nil)
}

// compareReduced compares the answers after reduce, what the statement's
// caller does to them (nil: nothing).
func (z *zone) compareReduced(t *testing.T, ctx context.Context, phase, name, sql string, names bool, reduce func(result) result) (result, bool) {
	t.Helper()
	var res [2]result
	var errs [2]error
	for i, e := range z.engines() {
		out, err := e.eng.query(ctx, sql)
		if err == nil {
			res[i], err = parseTSV(out)
		}
		errs[i] = err
	}
	switch {
	case errs[0] != nil || errs[1] != nil:
		t.Errorf("[%s] %s:\n  18.16: %v\n  26.7:  %v\n%s", phase, name, firstLine(errs[0]), firstLine(errs[1]), clip(sql))
		return res[0], false
	default:
		if reduce != nil {
			res[0], res[1] = reduce(res[0]), reduce(res[1])
		}
		if d := diff(res[0], res[1], ordered(sql), names); d != "" {
			t.Errorf("[%s] %s: different answers (%d rows on 18.16):\n  %s\n%s", phase, name, len(res[0].rows), d, clip(sql))
			return res[0], false
		}
	}
	return res[0], true
}

func firstLine(err error) string {
	if err == nil {
		return "ok"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return clip(s)
}

// compareStatements runs every catalog statement with its arguments; on
// 18.16 it also runs it through clickhouse-go (the components' path) and
// checks that the binding here gave the same number of rows.
func (z *zone) compareStatements(t *testing.T, phase string, cases []statementCase) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for i, c := range cases {
		name := fmt.Sprintf("%s (args %d)", c.st.Name(), i)
		sql, err := bind(c.st.SQL(), z.tz, c.args...)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		reduce := reducers[c.st.Name()]
		res, ok := z.compareReduced(t, ctx, phase, name, sql, false, reduce)
		z.answered[c.st.Name()] = z.answered[c.st.Name()] || len(res.rows) > 0
		if !ok || reduce != nil {
			continue // the row count through clickhouse-go is the raw one
		}
		rows, err := z.client.Query(ctx, c.st, c.args...)
		if err != nil {
			t.Errorf("%s through clickhouse-go: %v", name, err)
			continue
		}
		n := 0
		for rows.Next() {
			n++
		}
		_ = rows.Close()
		if n != len(res.rows) {
			t.Errorf("%s: %d rows through clickhouse-go, %d with the test's binding", name, n, len(res.rows))
		}
	}
	return len(cases)
}

// compareDashboards resolves each dashboard's variables (comparing each
// variable query) and runs each ClickHouse panel query, macros expanded.
func (z *zone) compareDashboards(t *testing.T, phase string, fx *fixture, dashes []*grafana.Dashboard) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	n := 0
	for _, run := range dashboardRuns(fx, dashes) {
		vars, err := grafana.ResolveVariables(run.d, run.pick, run.rng, func(sql string) ([]string, error) {
			n++
			res, _ := z.compare(t, ctx, phase, run.name+" variable", sql, true)
			var first []string
			for _, r := range res.rows {
				v, _, _ := strings.Cut(r, "\t")
				first = append(first, v)
			}
			return first, nil
		})
		if err != nil {
			t.Errorf("[%s] %s: %v", phase, run.name, err)
			continue
		}
		for _, p := range run.d.AllPanels() {
			if p.Datasource == nil || p.Datasource.Type != grafana.ClickHouseType {
				continue
			}
			for _, tg := range p.Targets {
				sql, err := grafana.Expand(tg.RawSQL, vars, run.rng)
				if err != nil {
					t.Errorf("%s / %q: %v", run.name, p.Title, err)
					continue
				}
				n++
				res, _ := z.compare(t, ctx, phase, fmt.Sprintf("%s panel %d %q", run.name, p.ID, p.Title), sql, true)
				key := fmt.Sprintf("%s panel %d %q target %s", run.d.UID, p.ID, p.Title, tg.RefID)
				z.answered[key] = z.answered[key] || len(res.rows) > 0
			}
		}
	}
	return n
}

// TestEveryCatalogListed fails when a package declares a statement catalog
// that the parity test does not run.
func TestEveryCatalogListed(t *testing.T) {
	decl := regexp.MustCompile(`\bNewCatalog\("([a-z0-9_]+)"\)`)
	found := map[string]string{}
	walkRepo(t, func(path string, b []byte) {
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return
		}
		for _, m := range decl.FindAllSubmatch(b, -1) {
			found[string(m[1])] = path
		}
	})
	listed := map[string]bool{}
	for _, c := range catalogs() {
		listed[c.Component()] = true
	}
	if len(found) < len(listed) {
		t.Fatalf("found only %d catalog declarations (%v) for %d listed", len(found), found, len(listed))
	}
	for name, path := range found {
		if !listed[name] {
			t.Errorf("%s declares the catalog %q, which the parity test does not run: add its Statements() to catalogs() in cases_test.go", path, name)
		}
	}
}

// TestNoAnyJoin: ANY INNER/LEFT JOIN changed meaning after 18.16 (one row
// per key on both sides of an inner join); no Go, SQL or dashboard file
// may use it.
func TestNoAnyJoin(t *testing.T) {
	anyJoin := regexp.MustCompile(`(?i)\bANY\s+(INNER|LEFT|RIGHT|FULL)\s+(OUTER\s+)?JOIN\b`)
	checked := 0
	walkRepo(t, func(path string, b []byte) {
		if !slices.Contains([]string{".go", ".sql", ".json"}, filepath.Ext(path)) {
			return
		}
		checked++
		for _, loc := range anyJoin.FindAllIndex(b, -1) {
			line := 1 + strings.Count(string(b[:loc[0]]), "\n")
			t.Errorf("%s:%d: %s", path, line, b[loc[0]:loc[1]])
		}
	})
	if checked < 50 {
		t.Fatalf("checked only %d files", checked)
	}
}

// walkRepo calls fn with every file of the repository but hidden
// directories, testdata and this package's own test files.
func walkRepo(t *testing.T, fn func(path string, b []byte)) {
	t.Helper()
	self, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir("../..", func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path != "../.." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "testdata" || e.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if abs, _ := filepath.Abs(filepath.Dir(path)); abs == self && strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fn(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// reducers are what the callers of some statements do to their rows, by
// statement: the parity that matters is of what the component keeps.
// detector.reports_since returns every stored revision, unmerged ones too,
// and the detector keeps the highest revision of each firm and month (ingest
// refuses an equal revision with other content); ClickHouse 26.x collapses
// same-key rows within one insert block, 18.16 does not, so the raw rows
// differ while merges are pending.
var reducers = map[string]func(result) result{
	"detector.reports_since": highestRevisions,
	// a detect replica's share, read the same way
	"detector.reports_in": highestRevisions,
}

func highestRevisions(r result) result {
	keep := map[string]string{} // firm, period → the row of its highest revision
	rev := map[string]int{}
	for _, row := range r.rows {
		f := strings.SplitN(row, "\t", 4)
		key := f[0] + "\t" + f[1]
		n, _ := strconv.Atoi(f[2])
		if old, ok := rev[key]; !ok || n > old {
			rev[key], keep[key] = n, dropIngestedAt(row)
		}
	}
	out := result{names: r.names, types: r.types}
	for _, row := range keep {
		out.rows = append(out.rows, row)
	}
	return out
}

// dropIngestedAt removes the last column (ingested_at: when each copy was
// inserted, which differs between copies of one revision).
func dropIngestedAt(row string) string {
	if i := strings.LastIndex(row, "\t"); i >= 0 {
		return row[:i]
	}
	return row
}
