// Package testenv gives integration tests real servers: a ClickHouse server
// started once per test binary (or the one named by
// LAYOFFWATCH_TEST_CLICKHOUSE_ADDR, to share one across runs), a fresh
// database per test, and an embedded Kafka broker per test.
// A missing server is a test failure, never a skip.
package testenv

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// AddrEnv names a running ClickHouse server for tests to use.
const AddrEnv = "LAYOFFWATCH_TEST_CLICKHOUSE_ADDR"

var (
	once      sync.Once
	shared    *localstack.ClickHouse
	sharedDir string
	addr      string
	startErr  error
	dbSeq     atomic.Int64
)

// Main runs the tests and stops the ClickHouse server this binary started.
// Call it from TestMain: func TestMain(m *testing.M) { testenv.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Stop()
		_ = os.RemoveAll(sharedDir)
	}
	os.Exit(code)
}

// ClickHouseAddr returns the address of the shared test server, starting it
// on first use.
func ClickHouseAddr(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		if a := os.Getenv(AddrEnv); a != "" {
			addr = a
			return
		}
		sharedDir, startErr = os.MkdirTemp("", "layoffwatch-test-clickhouse-")
		if startErr != nil {
			return
		}
		shared, startErr = localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: sharedDir, MaxMemory: 2 << 30}, nil)
		if startErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if startErr = shared.Start(ctx); startErr != nil {
			shared = nil
			return
		}
		addr = shared.Addr()
	})
	if startErr != nil {
		t.Fatalf("test ClickHouse server: %v", startErr)
	}
	return addr
}

// ClickHouseOptions returns options for a fresh, empty database on the
// shared test server; the database is dropped when the test ends.
func ClickHouseOptions(t testing.TB) chdb.Options {
	t.Helper()
	a := ClickHouseAddr(t)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	db := fmt.Sprintf("t_%d_%d_%s", os.Getpid(), dbSeq.Add(1), name)
	opts := chdb.Options{Addr: a, Database: db, User: "default", DialTimeout: 5 * time.Second}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = chdb.DropDatabase(ctx, opts, slog.New(slog.DiscardHandler))
	})
	return opts
}

// ClickHouse returns a client on a fresh, migrated database.
func ClickHouse(t testing.TB) *chdb.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := chdb.Open(ctx, ClickHouseOptions(t), Logger(t), true)
	if err != nil {
		t.Fatalf("open clickhouse: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := c.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return c
}

// OwnClickHouse starts a ClickHouse server of the test's own — one it may
// stop, kill or freeze without disturbing other tests — and returns it with
// a client of database db, migrated. The cleanup stops the server.
func OwnClickHouse(t testing.TB, db string) (*localstack.ClickHouse, *chdb.Client) {
	t.Helper()
	return OwnClickHouseConfig(t, db, nil)
}

// OwnClickHouseConfig is OwnClickHouse with more configuration files
// (name → XML) merged into the server's config and users, e.g. a users.d
// file the project generates.
func OwnClickHouseConfig(t testing.TB, db string, files map[string]string) (*localstack.ClickHouse, *chdb.Client) {
	t.Helper()
	ctx := context.Background()
	server, err := localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: t.TempDir(), MaxMemory: 1 << 30, ConfigFiles: files}, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := server.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = server.Stop() })
	ch, err := chdb.Open(ctx, chdb.Options{Addr: server.Addr(), Database: db, User: "default", DialTimeout: 2 * time.Second}, Logger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	if _, err := ch.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return server, ch
}

// SQL opens a connection of the test's own to the database of opts, for the
// ad-hoc checks a test makes on what a component stored (counts, a row).
// Production code runs only the statements of its catalog (internal/chdb);
// tests look at the tables with whatever SQL proves the point.
// Calls with the same test and options share one connection, which the
// test's cleanup closes: Close on it does nothing, so one caller that closes
// "its" connection cannot break the next caller's.
func SQL(t testing.TB, opts chdb.Options) driver.Conn {
	t.Helper()
	key := sqlKey{t, opts.Addr, opts.Database, opts.User, opts.Password}
	if c, ok := sqlConns.Load(key); ok {
		return c.(driver.Conn)
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr: strings.Split(opts.Addr, ","), Auth: clickhouse.Auth{Database: opts.Database, Username: opts.User, Password: opts.Password},
		DialTimeout: 5 * time.Second, MaxOpenConns: 4,
	})
	if err != nil {
		t.Fatalf("open test connection to clickhouse: %v", err)
	}
	shared := sharedConn{conn}
	sqlConns.Store(key, shared)
	t.Cleanup(func() {
		sqlConns.Delete(key)
		_ = conn.Close()
	})
	return shared
}

// sharedConn is a connection SQL hands out to several callers of one test.
type sharedConn struct{ driver.Conn }

// Close leaves the connection open for the other callers; the test's
// cleanup closes it.
func (sharedConn) Close() error { return nil }

type sqlKey struct {
	t                              testing.TB
	addr, database, user, password string
}

var sqlConns sync.Map // sqlKey → driver.Conn

// Kafka starts an embedded broker for the test.
func Kafka(t testing.TB, opts localstack.KafkaOptions) *localstack.Kafka {
	t.Helper()
	k, err := localstack.StartKafka(opts, nil)
	if err != nil {
		t.Fatalf("embedded kafka: %v", err)
	}
	t.Cleanup(k.Close)
	return k
}

// Logger logs to the test's output.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(obs.QuietOldServer(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// FirmID returns a valid unified social credit code for firm number n of
// county region (6 digits).
func FirmID(region string, n int) string {
	body := fmt.Sprintf("91%s%09d", region, n)
	return body + string(report.CreditCheckChar(body))
}

// WaitFor polls cond every 100 ms until it holds, and fails the test after
// timeout with what was awaited and the last state cond described.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s; last state: %s", timeout, what, last)
}
