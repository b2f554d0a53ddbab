package localstack

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ClickHouseOptions configures a local ClickHouse server.
type ClickHouseOptions struct {
	Dir      string // data, config and logs live here; created if missing
	TCPPort  int    // native protocol; 0: a free port
	HTTPPort int    // 0: a free port (used by the SQL-parity test, not by layoffwatch)
	Binary   string // empty: clickhouse-server or clickhouse from PATH
	// Timezone is the server's time zone (an IANA name; default UTC): what
	// DateTime values are shown in and parsed from text in.
	Timezone string
	// MaxMemory caps the server's memory for queries, in bytes (default 4 GiB).
	MaxMemory int64
	// Cluster, when set, makes this server one replica of one shard of a
	// cluster coordinated by ZooKeeper.
	Cluster *ClusterOptions
	// ConfigFiles are more configuration files (name → XML), written into
	// config.d, which the server merges into its config and its users (a
	// users.d file of production, for a test).
	ConfigFiles map[string]string
}

// ClusterOptions make a server one replica of one shard of a cluster.
type ClusterOptions struct {
	Name string // the cluster's name, for ON CLUSTER and --clickhouse-cluster
	// Shards lists every shard's replicas (native addresses host:port, this
	// server's included), in shard order; one shard when Replicas is used.
	Shards [][]string
	// Replicas is a one-shard cluster's replicas (when Shards is empty).
	Replicas []string
	// Shard is this server's shard, 1 … len(Shards) (the {shard} macro,
	// written with two digits); 0 means 1.
	Shard int
	// Replica is this server's name (the {replica} macro), unique across the
	// whole cluster: tables replicated on every node share one ZooKeeper
	// path, in which replica names must not repeat.
	Replica         string
	ZooKeeper       string // host:port
	InterserverPort int    // 0: a free port
}

// ClickHouse is a server process the project started.
type ClickHouse struct {
	opts ClickHouseOptions
	cmd  *exec.Cmd
	done chan error
	log  *slog.Logger
}

// ErrNoClickHouse means no ClickHouse server binary is installed.
var ErrNoClickHouse = errors.New("no ClickHouse server binary found (clickhouse-server or clickhouse): run `make deps` to install Debian's clickhouse-server package")

// FindClickHouse returns the command that runs a server: clickhouse-server,
// or `clickhouse server` from the single-binary distribution.
func FindClickHouse(binary string) ([]string, error) {
	if binary != "" {
		return []string{binary}, nil
	}
	for _, cand := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(cand); err == nil {
			return []string{p}, nil
		}
	}
	if p, err := exec.LookPath("clickhouse"); err == nil {
		return []string{p, "server"}, nil
	}
	return nil, ErrNoClickHouse
}

// NewClickHouse prepares a server in opts.Dir; Start runs it.
func NewClickHouse(opts ClickHouseOptions, log *slog.Logger) (*ClickHouse, error) {
	if opts.Dir == "" {
		return nil, errors.New("clickhouse dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("clickhouse dir: %w", err)
	}
	opts.Dir = dir
	if opts.MaxMemory == 0 {
		opts.MaxMemory = 4 << 30
	}
	if opts.Timezone == "" {
		opts.Timezone = "UTC"
	}
	if _, err := time.LoadLocation(opts.Timezone); err != nil {
		return nil, fmt.Errorf("clickhouse time zone: %w", err)
	}
	ports := []*int{&opts.TCPPort, &opts.HTTPPort}
	if opts.Cluster != nil {
		ports = append(ports, &opts.Cluster.InterserverPort)
	}
	for _, p := range ports {
		if *p == 0 {
			if *p, err = FreePort(); err != nil {
				return nil, err
			}
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &ClickHouse{opts: opts, log: log}, nil
}

// Addr is the native-protocol address.
func (c *ClickHouse) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.opts.TCPPort))
}

// HTTPAddr is the HTTP interface's address.
func (c *ClickHouse) HTTPAddr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(c.opts.HTTPPort))
}

// Dir is the server's directory.
func (c *ClickHouse) Dir() string { return c.opts.Dir }

func (c *ClickHouse) config() string {
	d := html.EscapeString(c.opts.Dir)
	return fmt.Sprintf(`<?xml version="1.0"?>
<!-- Written by layoffwatch: a ClickHouse server for tests and the demo, on loopback only. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>%[1]s/log/server.log</log>
    <errorlog>%[1]s/log/error.log</errorlog>
    <size>50M</size>
    <count>2</count>
  </logger>
  <listen_host>127.0.0.1</listen_host>
  <tcp_port>%[2]d</tcp_port>
  <http_port>%[3]d</http_port>
  <path>%[1]s/data/</path>
  <tmp_path>%[1]s/tmp/</tmp_path>
  <user_files_path>%[1]s/user_files/</user_files_path>
  <format_schema_path>%[1]s/format_schemas/</format_schema_path>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  <max_connections>1024</max_connections>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>%[6]s</timezone>
  <mlock_executable>false</mlock_executable>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <profiles>
    <default>
      <max_memory_usage>%[4]d</max_memory_usage>
      <log_queries>0</log_queries>
%[7]s    </default>
  </profiles>
  <quotas><default></default></quotas>
%[5]s</yandex>
`, d, c.opts.TCPPort, c.opts.HTTPPort, c.opts.MaxMemory, c.clusterConfig(), html.EscapeString(c.opts.Timezone), c.clusterProfile())
}

// clusterProfile is what a cluster's user profile sets (docs/operations.md):
// a Distributed read or write goes to the first live replica of each shard,
// in the cluster's order, so a component reads what it has just written
// (ingest's duplicate check reads the revisions of its previous batch)
// before replication has copied it. (clickhouse-go cannot send this
// setting to an 18.16 server per query: the old protocol carries only
// numbers.)
func (c *ClickHouse) clusterProfile() string {
	if c.opts.Cluster == nil {
		return ""
	}
	return "      <load_balancing>in_order</load_balancing>\n"
}

