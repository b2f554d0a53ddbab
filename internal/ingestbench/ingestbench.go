// Package ingestbench measures the floors that ingest's throughput is judged
// against: what the machine can do at best with the same Kafka topic, the
// same ClickHouse and the same batch size, with none of ingest's own work
// (decoding, validation, the revision check). `make bench-ingest` and
// `make bench-scale` print the pipeline's rate against each:
//
//	RawInsert      rows ──▶ clickhouse-go PrepareBatch ──▶ ClickHouse        (insert alone)
//	Consume        Kafka ──▶ kafka-go Reader.FetchMessage ──▶ (nothing)      (consume alone)
//	ConsumeInsert  Kafka ──▶ FetchMessage ──▶ rows ──chan──▶ insert ──▶ commit offsets
//	               (both at once in one process, overlapped as ingest overlaps them)
//
// The reader is ingest's (ingest.ReaderConfig: a consumer group, 16 MiB
// fetches, the same read-ahead queue); the insert is ingest's
// (chdb.Client.InsertReports, columnar PrepareBatch with an explicit column
// list). Rows are never decoded from the messages: the caller gives them as a
// function of their index, so that the floors insert the same rows as the
// pipeline without holding them all in memory.
//
// It owns no schema and no topic: the caller produces the messages and
// migrates the database. It is measuring code, not a test: it asserts
// nothing about time.
package ingestbench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Options are the inputs of every floor.
type Options struct {
	// Kafka are the brokers (Brokers is enough; Partitions is not used).
	Kafka kafkautil.Options
	// Topic holds the messages, from offset 0 of each partition: at least
	// Rows of them. Nothing is written to it.
	Topic string
	// Group prefixes the consumer groups: each floor reads with a fresh
	// group "<Group>-<floor>-<unix nanos>", so it reads the topic whole and
	// leaves other groups' offsets alone. Default "ingestbench".
	Group string
	// ClickHouse is a database with layoffwatch's schema (migrated by the
	// caller). RawInsert and ConsumeInsert insert Rows rows into its
	// reports table each: give them a database of their own, or the same
	// rows the pipeline stores (they collapse), not a production one.
	ClickHouse chdb.Options
	// Rows is how many messages are consumed and how many rows inserted.
	Rows int
	// BatchRows is the insert size (ingest's --batch-rows). Default 50,000.
	BatchRows int
	// Report returns row i (0 ≤ i < Rows), the same report as message i
	// carries. ConsumeInsert calls it once per message consumed, inside the
	// measured time (no decoding: it stands in for the row ingest decodes).
	Report func(i int) report.Report
	// Settle, when set, runs before each floor (e.g. wait until ClickHouse
	// runs no background merge, so that one floor's merges do not slow the
	// next); Measure calls it, the single floors do not.
	Settle func(ctx context.Context) error
	// Log receives the reader's errors; nil: discarded.
	Log *slog.Logger
}

// Rate is what one floor moved and how long it took.
type Rate struct {
	Rows    int           // rows inserted or messages consumed within Elapsed
	Elapsed time.Duration // see each floor for what is timed
}

// PerSecond is Rows/Elapsed (0 when nothing was timed).
func (r Rate) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Rows) / r.Elapsed.Seconds()
}

// Floors are the three floors of one run.
type Floors struct {
	Raw      Rate // RawInsert
	Consume  Rate // Consume
	Combined Rate // ConsumeInsert
}

func (o Options) withDefaults() (Options, error) {
	if o.Group == "" {
		o.Group = "ingestbench"
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 50000
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Rows < 1:
		return o, fmt.Errorf("ingestbench: rows must be at least 1, got %d", o.Rows)
	case o.Report == nil:
		return o, errors.New("ingestbench: no Report function")
	case o.Topic == "":
		return o, errors.New("ingestbench: no topic")
	}
	return o, nil
}

// Measure runs RawInsert, Consume and ConsumeInsert one after the other
// (Settle before each), in that order.
func Measure(ctx context.Context, o Options) (Floors, error) {
	var f Floors
	steps := []struct {
		name string
		run  func(context.Context, Options) (Rate, error)
		out  *Rate
	}{
		{"raw insert", RawInsert, &f.Raw},
		{"consume", Consume, &f.Consume},
		{"consume and insert", ConsumeInsert, &f.Combined},
	}
	for _, s := range steps {
		if o.Settle != nil {
			if err := o.Settle(ctx); err != nil {
				return f, fmt.Errorf("before %s: %w", s.name, err)
			}
		}
		r, err := s.run(ctx, o)
		if err != nil {
			return f, fmt.Errorf("%s: %w", s.name, err)
		}
		*s.out = r
	}
	return f, nil
}

