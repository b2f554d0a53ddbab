// Package gateway owns the way in for firms that are not Kafka clients: an
// HTTP server that takes monthly reports as JSON (one or up to 1,000), as a
// CSV upload or through a server-rendered web form, and turns each into a
// message on the "reports" topic; the API tokens that say which firms a
// caller may act for; the deadline rule (late reports are accepted and
// marked); and the answers: what a token's firms submitted and what became
// of it, and who has not reported yet.
//
//	client ──HTTPS──▶ auth (token hash, rate limits) ──▶ body limit (1 MiB)
//	   ──▶ decode (JSON / CSV / form) ──▶ report.Validate + scope check
//	   ──▶ Kafka "reports" (acks = all) ──▶ 202 ──▶ gateway_submissions (batched)
//
// It does not judge reports itself (internal/report does, for every path),
// store them (ingest does, from the topic) or own the firm registry
// (internal/firms, `layoffwatch firms import`). Its ClickHouse tables are
// those of migration 0002: gateway_tokens, gateway_submissions,
// gateway_idempotency.
package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/clientip"
	"github.com/layoffwatch/layoffwatch/internal/defaults"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/obs"
)

// Limits of a request.
const (
	MaxBodyBytes   = 1 << 20 // larger bodies are answered 413
	MaxBatch       = 1000    // reports in one POST
	idempotencyTTL = 24 * time.Hour
)

// Options configures the gateway.
type Options struct {
	Kafka      kafkautil.Options `embed:""`
	ClickHouse chdb.Options      `embed:""`

	Listen            string        `help:"Serve the API and the web form on this address." default:"127.0.0.1:8080"`
	TLSCert           string        `help:"TLS certificate chain (PEM). With --tls-key the gateway speaks HTTPS only and its cookies are Secure." type:"path" name:"tls-cert"`
	TLSKey            string        `help:"TLS private key (PEM)." type:"path" name:"tls-key"`
	Topic             string        `help:"Topic to produce reports to." default:"reports"`
	MetricsAddr       string        `help:"Serve /metrics, /healthz (alive) and /readyz (ClickHouse and Kafka reachable) here (empty: off)." default:"127.0.0.1:9102"`
	DeadlineDay       int           `help:"Reports for a month are due by the end of this day of the next month (Asia/Shanghai); later ones are accepted and marked late." default:"5"`
	Rate              float64       `help:"Requests per second allowed to one token." default:"10"`
	Burst             int           `help:"Requests one token may send at once above its rate." default:"100"`
	AuthFailRate      float64       `help:"Failed authentications per second allowed for one token id from one client address (guessing one token's secret)." default:"0.2"`
	AuthFailBurst     int           `help:"Failed authentications for one token id one client address may make at once." default:"20"`
	AuthFailAddrRate  float64       `help:"Failed authentications per second allowed from one client address, whatever the token (looser: many clients may share an address behind NAT)." default:"2"`
	AuthFailAddrBurst int           `help:"Failed authentications one client address may make at once, whatever the token." default:"200"`
	TrustedProxies    string        `help:"Reverse proxies or load balancers in front of the gateway (comma-separated addresses or CIDR prefixes): a request from one of them is counted under the client address it reports in X-Forwarded-For. Empty: the peer's address, and the header is ignored." name:"trusted-proxies"`
	ProduceTimeout    time.Duration `help:"How long to wait for Kafka to acknowledge a request's reports before answering 503." default:"10s"`
	ReadHeaderTimeout time.Duration `help:"Time allowed to read a request's headers (slow clients are cut off)." default:"5s"`
	ReadTimeout       time.Duration `help:"Time allowed to read a whole request." default:"30s"`
	WriteTimeout      time.Duration `help:"Time allowed from the end of the headers to the end of the answer." default:"30s"`
	IdleTimeout       time.Duration `help:"How long a kept-alive connection may sit idle." default:"120s"`
	TokenRefresh      time.Duration `help:"Reload the token table this often: a revoked token stops working within this time." default:"5s"`
	RegistryRefresh   time.Duration `help:"Reload the firm registry this often." default:"1m"`
	ShutdownGrace     time.Duration `help:"On SIGTERM, how long to finish requests in flight." default:"15s"`
	CreateTopics      bool          `help:"Create the topic when missing." default:"true" negatable:""`

	// Now is the clock for reported_at and deadlines (tests); nil is time.Now.
	Now func() time.Time `kong:"-"`
	// FlushInterval is how often accepted submissions are written to
	// ClickHouse; 0 is 500 ms.
	FlushInterval time.Duration `kong:"-"`
}

