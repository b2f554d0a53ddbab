package gateway

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters holds one token-bucket limiter per key (a token id, or a client
// address for failed sign-ins). golang.org/x/time/rate is the Go team's
// token bucket; idle keys are dropped so that a flood of distinct keys
// cannot grow the map without bound.
type limiters struct {
	rate  rate.Limit
	burst int
	idle  time.Duration
	max   int

	mu    sync.Mutex
	m     map[string]*limiterEntry
	swept time.Time
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newLimiters(perSecond float64, burst int) *limiters {
	return &limiters{rate: rate.Limit(perSecond), burst: burst, idle: 10 * time.Minute, max: 100_000, m: map[string]*limiterEntry{}}
}

func (l *limiters) get(key string, now time.Time) *rate.Limiter {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > time.Minute || len(l.m) >= l.max {
		for k, e := range l.m {
			if now.Sub(e.seen) > l.idle || len(l.m) >= l.max && e.lim.TokensAt(now) >= float64(l.burst) {
				delete(l.m, k)
			}
		}
		l.swept = now
	}
	e, ok := l.m[key]
	if !ok {
		e = &limiterEntry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[key] = e
	}
	e.seen = now
	return e.lim
}

// allow takes one event for key; on refusal it says how long to wait.
func (l *limiters) allow(key string, now time.Time) (bool, time.Duration) {
	lim := l.get(key, now)
	if lim.AllowN(now, 1) {
		return true, 0
	}
	return false, retryAfter(lim, now)
}

// exhausted reports whether key has no event left, without taking one.
func (l *limiters) exhausted(key string, now time.Time) (bool, time.Duration) {
	lim := l.get(key, now)
	if lim.TokensAt(now) >= 1 {
		return false, 0
	}
	return true, retryAfter(lim, now)
}

func retryAfter(lim *rate.Limiter, now time.Time) time.Duration {
	r := lim.ReserveN(now, 1)
	d := r.DelayFrom(now)
	r.CancelAt(now)
	return max(d, time.Second)
}
