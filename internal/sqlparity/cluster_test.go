package sqlparity_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
)

// TestShardedTablesMarked: a statement that names a sharded table without
// its marker ({{reports}}) would read one shard only on a cluster.
func TestShardedTablesMarked(t *testing.T) {
	n := 0
	for _, c := range catalogs() {
		for _, st := range c.Statements() {
			n++
			// the marker is gone from SQL(); ClusterSQL() names the
			// Distributed tables: a sharded name left in it was unmarked
			if tbl := chdb.UnmarkedShardedTable(st.ClusterSQL("layoffwatch")); tbl != "" {
				t.Errorf("%s names the sharded table %s without its marker {{%s}}", st.Name(), tbl, tbl)
			}
		}
	}
	if n < 30 {
		t.Fatalf("checked only %d statements", n)
	}
}

// TestClusterParity (make test-cluster) loads the parity fixture, through
// the components' own inserts, into one ClickHouse 18.16 server and into a
// cluster of 2 shards × 2 replicas (migrated ON CLUSTER, sharded tables
// written through their Distributed tables), and requires every catalog
// statement to give the same answer on the cluster (ClusterSQL, asked of a
// node of each shard) as on the single server (SQL).
func TestClusterParity(t *testing.T) {
	if os.Getenv("LAYOFFWATCH_TEST_CLUSTER") == "" {
		t.Skip("runs with `make test-cluster` (LAYOFFWATCH_TEST_CLUSTER=1)")
	}
	fx, err := newFixture(declaredInserts())
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	cases, err := statementCases(fx)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	log := slog.New(obs.QuietOldServer(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})))
	dir := t.TempDir()
	cl, err := localstack.StartCluster(ctx, dir, localstack.ClusterConfig{Name: "lw", Shards: 2, Replicas: 2}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the servers' error logs end:\n%s", cl.Logs(3000))
		}
		cl.Stop()
	})
	single, err := localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: dir + "/single", MaxMemory: 1 << 30}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := single.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = single.Stop() })

	load := func(addr, cluster string) {
		c, err := chdb.Open(ctx, chdb.Options{Addr: addr, Database: db, User: "default", DialTimeout: 10 * time.Second, Cluster: cluster}, log, true)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Migrate(ctx); err != nil {
			t.Fatalf("migrate %s: %v", addr, err)
		}
		for _, b := range fx.batches {
			if err := c.InsertColumns(ctx, b.ins, b.cols...); err != nil {
				t.Fatalf("%s: %s: %v", addr, b.ins, err)
			}
		}
	}
	start := time.Now()
	load(single.Addr(), "")
	load(cl.Servers[0][0].Addr(), "lw")
	httpc := &http.Client{Timeout: 2 * time.Minute}
	one := &server{url: "http://" + single.HTTPAddr(), db: db, client: httpc}
	var nodes []*server
	for _, shard := range cl.Servers {
		for _, s := range shard {
			nodes = append(nodes, &server{url: "http://" + s.HTTPAddr(), db: db, client: httpc})
		}
	}
	// every replica has every row before the comparison: the Distributed
	// reads pick any replica of a shard
	tables, err := one.query(ctx, fmt.Sprintf("SELECT name FROM system.tables WHERE database = '%s' AND engine LIKE '%%MergeTree' ORDER BY name", db))
	if err != nil {
		t.Fatal(err)
	}
	res, err := parseTSV(tables)
	if err != nil {
		t.Fatal(err)
	}
	// and both sides merged: the single server merges in the background
	// while the replicas may not have yet, and what a statement answers
	// while merges are pending is the chDB parity test's (TestParity)
	for _, tbl := range res.rows {
		if err := one.exec(ctx, "OPTIMIZE TABLE "+db+"."+tbl+" FINAL"); err != nil {
			t.Fatalf("optimize %s on one server: %v", tbl, err)
		}
	}
	sync := func() {
		for _, n := range nodes {
			for _, tbl := range res.rows {
				if err := n.exec(ctx, "SYSTEM SYNC REPLICA "+db+"."+tbl); err != nil {
					t.Fatalf("sync %s on %s: %v", tbl, n.url, err)
				}
			}
		}
	}
	sync()
	for _, n := range nodes {
		for _, tbl := range res.rows {
			// a replica that is not the leader hands the merge to it
			if err := n.exec(ctx, "OPTIMIZE TABLE "+db+"."+tbl+" FINAL"); err != nil {
				t.Logf("optimize %s on %s: %v", tbl, n.url, err)
			}
		}
	}
	sync()
	t.Logf("cluster and single server loaded in %s", time.Since(start).Round(time.Second))
	// a node of each shard, the second replica of the second shard
	// included: whichever node a component asks answers the same
	askers := []*server{nodes[0], nodes[3]}
	compared := 0
	for i, c := range cases {
		name := fmt.Sprintf("%s (args %d)", c.st.Name(), i)
		want, err := runBound(ctx, one, c.st.SQL(), c.args)
		if err != nil {
			t.Errorf("%s on one server: %v", name, err)
			continue
		}
		for _, n := range askers {
			got, err := runBound(ctx, n, c.st.ClusterSQL("layoffwatch"), c.args)
			if err != nil {
				t.Errorf("%s on the cluster (%s): %v\n%s", name, n.url, firstLine(err), clip(c.st.ClusterSQL("layoffwatch")))
				continue
			}
			if d := diff(want, got, ordered(c.st.SQL()), false); d != "" {
				t.Errorf("%s: the cluster (%s) answers differently (%d rows on one server):\n  %s\n%s", name, n.url, len(want.rows), d, clip(c.st.ClusterSQL("layoffwatch")))
			}
			compared++
		}
	}
	t.Logf("%d statement runs compared", compared)
}

func runBound(ctx context.Context, s *server, sql string, args []any) (result, error) {
	bound, err := bind(sql, time.UTC, args...)
	if err != nil {
		return result{}, err
	}
	out, err := s.query(ctx, bound)
	if err != nil {
		return result{}, err
	}
	return parseTSV(out)
}