// clusterConfig is the part of the config that makes this server a replica.
func (c *ClickHouse) clusterConfig() string {
	cl := c.opts.Cluster
	if cl == nil {
		return ""
	}
	zkHost, zkPort, _ := net.SplitHostPort(cl.ZooKeeper)
	shards := cl.Shards
	if len(shards) == 0 {
		shards = [][]string{cl.Replicas}
	}
	var replicas string
	for _, shard := range shards {
		replicas += "      <shard>\n        <internal_replication>true</internal_replication>\n"
		for _, r := range shard {
			h, p, _ := net.SplitHostPort(r)
			replicas += fmt.Sprintf("        <replica><host>%s</host><port>%s</port></replica>\n", html.EscapeString(h), html.EscapeString(p))
		}
		replicas += "      </shard>\n"
	}
	return fmt.Sprintf(`  <interserver_http_port>%d</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper>
    <node><host>%s</host><port>%s</port></node>
    <session_timeout_ms>10000</session_timeout_ms>
  </zookeeper>
  <remote_servers>
    <%[4]s>
%[5]s    </%[4]s>
  </remote_servers>
  <macros>
    <shard>%02[7]d</shard>
    <replica>%[6]s</replica>
  </macros>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
`, cl.InterserverPort, html.EscapeString(zkHost), html.EscapeString(zkPort), cl.Name, replicas, html.EscapeString(cl.Replica), max(cl.Shard, 1))
}

// Start writes the config, starts the server and waits until it answers.
func (c *ClickHouse) Start(ctx context.Context) error {
	if c.cmd != nil {
		return errors.New("clickhouse already running")
	}
	argv, err := FindClickHouse(c.opts.Binary)
	if err != nil {
		return err
	}
	for _, sub := range []string{"data", "tmp", "log", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(c.opts.Dir, sub), 0o750); err != nil {
			return fmt.Errorf("clickhouse dir: %w", err)
		}
	}
	cfg := filepath.Join(c.opts.Dir, "config.xml")
	if err := os.WriteFile(cfg, []byte(c.config()), 0o600); err != nil {
		return fmt.Errorf("write clickhouse config: %w", err)
	}
	if len(c.opts.ConfigFiles) > 0 {
		if err := os.MkdirAll(filepath.Join(c.opts.Dir, "config.d"), 0o750); err != nil {
			return fmt.Errorf("clickhouse config.d: %w", err)
		}
	}
	for name, xml := range c.opts.ConfigFiles {
		if name != filepath.Base(name) || !strings.HasSuffix(name, ".xml") {
			return fmt.Errorf("clickhouse config file %q: want a file name ending in .xml", name)
		}
		if err := os.WriteFile(filepath.Join(c.opts.Dir, "config.d", name), []byte(xml), 0o600); err != nil {
			return fmt.Errorf("write clickhouse config: %w", err)
		}
	}
	out, err := os.OpenFile(filepath.Join(c.opts.Dir, "log", "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("clickhouse log: %w", err)
	}
	cmd := exec.Command(argv[0], append(argv[1:], "--config-file="+cfg)...) //nolint:gosec // the binary is found on PATH or given by the operator
	cmd.Dir = c.opts.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	c.cmd = cmd
	c.done = make(chan error, 1)
	go func() { c.done <- cmd.Wait(); _ = out.Close() }()
	c.log.Info("clickhouse starting", "addr", c.Addr(), "dir", c.opts.Dir, "pid", cmd.Process.Pid)
	return c.waitReady(ctx)
}

func (c *ClickHouse) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", c.Addr(), 500*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case err := <-c.done:
			c.cmd = nil
			tail, _ := os.ReadFile(filepath.Join(c.opts.Dir, "log", "error.log"))
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return fmt.Errorf("clickhouse exited during start-up (%w); %s/log/error.log ends:\n%s", err, c.opts.Dir, tail)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("clickhouse did not listen on %s within 60s; see %s/log", c.Addr(), c.opts.Dir)
		}
	}
}

// Stop shuts the server down gracefully (SIGTERM, then SIGKILL after 30s).
func (c *ClickHouse) Stop() error { return c.signal(syscall.SIGTERM, 30*time.Second) }

// Kill stops the server at once, as a crash would.
func (c *ClickHouse) Kill() error { return c.signal(syscall.SIGKILL, 10*time.Second) }

// Freeze stops the server's processes (SIGSTOP) without closing anything:
// connections stay open and nothing answers, as with a hung server or a
// network black hole. Thaw lets it run again; Stop and Kill thaw first.
func (c *ClickHouse) Freeze() error { return c.send(syscall.SIGSTOP) }

// Thaw resumes a frozen server (SIGCONT).
func (c *ClickHouse) Thaw() error { return c.send(syscall.SIGCONT) }

func (c *ClickHouse) send(sig syscall.Signal) error {
	if c.cmd == nil {
		return errors.New("clickhouse is not running")
	}
	if err := syscall.Kill(-c.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signal clickhouse: %w", err)
	}
	return nil
}

func (c *ClickHouse) signal(sig syscall.Signal, wait time.Duration) error {
	if c.cmd == nil {
		return nil
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGCONT) // a frozen server cannot act on SIGTERM
	// the exit status of a server we stopped says nothing more
	exited := func() error { return <-c.done }
	timer := time.AfterFunc(wait, func() { _ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) })
	_ = exited()
	timer.Stop()
	c.cmd = nil
	return nil
}

// FreePort asks the kernel for a free loopback TCP port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
