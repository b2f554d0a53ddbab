// Package cluster_test proves layoffwatch's scale-out on one machine: two
// ClickHouse replicas of one shard coordinated by Debian's ZooKeeper, tables
// created ON CLUSTER as Replicated*MergeTree by `migrate --clickhouse-cluster`,
// and ingest replicas sharing a Kafka consumer group. Run by
// `make test-cluster` (LAYOFFWATCH_TEST_CLUSTER=1); `go test ./...` skips it
// to keep `make test` short.
package cluster_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	zk      *localstack.ZooKeeper
	servers []*localstack.ClickHouse
	addrs   []string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if os.Getenv("LAYOFFWATCH_TEST_CLUSTER") == "" {
		t.Skip("the cluster test runs with `make test-cluster` (LAYOFFWATCH_TEST_CLUSTER=1)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	zk, err := localstack.StartZooKeeper(ctx, filepath.Join(dir, "zk"), testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(zk.Stop)
	c := &cluster{zk: zk}
	var ports []int
	for range 2 {
		p, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports = append(ports, p)
		c.addrs = append(c.addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	for i, p := range ports {
		srv, err := localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: filepath.Join(dir, fmt.Sprintf("ch%d", i+1)), TCPPort: p, MaxMemory: 1 << 30,
			Cluster: &localstack.ClusterOptions{Name: "lw", Replicas: c.addrs, Replica: fmt.Sprintf("r%d", i+1), ZooKeeper: zk.Addr()}}, testenv.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = srv.Stop() })
		c.servers = append(c.servers, srv)
	}
	return c
}

func TestMigrateOnCluster(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	opts := chdb.Options{Addr: c.addrs[0], Database: "layoffwatch", User: "default", DialTimeout: 5 * time.Second, Cluster: "lw"}
	ch, err := chdb.Open(ctx, opts, testenv.Logger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if _, err := ch.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.addrs {
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
		if err := r.RequireSchema(ctx); err != nil {
			t.Errorf("replica %s: %v", a, err)
		}
		var engine string
		if err := sql.QueryRow(ctx, "SELECT engine FROM system.tables WHERE database = 'layoffwatch' AND name = 'reports'").Scan(&engine); err != nil {
			t.Fatal(err)
		}
		t.Logf("replica %s: reports engine %s", a, engine)
		r.Close()
	}
}

// TestIngestReplicasSurviveAReplicaKill: two ingest replicas in one consumer
// group read a topic of six partitions, each writing to a different
// ClickHouse replica with the other as failover; one ClickHouse replica is
// killed mid-stream and started again 15 s later. Then both replicas hold
// every report exactly once.
func TestIngestReplicasSurviveAReplicaKill(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	base := chdb.Options{Database: "layoffwatch", User: "default", DialTimeout: 2 * time.Second, Cluster: "lw"}
	o := base
	o.Addr = c.addrs[0]
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
		list = append(list, firms.Firm{ID: testenv.FirmID("620102", i+1), Name: fmt.Sprintf("企业%d", i), Region: "620102", Industry: "C", BaselineHeadcount: 500})
	}
	if err := firms.NewStore(ch).Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.addrs {
		syncReplica(t, a, "firms")
	}
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 6})
	kOpts := kafkautil.Options{Brokers: k.Addrs(), Partitions: 6, ReplicationFactor: 1}
	for i := 0; i < 2; i++ {
		oi := base
		oi.Addr = c.addrs[i] + "," + c.addrs[1-i] // the other replica is the failover
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- ingest.Run(cctx, ingest.Options{Kafka: kOpts, ClickHouse: oi, Topic: "reports", DLQTopic: "reports.dlq", Group: "ingest",
				BatchRows: 2000, BatchWait: 200 * time.Millisecond, SessionTimeout: 6 * time.Second, ShutdownGrace: 20 * time.Second, CreateTopics: true},
				testenv.Logger(t), prometheus.NewRegistry())
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("ingest replica %d: %v", i, err)
			}
		})
	}
	var want uint64
	var sum uint64
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
	if err := c.servers[0].Kill(); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse replica 1 killed")
	time.Sleep(15 * time.Second)
	if err := c.servers[0].Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Log("clickhouse replica 1 started again")
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	for _, a := range c.addrs {
		deadline := time.Now().Add(2 * time.Minute)
		var n, s uint64
		for time.Now().Before(deadline) {
			syncReplica(t, a, "reports")
			r := open(t, a)
			err := r.QueryRow(ctx, "SELECT count(), sum(headcount) FROM reports_latest").Scan(&n, &s)
			r.Close()
			if err == nil && n == want {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if n != want || s != sum {
			t.Fatalf("replica %s: %d reports with headcount sum %d, want %d and %d", a, n, s, want, sum)
		}
		t.Logf("replica %s holds all %d reports exactly once", a, n)
	}
	// the Distributed table reads the whole cluster from either node
	for _, a := range c.addrs {
		r := open(t, a)
		var n uint64
		if err := r.QueryRow(ctx, "SELECT uniqExact(firm_id, period) FROM reports_all").Scan(&n); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if n != want {
			t.Fatalf("reports_all on %s: %d (firm, period) pairs, want %d", a, n, want)
		}
	}
}

func open(t *testing.T, addr string) driver.Conn {
	t.Helper()
	return testenv.SQL(t, chdb.Options{Addr: addr, Database: "layoffwatch", User: "default", DialTimeout: 2 * time.Second})
}

func syncReplica(t *testing.T, addr, table string) {
	t.Helper()
	r := open(t, addr)
	defer r.Close()
	if err := r.Exec(context.Background(), "SYSTEM SYNC REPLICA layoffwatch."+table); err != nil {
		t.Logf("sync %s on %s: %v", table, addr, err)
	}
}
