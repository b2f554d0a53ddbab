package ingest

import (
	"context"

	"github.com/layoffwatch/layoffwatch/internal/cache"
)

// firmSet is the set of registered firm ids the pipeline validates against
// (report.Registry): reloaded every minute, and on a miss when the last
// load is older than 5 s, so that a firm imported a moment ago is not
// refused.
type firmSet struct {
	ctx context.Context
	c   *cache.Refreshing[map[string]struct{}]
}

// Has implements report.Registry.
func (s *firmSet) Has(id string) bool {
	ids := s.c.Get(s.ctx)
	if _, ok := ids[id]; ok {
		return true
	}
	ids, again := s.c.Miss(s.ctx, ids)
	_, ok := ids[id]
	return again && ok
}
