package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestSecretsInit: missing secrets are created with random content, mode
// 0400 and their reader as owner, inside a directory nobody can list;
// existing ones are kept as they are, and none is ever printed.
func TestSecretsInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	uid := os.Getuid()
	other := uid
	if uid == 0 {
		other = 65532 // as root, as in compose: give it to the layoffwatch image's user
	}
	args := []string{"secrets", "init", "--secrets-dir", dir, "clickhouse_password:" + strconv.Itoa(other), "grafana_admin_password:" + strconv.Itoa(uid), "ack_secret"}
	var stdout, stderr bytes.Buffer
	if code := run(args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	values := map[string]string{}
	for _, name := range []string{"clickhouse_password", "grafana_admin_password", "ack_secret"} {
		p := filepath.Join(dir, name)
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o400 {
			t.Errorf("%s mode %v, want 0400", name, st.Mode().Perm())
		}
		b, _ := os.ReadFile(p)
		if len(b) != 43 || strings.ContainsAny(string(b), "\n+/=") {
			t.Errorf("%s holds %q, want 43 base64url characters", name, b)
		}
		values[name] = string(b)
		if strings.Contains(stdout.String(), string(b)) {
			t.Fatalf("a secret was printed: %s", stdout.String())
		}
	}
	if st, _ := os.Stat(filepath.Join(dir, "clickhouse_password")); st.Sys().(*syscall.Stat_t).Uid != uint32(other) {
		t.Errorf("clickhouse_password owned by %d, want %d", st.Sys().(*syscall.Stat_t).Uid, other)
	}
	if values["clickhouse_password"] == values["ack_secret"] {
		t.Error("two secrets are equal")
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o711 {
		t.Errorf("dir mode %v, want 0711", st.Mode().Perm())
	}
	if !strings.Contains(stdout.String(), "created "+filepath.Join(dir, "ack_secret")) {
		t.Errorf("stdout %q", stdout.String())
	}

	// again: kept, unchanged
	stdout.Reset()
	if code := run(args, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, stderr.String())
	}
	for name, v := range values {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != v {
			t.Errorf("%s changed on the second run", name)
		}
	}
	if strings.Contains(stdout.String(), "created") {
		t.Errorf("second run created: %s", stdout.String())
	}

	// a file too short to be a secret is refused, not used
	if err := os.WriteFile(filepath.Join(dir, "weak"), []byte("changeme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run([]string{"secrets", "init", "--secrets-dir", dir, "weak"}, nil, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "fewer than 16") {
		t.Fatalf("a weak secret: exit %d, %s", code, stderr.String())
	}
	for _, bad := range [][]string{{"../escape"}, {"x:notanumber"}, {"dup", "dup"}} {
		stderr.Reset()
		if code := run(append([]string{"secrets", "init", "--secrets-dir", dir}, bad...), nil, &stdout, &stderr); code == 0 {
			t.Errorf("%v accepted", bad)
		}
	}
}