// DefaultOptions returns the options of `layoffwatch gateway` with every
// flag at its default, for callers that run the gateway in process (`local`,
// tests). The kong tags stay the one place where defaults are written.
func DefaultOptions() (Options, error) { return defaults.Of[Options]("gateway") }

// Validate checks the options without network I/O.
func (o Options) Validate() error {
	if err := o.Kafka.Validate(); err != nil {
		return err
	}
	if err := o.ClickHouse.Validate(); err != nil {
		return err
	}
	switch {
	case o.Topic == "":
		return errors.New("topic must not be empty")
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case o.DeadlineDay < 1 || o.DeadlineDay > 28:
		return fmt.Errorf("deadline day must be 1–28, got %d", o.DeadlineDay)
	case o.Rate <= 0 || o.Burst < 1 || o.AuthFailRate <= 0 || o.AuthFailBurst < 1 || o.AuthFailAddrRate <= 0 || o.AuthFailAddrBurst < 1:
		return errors.New("rates must be positive and bursts at least 1")
	case o.ProduceTimeout <= 0 || o.ReadHeaderTimeout <= 0 || o.ReadTimeout <= 0 || o.WriteTimeout <= 0 || o.IdleTimeout <= 0:
		return errors.New("timeouts must be positive")
	case o.WriteTimeout <= o.ProduceTimeout:
		return fmt.Errorf("write timeout %s must exceed the produce timeout %s, or a 503 could never be written", o.WriteTimeout, o.ProduceTimeout)
	case o.TokenRefresh <= 0 || o.RegistryRefresh <= 0:
		return errors.New("refresh intervals must be positive")
	}
	if o.Listen == "" {
		return errors.New("listen address is empty")
	}
	if _, err := clientip.Parse(o.TrustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	return nil
}

// producer is what the gateway needs of a Kafka writer (*kafka.Writer).
type producer interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

// Server is a gateway with its connections open. New builds it, Serve runs
// it on a listener, Close releases it.
type Server struct {
	opts    Options
	log     *slog.Logger
	m       *metrics
	ch      *chdb.Client
	store   *store
	prod    producer
	tokens  *tokenCache
	firms   *firmCache
	subs    *batcher[submission]
	idem    *idemCache
	revs    *revisionGuard
	tokLim  *limiters
	failLim *limiters // failed authentications per (client address, token id)
	addrLim *limiters // failed authentications per client address
	clients clientip.Resolver
	web     *webUI
	dl      deadlines
	now     func() time.Time
	handler http.Handler
	health  obs.Health
	tls     *tls.Config // nil: plain HTTP
}

// New opens ClickHouse (whose schema must be current) and the Kafka producer,
// loads the tokens and the firm registry, and builds the handler. It does
// not listen: call Serve, or use Run.
func New(ctx context.Context, opts Options, log *slog.Logger, reg prometheus.Registerer) (*Server, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	flush := opts.FlushInterval
	if flush <= 0 {
		flush = 500 * time.Millisecond
	}
	var tlsConf *tls.Config
	if opts.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(opts.TLSCert, opts.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load tls certificate: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ch, err := chdb.Open(ctx, opts.ClickHouse, log, false)
	if err != nil {
		return nil, err
	}
	if err := ch.RequireSchema(ctx); err != nil {
		_ = ch.Close()
		return nil, err
	}
	if opts.CreateTopics {
		if err := kafkautil.EnsureTopics(ctx, opts.Kafka, opts.Topic); err != nil {
			_ = ch.Close()
			return nil, err
		}
	}
	clients, err := clientip.Parse(opts.TrustedProxies)
	if err != nil {
		_ = ch.Close()
		return nil, err
	}
	st := &store{ch: ch}
	s := &Server{
		opts: opts, log: log, m: newMetrics(reg), ch: ch, store: st, now: now, tls: tlsConf,
		prod:    kafkautil.NewWriter(opts.Kafka, opts.Topic, log),
		tokens:  newTokenCache(func(ctx context.Context) ([]Token, error) { return ListTokens(ctx, ch) }, opts.TokenRefresh),
		firms:   newFirmCache(firms.NewStore(ch).All, opts.RegistryRefresh, log),
		subs:    newBatcher("gateway_submissions", st.insertSubmissions, flush, log),
		tokLim:  newLimiters(opts.Rate, opts.Burst),
		failLim: newLimiters(opts.AuthFailRate, opts.AuthFailBurst),
		addrLim: newLimiters(opts.AuthFailAddrRate, opts.AuthFailAddrBurst),
		clients: clients,
		dl:      deadlines{day: opts.DeadlineDay},
	}
	s.idem = newIdemCache(st, newBatcher("gateway_idempotency", st.insertIdempotency, flush, log))
	s.health.Check("clickhouse", ch.Ping)
	s.health.Check("kafka", func(ctx context.Context) error { return kafkautil.Ping(ctx, opts.Kafka) })
	s.revs = newRevisionGuard(st.knownRevisions)
	if err := s.tokens.refresh(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("load tokens: %w", err)
	}
	if err := s.firms.refresh(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("load firm registry: %w", err)
	}
	if s.web, err = newWebUI(s); err != nil {
		_ = s.Close()
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Handler is the gateway's HTTP handler (API, web form, OpenAPI document).
func (s *Server) Handler() http.Handler { return s.handler }

// Health is the gateway's readiness: started while Serve runs, and
// ClickHouse and Kafka reachable.
func (s *Server) Health() *obs.Health { return &s.health }

// Serve answers requests on ln until ctx ends, then stops accepting, lets
// requests in flight finish (within ShutdownGrace) and writes the pending
// submission records. It serves TLS when the options name a certificate.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.tls != nil {
		srv.TLSConfig = s.tls
		ln = tls.NewListener(ln, s.tls)
	}
	// request smuggling is refused below net/http (framing.go), on the
	// plain text: inside TLS
	ln = framingListener{Listener: ln, onRefuse: func(remote string) {
		s.m.smuggling.Inc()
		s.log.Warn("request with both Content-Length and Transfer-Encoding refused; connection closed", "remote", remote)
	}}
	g, gctx := errgroup.WithContext(ctx)
	// The record writers outlive the HTTP server: they stop after it, so
	// the last accepted submissions are written too.
	writers, stopWriters := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriters()
	var done = make(chan struct{}, 2)
	go func() { s.subs.run(writers, s.opts.ShutdownGrace); done <- struct{}{} }()
	go func() { s.idem.writer.run(writers, s.opts.ShutdownGrace); done <- struct{}{} }()
	g.Go(func() error {
		s.log.Info("gateway listening", "addr", ln.Addr().String(), "tls", s.opts.TLSCert != "", "topic", s.opts.Topic)
		s.health.SetReady(true)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("gateway server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.health.SetReady(false)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.opts.ShutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Warn("requests still in flight at shutdown", "err", err)
			_ = srv.Close()
		}
		return nil
	})
	err := g.Wait()
	stopWriters()
	<-done
	<-done
	return err
}

// Close releases the Kafka producer and the ClickHouse connection.
func (s *Server) Close() error {
	var errs []error
	if s.prod != nil {
		if err := s.prod.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close kafka producer: %w", err))
		}
	}
	if err := s.ch.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close clickhouse: %w", err))
	}
	return errors.Join(errs...)
}

