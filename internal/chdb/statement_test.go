package chdb_test

import (
	"context"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestCatalogRefusesBadDeclarations(t *testing.T) {
	for _, tc := range []struct {
		name    string
		declare func(c *chdb.Catalog)
	}{
		{"duplicate name", func(c *chdb.Catalog) { c.Query("a", "SELECT 1"); c.Query("a", "SELECT 2") }},
		{"duplicate across kinds", func(c *chdb.Catalog) { c.Query("a", "SELECT 1"); c.Insert("a", "t", "x") }},
		{"upper-case name", func(c *chdb.Catalog) { c.Query("Bad", "SELECT 1") }},
		{"insert without columns", func(c *chdb.Catalog) { c.Insert("i", "t") }},
		{"insert with a bad column", func(c *chdb.Catalog) { c.Insert("i", "t", "x; DROP TABLE t") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("declaration accepted, want a panic")
				}
			}()
			tc.declare(chdb.NewCatalog("test"))
		})
	}
}

func TestCatalogStatements(t *testing.T) {
	c := chdb.NewCatalog("test")
	q := c.Query("one", "  SELECT 1  ")
	ins := c.Insert("rows", "t", "a", "b")
	if q.Name() != "test.one" || q.SQL() != "SELECT 1" {
		t.Fatalf("query = %s %q", q.Name(), q.SQL())
	}
	if ins.SQL() != "INSERT INTO t (a, b)" || ins.Table() != "t" || strings.Join(ins.Columns(), ",") != "a,b" {
		t.Fatalf("insert = %q", ins.SQL())
	}
	if len(c.Statements()) != 1 || len(c.Inserts()) != 1 {
		t.Fatalf("catalog holds %d statements and %d inserts", len(c.Statements()), len(c.Inserts()))
	}
}

func TestInsertColumnsChecksTheColumnCount(t *testing.T) {
	c := testenv.ClickHouse(t)
	ins := chdb.NewCatalog("test").Insert("versions", "schema_migrations", "version", "name")
	err := c.InsertColumns(context.Background(), ins, []uint32{99})
	if err == nil || !strings.Contains(err.Error(), "1 columns given, 2 declared") {
		t.Fatalf("err = %v", err)
	}
}

func TestClusterRendering(t *testing.T) {
	c := chdb.NewCatalog("test")
	q := c.Query("read", `SELECT r.firm_id FROM {{reports}} AS r FINAL
		ALL INNER JOIN (SELECT firm_id FROM {{firms}} FINAL) AS f USING firm_id WHERE has(?, r.firm_id)`)
	wantOne := "SELECT r.firm_id FROM reports AS r FINAL\n\t\tALL INNER JOIN (SELECT firm_id FROM firms FINAL) AS f USING firm_id WHERE has(?, r.firm_id)"
	wantCluster := "SELECT r.firm_id FROM reports_all AS r FINAL\n\t\tALL INNER JOIN (SELECT firm_id FROM db1.firms FINAL) AS f USING firm_id WHERE has(?, r.firm_id)"
	if q.SQL() != wantOne {
		t.Errorf("SQL() = %q", q.SQL())
	}
	if got := q.ClusterSQL("db1"); got != wantCluster {
		t.Errorf("ClusterSQL() = %q", got)
	}
	ins := c.Insert("rows", "report_revisions", "a")
	if ins.SQL() != "INSERT INTO report_revisions (a)" || ins.ClusterSQL() != "INSERT INTO report_revisions_all (a)" {
		t.Errorf("insert renders %q and %q", ins.SQL(), ins.ClusterSQL())
	}
	other := c.Insert("other", "alerts", "a")
	if other.ClusterSQL() != "INSERT INTO alerts (a)" {
		t.Errorf("a table of every node is written as itself on a cluster: %q", other.ClusterSQL())
	}
	for _, bad := range []string{"SELECT 1 FROM {{alerts}}", "SELECT 1 FROM {{reports}", "SELECT 1 FROM {{ }}"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%q accepted, want a panic", bad)
				}
			}()
			chdb.NewCatalog("bad").Query("q", bad)
		}()
	}
	if got := chdb.UnmarkedShardedTable("SELECT 1 FROM {{reports}} JOIN reports_latest USING x"); got != "" {
		t.Errorf("marked statement: %q", got)
	}
	if got := chdb.UnmarkedShardedTable("SELECT 1 FROM gateway_revisions"); got != "gateway_revisions" {
		t.Errorf("unmarked statement: %q", got)
	}
}

func TestMigrationsPlaceTables(t *testing.T) {
	migs, err := chdb.Migrations("lw", "c1")
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, m := range migs {
		all += strings.Join(m.Statements, "\n") + "\n"
	}
	for _, want := range []string{
		"ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/lw/reports', '{replica}', revision)",
		"ReplicatedReplacingMergeTree('/clickhouse/tables/all/lw/firms', '{replica}', updated_at)",
		"ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/lw/report_revisions', '{replica}')",
		"ENGINE = Distributed(c1, lw, gateway_revisions, cityHash64(firm_id))",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the cluster's migrations lack %s", want)
		}
	}
	if !strings.Contains(all, "ALTER TABLE lw.alerts\n    ADD COLUMN level_name_zh String") || strings.Contains(all, "ALTER TABLE lw.alerts ON CLUSTER") {
		t.Error("an ALTER of alerts (on every node) runs ON CLUSTER, which runs it once per shard")
	}
	one, err := chdb.Migrations("lw", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range one {
		for _, s := range m.Statements {
			if strings.Contains(s, "Distributed") || strings.Contains(s, "Replicated") {
				t.Errorf("migration %d on one server: %s", m.Version, s)
			}
		}
	}
}
