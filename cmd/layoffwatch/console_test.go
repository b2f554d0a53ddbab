package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/console"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestUsersCommands: add (a generated password shown once, or one read
// from stdin), list (never a hash), disable, enable, reset-password,
// link-oidc; bad input refused; every change in the console's audit trail.
func TestUsersCommands(t *testing.T) {
	ch := testenv.ClickHouse(t)
	db := []string{"--clickhouse-addr", testenv.ClickHouseAddr(t), "--clickhouse-database", ch.Database()}
	cmd := func(stdin io.Reader, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append(args, db...), stdin, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	code, out, errOut := cmd(nil, "users", "add", "cg", "--name", "城关区经办人", "--email", "cg@bureau.example", "--role", "official", "--region", "620102")
	pw := regexp.MustCompile(`(?m)^password (\S+)$`).FindStringSubmatch(out)
	if code != 0 || pw == nil {
		t.Fatalf("add: exit %d %q %q", code, out, errOut)
	}
	users := console.NewUsers(ch, "test")
	list, err := users.List(context.Background())
	if err != nil || len(list) != 1 || !console.CheckPassword(list[0].PasswordHash, pw[1]) {
		t.Fatalf("the printed password does not sign in: %v %+v", err, list)
	}
	if code, out, errOut = cmd(strings.NewReader("a password from stdin\n"), "users", "add", "gs", "--name", "Admin", "--email", "gs@bureau.example",
		"--role", "admin", "--region", "620000", "--language", "en", "--password-stdin"); code != 0 || strings.Contains(out, "password ") {
		t.Fatalf("add --password-stdin: exit %d %q %q", code, out, errOut)
	}
	for _, bad := range [][]string{
		{"cg", "--name", "x", "--email", "x@y.cn", "--role", "official", "--region", "620102"}, // exists
		{"zz", "--name", "x", "--email", "x@y.cn", "--role", "boss", "--region", "620102"},     // role
		{"zz", "--name", "x", "--email", "x@y.cn", "--role", "official", "--region", "999999"}, // region
		{"zz", "--name", "x", "--email", "X <x@y.cn>", "--role", "official", "--region", "620102"},
		{"Z Z", "--name", "x", "--email", "x@y.cn", "--role", "official", "--region", "620102"},
	} {
		if code, _, _ := cmd(nil, append([]string{"users", "add"}, bad...)...); code == 0 {
			t.Errorf("add %v succeeded", bad)
		}
	}
	code, out, _ = cmd(nil, "users", "list")
	if code != 0 || !strings.Contains(out, "cg@bureau.example") || !strings.Contains(out, "620000") || strings.Contains(out, "argon2") {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	if code, _, errOut = cmd(nil, "users", "disable", "cg"); code != 0 {
		t.Fatalf("disable: %q", errOut)
	}
	if code, _, errOut = cmd(nil, "users", "enable", "cg"); code != 0 {
		t.Fatalf("enable: %q", errOut)
	}
	code, out, _ = cmd(nil, "users", "reset-password", "cg")
	npw := regexp.MustCompile(`(?m)^password (\S+)$`).FindStringSubmatch(out)
	if code != 0 || npw == nil || npw[1] == pw[1] {
		t.Fatalf("reset-password: exit %d %q", code, out)
	}
	if code, _, errOut = cmd(nil, "users", "link-oidc", "cg", "--subject", "https://idp.example|u-1"); code != 0 {
		t.Fatalf("link-oidc: %q", errOut)
	}
	if code, _, _ = cmd(nil, "users", "disable", "nobody"); code == 0 {
		t.Error("disable of an unknown user succeeded")
	}
	list, _ = users.List(context.Background())
	for _, u := range list {
		if u.Username == "cg" && (u.Disabled || !console.CheckPassword(u.PasswordHash, npw[1]) || u.OIDCSubject != "https://idp.example|u-1" || u.Epoch < 3) {
			t.Errorf("cg after the changes: %+v", u)
		}
	}
	var n uint64
	if err := testenv.SQL(t, ch.Options()).QueryRow(context.Background(),
		"SELECT count() FROM console_audit WHERE object_kind = 'user' AND startsWith(actor, 'cli:') AND before != after").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 6 { // 2 adds, disable, enable, reset, link
		t.Errorf("%d audit rows for 6 changes", n)
	}
	// labels: none closed yet, the header alone
	if code, out, errOut = cmd(nil, "alerts", "labels"); code != 0 || strings.TrimSpace(out) != "scope,key,from,to,kind,source,note" {
		t.Errorf("alerts labels: exit %d %q %q", code, out, errOut)
	}
}

// TestConsoleOptions: bad options are refused before any network I/O.
func TestConsoleOptions(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"console", "--session-ttl", "1s", "--clickhouse-addr", "127.0.0.1:1"}, nil, &stdout, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "session-ttl") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
	o, err := console.DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("default options: %v", err)
	}
}
