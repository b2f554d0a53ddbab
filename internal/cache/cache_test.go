package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// source counts loads and returns its current value or error.
type source struct {
	loads atomic.Int64
	mu    sync.Mutex
	val   int
	err   error
}

func (s *source) load(context.Context) (int, error) {
	s.loads.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.val, s.err
}

func (s *source) set(v int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.val, s.err = v, err
}

func TestRefreshing(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_000_000, 0)}
	src := &source{val: 1}
	c := New(src.load, Options{MaxAge: time.Minute, MinAge: 5 * time.Second, Now: clk.now})

	if got := c.Get(ctx); got != 1 || src.loads.Load() != 1 {
		t.Fatalf("first Get: %d after %d loads, want 1 after 1 (never loaded counts as old)", got, src.loads.Load())
	}
	src.set(2, nil)
	if got := c.Get(ctx); got != 1 || src.loads.Load() != 1 {
		t.Fatalf("fresh Get reloaded: %d after %d loads", got, src.loads.Load())
	}
	// a miss within MinAge does not reload
	if v, again := c.Miss(ctx, 1); again || v != 1 || src.loads.Load() != 1 {
		t.Fatalf("miss within MinAge: %d %v after %d loads", v, again, src.loads.Load())
	}
	// after MinAge a miss reloads once
	clk.add(6 * time.Second)
	if v, again := c.Miss(ctx, 1); !again || v != 2 || src.loads.Load() != 2 {
		t.Fatalf("miss after MinAge: %d %v after %d loads, want 2 true after 2", v, again, src.loads.Load())
	}
	// after MaxAge Get reloads; a failure keeps the previous value and
	// counts as a load
	clk.add(2 * time.Minute)
	src.set(3, errors.New("clickhouse down"))
	if got := c.Get(ctx); got != 2 || src.loads.Load() != 3 {
		t.Fatalf("failed reload: %d after %d loads, want the previous 2 after 3", got, src.loads.Load())
	}
	if got := c.Get(ctx); got != 2 || src.loads.Load() != 3 {
		t.Fatalf("a failed reload is retried at once: %d after %d loads", got, src.loads.Load())
	}
	if _, again := c.Miss(ctx, 2); again || src.loads.Load() != 3 {
		t.Fatalf("a failed reload is retried on a miss within MinAge (%d loads)", src.loads.Load())
	}
	clk.add(6 * time.Second)
	if _, again := c.Miss(ctx, 2); again || src.loads.Load() != 4 {
		t.Fatalf("a miss after MinAge against a failing source: again=%v after %d loads", again, src.loads.Load())
	}
	if err := c.Load(ctx); err == nil {
		t.Fatal("Load hid the source's error")
	}
}

// TestRefreshingConcurrentMisses: many lookups missing at once cause one
// reload, not one each.
func TestRefreshingConcurrentMisses(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Unix(1_000_000, 0)}
	src := &source{val: 1}
	c := New(src.load, Options{MaxAge: time.Minute, MinAge: 5 * time.Second, Now: clk.now})
	if err := c.Load(ctx); err != nil {
		t.Fatal(err)
	}
	clk.add(10 * time.Second)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { c.Miss(ctx, c.Get(ctx)) })
	}
	wg.Wait()
	if n := src.loads.Load(); n != 2 {
		t.Fatalf("%d loads, want 2 (the first and one reload)", n)
	}
}

func TestRefreshingZeroBeforeLoad(t *testing.T) {
	src := &source{err: errors.New("down")}
	c := New(src.load, Options{MaxAge: time.Minute, MinAge: time.Second})
	if got := c.Get(context.Background()); got != 0 {
		t.Fatalf("Get before any successful load = %d, want the zero value", got)
	}
}
