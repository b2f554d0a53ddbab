// Package local_test checks deploy/local/deps.sh, the installer of the
// Debian packages the demo and the tests need, with a fake apt-get.
package local_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeBin makes a PATH with only what deps.sh needs, a fake apt-get that
// records whether policy-rc.d was in place when it installed and exits
// with $FAKE_APT_EXIT from the install, and a sudo that runs its arguments.
func fakeBin(t *testing.T) (dir, seen string) {
	t.Helper()
	dir = t.TempDir()
	seen = filepath.Join(t.TempDir(), "seen")
	for _, tool := range []string{"bash", "sh", "id", "mv", "rm", "chmod", "cat"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil { //nolint:gosec // test executables
			t.Fatal(err)
		}
	}
	write("apt-get", `#!/bin/sh
[ "$1" = install ] || exit 0
{ echo "install $*"; cat "$POLICY_RC_D" 2>/dev/null || echo "no policy-rc.d"; } >> "$SEEN"
exit "${FAKE_APT_EXIT:-0}"
`)
	write("sudo", "#!/bin/sh\nexec \"$@\"\n")
	return dir, seen
}

// TestDepsLeavesPolicyAsItWas: packages are installed with a policy-rc.d
// that keeps them from starting servers, and afterwards the machine has
// the policy-rc.d it had before (or none), also when apt-get fails.
func TestDepsLeavesPolicyAsItWas(t *testing.T) {
	tests := []struct {
		name    string
		before  string // "" : no policy-rc.d
		aptExit string
		wantErr bool
	}{
		{name: "none before"},
		{name: "one before", before: "#!/bin/sh\n# the machine's own\nexit 0\n"},
		{name: "apt-get fails", before: "#!/bin/sh\n# the machine's own\nexit 0\n", aptExit: "100", wantErr: true},
		{name: "apt-get fails, none before", aptExit: "100", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin, seen := fakeBin(t)
			policy := filepath.Join(t.TempDir(), "policy-rc.d")
			if tt.before != "" {
				if err := os.WriteFile(policy, []byte(tt.before), 0o755); err != nil { //nolint:gosec // a test policy-rc.d
					t.Fatal(err)
				}
			}
			cmd := exec.Command(filepath.Join(bin, "bash"), "deps.sh", "test")
			cmd.Env = []string{"PATH=" + bin, "POLICY_RC_D=" + policy, "SEEN=" + seen, "FAKE_APT_EXIT=" + tt.aptExit}
			out, err := cmd.CombinedOutput()
			if (err != nil) != tt.wantErr {
				t.Fatalf("deps.sh: %v, want error %v\n%s", err, tt.wantErr, out)
			}
			got, _ := os.ReadFile(seen)
			if !strings.Contains(string(got), "install -y -qq --no-install-recommends docker-compose prometheus chromium") ||
				!strings.Contains(string(got), "exit 101") {
				t.Errorf("apt-get did not run with policy-rc.d saying exit 101:\n%s\ndeps.sh said:\n%s", got, out)
			}
			after, err := os.ReadFile(policy)
			switch {
			case tt.before == "" && !os.IsNotExist(err):
				t.Errorf("policy-rc.d left behind: %q (%v)", after, err)
			case tt.before != "" && string(after) != tt.before:
				t.Errorf("policy-rc.d is %q, want the machine's own %q back (%v)", after, tt.before, err)
			}
			if _, err := os.Stat(policy + ".layoffwatch-saved"); !os.IsNotExist(err) {
				t.Errorf("the saved copy is left behind (%v)", err)
			}
		})
	}
}

// TestDepsDemoNeedsOnlyClickHouse: `make demo` installs nothing but the
// ClickHouse server, whatever else is missing.
func TestDepsDemoNeedsOnlyClickHouse(t *testing.T) {
	bin, seen := fakeBin(t)
	policy := filepath.Join(t.TempDir(), "policy-rc.d")
	cmd := exec.Command(filepath.Join(bin, "bash"), "deps.sh", "demo")
	cmd.Env = []string{"PATH=" + bin, "POLICY_RC_D=" + policy, "SEEN=" + seen}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("deps.sh demo: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(seen)
	if s := string(got); strings.Contains(s, "chromium") || strings.Contains(s, "prometheus") || strings.Contains(s, "docker-compose") {
		t.Errorf("deps.sh demo installed more than the ClickHouse server:\n%s", s)
	}
	if _, err := exec.LookPath("clickhouse-server"); err != nil && !strings.Contains(string(got), "clickhouse-server") {
		t.Errorf("no ClickHouse server on this machine, and deps.sh demo did not install one:\n%s", got)
	}
}
