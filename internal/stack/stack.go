// Package stack runs the pipeline's four components in one process —
// ingest, alerts, detector and gateway, each through its own Run or New —
// and, when asked, the officials' console beside them, for `layoffwatch
// local` (make demo), the alert-latency benchmark and integration tests, as
// alertmanager's app package lets tests embed alertmanager. Sinks start
// before the sources that feed them, and stop after them; the console,
// which only reads and answers people, starts last and stops first:
//
//	start: ingest ──▶ alerts ──▶ detector ──▶ gateway ──▶ console
//	stop:  console ──▶ gateway ──▶ detector ──▶ alerts ──▶ ingest
//
// Progress comes from the components' hooks (ingest's OnStored, the
// detector's OnPass, alerts' OnHandled), never from reading metrics. One
// registry holds every component's metrics, and one /metrics, /healthz and
// /readyz serve the whole stack.
//
// It does not start the servers the components talk to (Kafka, ClickHouse,
// SMTP: internal/localstack), prepare the database, or handle signals (the
// command does).
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/console"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/obs"
)

// Component names one of the components.
type Component int

// The components, in start order. Start with none named starts the
// pipeline's four; the console starts only when named.
const (
	Ingest Component = iota
	Alerts
	Detector
	Gateway
	Console
)

// metricsServer is the stack's own /metrics and health server, started
// first and stopped last.
const metricsServer Component = -1

var componentNames = [...]string{"ingest", "alert", "detect", "gateway", "console"}

func (c Component) String() string {
	if c < 0 || int(c) >= len(componentNames) {
		return "metrics"
	}
	return componentNames[c]
}

// Options are the components' own options, and what they share.
type Options struct {
	// Kafka and ClickHouse replace each component's own at Start.
	Kafka      kafkautil.Options
	ClickHouse chdb.Options

	Ingest   ingest.Options
	Alerts   alerts.Options
	Detector detector.Options
	Gateway  gateway.Options // Listen may be "127.0.0.1:0": see GatewayURL
	Console  console.Options // Listen may be "127.0.0.1:0": see ConsoleURL

	// MetricsAddr serves /metrics, /healthz and /readyz for the whole
	// stack; empty: off.
	MetricsAddr string
	// StartTimeout bounds how long Start waits for each component to say it
	// has started; 0: 2 minutes.
	StartTimeout time.Duration
}

// DefaultOptions are every component's defaults (each component's
// DefaultOptions: the CLI's defaults), with the components' own metrics
// servers off: the stack serves one.
func DefaultOptions() (Options, error) {
	var o Options
	var errs [5]error
	o.Ingest, errs[0] = ingest.DefaultOptions()
	o.Alerts, errs[1] = alerts.DefaultOptions()
	o.Detector, errs[2] = detector.DefaultOptions()
	o.Gateway, errs[3] = gateway.DefaultOptions()
	o.Console, errs[4] = console.DefaultOptions()
	if err := errors.Join(errs[:]...); err != nil {
		return Options{}, err
	}
	o.Kafka, o.ClickHouse = o.Ingest.Kafka, o.Ingest.ClickHouse
	o.Ingest.MetricsAddr, o.Detector.MetricsAddr, o.Gateway.MetricsAddr, o.Console.MetricsAddr = "", "", "", ""
	return o, nil
}

// Progress is what the components have reported through their hooks since
// the stack was made.
type Progress struct {
	Stored      ingest.Stored // summed over every committed batch
	Passes      int           // detector passes, evaluated or not
	Evaluations int           // detector passes that evaluated the plan
	Emitted     int           // alert events the detector emitted
	LastPass    error         // the detector's last pass failed with this
	Handled     int           // alert events whose emails alerts sent and recorded
}

// Stack is the components running in this process.
type Stack struct {
	opts   Options
	log    *slog.Logger
	reg    *prometheus.Registry
	health obs.Health

	mu       sync.Mutex
	progress Progress
	changed  chan struct{} // closed and replaced whenever progress changes or a component stops
	running  []*running    // in start order
	gwAddr   net.Addr
	conAddr  net.Addr
}

// running is one component's goroutine.
type running struct {
	c      Component
	name   string
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes
}

// New prepares a stack; Start runs its components. Every component
// registers its metrics in reg.
func New(opts Options, log *slog.Logger, reg *prometheus.Registry) *Stack {
	if opts.StartTimeout == 0 {
		opts.StartTimeout = 2 * time.Minute
	}
	return &Stack{opts: opts, log: log, reg: reg, changed: make(chan struct{})}
}

