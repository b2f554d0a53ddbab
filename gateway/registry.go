package gateway

import (
	"context"
	"log/slog"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/cache"
	"github.com/layoffwatch/layoffwatch/internal/firms"
)

// firmCache is the firm registry as the gateway sees it: reloaded every
// --registry-refresh, and on a miss when the last load is older than its
// MinAge, so a firm imported a moment ago can report at once.
type firmCache struct {
	*cache.Refreshing[*firms.Registry]
}

func newFirmCache(load func(context.Context) ([]firms.Firm, error), maxAge time.Duration, log *slog.Logger) *firmCache {
	return &firmCache{cache.New(func(ctx context.Context) (*firms.Registry, error) {
		list, err := load(ctx)
		if err != nil {
			return nil, err
		}
		return firms.NewRegistry(list), nil
	}, cache.Options{MaxAge: maxAge, MinAge: 5 * time.Second, Name: "firm registry", Log: log})}
}

func (c *firmCache) refresh(ctx context.Context) error { return c.Load(ctx) }

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
	reg, again := v.c.Miss(v.ctx, v.reg)
	if again {
		v.reg = reg
	}
	return again && reg.Has(id)
}
