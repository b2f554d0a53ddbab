// Package chdb owns layoffwatch's ClickHouse access: connecting over the
// native protocol, the versioned schema migrations, the statement catalogs
// through which every component runs its own SQL, and the columnar batch of
// reports. Every statement here runs on ClickHouse 18.16
// (tests, CI, demo) and 25.8 LTS (production): no window functions, no TTL,
// no LowCardinality, no server-side query parameters; inserts go through
// PrepareBatch with an explicit column list.
//
// It does not hold any component's queries: each component declares its
// statements in its own Catalog (alerts, detector, gateway, ingest, the
// registry in internal/firms, the demo), and the client runs nothing else.
// It does not decide what a report means (internal/report) or when to write
// it (ingest).
package chdb

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/layoffwatch/layoffwatch/internal/tlsconf"
)

// Options says how to reach ClickHouse.
type Options struct {
	Addr         string        `help:"ClickHouse native-protocol address host:port; several, comma-separated, fail over in order." default:"127.0.0.1:19000" name:"clickhouse-addr"`
	Database     string        `help:"ClickHouse database." default:"layoffwatch" name:"clickhouse-database"`
	User         string        `help:"ClickHouse user." default:"default" name:"clickhouse-user"`
	Password     string        `help:"ClickHouse password (prefer --clickhouse-password-file)." name:"clickhouse-password"`
	PasswordFile string        `help:"File holding the ClickHouse password." name:"clickhouse-password-file" type:"path"`
	DialTimeout  time.Duration `help:"ClickHouse dial timeout." default:"5s" name:"clickhouse-dial-timeout"`
	Cluster      string        `help:"ClickHouse cluster name: create replicated and distributed tables ON CLUSTER." name:"clickhouse-cluster"`
	Compression  string        `help:"Block compression on the wire: lz4 (across a network) or none (same host: saves CPU on both ends)." default:"lz4" enum:"lz4,none" name:"clickhouse-compression"`

	TLS                   bool   `help:"Connect to ClickHouse over TLS (the server's tcp_port_secure, 9440 by convention; implied by any other --clickhouse-tls-* flag)." name:"clickhouse-tls"`
	TLSCAFile             string `help:"CA certificates (PEM) that sign the ClickHouse server's certificate; default: the system's." name:"clickhouse-tls-ca-file" type:"path"`
	TLSCertFile           string `help:"Client certificate (PEM) for a server that requires one." name:"clickhouse-tls-cert-file" type:"path"`
	TLSKeyFile            string `help:"Key (PEM) of --clickhouse-tls-cert-file." name:"clickhouse-tls-key-file" type:"path"`
	TLSServerName         string `help:"Name expected in the server's certificate, when it is not the host dialled." name:"clickhouse-tls-server-name"`
	TLSInsecureSkipVerify bool   `help:"INSECURE: accept any ClickHouse certificate (a test bench only; logged as a warning)." name:"clickhouse-tls-insecure-skip-verify"`
}

func (o Options) tlsClient() tlsconf.Client {
	return tlsconf.Client{Enable: o.TLS, CAFile: o.TLSCAFile, CertFile: o.TLSCertFile, KeyFile: o.TLSKeyFile,
		ServerName: o.TLSServerName, InsecureSkipVerify: o.TLSInsecureSkipVerify}
}

// LogValue shows the options in logs with the password masked.
func (o Options) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("addr", o.Addr), slog.String("database", o.Database), slog.String("user", o.User),
		slog.String("tls", o.tlsClient().String())}
	switch {
	case o.Password != "":
		attrs = append(attrs, slog.String("password", "***"))
	case o.PasswordFile != "":
		attrs = append(attrs, slog.String("password_file", o.PasswordFile))
	}
	return slog.GroupValue(attrs...)
}

// String is LogValue as text.
func (o Options) String() string { return o.LogValue().String() }

// Validate checks the options without network I/O.
func (o Options) Validate() error {
	if o.Addr == "" {
		return fmt.Errorf("clickhouse address is empty")
	}
	if !validIdent(o.Database) {
		return fmt.Errorf("clickhouse database %q must be letters, digits and _", o.Database)
	}
	if o.Cluster != "" && !validIdent(o.Cluster) {
		return fmt.Errorf("clickhouse cluster %q must be letters, digits and _", o.Cluster)
	}
	if o.Password != "" && o.PasswordFile != "" {
		return fmt.Errorf("clickhouse: set --clickhouse-password or --clickhouse-password-file, not both")
	}
	if _, err := o.password(); err != nil {
		return err
	}
	return o.tlsClient().Validate("clickhouse")
}

