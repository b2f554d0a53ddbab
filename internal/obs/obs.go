// Package obs owns what every component exposes about itself: the
// Prometheus registry it registers into, the /metrics, /healthz and /readyz
// HTTP endpoints (Health), and the process logger.
package obs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the Go and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Serve runs /metrics, /healthz and /readyz on addr until ctx ends. An
// empty addr serves nothing. A nil health is always ready.
// With pprof set, the runtime profiles are served under /debug/pprof/ too.
func Serve(ctx context.Context, addr string, g prometheus.Gatherer, health *Health, pprof bool, log *slog.Logger) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError)}))
	if health == nil {
		health = &Health{}
		health.SetReady(true)
	}
	health.Register(mux)
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	}
	return ServeHandler(ctx, addr, mux, log)
}

// ServeHandler serves h on addr until ctx ends, with timeouts that keep a
// slow client from holding a connection, then shuts down gracefully.
func ServeHandler(ctx context.Context, addr string, h http.Handler, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return ServeListener(ctx, ln, h, log)
}

// ServeListener is ServeHandler on a listener the caller opened (an
// in-process stack listens first, on port 0, to learn the address).
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		IdleTimeout: 60 * time.Second, MaxHeaderBytes: 16 << 10}
	addr := ln.Addr().String()
	log.Info("http listening", "addr", addr)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("http server on %s: %w", addr, err)
	}
}

// NewLogger returns the process logger: text or JSON on w at level.
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", level, err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch strings.ToLower(format) {
	case "text", "":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
	return slog.New(QuietOldServer(h)), nil
}

// QuietOldServer wraps h so that clickhouse-go's "unsupported clickhouse
// version" warning passes once per process.
func QuietOldServer(h slog.Handler) slog.Handler {
	return &quietOld{Handler: h, seen: new(atomic.Bool)}
}

// quietOld lets clickhouse-go's "unsupported clickhouse version" warning
// through once per process: it is expected against the 18.16 test server and
// would otherwise repeat on every new connection.
type quietOld struct {
	slog.Handler
	seen *atomic.Bool
}

func (q *quietOld) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "unsupported clickhouse version" && q.seen.Swap(true) {
		return nil
	}
	return q.Handler.Handle(ctx, r)
}

func (q *quietOld) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &quietOld{Handler: q.Handler.WithAttrs(attrs), seen: q.seen}
}

func (q *quietOld) WithGroup(name string) slog.Handler {
	return &quietOld{Handler: q.Handler.WithGroup(name), seen: q.seen}
}
