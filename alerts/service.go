package alerts

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/defaults"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// Options configures `layoffwatch alert`.
type Options struct {
	Kafka      kafkautil.Options `embed:""`
	ClickHouse chdb.Options      `embed:""`
	// TLS of the HTTP server (acknowledge links, API, /metrics):
	// --tls-cert, --tls-key, --tls-client-ca.
	HTTPTLS obs.ServerTLS `embed:""`

	Config          string        `help:"Recipients, routes, SMTP and links (YAML)." default:"deploy/alerts.yaml" type:"path"`
	Topic           string        `help:"Topic of alert events." default:"alerts"`
	Group           string        `help:"Kafka consumer group." default:"layoffwatch-alert"`
	HTTPAddr        string        `help:"Serve acknowledge links, the API, /metrics, /healthz (alive) and /readyz (ClickHouse, Kafka and SMTP reachable) here." default:"127.0.0.1:9104" name:"http-addr"`
	DataDir         string        `help:"Directory for the acknowledge-link secret generated at first start when the config names none (empty: .layoffwatch/alerts)." default:".layoffwatch/alerts" type:"path"`
	EscalationCheck time.Duration `help:"How often to look for alerts past their response deadline." default:"30s"`
	SessionTimeout  time.Duration `help:"Kafka group session timeout." default:"10s"`

	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time `kong:"-"`
	// Sender replaces SMTP (tests); nil means the configured SMTP server.
	Sender sender `kong:"-"`
	// Adjust changes the loaded configuration before it is used (embedding:
	// `layoffwatch local` points SMTP at its own mail catcher).
	Adjust func(*Config) `kong:"-"`
	// Health receives the component's readiness checks (embedding: the
	// in-process stack serves one /readyz); nil: a Health of its own.
	Health *obs.Health `kong:"-"`
	// OnHandled is called with the number of alert events of each pass once
	// every email of the pass is sent (or refused for good) and recorded
	// and the offsets committed — when the batch ends the detector's pass,
	// the summaries of its old warnings too (unless summary_wait holds
	// them) — (embedding: waiting for the emails); nil: nothing.
	OnHandled func(events int) `kong:"-"`
}

// DefaultOptions returns the options of `layoffwatch alert` with every flag
// at its default (the kong tags above are the one place defaults are
// written), for callers that run the alert component in process.
func DefaultOptions() (Options, error) { return defaults.Of[Options]("alert") }

// pinger is a sender that can tell whether its server answers
// (*email.Sender is one).
type pinger interface {
	Ping(ctx context.Context) error
}

