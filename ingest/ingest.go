// Package ingest owns the path of monthly reports from the Kafka topic
// "reports" into ClickHouse: decode and validate every message (with the
// same rules as `layoffwatch validate`), batch by rows and time, insert, send
// refused messages to "reports.dlq" and the rejects table, and commit offsets
// only after ClickHouse acknowledged the batch. Crash anywhere and the
// uncommitted messages are read again; the reports table collapses the
// repeats, so every report is counted exactly once.
//
// It does not own the schema (internal/chdb) or the validation rules
// (internal/report).
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/layoffwatch/layoffwatch/internal/cache"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/defaults"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/obs"
)

// Options configures the ingest component.
type Options struct {
	Kafka      kafkautil.Options `embed:""`
	ClickHouse chdb.Options      `embed:""`

	Topic          string        `help:"Topic to consume." default:"reports"`
	DLQTopic       string        `help:"Topic for refused messages." default:"reports.dlq" name:"dlq-topic"`
	Group          string        `help:"Kafka consumer group." default:"layoffwatch-ingest"`
	BatchRows      int           `help:"Insert after this many messages..." default:"50000"`
	BatchWait      time.Duration `help:"...or this long after a batch's first message." default:"1s"`
	SessionTimeout time.Duration `help:"Kafka group session timeout: how soon a crashed consumer's partitions move." default:"10s"`
	ShutdownGrace  time.Duration `help:"On SIGTERM, how long to keep trying to flush and commit." default:"30s"`
	InsertTimeout  time.Duration `help:"Time allowed for one attempt at each write of a batch (ClickHouse insert, DLQ, offset commit); a write that hangs longer (a frozen server) is abandoned, logged and retried (0: no limit)." default:"30s"`
	Firms          string        `help:"Validate against this registry CSV instead of the ClickHouse firms table." type:"path"`
	MetricsAddr    string        `help:"Serve /metrics, /healthz (alive) and /readyz (ClickHouse and Kafka reachable) here (empty: off)." default:"127.0.0.1:9101"`
	Pprof          bool          `help:"Serve Go runtime profiles under /debug/pprof/ on the metrics address." hidden:""`
	CreateTopics   bool          `help:"Create the topics when missing." default:"true" negatable:""`

	// Health receives the component's readiness checks (embedding: the
	// in-process stack serves one /readyz); nil: a Health of its own.
	Health *obs.Health `kong:"-"`
	// OnStored is called after each batch is written and committed
	// (embedding: waiting for the data to land); nil: nothing.
	OnStored func(Stored) `kong:"-"`
}

// Stored is what one committed batch held.
type Stored struct {
	Messages int // read from the topic and committed
	Reports  int // valid reports inserted into ClickHouse
	Rejects  int // refused, sent to the DLQ and the rejects table
}

// lagInterval is how often the consumer lag is read from the broker.
const lagInterval = 5 * time.Second

// DefaultOptions returns the options of `layoffwatch ingest` with every
// flag at its default (the kong tags above are the one place defaults are
// written), for callers that run ingest in process.
func DefaultOptions() (Options, error) { return defaults.Of[Options]("ingest") }

// Validate checks the options without network I/O.
func (o Options) Validate() error {
	if err := o.Kafka.Validate(); err != nil {
		return err
	}
	if err := o.ClickHouse.Validate(); err != nil {
		return err
	}
	switch {
	case o.Topic == "" || o.DLQTopic == "" || o.Group == "":
		return errors.New("topic, dlq topic and group must not be empty")
	case o.Topic == o.DLQTopic:
		return errors.New("the dlq topic must differ from the topic")
	case o.BatchRows < 1:
		return fmt.Errorf("batch rows must be at least 1, got %d", o.BatchRows)
	case o.BatchWait <= 0:
		return fmt.Errorf("batch wait must be positive, got %s", o.BatchWait)
	case o.InsertTimeout < 0:
		return fmt.Errorf("insert timeout must not be negative, got %s", o.InsertTimeout)
	}
	return nil
}

