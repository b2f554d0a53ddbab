// Package console is where officials work their warnings (预警处置): a
// server-rendered web application, in Simplified Chinese by default and in
// English, usable without JavaScript, in which a county, prefecture or
// province official sees the open warnings of the region, acknowledges
// them, records how the firm was contacted and what was found, the measures
// taken and the workers concerned, and closes each case with a verdict;
// sees which firms have not reported this month and reminds them; and
// downloads the monthly report that goes upward.
//
//	browser ──▶ security headers ──▶ cross-origin check ──▶ session (signed cookie) ──▶ scope by region
//	   ──▶ page (inbox, warning, reporting, monthly report, audit)
//	   ──▶ action ──▶ CSRF token ──▶ case step ──▶ acks (shared with alerts) + audit row (append-only)
//	reminder clock ──▶ firms without a report near or past the deadline ──▶ SMTP ──▶ audit row
//
// It owns the accounts and roles, the sessions, the case workflow and its
// audit trail (console_users, console_audit), the reporting reminders and
// the exports (monthly report, verdicts as labels). It does not detect
// warnings (detector/) nor email officials about them (alerts/): it reads
// what those recorded, and shares the acknowledgements with alerts, so a
// warning acknowledged here is acknowledged for escalation too.
package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	gomail "github.com/wneessen/go-mail"
	"golang.org/x/sync/errgroup"

	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/clientip"
	"github.com/layoffwatch/layoffwatch/internal/defaults"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Options configures `layoffwatch console`.
type Options struct {
	ClickHouse chdb.Options `embed:""`
	// TLS of the officials' port (--listen): --tls-cert, --tls-key,
	// --tls-client-ca. --base-url must then be https://.
	TLS obs.ServerTLS `embed:""`

	Listen      string `help:"Serve the console here (also /healthz and /readyz)." default:"127.0.0.1:9106"`
	MetricsAddr string `help:"Serve /metrics, /healthz (alive) and /readyz (ClickHouse reachable) here, apart from the officials' port (empty: off)." default:"127.0.0.1:9107"`
	BaseURL     string `help:"Where officials reach the console (https://… marks cookies Secure); links in reminder emails point here." default:"http://127.0.0.1:9106" name:"base-url"`
	// Plans give what an alert event does not carry: each rule's condition
	// and source, and the rules to filter by — the plan of the warning's
	// province (detect's set: a plan per province). A warning's level
	// name, colour, action and response deadline are those its event carried.
	Plans   []string `name:"plan" help:"Risk plan file, or a directory of plan files; repeat for a plan per province, as detect takes them: the condition and source of each warning's rule, and the rules to filter by (level names, colours, actions and deadlines come with each warning)." default:"deploy/plans/default.yaml" type:"path"`
	DataDir string   `help:"Directory for the session keys generated at first start (keep it, or every session ends)." default:".layoffwatch/console" type:"path"`
	// SessionKeyFile holds the session keys instead (hex, 96 bytes): the
	// same file on every replica behind a load balancer.
	SessionKeyFile string        `help:"File holding the session keys (hex of 96 random bytes; share it between replicas); default: generated into --data-dir." type:"path"`
	SessionTTL     time.Duration `help:"How long a sign-in lasts." default:"12h" name:"session-ttl"`
	TrustedProxies string        `help:"Reverse proxies or load balancers in front of the console (comma-separated addresses or CIDR prefixes): a request from one of them is counted and audited under the client address it reports in X-Forwarded-For. Empty: the peer's address, and the header is ignored." name:"trusted-proxies"`
	DeadlineDay    int           `help:"Reports for a month are due by the end of this day of the next month (Asia/Shanghai)." default:"5"`

	Reminders     string        `help:"Reminder emails to firms without a report: auto (before the deadline and when late) or off (by hand only). Turn auto on in one replica." default:"auto" enum:"auto,off"`
	RemindBefore  time.Duration `help:"Remind firms without a report this long before the deadline." default:"72h"`
	RemindCheck   time.Duration `help:"How often to look for firms to remind." default:"1h"`
	SMTPHost      string        `help:"SMTP server for reminder emails; empty: reminders are off." name:"smtp-host"`
	SMTPPort      int           `help:"SMTP port (0: by --smtp-tls)." name:"smtp-port"`
	SMTPTLS       string        `help:"SMTP TLS: starttls, tls or none." default:"starttls" enum:"starttls,tls,none" name:"smtp-tls"`
	SMTPUser      string        `help:"SMTP user." name:"smtp-user"`
	SMTPPassFile  string        `help:"File holding the SMTP password." name:"smtp-password-file" type:"path"`
	SMTPFrom      string        `help:"From address of reminder emails." default:"layoffwatch <noreply@localhost>" name:"smtp-from"`
	SMTPNoTLSOkay bool          `help:"Allow --smtp-tls none (a local mail catcher)." name:"smtp-insecure-no-tls"`

	OIDC OIDCOptions `embed:"" prefix:"oidc-"`

	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time `kong:"-"`
	// Sender replaces SMTP (tests, embedding); nil: the --smtp-* server.
	Sender Sender `kong:"-"`
}

