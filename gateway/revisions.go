package gateway

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// A receipt must never be false: once the gateway has answered 202 for a
// (firm, period, revision), the same revision with other content is a 409
// duplicate_revision — a correction is a new revision. The gateway compares
// report.ContentHash with what it knows of the revision:
//
//	request ──▶ the same key twice in it with other content? ──▶ 409
//	        ──▶ hold the request's keys (a concurrent request for one of
//	            them waits: two confirmations of one form cannot both win)
//	        ──▶ the hashes accepted by this process (memory), else those
//	            stored by ingest (report_revisions) or accepted by any gateway
//	            (gateway_revisions, written with gateway_submissions)
//	        ──▶ another hash: 409; the same or none: produce, remember, release
//
// If those tables cannot be read the answer is 503: no receipt the gateway
// cannot vouch for. Two gateways that accept the same revision with
// different content within one submission flush (--flush-interval, 500 ms)
// of each other cannot see each other; ingest refuses the second copy then
// (duplicate_revision), and GET /v1/reports shows it rejected.

// revKey identifies a revision.
type revKey struct {
	firm     string
	period   report.Period
	revision uint32
}

func keyOf(r report.Report) revKey { return revKey{r.FirmID, r.Period, r.Revision} }

// knownRevision is a revision with its content hash, as stored or accepted.
type knownRevision struct {
	key  revKey
	hash uint64
}

// revisionGuard holds the keys in flight and the hashes this process accepted.
type revisionGuard struct {
	lookup func(ctx context.Context, firms []string, from, to report.Period) ([]knownRevision, error)
	now    func() time.Time
	ttl    time.Duration // how long an accepted hash is remembered
	max    int

	mu   sync.Mutex
	busy map[revKey]chan struct{}
	seen map[revKey]seenRevision
}

type seenRevision struct {
	hash uint64
	at   time.Time
}

func newRevisionGuard(lookup func(context.Context, []string, report.Period, report.Period) ([]knownRevision, error)) *revisionGuard {
	return &revisionGuard{lookup: lookup, now: time.Now, ttl: time.Hour, max: 200_000,
		busy: map[revKey]chan struct{}{}, seen: map[revKey]seenRevision{}}
}

// revisionConflict is a report of a request that repeats a revision with
// other content.
type revisionConflict struct {
	index int
	key   revKey
	next  uint32 // the revision a correction should carry
}

// lease holds a request's keys until it is answered.
type lease struct {
	g      *revisionGuard
	keys   []revKey
	hashes []uint64
}

// claim checks the reports' revisions and, when none conflicts, holds
// their keys until the lease is done. An error means the stored
// revisions could not be read.
func (g *revisionGuard) claim(ctx context.Context, reports []report.Report) (*lease, []revisionConflict, error) {
	l := &lease{g: g}
	hashes := make([]uint64, len(reports))
	first := map[revKey]uint64{}
	var conflicts []revisionConflict
	for i, r := range reports {
		k, h := keyOf(r), r.ContentHash()
		hashes[i] = h
		if f, ok := first[k]; ok {
			if f != h {
				conflicts = append(conflicts, revisionConflict{index: i, key: k})
			}
			continue
		}
		first[k] = h
		l.keys, l.hashes = append(l.keys, k), append(l.hashes, h)
	}
	if len(conflicts) > 0 {
		return nil, g.withNext(conflicts, reports, nil), nil
	}
	if err := g.hold(ctx, l.keys); err != nil {
		return nil, nil, err
	}
	known, err := g.known(ctx, l.keys)
	if err != nil {
		l.done(false)
		return nil, nil, err
	}
	for i, r := range reports {
		if hs, ok := known[keyOf(r)]; ok && !slices.Contains(hs, hashes[i]) {
			conflicts = append(conflicts, revisionConflict{index: i, key: keyOf(r)})
		}
	}
	if len(conflicts) > 0 {
		l.done(false)
		return nil, g.withNext(conflicts, reports, known), nil
	}
	return l, nil, nil
}