// Run serves the gateway on opts.Listen (and metrics on opts.MetricsAddr)
// until ctx ends. It is `layoffwatch gateway`.
func Run(ctx context.Context, opts Options, log *slog.Logger, reg *prometheus.Registry) error {
	s, err := New(ctx, opts, log, reg)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Close(); err != nil {
			log.Warn("close gateway", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("gateway listen on %s: %w", opts.Listen, err)
	}
	g, gctx := errgroup.WithContext(ctx)
	runCtx, stop := context.WithCancel(gctx)
	g.Go(func() error {
		defer stop()
		return obs.Serve(runCtx, opts.MetricsAddr, reg, s.Health(), false, log)
	})
	g.Go(func() error {
		defer stop()
		return s.Serve(runCtx, ln)
	})
	err = g.Wait()
	log.Info("gateway stopped", "err", err)
	return err
}

// route is one pattern of the handler.
type route struct {
	pattern string
	handler http.HandlerFunc
}

// routeTable lists every route; openapi.yaml describes each of them (a test
// holds the two together).
func (s *Server) routeTable() []route {
	return append([]route{
		{"POST /v1/reports", s.postReports},
		{"POST /v1/reports.csv", s.postReportsCSV},
		{"GET /v1/reports", s.getReports},
		{"GET /v1/deadlines", s.getDeadlines},
		{"GET /openapi.yaml", s.getOpenAPI},
		{"GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			writeBody(w, http.StatusOK, "text/plain; charset=utf-8", []byte("ok\n"))
		}},
	}, s.web.routeTable()...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routeTable() {
		mux.HandleFunc(rt.pattern, rt.handler)
	}
	return s.instrument(mux)
}

// instrument counts requests by route pattern and status and sets the
// headers every answer carries.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		s.m.requests.WithLabelValues(route, fmt.Sprint(rec.status)).Inc()
		s.m.requestSeconds.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// authenticate checks the request's bearer token and the rate limits, and
// answers 400, 401 or 429 itself when they fail.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (Token, bool) {
	if len(r.Header.Values("Authorization")) > 1 {
		// Ambiguous: a proxy in front may have checked one, the gateway
		// would use another. Nothing is checked, nothing is used.
		s.m.authFailures.WithLabelValues(string(authMalformed)).Inc()
		writeProblem(w, Problem{Type: problemBadRequest, Title: "Several Authorization headers", Status: http.StatusBadRequest,
			Detail: "send exactly one Authorization header: Bearer lw_…"})
		return Token{}, false
	}
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, value, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(value)
		} else {
			token = "?" // a credential in another scheme: malformed
		}
	}
	return s.checkToken(w, r, token)
}