// Sender delivers one email; *email.Sender is one.
type Sender interface {
	Send(ctx context.Context, m *gomail.Msg) (retry bool, err error)
}

// DefaultOptions returns the options of `layoffwatch console` with every
// flag at its default (the kong tags above are the one place defaults are
// written), for callers that run the console in process.
func DefaultOptions() (Options, error) { return defaults.Of[Options]("console") }

// Validate checks the options without network I/O.
func (o Options) Validate() error {
	if err := o.ClickHouse.Validate(); err != nil {
		return err
	}
	switch {
	case o.Listen == "":
		return errors.New("console: --listen is empty")
	case o.SessionTTL < time.Minute || o.SessionTTL > 30*24*time.Hour:
		return errors.New("console: --session-ttl must be between 1m and 720h")
	case o.DeadlineDay < 1 || o.DeadlineDay > 28:
		return errors.New("console: --deadline-day must be from 1 to 28")
	case o.RemindCheck < time.Second:
		return errors.New("console: --remind-check must be at least 1s")
	case o.DataDir == "" && o.SessionKeyFile == "":
		return errors.New("console: --data-dir or --session-key-file is required (the session keys)")
	case o.TLS.Enabled() && !strings.HasPrefix(o.BaseURL, "https://"):
		// Cookies would not be Secure and reminder links would point to a
		// port that no longer speaks plain HTTP.
		return fmt.Errorf("console: --tls-cert is set, so --base-url must be https:// (is %q)", o.BaseURL)
	}
	if err := o.TLS.Validate(); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if _, err := clientip.Parse(o.TrustedProxies); err != nil {
		return fmt.Errorf("console: --trusted-proxies: %w", err)
	}
	return o.OIDC.validate()
}

// Listen opens the officials' port, opts.Listen, speaking TLS only when
// --tls-cert is set (the certificate is reloaded when its file changes).
// Serve serves on what it returns.
func Listen(opts Options) (net.Listener, error) {
	tc, err := opts.TLS.Config()
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	ln, err := obs.Listen(opts.Listen, tc)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	return ln, nil
}

// Console is a running console: its handler and its reminder clock. Build
// it with New, run it with Serve (or mount Handler in a stack and call
// RunReminders).
type Console struct {
	opts    Options
	st      *store
	plans   *detector.PlanSet
	regions *region.Table
	keys    *sessionKeys
	send    Sender
	now     func() time.Time
	log     *slog.Logger
	m       *metrics
	oidc    *oidcProvider
	tmpl    *template.Template
	handler http.Handler
	health  obs.Health
	clients clientip.Resolver // who sent a request (--trusted-proxies)
}