// hold waits until no other request holds one of keys, then holds them all.
func (g *revisionGuard) hold(ctx context.Context, keys []revKey) error {
	for {
		g.mu.Lock()
		var wait chan struct{}
		for _, k := range keys {
			if ch, ok := g.busy[k]; ok {
				wait = ch
				break
			}
		}
		if wait == nil {
			ch := make(chan struct{})
			for _, k := range keys {
				g.busy[k] = ch
			}
			g.mu.Unlock()
			return nil
		}
		g.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// known returns the hashes known for keys: accepted here, else looked up.
func (g *revisionGuard) known(ctx context.Context, keys []revKey) (map[revKey][]uint64, error) {
	out := map[revKey][]uint64{}
	var ask []revKey
	now := g.now()
	g.mu.Lock()
	for _, k := range keys {
		if s, ok := g.seen[k]; ok && now.Sub(s.at) < g.ttl {
			out[k] = []uint64{s.hash}
		} else {
			ask = append(ask, k)
		}
	}
	g.mu.Unlock()
	if len(ask) == 0 {
		return out, nil
	}
	firms, from, to := span(ask)
	list, err := g.lookup(ctx, firms, from, to)
	if err != nil {
		return nil, err
	}
	want := map[revKey]bool{}
	for _, k := range ask {
		want[k] = true
	}
	for _, kr := range list {
		if want[kr.key] && kr.hash != 0 && !slices.Contains(out[kr.key], kr.hash) {
			out[kr.key] = append(out[kr.key], kr.hash)
		}
	}
	return out, nil
}

// span returns the distinct firms and the period range of keys.
func span(keys []revKey) (firms []string, from, to report.Period) {
	seen := map[string]bool{}
	from, to = keys[0].period, keys[0].period
	for _, k := range keys {
		from, to = min(from, k.period), max(to, k.period)
		if !seen[k.firm] {
			seen[k.firm] = true
			firms = append(firms, k.firm)
		}
	}
	return firms, from, to
}

// withNext fills in the revision a correction should carry: one above the
// highest known for the firm and period.
func (g *revisionGuard) withNext(conflicts []revisionConflict, reports []report.Report, known map[revKey][]uint64) []revisionConflict {
	type fp struct {
		firm   string
		period report.Period
	}
	top := map[fp]uint32{}
	bump := func(k revKey) { top[fp{k.firm, k.period}] = max(top[fp{k.firm, k.period}], k.revision) }
	for _, r := range reports {
		bump(keyOf(r))
	}
	for k := range known {
		bump(k)
	}
	g.mu.Lock()
	for k := range g.seen {
		if _, ok := top[fp{k.firm, k.period}]; ok {
			bump(k)
		}
	}
	g.mu.Unlock()
	for i := range conflicts {
		k := conflicts[i].key
		conflicts[i].next = top[fp{k.firm, k.period}] + 1
	}
	return conflicts
}

// latest is the highest revision this process accepted for the firm and
// period (0: none).
func (g *revisionGuard) latest(firm string, p report.Period) uint32 {
	g.mu.Lock()
	defer g.mu.Unlock()
	var rev uint32
	for k := range g.seen {
		if k.firm == firm && k.period == p {
			rev = max(rev, k.revision)
		}
	}
	return rev
}

// done releases the keys; accepted says Kafka acknowledged the reports, so
// their hashes are remembered.
func (l *lease) done(accepted bool) {
	g := l.g
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if accepted {
		if len(g.seen)+len(l.keys) > g.max {
			g.evict(now)
		}
		for i, k := range l.keys {
			g.seen[k] = seenRevision{hash: l.hashes[i], at: now}
		}
	}
	var ch chan struct{}
	for _, k := range l.keys {
		ch = g.busy[k]
		delete(g.busy, k)
	}
	if ch != nil {
		close(ch)
	}
}

// evict drops expired hashes, then, if still full, arbitrary ones: the
// tables still know them. Called with mu held.
func (g *revisionGuard) evict(now time.Time) {
	for k, s := range g.seen {
		if now.Sub(s.at) >= g.ttl {
			delete(g.seen, k)
		}
	}
	for k := range g.seen {
		if len(g.seen) < g.max*9/10 {
			break
		}
		delete(g.seen, k)
	}
}

// conflictProblem is the 409 answer; lines maps report indexes to CSV lines.
func conflictProblem(conflicts []revisionConflict, total int, lines func(int) int) Problem {
	errs := make([]FieldProblem, len(conflicts))
	for i, c := range conflicts {
		errs[i] = FieldProblem{Index: c.index, Line: lines(c.index), FirmID: c.key.firm, Reason: report.ReasonDuplicateRevision, Field: "revision",
			Message: fmt.Sprintf("revision %d of firm %s for %s was already submitted with other content; send the correction as revision %d",
				c.key.revision, c.key.firm, c.key.period, c.next)}
	}
	return Problem{Type: problemConflict, Title: "Revision already submitted with other content", Status: http.StatusConflict,
		Detail: fmt.Sprintf("%d of %d reports repeat a revision with other figures; none was accepted", len(conflicts), total), Errors: errs}
}

// unavailableProblem is the 503 answer when the revisions cannot be checked.
var unavailableProblem = Problem{Type: problemInternal, Title: "Revisions cannot be checked", Status: http.StatusServiceUnavailable,
	Detail: "the revisions on file could not be read, so no receipt can be given; nothing was accepted, retry later"}
