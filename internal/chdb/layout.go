package chdb

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Where tables live on a cluster (--clickhouse-cluster):
//
//	sharded:   reports, report_revisions,       split over the shards by cityHash64(firm_id),
//	           gateway_submissions,              each shard's part replicated on its replicas;
//	           gateway_revisions                 read and written through <table>_all (Distributed)
//	everywhere: every other table (firms,        one replication group over every node of every
//	           alerts, tokens, notifications …)  shard: any node holds all of it, read locally
//
// The sharded tables are the ones that grow with reports (a row per firm and
// month); the others are small or per alert, and having all of them on every
// node keeps joins local: a statement reading reports_all joined with firms
// runs on each shard against that shard's full copy of firms. Rows of one
// firm always land on one shard, so a (firm, period)'s revisions collapse
// there (ReplacingMergeTree) and FINAL on the Distributed table is exact.
//
// Statements name a sharded table with a marker, {{reports}}: on one server
// it is the table, on a cluster its Distributed twin reports_all. A sharded
// table named without the marker is a mistake the parity test refuses
// (it would read one shard only). A table of every node joined with a
// sharded one is marked too, {{firms}}: on a cluster it is qualified with
// the database, because each shard runs the join itself and ClickHouse
// 18.16 resolves a shard's unqualified names in its default database.
var shardedTables = []string{"reports", "report_revisions", "gateway_submissions", "gateway_revisions"}

// joinedTables are the tables of every node that statements join with a
// sharded table.
var joinedTables = []string{"firms"}

// ShardingKey is the sharding expression of the Distributed tables over the
// sharded tables (migration 0005 and 0013).
const ShardingKey = "cityHash64(firm_id)"

// ShardedTables are the tables split over a cluster's shards.
func ShardedTables() []string { return slices.Clone(shardedTables) }

// Sharded reports whether table is split over a cluster's shards.
func Sharded(table string) bool { return slices.Contains(shardedTables, table) }

// DistributedName is the Distributed table over a sharded table.
func DistributedName(table string) string { return table + "_all" }

var markerRe = regexp.MustCompile(`\{\{\s*([a-z_]+)\s*\}\}`)

// dbMarker stands for the database in a statement's cluster text until a
// client (or ClusterSQL) fills it in.
const dbMarker = "\x00db\x00"

// render returns sql with its table markers resolved for one server and for
// a cluster (with dbMarker for the database); a marker that names no
// sharded or joined table, or a stray brace pair, is an error.
func render(sql string) (single, cluster string, err error) {
	for _, m := range markerRe.FindAllStringSubmatch(sql, -1) {
		if !Sharded(m[1]) && !slices.Contains(joinedTables, m[1]) {
			return "", "", fmt.Errorf("marker %s names no sharded table (%s) nor joined one (%s)", m[0],
				strings.Join(shardedTables, ", "), strings.Join(joinedTables, ", "))
		}
	}
	single = markerRe.ReplaceAllString(sql, "$1")
	cluster = markerRe.ReplaceAllStringFunc(sql, func(m string) string {
		t := markerRe.FindStringSubmatch(m)[1]
		if Sharded(t) {
			return DistributedName(t)
		}
		return dbMarker + "." + t
	})
	if strings.Contains(single, "{{") || strings.Contains(single, "}}") {
		return "", "", fmt.Errorf("malformed table marker in %q", sql)
	}
	return single, cluster, nil
}

// UnmarkedShardedTable returns the first sharded table sql names without a
// marker (as a whole word, outside markers), or "": a statement that reads
// such a table reads one shard only on a cluster.
func UnmarkedShardedTable(sql string) string {
	rest := markerRe.ReplaceAllString(sql, " ")
	for _, t := range shardedTables {
		if regexp.MustCompile(`\b` + t + `\b`).MatchString(rest) {
			return t
		}
	}
	return ""
}