// Run consumes until ctx ends, then stops reading, flushes, commits and
// returns nil. Start order follows the data: ClickHouse (the sink) first,
// then the Kafka reader (the source); shutdown goes the other way.
func Run(ctx context.Context, opts Options, log *slog.Logger, reg *prometheus.Registry) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	health := opts.Health
	if health == nil {
		health = &obs.Health{}
	}
	m := newMetrics(reg)

	ch, err := chdb.Open(ctx, opts.ClickHouse, log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.RequireSchema(ctx); err != nil {
		return err
	}
	health.Check("clickhouse", ch.Ping)
	health.Check("kafka", func(ctx context.Context) error { return kafkautil.Ping(ctx, opts.Kafka) })
	load := firms.NewStore(ch).IDs
	if opts.Firms != "" {
		load = func(context.Context) (map[string]struct{}, error) { return loadFirmsFile(opts.Firms) }
	}
	ids := cache.New(func(ctx context.Context) (map[string]string, error) {
		set, err := load(ctx)
		if err != nil {
			return nil, err
		}
		m.registryFirms.Set(float64(len(set)))
		return internTable(set), nil
	}, cache.Options{MaxAge: time.Minute, MinAge: 5 * time.Second, Name: "firm registry", Log: log})
	if err := ids.Load(ctx); err != nil {
		return fmt.Errorf("load firm registry: %w", err)
	}
	registered := len(ids.Get(ctx))
	if registered == 0 {
		log.Warn("the firm registry is empty: every report will be refused as unknown_firm; import firms with `layoffwatch firms import`")
	}

	if opts.CreateTopics {
		if err := kafkautil.EnsureTopics(ctx, opts.Kafka, opts.Topic, opts.DLQTopic); err != nil {
			return err
		}
	}
	dlq := kafkautil.NewWriter(opts.Kafka, opts.DLQTopic, log)
	defer dlq.Close()

	reader := kafkautil.NewGroupReader(opts.Kafka, ReaderConfig(opts), log)

	p := &pipeline{
		src: reader, store: chStore{ch}, revs: chStore{ch}, dlq: dlq, firms: &firmSet{ctx: ctx, c: ids}, m: m, log: log, now: time.Now,
		rows: opts.BatchRows, wait: opts.BatchWait, grace: opts.ShutdownGrace, attempt: opts.InsertTimeout,
		backoff: backoff{min: 200 * time.Millisecond, max: 10 * time.Second}, dlqTopic: opts.DLQTopic,
		onStored: opts.OnStored,
	}
	log.Info("ingest started", "topic", opts.Topic, "group", opts.Group, "brokers", opts.Kafka.Brokers,
		"clickhouse", opts.ClickHouse.Addr, "database", opts.ClickHouse.Database, "firms", registered)
	health.SetReady(true)
	defer health.SetReady(false)

	g, gctx := errgroup.WithContext(ctx)
	runCtx, stopRun := context.WithCancel(gctx)
	g.Go(func() error {
		defer stopRun()
		return obs.Serve(runCtx, opts.MetricsAddr, reg, health, opts.Pprof, log)
	})
	g.Go(func() error {
		watchLag(runCtx, opts, m, log)
		return nil
	})
	g.Go(func() error {
		defer stopRun() // the pipeline ending stops the metrics server too
		err := p.run(runCtx)
		if cerr := reader.Close(); cerr != nil && err == nil {
			log.Warn("close kafka reader", "err", cerr)
		}
		return err
	})
	err = g.Wait()
	if err != nil {
		log.Error("ingest stopped", "err", err)
		return err
	}
	log.Info("ingest stopped")
	return nil
}

// ReaderConfig is the Kafka consumer ingest runs with opts (the benchmark
// floors of internal/ingestbench read with the same).
func ReaderConfig(opts Options) kafkautil.GroupReader {
	return kafkautil.GroupReader{Group: opts.Group, Topic: opts.Topic,
		SessionTimeout: opts.SessionTimeout, MaxWait: 200 * time.Millisecond, MaxBytes: 16 << 20,
		QueueCapacity: min(opts.BatchRows, 20000)}
}

// watchLag exports the group's lag on every partition, read from the
// broker (end offsets against the group's committed offsets) every
// lagInterval until ctx ends: it is there before the first commit, after a
// restart, and while ClickHouse is away and nothing is committed.
func watchLag(ctx context.Context, opts Options, m *metrics, log *slog.Logger) {
	failing := false
	for {
		lctx, cancel := context.WithTimeout(ctx, lagInterval)
		lag, err := kafkautil.GroupLag(lctx, opts.Kafka, opts.Group, opts.Topic)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			m.lagErrors.Inc()
			if !failing {
				log.Warn("read consumer lag from kafka; retrying every "+lagInterval.String(), "err", err)
			}
			failing = true
		default:
			if failing {
				log.Info("consumer lag readable again")
			}
			failing = false
			for p, n := range lag {
				m.lag.WithLabelValues(opts.Topic, strconv.Itoa(p)).Set(float64(n))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(lagInterval):
		}
	}
}

func loadFirmsFile(path string) (map[string]struct{}, error) {
	list, err := firms.LoadFile(path)
	if err != nil {
		return nil, err
	}
	ids := make(map[string]struct{}, len(list))
	for _, fm := range list {
		ids[fm.ID] = struct{}{}
	}
	return ids, nil
}