func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

func (o Options) password() (string, error) {
	if o.PasswordFile == "" {
		return o.Password, nil
	}
	b, err := os.ReadFile(o.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("read clickhouse password file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("clickhouse password file %s is empty", o.PasswordFile)
	}
	return pw, nil
}

// Client is a connection pool to one database.
type Client struct {
	conn driver.Conn
	opts Options
	log  *slog.Logger
}

// Open connects to ClickHouse and checks the connection. With createDB the
// database is created first when missing.
func Open(ctx context.Context, opts Options, log *slog.Logger, createDB bool) (*Client, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	pw, err := opts.password()
	if err != nil {
		return nil, err
	}
	if createDB {
		admin, err := dial(opts, pw, "default", log)
		if err != nil {
			return nil, err
		}
		err = admin.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+opts.Database+onCluster(opts.Cluster))
		_ = admin.Close()
		if err != nil {
			return nil, fmt.Errorf("create database %s: %w", opts.Database, err)
		}
	}
	conn, err := dial(opts, pw, opts.Database, log)
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse at %s: %w", opts.Addr, err)
	}
	return &Client{conn: conn, opts: opts, log: log}, nil
}

func dial(opts Options, pw, db string, log *slog.Logger) (driver.Conn, error) {
	tc, err := opts.tlsClient().Config("clickhouse")
	if err != nil {
		return nil, err
	}
	if w := opts.tlsClient().Warning("clickhouse"); w != "" {
		log.Warn(w)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		TLS:          tc,
		Protocol:     clickhouse.Native,
		Addr:         addrs(opts.Addr),
		Auth:         clickhouse.Auth{Database: db, Username: opts.User, Password: pw},
		DialTimeout:  opts.DialTimeout,
		MaxOpenConns: 8,
		MaxIdleConns: 4,
		Compression:  compression(opts.Compression),
		ClientInfo:   clickhouse.ClientInfo{Products: []struct{ Name, Version string }{{Name: "layoffwatch", Version: "1"}}},
		Logger:       log.With("component", "clickhouse-go"),
	})
	if err != nil {
		return nil, fmt.Errorf("open clickhouse at %s: %w", opts.Addr, err)
	}
	return conn, nil
}

func compression(name string) *clickhouse.Compression {
	if name == "none" {
		return &clickhouse.Compression{Method: clickhouse.CompressionNone}
	}
	return &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
}

// addrs splits a comma-separated list: the client connects to the first
// that answers, and fails over to the next.
func addrs(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

func onCluster(cluster string) string {
	if cluster == "" {
		return ""
	}
	return " ON CLUSTER " + cluster
}

// DropDatabase drops opts.Database with everything in it, when it exists
// (the demo starting fresh, tests cleaning up).
func DropDatabase(ctx context.Context, opts Options, log *slog.Logger) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	pw, err := opts.password()
	if err != nil {
		return err
	}
	admin, err := dial(opts, pw, "default", log)
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+opts.Database+onCluster(opts.Cluster)); err != nil {
		return fmt.Errorf("drop database %s: %w", opts.Database, err)
	}
	return nil
}

// Close closes the pool.
func (c *Client) Close() error { return c.conn.Close() }

// cluster reports whether the client works on a cluster, where sharded
// tables are read and written through their Distributed twins.
func (c *Client) cluster() bool { return c.opts.Cluster != "" }

// Options are the options the client was opened with.
func (c *Client) Options() Options { return c.opts }

// Database is the database the client works in.
func (c *Client) Database() string { return c.opts.Database }

// Ping checks the server answers.
func (c *Client) Ping(ctx context.Context) error { return c.conn.Ping(ctx) }

// ServerVersion returns the server's version string.
func (c *Client) ServerVersion() (string, error) {
	v, err := c.conn.ServerVersion()
	if err != nil {
		return "", fmt.Errorf("server version: %w", err)
	}
	return fmt.Sprintf("%d.%d.%d", v.Version.Major, v.Version.Minor, v.Version.Patch), nil
}
