package alerts_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestKill9 kills `layoffwatch alert` (a child process) with SIGKILL at
// random moments while it sends 160 emails, four times, restarting it each
// time: in the end every (alert, recipient) got exactly one message — one
// Message-ID, which a mailbox keeps once even if a kill between SMTP's
// acceptance and the log's record made it arrive twice — and none is lost.
func TestKill9(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "layoffwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/layoffwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	r := newRig(t, smtptest.Options{})
	r.stop() // the in-process component is not used here
	var events []alertevent.Event
	for i := 0; i < 40; i++ {
		e := r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, fmt.Sprint(i%5+1), 1, alertevent.Firing)
		e.Period = fmt.Sprintf("20%02d-%02d", 24+i/12, i%12+1) // 40 distinct alerts
		e.ID = alertevent.ID(e.Rule, e.Scope, e.Key, e.Period)
		events = append(events, e)
	}
	r.send(events...)
	// recipients per alert: the firm's county, Lanzhou, the province's two
	want := 0
	for _, e := range events {
		switch e.Region {
		case "620102", "620103", "620104", "620105":
			want += 4
		default:
			want += 3
		}
	}
	logPath := filepath.Join(dir, "alert.log")
	run := func() *exec.Cmd {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "alert", "--config", r.cfg,
			"--kafka-brokers", r.kafka.Brokers[0], "--clickhouse-addr", testenv.ClickHouseAddr(t), "--clickhouse-database", r.ch.Database(),
			"--http-addr", r.http, "--group", "alert-test", "--session-timeout", "3s", "--escalation-check", "1h")
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = f.Close() })
		return cmd
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for round := 0; round < 4; round++ {
		cmd := run()
		target := len(r.smtp.Messages()) + 10 + rng.IntN(20)
		deadline := time.Now().Add(30 * time.Second)
		for len(r.smtp.Messages()) < min(target, want) && time.Now().Before(deadline) {
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("round %d: killed with %d messages received", round+1, len(r.smtp.Messages()))
	}
	cmd := run()
	deadline := time.Now().Add(60 * time.Second)
	byID := map[string]string{}
	for time.Now().Before(deadline) {
		for _, m := range r.smtp.Messages() {
			byID[m.MessageID] = m.To[0]
		}
		if len(byID) >= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	for _, m := range r.smtp.Messages() {
		byID[m.MessageID] = m.To[0]
	}
	if len(byID) != want {
		b, _ := os.ReadFile(logPath)
		t.Fatalf("%d distinct messages, want %d (one per alert and recipient); log tail:\n%.3000s", len(byID), want, string(b[max(0, len(b)-3000):]))
	}
	// each Message-ID belongs to one alert and recipient: no two messages
	// for the same (alert, recipient)
	var n uint64
	if err := testenv.SQL(t, r.ch.Options()).QueryRow(context.Background(), `SELECT count() FROM (SELECT alert_id, recipient, uniqExact(message_id) AS ids
		FROM notifications WHERE status = 'sent' GROUP BY alert_id, recipient HAVING ids > 1)`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d (alert, recipient) pairs have more than one message", n)
	}
	t.Logf("%d messages delivered, %d distinct Message-IDs (repeats from a kill between send and record: %d)",
		len(r.smtp.Messages()), len(byID), len(r.smtp.Messages())-len(byID))
}