// New builds a console on ch (migrated: the caller runs RequireSchema or
// Migrate). reg may be nil.
func New(ctx context.Context, opts Options, ch *chdb.Client, log *slog.Logger, reg prometheus.Registerer) (*Console, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	plans, err := detector.LoadPlans(opts.Plans...)
	if err != nil {
		return nil, err
	}
	keys, err := loadSessionKeys(opts.SessionKeyFile, opts.DataDir)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	c := &Console{opts: opts, st: &store{ch: ch}, plans: plans, regions: region.China(), keys: keys, send: opts.Sender, now: now, log: log,
		m: newMetrics(reg)}
	if c.clients, err = clientip.Parse(opts.TrustedProxies); err != nil {
		return nil, err
	}
	// ready while ClickHouse answers: the console can show nothing without
	// it (a mail server that is down only delays reminders)
	c.health.Check("clickhouse", ch.Ping)
	if c.send == nil && opts.SMTPHost != "" {
		s, err := email.NewSender(email.SMTPConfig{Host: opts.SMTPHost, Port: opts.SMTPPort, TLS: opts.SMTPTLS, Username: opts.SMTPUser,
			PasswordFile: opts.SMTPPassFile, From: opts.SMTPFrom, InsecureNoTLS: opts.SMTPNoTLSOkay})
		if err != nil {
			return nil, fmt.Errorf("console smtp: %w", err)
		}
		c.send = s
	}
	if opts.OIDC.Issuer != "" {
		c.oidc, err = newOIDCProvider(ctx, opts.OIDC, opts.BaseURL)
		if err != nil {
			return nil, err
		}
	}
	h, err := c.routes()
	if err != nil {
		return nil, err
	}
	c.handler = h
	return c, nil
}

// Handler is the console's HTTP handler (every page, with the security
// headers and the cross-origin protection, and /healthz and /readyz).
func (c *Console) Handler() http.Handler { return c.handler }

// Health is the console's readiness: started while Serve runs, and
// ClickHouse reachable.
func (c *Console) Health() *obs.Health { return &c.health }

// Serve serves the console on ln and runs the reminder clock until ctx
// ends.
func (c *Console) Serve(ctx context.Context, ln net.Listener) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer c.health.SetReady(false)
		return obs.ServeListener(gctx, ln, c.handler, c.log)
	})
	g.Go(func() error { return c.RunReminders(gctx) })
	c.health.SetReady(true)
	c.log.Info("console started", "listen", ln.Addr().String(), "reminders", c.opts.Reminders, "oidc", c.oidc != nil)
	return g.Wait()
}

// Run opens ClickHouse, checks the schema and serves the console on
// opts.Listen (and /metrics on opts.MetricsAddr) until ctx ends. It is
// `layoffwatch console`.
func Run(ctx context.Context, opts Options, log *slog.Logger, reg *prometheus.Registry) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	ch, err := chdb.Open(ctx, opts.ClickHouse, log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.RequireSchema(ctx); err != nil {
		return err
	}
	c, err := New(ctx, opts, ch, log, reg)
	if err != nil {
		return err
	}
	ln, err := Listen(opts)
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	runCtx, stop := context.WithCancel(gctx)
	g.Go(func() error {
		defer stop()
		return obs.Serve(runCtx, opts.MetricsAddr, reg, c.Health(), false, log)
	})
	g.Go(func() error {
		defer stop()
		return c.Serve(runCtx, ln)
	})
	return g.Wait()
}

type metrics struct {
	actions   *prometheus.CounterVec
	signins   *prometheus.CounterVec
	reminders *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		actions:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_console_actions_total", Help: "Case actions recorded, by action."}, []string{"action"}),
		signins:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_console_signins_total", Help: "Sign-in attempts, by result."}, []string{"result"}),
		reminders: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_console_reminders_total", Help: "Reminder emails to firms, by kind and result."}, []string{"kind", "result"}),
	}
	if reg != nil {
		reg.MustRegister(m.actions, m.signins, m.reminders)
	}
	return m
}

func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// rule returns a warning's rule in the plan of its region's province, and
// that plan's params (false: no plan of the set applies, or the rule is
// not in it).
func (c *Console) rule(regionCode, id string) (*detector.Rule, []detector.Param, bool) {
	p := c.plans.For(regionCode)
	if p == nil {
		return nil, nil, false
	}
	r, ok := p.Rule(id)
	return r, p.Params, ok
}
