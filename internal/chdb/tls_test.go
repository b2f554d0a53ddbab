package chdb_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
	"github.com/layoffwatch/layoffwatch/internal/tlsconf/tlstest"
)

// secureServer starts a ClickHouse 18.16 of the test's own that serves
// the native protocol over TLS (tcp_port_secure, with a certificate of a
// CA the test makes) and has a user "layoffwatch" with a password. It
// returns the TLS address, the plain-text address and the PKI.
func secureServer(t *testing.T, password string) (tlsAddr, plainAddr string, pki *tlstest.PKI) {
	t.Helper()
	dir := t.TempDir()
	pki = tlstest.New(t, filepath.Join(dir, "pki"), "clickhouse", true)
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "config.d"), 0o750); err != nil {
		t.Fatal(err)
	}
	conf := pki.ClickHouseConfig(port, "layoffwatch", password)
	if err := os.WriteFile(filepath.Join(dir, "config.d", "tls.xml"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := localstack.NewClickHouse(localstack.ClickHouseOptions{Dir: dir, MaxMemory: 1 << 30}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	tlsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// the secure port opens a moment after the plain one
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", tlsAddr, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("clickhouse did not open its TLS port %s: %v", tlsAddr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return tlsAddr, srv.Addr(), pki
}

// TestTLSAndPasswordFile: over TLS, with the password in a file, the
// client creates its database and runs every migration on ClickHouse
// 18.16; a wrong password, a certificate of another CA, a wrong server
// name and TLS spoken to the plain port each fail, saying why.
func TestTLSAndPasswordFile(t *testing.T) {
	tlsAddr, plainAddr, pki := secureServer(t, "ch-s3cret-password")
	other := tlstest.New(t, t.TempDir(), "other", false)
	pwFile := filepath.Join(t.TempDir(), "clickhouse-password")
	if err := os.WriteFile(pwFile, []byte("ch-s3cret-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := chdb.Options{Addr: tlsAddr, Database: "secure", User: "layoffwatch", PasswordFile: pwFile, DialTimeout: 5 * time.Second,
		Compression: "lz4", TLSCAFile: pki.CAFile}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := chdb.Open(ctx, good, testenv.Logger(t), true)
	if err != nil {
		t.Fatalf("open over tls: %v", err)
	}
	res, err := c.Migrate(ctx)
	if err != nil {
		t.Fatalf("migrate over tls: %v", err)
	}
	if len(res.Applied) == 0 {
		t.Fatal("no migration applied")
	}
	if err := c.RequireSchema(ctx); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()

	cases := []struct {
		name   string
		change func(o *chdb.Options)
		want   string
	}{
		{"wrong password", func(o *chdb.Options) { o.PasswordFile, o.Password = "", "not-the-password" }, "password"},
		{"other CA", func(o *chdb.Options) { o.TLSCAFile = other.CAFile }, "certificate signed by unknown authority"},
		{"wrong server name", func(o *chdb.Options) { o.TLSServerName = "clickhouse.elsewhere.example" }, "certificate is valid for"},
		{"tls to the plain port", func(o *chdb.Options) { o.Addr = plainAddr }, "tls"},
		{"plain to the tls port", func(o *chdb.Options) { o.TLSCAFile = "" }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := good
			o.DialTimeout = 3 * time.Second
			tc.change(&o)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, err := chdb.Open(ctx, o, slog.New(slog.DiscardHandler), false)
			if err == nil {
				_ = c.Close()
				t.Fatal("connected")
			}
			if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.want)) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
			t.Logf("refused: %v", err)
		})
	}

	t.Run("insecure skip verify", func(t *testing.T) {
		o := good
		o.TLSCAFile, o.TLSInsecureSkipVerify = "", true
		var logs bytes.Buffer
		c, err := chdb.Open(ctx, o, slog.New(slog.NewTextHandler(&logs, nil)), false)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "verification is OFF") {
			t.Fatalf("no warning: %s", logs.String())
		}
	})
}

// TestOptionsValidateAndMask: files are read by Validate, before any
// connection; a logged Options shows no password.
func TestOptionsValidateAndMask(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := chdb.Options{Addr: "127.0.0.1:9440", Database: "layoffwatch", User: "u"}
	for _, tc := range []struct {
		name   string
		change func(o *chdb.Options)
		want   string
	}{
		{"missing password file", func(o *chdb.Options) { o.PasswordFile = filepath.Join(dir, "nope") }, "password file"},
		{"empty password file", func(o *chdb.Options) { o.PasswordFile = empty }, "is empty"},
		{"both passwords", func(o *chdb.Options) { o.PasswordFile, o.Password = empty, "x" }, "not both"},
		{"missing ca", func(o *chdb.Options) { o.TLSCAFile = filepath.Join(dir, "nope.pem") }, "ca file"},
		{"key without cert", func(o *chdb.Options) { o.TLSKeyFile = empty }, "needs its key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.change(&o)
			if err := o.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
	o := base
	o.Password = "hunter2-secret"
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("open", "clickhouse", o)
	if strings.Contains(logs.String(), "hunter2") || strings.Contains(fmt.Sprint(o), "hunter2") {
		t.Fatalf("password logged: %s", logs.String())
	}
	if !strings.Contains(logs.String(), `"password":"***"`) {
		t.Fatalf("log: %s", logs.String())
	}
}
