package localstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// ZooKeeper is a one-node ZooKeeper from Debian's zookeeper package, on
// loopback, coordinating replicated ClickHouse tables in tests
// (`make test-cluster`).
type ZooKeeper struct {
	dir  string
	port int
	cmd  *exec.Cmd
	done chan error
}

// ErrNoZooKeeper means Debian's zookeeper package is not installed.
var ErrNoZooKeeper = errors.New("ZooKeeper not found (/usr/share/java/zookeeper.jar): `make test-cluster` installs Debian's zookeeper package (deploy/local/deps.sh cluster)")

// StartZooKeeper starts ZooKeeper with its data under dir.
func StartZooKeeper(ctx context.Context, dir string, log *slog.Logger) (*ZooKeeper, error) {
	if _, err := os.Stat("/usr/share/java/zookeeper.jar"); err != nil {
		return nil, ErrNoZooKeeper
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("zookeeper needs java: %w", err)
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o750); err != nil {
		return nil, fmt.Errorf("zookeeper dir: %w", err)
	}
	cfg := fmt.Sprintf("tickTime=500\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=ruok\n",
		filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("zookeeper config: %w", err)
	}
	out, err := os.OpenFile(filepath.Join(dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("zookeeper log: %w", err)
	}
	cmd := exec.Command(java, "-Xmx256m", "-Dzookeeper.log.dir="+dir, "-cp", "/etc/zookeeper/conf:/usr/share/java/*", //nolint:gosec // java from PATH, fixed class
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = out.Close()
		return nil, fmt.Errorf("start zookeeper: %w", err)
	}
	z := &ZooKeeper{dir: dir, port: port, cmd: cmd, done: make(chan error, 1)}
	go func() { z.done <- cmd.Wait(); _ = out.Close() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if z.ruok() {
			log.Info("zookeeper started", "addr", z.Addr())
			return z, nil
		}
		select {
		case err := <-z.done:
			return nil, fmt.Errorf("zookeeper exited during start-up (%w); see %s/zookeeper.log", err, dir)
		case <-ctx.Done():
			z.Stop()
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	z.Stop()
	return nil, fmt.Errorf("zookeeper did not answer within 60s; see %s/zookeeper.log", dir)
}

func (z *ZooKeeper) ruok() bool {
	c, err := net.DialTimeout("tcp", z.Addr(), 500*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "ruok"); err != nil {
		return false
	}
	b, _ := io.ReadAll(c)
	return string(b) == "imok"
}

// Addr is the client address.
func (z *ZooKeeper) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(z.port)) }

// Host and Port split Addr.
func (z *ZooKeeper) Host() string { return "127.0.0.1" }
func (z *ZooKeeper) Port() int    { return z.port }

// Stop ends ZooKeeper.
func (z *ZooKeeper) Stop() {
	_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGTERM)
	// the exit status of a server we stopped says nothing more
	exited := func() error { return <-z.done }
	timer := time.AfterFunc(10*time.Second, func() { _ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL) })
	_ = exited()
	timer.Stop()
}
