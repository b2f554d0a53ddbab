package ingest

import (
	"context"
	"log/slog"
	"time"
)

// firmSet is the set of registered firm ids the pipeline validates against.
// It reloads periodically, and on a miss when the last load is older than
// minAge, so that a firm imported a moment ago is not refused. Only the
// collector goroutine uses it.
type firmSet struct {
	load   func(context.Context) (map[string]struct{}, error)
	ids    map[string]struct{}
	loaded time.Time
	maxAge time.Duration
	minAge time.Duration
	now    func() time.Time
	log    *slog.Logger
	onLoad func(n int)
	ctx    context.Context
}

func (s *firmSet) refresh() error {
	ids, err := s.load(s.ctx)
	s.loaded = s.now()
	if err != nil {
		s.log.Warn("reload firm registry failed; keeping the previous one", "err", err)
		return err
	}
	s.ids = ids
	if s.onLoad != nil {
		s.onLoad(len(ids))
	}
	return nil
}

// Has implements report.Registry.
func (s *firmSet) Has(id string) bool {
	if s.now().Sub(s.loaded) > s.maxAge {
		_ = s.refresh()
	}
	if _, ok := s.ids[id]; ok {
		return true
	}
	if s.now().Sub(s.loaded) > s.minAge && s.refresh() == nil {
		_, ok := s.ids[id]
		return ok
	}
	return false
}
