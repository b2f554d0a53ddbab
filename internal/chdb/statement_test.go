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
