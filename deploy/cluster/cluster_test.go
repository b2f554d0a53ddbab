// Package cluster_test proves layoffwatch's scale-out on one machine: a
// ClickHouse cluster of two shards of two replicas coordinated by Debian's
// ZooKeeper, tables created ON CLUSTER by `migrate --clickhouse-cluster`
// (sharded or replicated on every node), ingest replicas sharing a Kafka
// consumer group, and detect replicas dividing the prefectures. Run by
// `make test-cluster` (LAYOFFWATCH_TEST_CLUSTER=1); `go test ./...` skips
// those to keep `make test` short and runs only TestRunbookConfig (one
// server with the runbook's files, docs/cluster.md).
package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/layoffwatch/layoffwatch/ingest"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

type cluster struct {
	*localstack.Cluster
}

// startCluster starts ZooKeeper and 2 shards × 2 replicas of ClickHouse
// 18.16, the cluster "lw".
func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("LAYOFFWATCH_TEST_CLUSTER") == "" {
		t.Skip("the cluster test runs with `make test-cluster` (LAYOFFWATCH_TEST_CLUSTER=1)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := localstack.StartCluster(ctx, t.TempDir(), localstack.ClusterConfig{Name: "lw", Shards: 2, Replicas: 2}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the servers' error logs end:\n%s", c.Logs(3000))
		}
		c.Stop()
	})
	return &cluster{c}
}

func TestMigrateOnCluster(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	opts := chdb.Options{Addr: c.Addrs()[0], Database: "layoffwatch", User: "default", DialTimeout: 5 * time.Second, Cluster: "lw"}
	ch, err := chdb.Open(ctx, opts, testenv.Logger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Addrs() {
		o := opts
		o.Addr = a
		r, err := chdb.Open(ctx, o, testenv.Logger(t), false)
		if err != nil {
			t.Fatal(err)
		}
		sql := testenv.SQL(t, o)
		if err := sql.Exec(ctx, "SYSTEM SYNC REPLICA layoffwatch.schema_migrations"); err != nil {
			t.Fatal(err)
		}
		// schema_migrations is replicated on every node, so every node of
		// every shard knows the schema version
		if err := r.RequireSchema(ctx); err != nil {
			t.Errorf("node %s: %v", a, err)
		}
		engines := map[string]string{}
		rows, err := sql.Query(ctx, "SELECT name, engine_full FROM system.tables WHERE database = 'layoffwatch'")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, engine string
			if err := rows.Scan(&name, &engine); err != nil {
				t.Fatal(err)
			}
			engines[name] = engine
		}
		_ = rows.Close()
		for _, tbl := range chdb.ShardedTables() {
			if !strings.Contains(engines[tbl], "/clickhouse/tables/{shard}/") {
				t.Errorf("node %s: sharded table %s is not replicated within its shard: %s", a, tbl, engines[tbl])
			}
			if !strings.HasPrefix(engines[chdb.DistributedName(tbl)], "Distributed(lw, layoffwatch, "+tbl+", cityHash64(firm_id))") {
				t.Errorf("node %s: %s is %q", a, chdb.DistributedName(tbl), engines[chdb.DistributedName(tbl)])
			}
		}
		for _, tbl := range []string{"firms", "alerts", "gateway_tokens", "schema_migrations"} {
			if !strings.Contains(engines[tbl], "/clickhouse/tables/all/") {
				t.Errorf("node %s: %s is not replicated on every node: %s", a, tbl, engines[tbl])
			}
		}
		for _, gone := range []string{"firms_all", "alerts_all"} {
			if _, ok := engines[gone]; ok {
				t.Errorf("node %s: %s still exists", a, gone)
			}
		}
	}
}

