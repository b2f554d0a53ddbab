package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLocalServeRateLimit: the gateway that `local --serve` leaves running
// limits a token's requests as the standalone gateway does (its defaults:
// 10/s, bursts of 100), not at the demo's bulk rate. Beside it runs the
// officials' console, whose printed demo accounts sign in.
func TestLocalServeRateLimit(t *testing.T) {
	var ports [5]int
	for i := range ports {
		p, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	kport, cport, gport, aport, conport := ports[0], ports[1], ports[2], ports[3], ports[4]
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"local", "--serve", "--dir", t.TempDir(), "--plan", "../../deploy/plans/default.yaml",
			"--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gport), "--smtp-addr", "127.0.0.1:0",
			"--alert-addr", fmt.Sprintf("127.0.0.1:%d", aport), "--alerts", "../../deploy/local/alerts.yaml",
			"--console-addr", fmt.Sprintf("127.0.0.1:%d", conport),
			"--firms", "60", "--months", "13", "--layoffs", "1", "--end", "2026-06",
			"--kafka-port", fmt.Sprint(kport), "--clickhouse-port", fmt.Sprint(cport), "--metrics-addr", ""}, nil, &stdout, &stderr)
	}()
	testenv.WaitFor(t, "local --serve serving", 3*time.Minute, func() (bool, string) {
		select {
		case code := <-done:
			t.Fatalf("local exited %d before serving\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		default:
		}
		return strings.Contains(stdout.String(), "serving until interrupted"), ""
	})
	stopped := false
	defer func() {
		if !stopped {
			_ = syscall.Kill(syscall.Getpid(), syscall.SIGINT)
			<-done
		}
	}()

	checkConsoleAccounts(t, stdout.String(), fmt.Sprintf("http://127.0.0.1:%d", conport))

	ctx := context.Background()
	ch, err := chdb.Open(ctx, chdb.Options{Addr: fmt.Sprintf("127.0.0.1:%d", cport), Database: "layoffwatch", User: "default", DialTimeout: 5 * time.Second}, testenv.Logger(t), false)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	tok, _, err := gateway.CreateToken(ctx, ch, gateway.Scope{Region: "620000"}, "rate limit test")
	if err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	start := time.Now()
	for i := 0; i < 300; i++ {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/v1/deadlines", gport), nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	elapsed := time.Since(start)
	// the default limit: a burst of 100, then 10 a second
	if maxOK := 100 + int(elapsed.Seconds()*10) + 1; codes[http.StatusOK] > maxOK || codes[http.StatusTooManyRequests] == 0 {
		t.Fatalf("300 requests of one token in %s: %v; want at most %d answered 200 and the rest 429", elapsed.Round(time.Millisecond), codes, maxOK)
	}
	t.Logf("300 requests of one token in %s: %v", elapsed.Round(time.Millisecond), codes)

	stopped = true
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("local --serve exited %d after SIGINT\nstderr:\n%s", code, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("local --serve did not stop after SIGINT")
	}
}

// checkConsoleAccounts reads the demo accounts `local --serve` printed —
// one per level of government — and signs in to the console with the
// county's.
func checkConsoleAccounts(t *testing.T, out, consoleURL string) {
	t.Helper()
	if !strings.Contains(out, "console "+consoleURL+" — sign in as") {
		t.Fatalf("no console accounts printed:\n%s", out)
	}
	accounts := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  (province|prefecture|county|observer) +(\S+) +(admin|supervisor|official|read-only) `).FindAllStringSubmatch(out, -1) {
		accounts[m[1]] = m[2]
	}
	if len(accounts) != 4 {
		t.Fatalf("%d demo accounts printed, want 4 (one per level of government):\n%s", len(accounts), out)
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(consoleURL + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("sign-in page without a form token: %d", resp.StatusCode)
	}
	resp, err = client.PostForm(consoleURL+"/signin", url.Values{"csrf": {string(m[1])}, "username": {"county"}, "password": {accounts["county"]}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in as the printed county account: %d", resp.StatusCode)
	}
	resp, err = client.Get(consoleURL + "/inbox")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("inbox after sign-in: %d", resp.StatusCode)
	}
}
