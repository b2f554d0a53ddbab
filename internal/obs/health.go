package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// CheckTimeout bounds each readiness check: a dependency that does not
// answer within it (a frozen server) counts as down, and /readyz answers
// within about this long whatever its dependencies do.
const CheckTimeout = 2 * time.Second

// Health is what a component says about itself over HTTP:
//
//   - /healthz (liveness) answers 200 while the process serves HTTP at all;
//     a failure means: restart it.
//   - /readyz (readiness) answers 200 only when the component has started
//     (SetReady) and every check passes — ClickHouse and Kafka reachable,
//     the detector's last pass succeeded, the SMTP server answering — and
//     503 otherwise, one line per check, each failure naming its
//     dependency and error.
//
// Checks run when /readyz is asked, concurrently, each within
// CheckTimeout. The zero value is a component that has not started and
// has no checks. Safe for concurrent use.
type Health struct {
	ready  atomic.Bool
	mu     sync.Mutex
	checks []check
	parts  []part
}

type check struct {
	name string
	fn   func(context.Context) error
}

type part struct {
	prefix string
	h      *Health
}

// SetReady says the component has started (true) or is stopping (false).
func (h *Health) SetReady(ok bool) { h.ready.Store(ok) }

// Started reports the last SetReady.
func (h *Health) Started() bool { return h.ready.Load() }

// Check adds a readiness check: fn returns nil when the dependency name
// ("clickhouse", "kafka", "smtp", "last pass") works.
func (h *Health) Check(name string, fn func(context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, check{name, fn})
}

// Include makes part's readiness a part of h's, its checks named
// "prefix name" (an in-process stack is ready when each component is).
func (h *Health) Include(prefix string, p *Health) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.parts = append(h.parts, part{prefix, p})
}

// Result is the outcome of one check.
type Result struct {
	Name string
	Err  error // nil: passed
}

// errNotStarted is the readiness of a component before SetReady(true) or
// after SetReady(false).
var errNotStarted = errors.New("not started, or stopping")

// Ready runs every check and returns the results, in the order the checks
// were added (a part's after h's own). It is ready when no Err is set.
func (h *Health) Ready(ctx context.Context) []Result {
	var out []Result
	var fns []func(context.Context) error
	h.flatten("", &out, &fns)
	var wg sync.WaitGroup
	for i, fn := range fns {
		if fn == nil {
			continue // a result known without asking
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, CheckTimeout)
			defer cancel()
			out[i].Err = runCheck(cctx, fn)
		})
	}
	wg.Wait()
	return out
}

// flatten lists the checks of h and its parts, with their names.
func (h *Health) flatten(prefix string, out *[]Result, fns *[]func(context.Context) error) {
	h.mu.Lock()
	checks, parts := slices.Clone(h.checks), slices.Clone(h.parts)
	h.mu.Unlock()
	if !h.ready.Load() {
		*out = append(*out, Result{Name: prefix + "started", Err: errNotStarted})
		*fns = append(*fns, nil)
	}
	for _, c := range checks {
		*out = append(*out, Result{Name: prefix + c.name})
		*fns = append(*fns, c.fn)
	}
	for _, p := range parts {
		p.h.flatten(prefix+p.prefix+" ", out, fns)
	}
}

// runCheck runs fn and gives up when ctx ends even if fn does not, so that
// a check that ignores its context cannot hold /readyz.
func runCheck(ctx context.Context, fn func(context.Context) error) error {
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer within %s: %w", CheckTimeout, ctx.Err())
	}
}

// Register serves /healthz and /readyz on mux.
func (h *Health) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		results := h.Ready(r.Context())
		var b strings.Builder
		status := http.StatusOK
		for _, res := range results {
			if res.Err != nil {
				status = http.StatusServiceUnavailable
				fmt.Fprintf(&b, "FAIL %s: %s\n", res.Name, oneLine(res.Err.Error()))
			} else {
				fmt.Fprintf(&b, "ok   %s\n", res.Name)
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, b.String())
	})
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
