package main

import (
	"context"
	"fmt"
	"net/http"
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
// 10/s, bursts of 100), not at the demo's bulk rate.
func TestLocalServeRateLimit(t *testing.T) {
	var ports [4]int
	for i := range ports {
		p, err := localstack.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	kport, cport, gport, aport := ports[0], ports[1], ports[2], ports[3]
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"local", "--serve", "--dir", t.TempDir(), "--plan", "../../deploy/plans/default.yaml",
			"--gateway-addr", fmt.Sprintf("127.0.0.1:%d", gport), "--smtp-addr", "127.0.0.1:0",
			"--alert-addr", fmt.Sprintf("127.0.0.1:%d", aport), "--alerts", "../../deploy/local/alerts.yaml",
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