// Health is the whole stack's readiness: every started component's checks,
// named "<component> <check>".
func (s *Stack) Health() *obs.Health { return &s.health }

// Progress returns what the components have reported so far.
func (s *Stack) Progress() Progress {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.progress
}

func (s *Stack) update(fn func(*Progress)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.progress)
	close(s.changed)
	s.changed = make(chan struct{})
}

// GatewayURL is the gateway's base URL once it runs ("" before).
func (s *Stack) GatewayURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gwAddr == nil {
		return ""
	}
	return "http://" + s.gwAddr.String()
}

// ConsoleURL is the console's base URL once it runs ("" before).
func (s *Stack) ConsoleURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conAddr == nil {
		return ""
	}
	if s.opts.Console.TLS.Enabled() {
		return "https://" + s.conAddr.String()
	}
	return "http://" + s.conAddr.String()
}

// Start starts the named components (the pipeline's four when none are
// named) that
// are not running yet, in start order, each after the previous has said it
// started: with Start(ctx, Ingest, Gateway) and later Start(ctx, Alerts,
// Detector), the detector's first pass sees whatever was ingested in
// between. ctx bounds the start-up only; Stop stops the components. On an
// error the components started so far keep running: call Stop.
func (s *Stack) Start(ctx context.Context, which ...Component) error {
	if len(which) == 0 {
		which = []Component{Ingest, Alerts, Detector, Gateway}
	}
	if err := s.serveMetrics(); err != nil {
		return err
	}
	for _, c := range []Component{Ingest, Alerts, Detector, Gateway, Console} {
		if !slices.Contains(which, c) || s.isRunning(c) {
			continue
		}
		if err := s.start(ctx, c); err != nil {
			return err
		}
	}
	s.health.SetReady(true)
	return nil
}

func (s *Stack) isRunning(c Component) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.running {
		if r.c == c {
			return true
		}
	}
	return false
}

// serveMetrics starts the stack's own /metrics and health server once.
func (s *Stack) serveMetrics() error {
	if s.opts.MetricsAddr == "" || s.isRunning(metricsServer) {
		return nil
	}
	ln, err := net.Listen("tcp", s.opts.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	_ = ln.Close() // obs.Serve listens itself; this reports a taken port before anything starts
	r := s.launch(metricsServer, "metrics", func(ctx context.Context) error {
		return obs.Serve(ctx, s.opts.MetricsAddr, s.reg, &s.health, false, s.log.With("component", "stack"))
	})
	s.mu.Lock()
	s.running = append(s.running, r)
	s.mu.Unlock()
	return nil
}

// launch runs fn until its context is cancelled by Stop.
func (s *Stack) launch(c Component, name string, fn func(context.Context) error) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{c: c, name: name, cancel: cancel, done: make(chan struct{})}
	go func() {
		err := fn(ctx)
		s.mu.Lock()
		r.err = err
		close(r.done)
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}()
	return r
}

