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
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"
	"golang.org/x/sync/errgroup"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/region"
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
	Firms          string        `help:"Validate against this registry CSV instead of the ClickHouse firms table." type:"path"`
	MetricsAddr    string        `help:"Serve /metrics and /healthz here (empty: off)." default:"127.0.0.1:9101"`
	Pprof          bool          `help:"Serve Go runtime profiles under /debug/pprof/ on the metrics address." hidden:""`
	CreateTopics   bool          `help:"Create the topics when missing." default:"true" negatable:""`
}

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
	health := &obs.Health{}
	m := newMetrics(reg)

	ch, err := chdb.Open(ctx, opts.ClickHouse, log, false)
	if err != nil {
		return err
	}
	defer ch.Close()
	if err := ch.RequireSchema(ctx); err != nil {
		return err
	}
	load := func(ctx context.Context) (map[string]struct{}, error) { return ch.FirmIDs(ctx) }
	if opts.Firms != "" {
		load = func(context.Context) (map[string]struct{}, error) { return loadFirmsFile(opts.Firms) }
	}
	firmSet := &firmSet{load: load, maxAge: time.Minute, minAge: 5 * time.Second, now: time.Now, log: log, ctx: ctx,
		onLoad: func(n int) { m.registryFirms.Set(float64(n)) }}
	if err := firmSet.refresh(); err != nil {
		return fmt.Errorf("load firm registry: %w", err)
	}
	if len(firmSet.ids) == 0 {
		log.Warn("the firm registry is empty: every report will be refused as unknown_firm; import firms with `layoffwatch firms import`")
	}

	if opts.CreateTopics {
		if err := kafkautil.EnsureTopics(ctx, opts.Kafka, opts.Topic, opts.DLQTopic); err != nil {
			return err
		}
	}
	dlq := kafkautil.NewWriter(opts.Kafka, opts.DLQTopic, log)
	defer dlq.Close()

	reader := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           opts.Kafka.Brokers,
		GroupID:           opts.Group,
		Topic:             opts.Topic,
		MinBytes:          1,
		MaxBytes:          16 << 20,
		MaxWait:           200 * time.Millisecond,
		QueueCapacity:     min(opts.BatchRows, 20000),
		CommitInterval:    0, // synchronous commits, after each batch is written
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    opts.SessionTimeout,
		HeartbeatInterval: max(opts.SessionTimeout/10, 100*time.Millisecond),
		RebalanceTimeout:  opts.SessionTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    500 * time.Millisecond,
		ErrorLogger:       kafka.LoggerFunc(func(msg string, args ...any) { log.Warn(fmt.Sprintf(msg, args...), "component", "kafka-reader") }),
	})

	p := &pipeline{
		src: reader, store: ch, revs: chRevisions{ch}, dlq: dlq, firms: firmSet, m: m, log: log, now: time.Now,
		rows: opts.BatchRows, wait: opts.BatchWait, grace: opts.ShutdownGrace,
		backoff: backoff{min: 200 * time.Millisecond, max: 10 * time.Second}, dlqTopic: opts.DLQTopic,
	}
	log.Info("ingest started", "topic", opts.Topic, "group", opts.Group, "brokers", opts.Kafka.Brokers,
		"clickhouse", opts.ClickHouse.Addr, "database", opts.ClickHouse.Database, "firms", len(firmSet.ids))
	health.SetReady(true)

	g, gctx := errgroup.WithContext(ctx)
	runCtx, stopRun := context.WithCancel(gctx)
	g.Go(func() error {
		defer stopRun()
		return obs.Serve(runCtx, opts.MetricsAddr, reg, health, opts.Pprof, log)
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
	log.Info("ingest stopped", "err", err)
	return err
}

func loadFirmsFile(path string) (map[string]struct{}, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open firms file: %w", err)
	}
	defer f.Close()
	list, err := firms.ParseCSV(f, region.Gansu())
	if err != nil {
		return nil, fmt.Errorf("firms file %s: %w", path, err)
	}
	ids := make(map[string]struct{}, len(list))
	for _, fm := range list {
		ids[fm.ID] = struct{}{}
	}
	return ids, nil
}