// RawInsert inserts rows 0..Rows-1 in batches of BatchRows with
// chdb.Client.InsertReports. Timed: the insert calls only (building the
// column batches is not).
func RawInsert(ctx context.Context, o Options) (Rate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Rate{}, err
	}
	ch, err := chdb.Open(ctx, o.ClickHouse, o.Log, false)
	if err != nil {
		return Rate{}, err
	}
	defer ch.Close()
	var rows chdb.ReportRows
	rows.Grow(o.BatchRows)
	now := time.Now()
	var took time.Duration
	for i := 0; i < o.Rows; i += o.BatchRows {
		rows.Reset()
		for j := i; j < min(i+o.BatchRows, o.Rows); j++ {
			rows.Add(o.Report(j), now, 0, int64(j))
		}
		t := time.Now()
		if err := ch.InsertReports(ctx, &rows); err != nil {
			return Rate{}, err
		}
		took += time.Since(t)
	}
	return Rate{Rows: o.Rows, Elapsed: took}, nil
}

// Consume reads Rows messages from Topic with ingest's reader
// (FetchMessage, a fresh consumer group) and does nothing with them, not
// even a commit. Timed: from the first message fetched to the last (group
// join and the first fetch excluded); Rows counts the messages after the
// first.
func Consume(ctx context.Context, o Options) (Rate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Rate{}, err
	}
	r := o.reader("consume")
	defer r.Close()
	var first time.Time
	for i := range o.Rows {
		if _, err := r.FetchMessage(ctx); err != nil {
			return Rate{}, fmt.Errorf("fetch message %d of %d: %w", i+1, o.Rows, err)
		}
		if i == 0 {
			first = time.Now()
		}
	}
	return Rate{Rows: o.Rows - 1, Elapsed: time.Since(first)}, nil
}

// ConsumeInsert is consume and insert at once in one process, with ingest's
// overlap and guarantee but none of its work per report: one goroutine
// fetches messages and appends row i for the i-th message to a batch (no
// decoding, no validation, no revision check), another inserts each full
// batch and then commits its offsets, while the next batch fills. Timed:
// from the end of the first insert to the end of the last commit; Rows
// counts the rows after the first batch (as `make bench-ingest` times the
// pipeline: from its first rows landing to its last).
func ConsumeInsert(ctx context.Context, o Options) (Rate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return Rate{}, err
	}
	ch, err := chdb.Open(ctx, o.ClickHouse, o.Log, false)
	if err != nil {
		return Rate{}, err
	}
	defer ch.Close()
	r := o.reader("combined")
	defer r.Close()

	type batch struct {
		rows chdb.ReportRows
		last map[int]kafka.Message // per partition, the highest offset read
	}
	free, full := make(chan *batch, 2), make(chan *batch, 1)
	for range 2 {
		b := &batch{last: map[int]kafka.Message{}}
		b.rows.Grow(o.BatchRows)
		free <- b
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fetchErr := make(chan error, 1)
	go func() {
		defer close(full)
		now := time.Now()
		b := <-free
		for i := range o.Rows {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				fetchErr <- fmt.Errorf("fetch message %d of %d: %w", i+1, o.Rows, err)
				return
			}
			b.rows.Add(o.Report(i), now, int32(m.Partition), m.Offset)
			if prev, ok := b.last[m.Partition]; !ok || m.Offset > prev.Offset {
				b.last[m.Partition] = kafka.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
			}
			if b.rows.Len() == o.BatchRows || i == o.Rows-1 {
				full <- b
				select {
				case b = <-free:
				case <-ctx.Done():
					fetchErr <- ctx.Err()
					return
				}
			}
		}
		fetchErr <- nil
	}()
	var first time.Time
	var firstRows int
	for b := range full {
		if err := ch.InsertReports(ctx, &b.rows); err != nil {
			cancel()
			return Rate{}, err
		}
		commit := make([]kafka.Message, 0, len(b.last))
		for _, m := range b.last {
			commit = append(commit, m)
		}
		if err := r.CommitMessages(ctx, commit...); err != nil {
			cancel()
			return Rate{}, fmt.Errorf("commit offsets: %w", err)
		}
		if first.IsZero() {
			first, firstRows = time.Now(), b.rows.Len()
		}
		b.rows.Reset()
		clear(b.last)
		free <- b
	}
	if err := <-fetchErr; err != nil {
		return Rate{}, err
	}
	return Rate{Rows: o.Rows - firstRows, Elapsed: time.Since(first)}, nil
}

// reader is ingest's consumer on a fresh group.
func (o Options) reader(floor string) *kafka.Reader {
	opts := ingest.Options{Topic: o.Topic, Group: fmt.Sprintf("%s-%s-%d", o.Group, floor, time.Now().UnixNano()),
		BatchRows: o.BatchRows, SessionTimeout: 10 * time.Second}
	return kafkautil.NewGroupReader(o.Kafka, ingest.ReaderConfig(opts), o.Log)
}