func (s *Server) checkToken(w http.ResponseWriter, r *http.Request, token string) (Token, bool) {
	t, prob, wait := s.verify(r, token)
	if prob == nil {
		return t, true
	}
	if prob.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="layoffwatch"`)
		writeProblem(w, *prob)
	} else {
		writeRetry(w, wait, *prob)
	}
	return Token{}, false
}

// verify checks a presented token and the rate limits. Failed
// authentications are limited at two levels: per (client address, token
// id), tightly — guessing the secret of one token is cut off after a
// few tries — and per client address, loosely, because many clients may
// share one address behind NAT: a neighbour's bad tokens do not lock out
// valid ones. Once a limit is exhausted no token under it is even checked.
// Requests are limited per token. It returns a 401 or 429 problem, with
// how long to wait for a 429.
func (s *Server) verify(r *http.Request, token string) (Token, *Problem, time.Duration) {
	// the address failed authentications are counted against: the peer's,
	// or the client's behind a trusted proxy (--trusted-proxies)
	addr := s.clients.Addr(r)
	key := addr + " " + TokenID(token) // id "" for a missing or malformed token
	now := time.Now()
	tooMany := func(limiter string, wait time.Duration) (Token, *Problem, time.Duration) {
		s.m.rateLimited.WithLabelValues(limiter).Inc()
		return Token{}, &Problem{Type: problemRate, Title: "Too many failed authentications", Status: http.StatusTooManyRequests,
			Detail: "this address sent too many missing or wrong tokens; wait before trying again"}, wait
	}
	if ex, wait := s.failLim.exhausted(key, now); ex {
		return tooMany("client_token", wait)
	}
	if ex, wait := s.addrLim.exhausted(addr, now); ex {
		return tooMany("client", wait)
	}
	t, res := s.tokens.authenticate(r.Context(), token)
	if res != authOK {
		s.m.authFailures.WithLabelValues(string(res)).Inc()
		okKey, waitKey := s.failLim.allow(key, now)
		okAddr, waitAddr := s.addrLim.allow(addr, now)
		switch {
		case !okKey:
			return tooMany("client_token", waitKey)
		case !okAddr:
			return tooMany("client", waitAddr)
		}
		detail := map[authResult]string{
			authMissing:   "send the firm's token as Authorization: Bearer lw_…",
			authMalformed: "the Authorization header does not hold a layoffwatch token (Bearer lw_…)",
			authUnknown:   "the token is not known",
			authRevoked:   "the token has been revoked",
		}[res]
		return Token{}, &Problem{Type: problemAuth, Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail}, 0
	}
	if ok, wait := s.tokLim.allow(t.ID, now); !ok {
		s.m.rateLimited.WithLabelValues("token").Inc()
		return Token{}, &Problem{Type: problemRate, Title: "Too many requests", Status: http.StatusTooManyRequests,
			Detail: fmt.Sprintf("this token may send %g requests a second (bursts of %d)", s.opts.Rate, s.opts.Burst)}, wait
	}
	return t, nil, 0
}

// registry returns the current firm registry.
func (s *Server) registry(ctx context.Context) *firms.Registry { return s.firms.Get(ctx) }
