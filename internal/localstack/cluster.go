package localstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// Cluster is ZooKeeper and shards × replicas ClickHouse servers on loopback,
// one cluster named Name: what `make test-cluster` runs on one machine.
type Cluster struct {
	Name      string
	ZooKeeper *ZooKeeper
	// Servers[s][r] is replica r of shard s (both from 0); its {replica}
	// macro is "s<s+1>r<r+1>", its {shard} macro the shard's number.
	Servers [][]*ClickHouse
}

// ClusterConfig sizes a local cluster.
type ClusterConfig struct {
	Name      string // the cluster's name (ON CLUSTER, --clickhouse-cluster)
	Shards    int
	Replicas  int   // per shard
	MaxMemory int64 // per server (0: 1 GiB)
}

// StartCluster starts ZooKeeper and every server under dir. On error it
// stops what it started.
func StartCluster(ctx context.Context, dir string, cfg ClusterConfig, log *slog.Logger) (c *Cluster, err error) {
	if cfg.Shards < 1 || cfg.Replicas < 1 || cfg.Name == "" {
		return nil, errors.New("a cluster needs a name, at least one shard and one replica")
	}
	if cfg.MaxMemory == 0 {
		cfg.MaxMemory = 1 << 30
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	zk, err := StartZooKeeper(ctx, filepath.Join(dir, "zk"), log)
	if err != nil {
		return nil, err
	}
	c = &Cluster{Name: cfg.Name, ZooKeeper: zk}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	addrs := make([][]string, cfg.Shards)
	ports := make([][]int, cfg.Shards)
	for s := range cfg.Shards {
		for range cfg.Replicas {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			ports[s] = append(ports[s], p)
			addrs[s] = append(addrs[s], fmt.Sprintf("127.0.0.1:%d", p))
		}
	}
	c.Servers = make([][]*ClickHouse, cfg.Shards)
	for s := range cfg.Shards {
		for r := range cfg.Replicas {
			srv, err := NewClickHouse(ClickHouseOptions{Dir: filepath.Join(dir, fmt.Sprintf("s%dr%d", s+1, r+1)), TCPPort: ports[s][r], MaxMemory: cfg.MaxMemory,
				Cluster: &ClusterOptions{Name: cfg.Name, Shards: addrs, Shard: s + 1, Replica: fmt.Sprintf("s%dr%d", s+1, r+1), ZooKeeper: zk.Addr()}}, log)
			if err != nil {
				return nil, err
			}
			if err := srv.Start(ctx); err != nil {
				return nil, err
			}
			c.Servers[s] = append(c.Servers[s], srv)
		}
	}
	return c, nil
}

// Addrs are every server's native address, shard by shard.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, shard := range c.Servers {
		for _, s := range shard {
			out = append(out, s.Addr())
		}
	}
	return out
}

// Stop stops every server, then ZooKeeper.
func (c *Cluster) Stop() {
	for _, shard := range c.Servers {
		for _, s := range shard {
			_ = s.Stop()
		}
	}
	if c.ZooKeeper != nil {
		c.ZooKeeper.Stop()
	}
}

// Logs returns the end of every server's error log (at most n bytes each),
// for a failing test to show what the servers said.
func (c *Cluster) Logs(n int) string {
	var b strings.Builder
	for _, shard := range c.Servers {
		for _, s := range shard {
			tail, _ := os.ReadFile(filepath.Join(s.Dir(), "log", "error.log"))
			if len(tail) > n {
				tail = tail[len(tail)-n:]
			}
			fmt.Fprintf(&b, "--- %s (%s):\n%s\n", s.Dir(), s.Addr(), tail)
		}
	}
	return b.String()
}
