package chdb

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Statement is one SQL statement a component issues, declared in that
// component's Catalog. The client runs nothing else: every statement the
// project sends to ClickHouse can be enumerated (Catalog.Statements), which
// is how the parity test runs each one on ClickHouse 18.16 and on the
// current engine and requires the same answer.
type Statement struct {
	component, name string
	sql, cluster    string // on one server; on a cluster (sharded tables through their Distributed twins)
}

// Name is "component.name", unique across the project.
func (s Statement) Name() string { return s.component + "." + s.name }

// SQL is the statement's text on one server, with `?` placeholders.
func (s Statement) SQL() string { return s.sql }

// ClusterSQL is the statement's text on a cluster, in database db: every
// sharded table (layout.go) read through its Distributed table, every
// table joined with one qualified with db.
func (s Statement) ClusterSQL(db string) string { return strings.ReplaceAll(s.cluster, dbMarker, db) }

// sqlFor is the statement's text for a client.
func (s Statement) sqlFor(c *Client) string {
	if c.cluster() {
		return s.ClusterSQL(c.opts.Database)
	}
	return s.sql
}

func (s Statement) String() string { return s.Name() }

// Insert is an INSERT of named columns into one table, the one way rows
// reach ClickHouse: a batch with an explicit column list (the insert form
// that works with clickhouse-go on every server version the project runs).
type Insert struct {
	component, name, table string
	columns                []string
}

// Name is "component.name", unique across the project.
func (i Insert) Name() string { return i.component + "." + i.name }

// Table is the table written.
func (i Insert) Table() string { return i.table }

// Columns are the columns written, in the order InsertColumns takes them.
func (i Insert) Columns() []string { return slices.Clone(i.columns) }

// SQL is the statement that opens the batch on one server.
func (i Insert) SQL() string { return i.sqlFor(false) }

// ClusterSQL is the statement that opens the batch on a cluster: a sharded
// table is written through its Distributed table, which sends each row to
// its shard (by ShardingKey).
func (i Insert) ClusterSQL() string { return i.sqlFor(true) }

func (i Insert) sqlFor(cluster bool) string {
	table := i.table
	if cluster && Sharded(table) {
		table = DistributedName(table)
	}
	return "INSERT INTO " + table + " (" + strings.Join(i.columns, ", ") + ")"
}

func (i Insert) String() string { return i.Name() }

// Catalog is every statement of one component. A component declares its
// catalog once, at package level, and exports its statements for the
// parity test:
//
//	var sql = chdb.NewCatalog("alerts")
//	var qHistory = sql.Query("history", `SELECT … FROM notifications …`)
//	func Statements() *chdb.Catalog { return sql }
//
// Names are checked when declared: a duplicate or malformed one is a
// programming error and panics at start-up, which every test catches.
type Catalog struct {
	component  string
	statements []Statement
	inserts    []Insert
	names      map[string]bool
}

var (
	nameRe  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]{0,127}$`)
)

// NewCatalog starts the catalog of a component.
func NewCatalog(component string) *Catalog {
	if !nameRe.MatchString(component) {
		panic(fmt.Sprintf("chdb: catalog name %q must be lower-case letters, digits and _", component))
	}
	return &Catalog{component: component, names: map[string]bool{}}
}

// Component is the catalog's name.
func (c *Catalog) Component() string { return c.component }

func (c *Catalog) claim(name string) {
	if !nameRe.MatchString(name) {
		panic(fmt.Sprintf("chdb: statement name %s.%s must be lower-case letters, digits and _", c.component, name))
	}
	if c.names[name] {
		panic(fmt.Sprintf("chdb: statement %s.%s declared twice", c.component, name))
	}
	c.names[name] = true
}

// Query declares a statement (a SELECT, or DDL and system statements run
// with Exec). A sharded table is named with a marker, {{reports}} (see
// layout.go).
func (c *Catalog) Query(name, sql string) Statement {
	c.claim(name)
	single, cluster, err := render(strings.TrimSpace(sql))
	if err != nil {
		panic(fmt.Sprintf("chdb: statement %s.%s: %v", c.component, name, err))
	}
	s := Statement{component: c.component, name: name, sql: single, cluster: cluster}
	c.statements = append(c.statements, s)
	return s
}

// Insert declares an insert of columns into table.
func (c *Catalog) Insert(name, table string, columns ...string) Insert {
	c.claim(name)
	if !identRe.MatchString(table) || len(columns) == 0 {
		panic(fmt.Sprintf("chdb: insert %s.%s: bad table %q or no columns", c.component, name, table))
	}
	for _, col := range columns {
		if !identRe.MatchString(col) {
			panic(fmt.Sprintf("chdb: insert %s.%s: bad column %q", c.component, name, col))
		}
	}
	i := Insert{component: c.component, name: name, table: table, columns: slices.Clone(columns)}
	c.inserts = append(c.inserts, i)
	return i
}

// Statements returns the declared statements, in declaration order.
func (c *Catalog) Statements() []Statement { return slices.Clone(c.statements) }

// Inserts returns the declared inserts, in declaration order.
func (c *Catalog) Inserts() []Insert { return slices.Clone(c.inserts) }

// Query runs a statement that returns rows. Arguments bind to `?`
// placeholders on the client (clickhouse-go escapes them), so no value is
// ever spliced into SQL.
func (c *Client) Query(ctx context.Context, s Statement, args ...any) (driver.Rows, error) {
	rows, err := c.conn.Query(ctx, s.sqlFor(c), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	return rows, nil
}

// QueryRow runs a statement that returns one row.
func (c *Client) QueryRow(ctx context.Context, s Statement, args ...any) driver.Row {
	return c.conn.QueryRow(ctx, s.sqlFor(c), args...)
}

// Exec runs a statement that returns nothing (DDL, OPTIMIZE, SYSTEM).
func (c *Client) Exec(ctx context.Context, s Statement, args ...any) error {
	if err := c.conn.Exec(ctx, s.sqlFor(c), args...); err != nil {
		return fmt.Errorf("%s: %w", s.Name(), err)
	}
	return nil
}

// InsertColumns writes one batch: one slice per column of ins, in its
// order, all of the same length. It is one insert, so it lands whole or not
// at all — on a cluster, a sharded table's batch is written through its
// Distributed table synchronously (insert_distributed_sync): it returns
// once every shard's part is written, so a failed batch is retried whole,
// and each row goes to the shard its firm always goes to.
func (c *Client) InsertColumns(ctx context.Context, ins Insert, cols ...any) error {
	if len(cols) != len(ins.columns) {
		return fmt.Errorf("insert into %s: %d columns given, %d declared", ins.table, len(cols), len(ins.columns))
	}
	if c.cluster() && Sharded(ins.table) {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	}
	batch, err := c.conn.PrepareBatch(ctx, ins.sqlFor(c.cluster()))
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", ins.table, err)
	}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("insert into %s: column %s: %w", ins.table, ins.columns[i], err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", ins.table, err)
	}
	return nil
}