// Run consumes alert events until ctx ends.
func Run(ctx context.Context, opts Options, log *slog.Logger, reg *prometheus.Registry) error {
	if err := opts.Kafka.Validate(); err != nil {
		return err
	}
	if err := opts.ClickHouse.Validate(); err != nil {
		return err
	}
	httpTLS, err := opts.HTTPTLS.Config()
	if err != nil {
		return err
	}
	cfg, err := LoadConfig(opts.Config)
	if err != nil {
		return err
	}
	if opts.Adjust != nil {
		opts.Adjust(cfg)
	}
	if cfg.Ack.key == nil {
		if cfg.Ack.key, err = ackKey(opts.DataDir); err != nil {
			return err
		}
	}
	// a template error is found now, never at send time
	rend, err := email.NewRenderer(cfg.Templates)
	if err != nil {
		return fmt.Errorf("email templates: %w", err)
	}
	snd := opts.Sender
	if snd == nil {
		s, err := email.NewSender(cfg.SMTP.email())
		if err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
		snd = s
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	ch, err := chdb.Open(ctx, opts.ClickHouse, log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.RequireSchema(ctx); err != nil {
		return err
	}
	health := opts.Health
	if health == nil {
		health = &obs.Health{}
	}
	health.Check("clickhouse", ch.Ping)
	health.Check("kafka", func(ctx context.Context) error { return kafkautil.Ping(ctx, opts.Kafka) })
	if p, ok := snd.(pinger); ok {
		health.Check("smtp", p.Ping)
	}
	st := &store{ch: ch}
	m := newAlertMetrics(reg)
	chans := map[string]chatSender{}
	for name, s := range cfg.channels {
		chans[name] = s
		log.Info("alert channel", "channel", s.String())
	}
	n := &notifier{cfg: cfg, router: NewRouter(cfg), signer: NewSigner(cfg.Ack.key, cfg.Ack.Expiry, now), render: rend, send: snd, chans: chans,
		store: st, now: now, log: log, m: m, regions: region.China(),
		backoff: [2]time.Duration{500 * time.Millisecond, 30 * time.Second}, state: map[string]*alertState{}, done: map[string]bool{},
		queue: map[string][]queuedOld{}, queued: map[string]bool{}}
	if err := n.restore(ctx, st); err != nil {
		return err
	}
	if err := kafkautil.EnsureTopics(ctx, opts.Kafka, opts.Topic); err != nil {
		return err
	}
	reader := kafkautil.NewGroupReader(opts.Kafka, kafkautil.GroupReader{Group: opts.Group, Topic: opts.Topic,
		SessionTimeout: opts.SessionTimeout, MaxWait: 100 * time.Millisecond, MaxBytes: 8 << 20}, log)
	api := &httpAPI{cfg: cfg, store: st, signer: n.signer, now: now, log: log, reg: reg, acks: m.acks, health: health}
	n.onHandled = opts.OnHandled
	g, gctx := errgroup.WithContext(ctx)
	if httpTLS != nil && !strings.HasPrefix(cfg.Links.AckBaseURL, "https://") {
		log.Warn("the HTTP server speaks TLS but links.ack_base_url is not https://: acknowledge links will not reach it", "ack_base_url", cfg.Links.AckBaseURL)
	}
	g.Go(func() error { return api.serve(gctx, opts.HTTPAddr, httpTLS) })
	g.Go(func() error {
		defer reader.Close()
		return n.loop(gctx, reader, st, opts.EscalationCheck)
	})
	log.Info("alert component started", "topic", opts.Topic, "recipients", len(cfg.Recipients), "http", opts.HTTPAddr)
	health.SetReady(true)
	defer health.SetReady(false)
	return g.Wait()
}

// ackKey reads the acknowledge-link secret of dir, generating it (32
// random bytes, mode 0600) at first start.
func ackKey(dir string) ([]byte, error) {
	if dir == "" {
		dir = filepath.Join(".layoffwatch", "alerts")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ack secret: %w", err)
	}
	path := filepath.Join(dir, "ack.secret")
	b, err := os.ReadFile(path) //nolint:gosec // under the data directory
	if errors.Is(err, fs.ErrNotExist) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("ack secret: %w", err)
		}
		f, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // under the data directory
		switch {
		case errors.Is(cerr, fs.ErrExist): // another process made it first
		case cerr != nil:
			return nil, fmt.Errorf("ack secret: %w", cerr)
		default:
			_, werr := f.Write([]byte(hex.EncodeToString(key) + "\n"))
			if err := errors.Join(werr, f.Close()); err != nil {
				return nil, fmt.Errorf("ack secret: %w", err)
			}
		}
		b, err = os.ReadFile(path) //nolint:gosec // under the data directory
	}
	if err != nil {
		return nil, fmt.Errorf("ack secret: %w", err)
	}
	if s := strings.TrimSpace(string(b)); len(s) >= 32 {
		return []byte(s), nil
	}
	return nil, fmt.Errorf("ack secret: %s holds fewer than 32 characters; delete it to have a new one generated", path)
}

func (c smtpConfig) email() email.SMTPConfig {
	return email.SMTPConfig{Host: c.Host, Port: c.Port, Username: c.Username, Password: c.Password, PasswordFile: c.PasswordFile,
		From: c.From, TLS: c.TLS, InsecureNoTLS: c.InsecureNoTLS, InsecureSkipVerify: c.InsecureSkipVerify, Timeout: c.Timeout}
}

// restore rebuilds the state from ClickHouse: open alerts, who was told,
// escalations done, acknowledgements, what is settled, and the old
// warnings waiting for their summary.
func (n *notifier) restore(ctx context.Context, st *store) error {
	h, err := st.history(ctx)
	if err != nil {
		return err
	}
	all, err := st.alertStates(ctx)
	if err != nil {
		return err
	}
	var defaulted, open int
	for _, e := range all {
		if e.Kind == alertevent.Resolved {
			continue
		}
		open++
		if e.FillDefaultLevelFacts() {
			defaulted++
		}
		s := &alertState{event: e, sentTo: map[string]int{}, firstSent: h.firstSent[e.ID], tier: h.tiers[e.ID], ackedBy: h.acked[e.ID],
			folded: h.folded[e.ID]}
		for r, t := range h.sentTo[e.ID] {
			s.sentTo[strings.ToLower(r)] = t
		}
		n.state[e.ID] = s
	}
	if defaulted > 0 {
		n.log.Warn("open alerts recorded before events carried level facts: using the shipped default plan's",
			"alerts", defaulted)
	}
	n.done = h.done
	n.restoreQueue(h.queued, all)
	n.silences, err = st.silences(ctx)
	if err != nil {
		return err
	}
	n.log.Info("alert state restored", "open_alerts", open, "settled", len(h.done))
	return nil
}

// refresh reloads what the HTTP API and the CLI change: acks and silences.
func (n *notifier) refresh(ctx context.Context, st *store) error {
	h, err := st.history(ctx)
	if err != nil {
		return err
	}
	for id, who := range h.acked {
		if s := n.state[id]; s != nil {
			s.ackedBy = who
		}
	}
	n.silences, err = st.silences(ctx)
	return err
}

