// Package cache holds a value loaded from a slow source (a ClickHouse
// table) in memory: the gateway's token table and firm registry, ingest's
// set of registered firms. It owns when to reload, nothing about what is
// loaded.
package cache

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Options say when a Refreshing value is reloaded.
type Options struct {
	// MaxAge: Get reloads a value older than this.
	MaxAge time.Duration
	// MinAge: Miss reloads a value older than this, so that something
	// added a moment ago (a token, a firm) is found without waiting MaxAge,
	// while a stream of lookups of unknown keys loads at most once per MinAge.
	MinAge time.Duration
	// Name is what the log says failed to reload ("firm registry").
	Name string
	// Log gets a warning when a reload fails (the previous value is kept);
	// nil logs nothing.
	Log *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Refreshing is a value reloaded when it gets old. A failed reload keeps the
// previous value and counts as a load for the age, so a source that is down
// is asked once per MinAge or MaxAge, not once per lookup. Safe for
// concurrent use: readers never wait for each other, and one reload runs at
// a time.
type Refreshing[T any] struct {
	load func(context.Context) (T, error)
	opts Options

	val    atomic.Pointer[T]
	mu     sync.Mutex // serialises loads
	loaded atomic.Int64
}

// New returns a cache that loads with load; call Load once before Get.
func New[T any](load func(context.Context) (T, error), opts Options) *Refreshing[T] {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Refreshing[T]{load: load, opts: opts}
}

// Load loads the value now.
func (c *Refreshing[T]) Load(ctx context.Context) error { return c.loadIfOlder(ctx, -1) }

// loadIfOlder reloads unless another caller did within d while this one
// waited for the lock: a stale value is reloaded once, not once per caller.
func (c *Refreshing[T]) loadIfOlder(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d >= 0 && c.Age() <= d {
		return nil
	}
	v, err := c.load(ctx)
	c.loaded.Store(c.opts.Now().UnixNano())
	if err != nil {
		if c.opts.Log != nil {
			c.opts.Log.Warn("reload failed; keeping the previous one", "what", c.opts.Name, "err", err)
		}
		return err
	}
	c.val.Store(&v)
	return nil
}

// Age is the time since the last load (successful or not).
func (c *Refreshing[T]) Age() time.Duration {
	return c.opts.Now().Sub(time.Unix(0, c.loaded.Load()))
}

// Get returns the value, reloading it first when it is older than MaxAge.
// Before any successful load it returns the zero value.
func (c *Refreshing[T]) Get(ctx context.Context) T {
	if c.Age() > c.opts.MaxAge {
		_ = c.loadIfOlder(ctx, c.opts.MaxAge)
	}
	return c.current()
}

// Miss is for a lookup that found nothing in v, a value Get returned: when
// the cache is older than MinAge it reloads and returns the new value and
// true; otherwise v and false (looking again would find the same).
func (c *Refreshing[T]) Miss(ctx context.Context, v T) (T, bool) {
	if c.Age() <= c.opts.MinAge || c.loadIfOlder(ctx, c.opts.MinAge) != nil {
		return v, false
	}
	return c.current(), true
}

func (c *Refreshing[T]) current() T {
	if p := c.val.Load(); p != nil {
		return *p
	}
	var zero T
	return zero
}
