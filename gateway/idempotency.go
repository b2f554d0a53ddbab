package gateway

import (
	"context"
	"sync"
	"time"
)

// idemCache makes a retried POST harmless: the first answer to a token's
// Idempotency-Key is kept (in memory, and in gateway_idempotency so that it
// survives a restart and is seen by the other gateways) and replayed for a
// retry of the same request. The same key with a different request is
// refused (422); a retry while the first is still in flight is refused
// (409), so one key never produces twice.
//
// If the gateway dies between Kafka's acknowledgement and writing the
// record, a retry produces the report again: harmless, because the reports
// table collapses a repeated (firm, period, revision).
type idemCache struct {
	store  *store
	writer *batcher[idemRecord]
	max    int

	mu sync.Mutex
	m  map[string]*idemEntry
}

type idemEntry struct {
	rec      idemRecord
	inflight bool
}

type idemState int

const (
	idemNew      idemState = iota // process the request, then end()
	idemReplay                    // answer with the stored record
	idemConflict                  // the same key is being processed now
	idemMismatch                  // the key was used for another request
)

func newIdemCache(st *store, w *batcher[idemRecord]) *idemCache {
	return &idemCache{store: st, writer: w, max: 200_000, m: map[string]*idemEntry{}}
}

func idemMapKey(tokenID, key string) string { return tokenID + "\x00" + key }

// begin looks the key up. With idemNew the caller owns the key until end.
func (c *idemCache) begin(ctx context.Context, tokenID, key, hash string, now time.Time) (idemState, idemRecord, error) {
	mk := idemMapKey(tokenID, key)
	c.mu.Lock()
	if e, ok := c.m[mk]; ok && (e.inflight || now.Sub(e.rec.CreatedAt) < idempotencyTTL) {
		defer c.mu.Unlock()
		switch {
		case e.inflight:
			return idemConflict, idemRecord{}, nil
		case e.rec.RequestHash != hash:
			return idemMismatch, e.rec, nil
		}
		return idemReplay, e.rec, nil
	}
	if len(c.m) >= c.max {
		c.evict(now)
	}
	c.m[mk] = &idemEntry{inflight: true}
	c.mu.Unlock()

	rec, found, err := c.store.idempotency(ctx, tokenID, key, now.Add(-idempotencyTTL))
	if err != nil || !found {
		if err != nil {
			c.abandon(tokenID, key)
		}
		return idemNew, idemRecord{}, err
	}
	c.mu.Lock()
	c.m[mk] = &idemEntry{rec: rec}
	c.mu.Unlock()
	if rec.RequestHash != hash {
		return idemMismatch, rec, nil
	}
	return idemReplay, rec, nil
}

// end records the answer to a request begun with idemNew.
func (c *idemCache) end(rec idemRecord) {
	c.mu.Lock()
	c.m[idemMapKey(rec.TokenID, rec.Key)] = &idemEntry{rec: rec}
	c.mu.Unlock()
	c.writer.add(rec)
}

// abandon forgets a key whose request got no answer worth keeping (a 503):
// a retry is processed afresh.
func (c *idemCache) abandon(tokenID, key string) {
	c.mu.Lock()
	delete(c.m, idemMapKey(tokenID, key))
	c.mu.Unlock()
}

// evict drops expired entries, then, if still full, settled ones (they stay
// in ClickHouse). Called with mu held.
func (c *idemCache) evict(now time.Time) {
	for k, e := range c.m {
		if !e.inflight && now.Sub(e.rec.CreatedAt) >= idempotencyTTL {
			delete(c.m, k)
		}
	}
	for k, e := range c.m {
		if len(c.m) < c.max*9/10 {
			break
		}
		if !e.inflight {
			delete(c.m, k)
		}
	}
}