// TestIngestReplicasSurviveAReplicaKill: two ingest replicas in one consumer
// group read a topic of six partitions into a cluster of two shards of two
// replicas, each ingest writing through a different node (with another as
// failover), the reports through the Distributed table reports_all. The
// first replica of shard 1 — the node ingest 1 talks to, and the replica the
// cluster writes shard 1's rows to first — is killed mid-stream and started
// again 15 s later. Then the cluster holds every report exactly once: each
// firm on one shard only, both replicas of each shard alike.
func TestIngestReplicasSurviveAReplicaKill(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	s11, s12, s21, s22 := c.Servers[0][0], c.Servers[0][1], c.Servers[1][0], c.Servers[1][1]
	base := chdb.Options{Database: "layoffwatch", User: "default", DialTimeout: 2 * time.Second, Cluster: "lw"}
	o := base
	o.Addr = s22.Addr()
	ch, err := chdb.Open(ctx, o, testenv.Logger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const nFirms, nPeriods = 5000, 20
	var list []firms.Firm
	for i := 0; i < nFirms; i++ {
		county := []string{"620102", "620402", "440103", "440303"}[i%4] // two provinces
		list = append(list, firms.Firm{ID: testenv.FirmID(county, i+1), Name: fmt.Sprintf("企业%d", i), Region: county, Industry: "C", BaselineHeadcount: 500})
	}
	if err := firms.NewStore(ch).Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Addrs() {
		syncReplica(t, a, "firms")
	}
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 6})
	kOpts := kafkautil.Options{Brokers: k.Addrs(), Partitions: 6, ReplicationFactor: 1}
	for i, addrs := range []string{s11.Addr() + "," + s21.Addr(), s22.Addr() + "," + s12.Addr()} {
		oi := base
		oi.Addr = addrs
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- ingest.Run(cctx, ingest.Options{Kafka: kOpts, ClickHouse: oi, Topic: "reports", DLQTopic: "reports.dlq", Group: "ingest",
				BatchRows: 2000, BatchWait: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, ShutdownGrace: 20 * time.Second,
				InsertTimeout: 10 * time.Second, CreateTopics: true},
				testenv.Logger(t), prometheus.NewRegistry())
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingest replica %d: %v", i, err)
			}
		})
	}
	var want, sum uint64
	produced := make(chan error, 1)
	go func() {
		w := kafkautil.NewWriter(kOpts, "reports", testenv.Logger(t))
		defer w.Close()
		start := report.NewPeriod(2024, 1)
		for p := 0; p < nPeriods; p++ {
			msgs := make([]kafka.Message, 0, nFirms)
			for i, f := range list {
				r := report.Report{FirmID: f.ID, Period: start.Add(p), Headcount: uint32(100 + (i+p)%400), Vacancies: 1, Revision: 1}
				msgs = append(msgs, kafka.Message{Key: []byte(f.ID), Value: report.AppendEncode(nil, r)})
			}
			if err := w.WriteMessages(ctx, msgs...); err != nil {
				produced <- err
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		produced <- nil
	}()
	for p := 0; p < nPeriods; p++ {
		for i := range list {
			want++
			sum += uint64(100 + (i+p)%400)
		}
	}
	time.Sleep(3 * time.Second)
	if err := s11.Kill(); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse s1r1 killed")
	time.Sleep(15 * time.Second)
	if err := s11.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse s1r1 started again")
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	// through the Distributed table, from a node of each shard
	for _, a := range []string{s11.Addr(), s22.Addr()} {
		deadline := time.Now().Add(2 * time.Minute)
		var n, s uint64
		var err error
		for time.Now().Before(deadline) {
			r := open(t, a)
			err = r.QueryRow(ctx, "SELECT count(), sum(headcount) FROM reports_all FINAL WHERE 1").Scan(&n, &s)
			if err == nil && n == want {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if n != want || s != sum {
			t.Fatalf("reports_all on %s: %d reports with headcount sum %d, want %d and %d (last error: %v)", a, n, s, want, sum, err)
		}
		t.Logf("reports_all on %s: all %d reports exactly once", a, n)
	}
	// each shard: both replicas alike, and no firm on the other shard
	var shardFirms [2]map[string]bool
	var total uint64
	for s, shard := range c.Servers {
		var counts []uint64
		for _, srv := range shard {
			syncReplica(t, srv.Addr(), "reports")
			r := open(t, srv.Addr())
			var n, sm uint64
			if err := r.QueryRow(ctx, "SELECT count(), sum(headcount) FROM reports FINAL WHERE 1").Scan(&n, &sm); err != nil {
				t.Fatal(err)
			}
			counts = append(counts, n)
			if shardFirms[s] == nil {
				shardFirms[s] = map[string]bool{}
				rows, err := r.Query(ctx, "SELECT DISTINCT firm_id FROM reports")
				if err != nil {
					t.Fatal(err)
				}
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						t.Fatal(err)
					}
					shardFirms[s][id] = true
				}
				_ = rows.Close()
			}
		}
		if counts[0] != counts[1] {
			t.Errorf("shard %d: replicas hold %d and %d reports", s+1, counts[0], counts[1])
		}
		total += counts[0]
		t.Logf("shard %d: %d reports on each replica, %d firms", s+1, counts[0], len(shardFirms[s]))
	}
	if total != want {
		t.Errorf("the shards hold %d reports together, want %d", total, want)
	}
	for id := range shardFirms[0] {
		if shardFirms[1][id] {
			t.Errorf("firm %s has reports on both shards", id)
		}
	}
	if len(shardFirms[0]) == 0 || len(shardFirms[1]) == 0 {
		t.Errorf("a shard holds no firm: %d and %d", len(shardFirms[0]), len(shardFirms[1]))
	}
}

// open is a connection to one node (shared within the test: not closed).
func open(t testing.TB, addr string) driver.Conn {
	t.Helper()
	return testenv.SQL(t, chdb.Options{Addr: addr, Database: "layoffwatch", User: "default", DialTimeout: 2 * time.Second})
}

func syncReplica(t testing.TB, addr, table string) {
	t.Helper()
	r := open(t, addr)
	if err := r.Exec(context.Background(), "SYSTEM SYNC REPLICA layoffwatch."+table); err != nil {
		t.Logf("sync %s on %s: %v", table, addr, err)
	}
}
