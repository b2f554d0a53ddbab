package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
)

// firmCache is the firm registry as the gateway sees it: reloaded every
// maxAge, and on a miss when the last load is older than minAge, so a firm
// imported a moment ago can report at once. Safe for concurrent use.
type firmCache struct {
	load   func(context.Context) ([]firms.Firm, error)
	maxAge time.Duration
	minAge time.Duration
	now    func() time.Time
	log    *slog.Logger

	reg    atomic.Pointer[firms.Registry]
	mu     sync.Mutex
	loaded atomic.Int64
}

func (c *firmCache) refresh(ctx context.Context) error { return c.refreshIfOlder(ctx, -1) }

// refreshIfOlder reloads unless another caller did within d.
func (c *firmCache) refreshIfOlder(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d >= 0 && c.age() <= d {
		return nil
	}
	list, err := c.load(ctx)
	c.loaded.Store(c.now().UnixNano())
	if err != nil {
		c.log.Warn("reload firm registry failed; keeping the previous one", "err", err)
		return err
	}
	c.reg.Store(firms.NewRegistry(list))
	return nil
}

func (c *firmCache) age() time.Duration { return c.now().Sub(time.Unix(0, c.loaded.Load())) }

// get returns the current registry, reloading it first when stale.
func (c *firmCache) get(ctx context.Context) *firms.Registry {
	if c.age() > c.maxAge {
		_ = c.refreshIfOlder(ctx, c.maxAge)
	}
	return c.reg.Load()
}

// registryView makes the cache a report.Registry for one request, with the
// reload-on-miss rule.
type registryView struct {
	ctx context.Context
	c   *firmCache
	reg *firms.Registry
}

func (v *registryView) Has(id string) bool {
	if v.reg.Has(id) {
		return true
	}
	if v.c.age() > v.c.minAge && v.c.refreshIfOlder(v.ctx, v.c.minAge) == nil {
		v.reg = v.c.reg.Load()
		return v.reg.Has(id)
	}
	return false
}
