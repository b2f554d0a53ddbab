package cluster_test

import (
	"context"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestRunbookConfig starts ClickHouse 18.16 with the runbook's files
// (deploy/cluster/config, docs/cluster.md) and checks what a node learns
// from them: the cluster "layoffwatch" of 2 shards × 2 replicas, its shard
// and replica macros from the environment, and the cluster profile's
// in_order load balancing for the users the components sign in as. The
// host names become 127.0.0.1 (this machine has no ch-s1r1) and the root
// element 18.16's <yandex>; nothing else is changed. It also checks that
// the Keeper file's three nodes are the ones the servers are told to use.
// It needs one server, so it runs in `make test`, not only in test-cluster.
func TestRunbookConfig(t *testing.T) {
	dir := t.TempDir()
	interserver, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.d/layoffwatch-cluster.xml", "users.d/layoffwatch-cluster.xml"} {
		b, err := os.ReadFile(filepath.Join("config/clickhouse", f))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer("<clickhouse>", "<yandex>", "</clickhouse>", "</yandex>",
			"ch-s1r1", "127.0.0.1", "ch-s1r2", "127.0.0.1", "ch-s2r1", "127.0.0.1", "ch-s2r2", "127.0.0.1",
			"<interserver_http_port>9009<", "<interserver_http_port>"+strconv.Itoa(interserver)+"<").Replace(string(b))
		// localstack keeps the users in config.xml, whose merge directory
		// is config.d (a packaged server merges users.d into users.xml)
		out := filepath.Join(dir, "config.d", strings.ReplaceAll(f, "/", "-"))
		if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// what a node's container environment says (the server inherits it)
	t.Setenv("LAYOFFWATCH_SHARD", "02")
	t.Setenv("LAYOFFWATCH_REPLICA", "ch-s2r1")
	server, err := localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: dir, MaxMemory: 1 << 30}, testenv.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Stop() })
	conn := testenv.SQL(t, chdb.Options{Addr: server.Addr(), Database: "default", User: "default"})

	rows, err := conn.Query(ctx, "SELECT shard_num, replica_num FROM system.clusters WHERE cluster = 'layoffwatch' ORDER BY shard_num, replica_num")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var s, r uint32
		if err := rows.Scan(&s, &r); err != nil {
			t.Fatal(err)
		}
		got = append(got, strconv.Itoa(int(s))+"/"+strconv.Itoa(int(r)))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1/1", "1/2", "2/1", "2/2"}; !slices.Equal(got, want) {
		t.Errorf("cluster layoffwatch: shard/replica %v, want %v", got, want)
	}

	macros := map[string]string{}
	rows, err = conn.Query(ctx, "SELECT macro, substitution FROM system.macros ORDER BY macro")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var m, s string
		if err := rows.Scan(&m, &s); err != nil {
			t.Fatal(err)
		}
		macros[m] = s
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if macros["shard"] != "02" || macros["replica"] != "ch-s2r1" {
		t.Errorf("macros %v, want shard 02 and replica ch-s2r1 from the environment", macros)
	}

	var lb string
	if err := conn.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'load_balancing'").Scan(&lb); err != nil {
		t.Fatal(err)
	}
	if lb != "in_order" {
		t.Errorf("load_balancing = %q for the default profile, want in_order (users.d/layoffwatch-cluster.xml)", lb)
	}

	// the Keeper ensemble is the one the servers use
	type node struct {
		Host string `xml:"host"`
		Port string `xml:"port"`
	}
	var server1 struct {
		Nodes []node `xml:"zookeeper>node"`
	}
	var keeper struct {
		Port    string `xml:"keeper_server>tcp_port"`
		Servers []struct {
			ID   int    `xml:"id"`
			Host string `xml:"hostname"`
		} `xml:"keeper_server>raft_configuration>server"`
	}
	readXML(t, "config/clickhouse/config.d/layoffwatch-cluster.xml", &server1)
	readXML(t, "config/keeper/keeper_config.xml", &keeper)
	var ensemble, told []string
	for i, s := range keeper.Servers {
		if s.ID != i+1 {
			t.Errorf("keeper server %d has id %d", i+1, s.ID)
		}
		ensemble = append(ensemble, s.Host+":"+keeper.Port)
	}
	for _, n := range server1.Nodes {
		told = append(told, n.Host+":"+n.Port)
	}
	if len(ensemble) != 3 || !slices.Equal(ensemble, told) {
		t.Errorf("keeper ensemble %v, but the servers are told %v", ensemble, told)
	}
}

func readXML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
