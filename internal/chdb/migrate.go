package chdb

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// The package's own statements: the schema version and the reports batch.
var queries = NewCatalog("chdb")

var (
	qSchemaVersion = queries.Query("schema_version", "SELECT max(version) FROM schema_migrations")
	insMigration   = queries.Insert("migration", "schema_migrations", "version", "name", "applied_at")
)

// Statements is this package's catalog (the parity test runs every one).
func Statements() *Catalog { return queries }

// Migration is one numbered schema change.
type Migration struct {
	Version    uint32
	Name       string
	Statements []string
}

// Migrations returns the embedded migrations rendered for database db and
// cluster (empty: single server), in version order. Names are qualified
// with the database: ON CLUSTER statements run on every replica, which
// would otherwise resolve them in its default database.
func Migrations(db, cluster string) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	data := struct{ OnCluster, DB, DBName, Cluster, ShardingKey string }{onCluster(cluster), db + ".", db, cluster, ShardingKey}
	funcs := template.FuncMap{"engine": func(engine, table string) string { return engineFor(cluster, db, engine, table) }}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_name.sql", e.Name())
		}
		raw, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", e.Name(), err)
		}
		tmpl, err := template.New(e.Name()).Funcs(funcs).Parse(string(raw))
		if err != nil {
			return nil, fmt.Errorf("parse migration %s: %w", e.Name(), err)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("render migration %s: %w", e.Name(), err)
		}
		stmts := splitStatements(buf.String())
		for i, st := range stmts {
			stmts[i] = alterOnce(st, db, cluster)
		}
		out = append(out, Migration{Version: uint32(v), Name: name, Statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("two migrations have version %d", out[i].Version)
		}
	}
	return out, nil
}

// alterOnce drops ON CLUSTER from an ALTER of a table replicated on every
// node (layout.go): ClickHouse runs an ALTER ON CLUSTER of a replicated
// table once per shard, and the second run of an ADD COLUMN fails, for the
// column came with the first. Run on one node, the change reaches every
// replica through the replication log.
func alterOnce(stmt, db, cluster string) string {
	if cluster == "" {
		return stmt
	}
	prefix := "ALTER TABLE " + db + "."
	if !strings.HasPrefix(stmt, prefix) {
		return stmt
	}
	table, rest, ok := strings.Cut(stmt[len(prefix):], onCluster(cluster))
	if !ok || strings.ContainsAny(table, " \n\t") || Sharded(table) {
		return stmt
	}
	return prefix + table + rest
}

// splitStatements splits on semicolons that end a line and drops comment-only
// lines; the migration files keep one statement per semicolon.
func splitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(trim, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// MigrateResult says what Migrate did.
type MigrateResult struct {
	Applied []Migration
	Current uint32
}

// Migrate applies every migration newer than the database's schema version.
// Statements are idempotent (IF NOT EXISTS), so a migration interrupted half
// way is simply applied again.
func (c *Client) Migrate(ctx context.Context) (MigrateResult, error) {
	var res MigrateResult
	all, err := Migrations(c.opts.Database, c.opts.Cluster)
	if err != nil {
		return res, err
	}
	if err := c.conn.Exec(ctx, SchemaMigrationsDDL(c.opts.Database, c.opts.Cluster)); err != nil {
		return res, fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := c.SchemaVersion(ctx)
	if err != nil {
		return res, err
	}
	res.Current = current
	for _, m := range all {
		if m.Version <= current {
			continue
		}
		for i, stmt := range m.Statements {
			if err := c.conn.Exec(ctx, stmt); err != nil {
				return res, fmt.Errorf("migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := c.InsertColumns(ctx, insMigration, []uint32{m.Version}, []string{m.Name}, []time.Time{time.Now().UTC().Truncate(time.Second)}); err != nil {
			return res, fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		res.Applied = append(res.Applied, m)
		res.Current = m.Version
	}
	return res, nil
}

// SchemaMigrationsDDL creates the table of applied migrations, which
// Migrate needs before it can read the schema version.
func SchemaMigrationsDDL(db, cluster string) string {
	return "CREATE TABLE IF NOT EXISTS " + db + ".schema_migrations" + onCluster(cluster) +
		" (version UInt32, name String, applied_at DateTime) ENGINE = " + engineFor(cluster, db, "ReplacingMergeTree()", "schema_migrations") + " ORDER BY version"
}

// engineFor returns engine, or on a cluster its Replicated twin, which takes
// the ZooKeeper path and replica name before the engine's own arguments. A
// sharded table (layout.go) is replicated within its shard ({shard} in the
// path); every other table over every node of the cluster (one path), so
// that any node holds all of it. Replica names ({replica}) must therefore
// be unique across the cluster, not only within a shard.
func engineFor(cluster, db, engine, table string) string {
	if cluster == "" {
		return engine
	}
	name, args, _ := strings.Cut(engine, "(")
	args = strings.TrimSuffix(args, ")")
	group := "all"
	if Sharded(table) {
		group = "{shard}"
	}
	zk := fmt.Sprintf("'/clickhouse/tables/%s/%s/%s', '{replica}'", group, db, table)
	if args != "" {
		zk += ", " + args
	}
	return "Replicated" + name + "(" + zk + ")"
}

// SchemaVersion returns the newest applied migration (0: none).
func (c *Client) SchemaVersion(ctx context.Context) (uint32, error) {
	var v uint32
	if err := c.QueryRow(ctx, qSchemaVersion).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// RequireSchema fails unless every embedded migration has been applied, so a
// component never writes into a schema older than it expects.
func (c *Client) RequireSchema(ctx context.Context) error {
	all, err := Migrations(c.opts.Database, c.opts.Cluster)
	if err != nil {
		return err
	}
	want := all[len(all)-1].Version
	got, err := c.SchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("%w (run `layoffwatch migrate` first)", err)
	}
	if got < want {
		return fmt.Errorf("database %s has schema version %d, this build needs %d: run `layoffwatch migrate`", c.opts.Database, got, want)
	}
	return nil
}