func (s *Stack) start(ctx context.Context, c Component) error {
	log := s.log.With("component", c.String())
	h := &obs.Health{}
	var run func(context.Context) error
	switch c {
	case Ingest:
		o := s.opts.Ingest
		o.Kafka, o.ClickHouse, o.Health = s.opts.Kafka, s.opts.ClickHouse, h
		o.OnStored = chain(o.OnStored, func(st ingest.Stored) {
			s.update(func(p *Progress) {
				p.Stored.Messages += st.Messages
				p.Stored.Reports += st.Reports
				p.Stored.Rejects += st.Rejects
			})
		})
		run = func(ctx context.Context) error { return ingest.Run(ctx, o, log, s.reg) }
	case Alerts:
		o := s.opts.Alerts
		o.Kafka, o.ClickHouse, o.Health = s.opts.Kafka, s.opts.ClickHouse, h
		o.OnHandled = chain(o.OnHandled, func(n int) { s.update(func(p *Progress) { p.Handled += n }) })
		run = func(ctx context.Context) error { return alerts.Run(ctx, o, log, s.reg) }
	case Detector:
		o := s.opts.Detector
		o.Kafka, o.ClickHouse, o.Health = s.opts.Kafka, s.opts.ClickHouse, h
		o.OnPass = chain(o.OnPass, func(ps detector.Pass) {
			s.update(func(p *Progress) {
				p.Passes++
				if ps.Evaluated {
					p.Evaluations++
				}
				p.Emitted += ps.Events
				p.LastPass = ps.Err
			})
		})
		run = func(ctx context.Context) error { return detector.Run(ctx, o, log, s.reg) }
	case Gateway:
		o := s.opts.Gateway
		o.Kafka, o.ClickHouse = s.opts.Kafka, s.opts.ClickHouse
		gw, err := gateway.New(ctx, o, log, s.reg)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		ln, err := net.Listen("tcp", o.Listen)
		if err != nil {
			_ = gw.Close()
			return fmt.Errorf("gateway: listen on %s: %w", o.Listen, err)
		}
		s.mu.Lock()
		s.gwAddr = ln.Addr()
		s.mu.Unlock()
		h = gw.Health()
		run = func(ctx context.Context) error {
			err := gw.Serve(ctx, ln)
			if cerr := gw.Close(); err == nil {
				err = cerr
			}
			return err
		}
	case Console:
		var err error
		if run, h, err = s.console(ctx, log); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
	s.health.Include(c.String(), h)
	r := s.launch(c, c.String(), run)
	s.mu.Lock()
	s.running = append(s.running, r)
	s.mu.Unlock()
	// started when its Health says so, failed when its Run returns first
	deadline := time.NewTimer(s.opts.StartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !h.Started() {
		select {
		case <-r.done:
			s.forget(r)
			return fmt.Errorf("%s did not start: %w", c, r.err)
		case <-ctx.Done():
			return fmt.Errorf("start %s: %w", c, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("%s did not start within %s", c, s.opts.StartTimeout)
		case <-tick.C:
		}
	}
	log.Debug("component started")
	return nil
}

// console builds the console on a ClickHouse connection of its own (the
// schema must be there: the caller migrates) and listens.
func (s *Stack) console(ctx context.Context, log *slog.Logger) (func(context.Context) error, *obs.Health, error) {
	o := s.opts.Console
	o.ClickHouse = s.opts.ClickHouse
	if err := o.Validate(); err != nil {
		return nil, nil, err
	}
	ch, err := chdb.Open(ctx, o.ClickHouse, log, false)
	if err != nil {
		return nil, nil, err
	}
	if err := ch.RequireSchema(ctx); err != nil {
		_ = ch.Close()
		return nil, nil, err
	}
	con, err := console.New(ctx, o, ch, log, s.reg)
	if err != nil {
		_ = ch.Close()
		return nil, nil, err
	}
	ln, err := console.Listen(o)
	if err != nil {
		_ = ch.Close()
		return nil, nil, err
	}
	s.mu.Lock()
	s.conAddr = ln.Addr()
	s.mu.Unlock()
	return func(ctx context.Context) error {
		err := con.Serve(ctx, ln)
		if cerr := ch.Close(); err == nil {
			err = cerr
		}
		return err
	}, con.Health(), nil
}

// forget drops a component that ended during its start: its error is
// Start's, not Stop's.
func (s *Stack) forget(r *running) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = slices.DeleteFunc(s.running, func(x *running) bool { return x == r })
}

// chain calls a hook the caller set, then the stack's.
func chain[T any](first, then func(T)) func(T) {
	if first == nil {
		return then
	}
	return func(v T) { first(v); then(v) }
}

// ErrStopped is wrapped by Wait's error when a component stopped while the
// stack was waiting for it.
var ErrStopped = errors.New("component stopped")

// Wait returns when cond holds for the progress reported so far, and fails
// when a component stops by itself first or ctx ends (the error then says
// what the progress was).
func (s *Stack) Wait(ctx context.Context, cond func(Progress) bool) error {
	for {
		s.mu.Lock()
		p, changed := s.progress, s.changed
		var stopped *running
		for _, r := range s.running {
			select {
			case <-r.done:
				stopped = r
			default:
			}
		}
		s.mu.Unlock()
		if cond(p) {
			return nil
		}
		if stopped != nil {
			if stopped.err == nil {
				return fmt.Errorf("%s: %w without an error", stopped.name, ErrStopped)
			}
			return fmt.Errorf("%s: %w: %w", stopped.name, ErrStopped, stopped.err)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("%w (progress: %+v)", ctx.Err(), p)
		}
	}
}

// Stop stops the running components, the last started first, each
// finishing its work (ingest flushes and commits), and returns their
// errors.
func (s *Stack) Stop() error {
	s.health.SetReady(false)
	s.mu.Lock()
	running := slices.Clone(s.running)
	s.running = nil
	s.mu.Unlock()
	var errs []error
	for _, r := range slices.Backward(running) {
		r.cancel()
		<-r.done
		if r.err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, r.err))
		}
	}
	return errors.Join(errs...)
}
