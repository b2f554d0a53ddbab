package ingest

import (
	"context"

	"github.com/layoffwatch/layoffwatch/internal/cache"
)

// firmSet is the set of registered firm ids the pipeline validates against
// (report.Registry): reloaded every minute, and on a miss when the last
// load is older than 5 s, so that a firm imported a moment ago is not
// refused. It maps each id to itself, so that the reports of a batch share
// the registry's copy of their firm id (report.Interner) instead of holding
// one each.
type firmSet struct {
	ctx context.Context
	c   *cache.Refreshing[map[string]string]
}

// internTable maps each id of set to itself.
func internTable(set map[string]struct{}) map[string]string {
	t := make(map[string]string, len(set))
	for id := range set {
		t[id] = id
	}
	return t
}

// Intern implements report.Interner: the registry's copy of id, without a
// reload on a miss (Has does that).
func (s *firmSet) Intern(id []byte) (string, bool) {
	v, ok := s.c.Get(s.ctx)[string(id)]
	return v, ok
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