// fetcher is what the loop needs of a Kafka consumer; *kafka.Reader is one.
type fetcher interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// loop reads one detector pass at a time — messages until the topic is
// quiet for the group wait — and commits its offsets once every email of
// the pass is sent and recorded (old warnings: queued). Once the topic is
// quiet it sends the summaries of old warnings; between passes it
// escalates.
func (n *notifier) loop(ctx context.Context, r fetcher, st *store, every time.Duration) error {
	lastEscalation := time.Time{}
	for {
		var msgs []kafka.Message
		var events []alertevent.Event
		wait := every
		quiet := false // the batch ended because the topic was quiet, not at its size limit
		for {
			fctx, cancel := context.WithTimeout(ctx, wait)
			m, err := r.FetchMessage(fctx)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if errors.Is(err, context.DeadlineExceeded) {
					quiet = true
					break
				}
				return fmt.Errorf("fetch alert event: %w", err)
			}
			msgs = append(msgs, m)
			e, err := alertevent.Decode(m.Value)
			if err != nil {
				n.log.Error("skipping an undecodable alert event", "offset", m.Offset, "partition", m.Partition, "err", err)
				continue
			}
			if e.FillDefaultLevelFacts() {
				n.log.Warn("alert event without level facts, from before events carried them: using the shipped default plan's",
					"alert", e.ID, "version", e.Version, "level", e.Level.String())
			}
			events = append(events, e)
			wait = n.cfg.GroupWait // a pass ends when the topic is quiet this long
			if len(msgs) >= 10000 {
				break
			}
		}
		if len(msgs) > 0 {
			if err := n.refresh(ctx, st); err != nil {
				n.log.Warn("reload acks and silences", "err", err)
			}
			if err := n.process(ctx, events); err != nil {
				if ctx.Err() != nil {
					return nil // not committed: read again after a restart
				}
				return err
			}
			if err := r.CommitMessages(ctx, msgs...); err != nil {
				n.log.Warn("commit alert offsets; the pass will be read again and deduplicated", "err", err)
			}
		}
		if quiet {
			// the detector's pass is read whole, however many batches it took
			if err := n.flushSummaries(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		if len(msgs) > 0 && n.onHandled != nil {
			n.onHandled(len(msgs))
		}
		if n.now().Sub(lastEscalation) >= every || len(msgs) == 0 {
			if err := n.refresh(ctx, st); err != nil {
				n.log.Warn("reload acks and silences", "err", err)
			}
			if err := n.escalate(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			lastEscalation = n.now()
		}
	}
}

type alertMetrics struct {
	received    *prometheus.CounterVec
	sent        *prometheus.CounterVec
	failed      prometheus.Counter
	retried     prometheus.Counter
	silenced    prometheus.Counter
	escalations prometheus.Counter
	old         *prometheus.CounterVec
	latency     prometheus.Histogram
	open        *prometheus.GaugeVec
	acks        *prometheus.CounterVec
	// channels beside email (channels.go)
	chanSent, chanFailed, chanRetried *prometheus.CounterVec
}

func newAlertMetrics(reg prometheus.Registerer) *alertMetrics {
	m := &alertMetrics{
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_alert_events_total", Help: "Alert events consumed, by event and level."}, []string{"event", "level"}),
		sent:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_alert_emails_sent_total", Help: "Emails accepted by the SMTP server, by kind."}, []string{"kind"}),
		failed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_alert_emails_failed_total", Help: "Emails the SMTP server refused for good."}),
		retried:  prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_alert_emails_retried_total", Help: "Send attempts that failed and were retried."}),
		silenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_alert_silenced_total", Help: "Alert events muted by a silence."}),
		escalations: prometheus.NewCounter(prometheus.CounterOpts{Name: "layoffwatch_alert_escalations_total",
			Help: "Alerts re-sent to the next tier because nobody acknowledged them in time."}),
		old: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_alert_old_events_total",
			Help: "Alert events about months past the alert horizon, told in summaries (never paged or escalated), by why they came late."}, []string{"reason"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "layoffwatch_alert_firing_to_sent_seconds",
			Help: "Time from the detector emitting an event to its email being accepted.", Buckets: prometheus.ExponentialBuckets(0.1, 2.5, 14)}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "layoffwatch_alert_open_unacknowledged",
			Help: "Open alerts nobody has acknowledged whose month is still urgent (old months are not counted), by level."}, []string{"level"}),
		acks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_alert_acks_total", Help: "Acknowledgements recorded, by channel."}, []string{"via"}),
		chanSent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_alert_channel_messages_sent_total",
			Help: "Messages a channel beside email (webhook, WeCom, DingTalk, SMS) delivered, by channel and kind."}, []string{"channel", "kind"}),
		chanFailed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_alert_channel_messages_failed_total",
			Help: "Messages a channel's receiver refused for good, by channel."}, []string{"channel"}),
		chanRetried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "layoffwatch_alert_channel_retries_total",
			Help: "Channel delivery attempts that failed and were retried, by channel."}, []string{"channel"}),
	}
	reg.MustRegister(m.received, m.sent, m.failed, m.retried, m.silenced, m.escalations, m.old, m.latency, m.open, m.acks,
		m.chanSent, m.chanFailed, m.chanRetried)
	return m
}
