package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// source is what the pipeline needs of a Kafka consumer; *kafka.Reader is one.
type source interface {
	FetchMessage(ctx context.Context) (kafka.Message, error)
	CommitMessages(ctx context.Context, msgs ...kafka.Message) error
}

// store is what the pipeline needs of ClickHouse; chStore is one.
type store interface {
	InsertReports(ctx context.Context, rows *chdb.ReportRows) error
	InsertRejects(ctx context.Context, rows []Reject) error
}

// deadLetters receives refused messages; *kafka.Writer is one.
type deadLetters interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// rejectPayloadLimit caps the payload kept in the rejects table for a message
// refused as too large (the DLQ keeps the whole message).
const rejectPayloadLimit = 4 << 10

// batch is what one insert and one commit cover.
type batch struct {
	rows    chdb.ReportRows
	revs    []rowRevision // one per row, for the duplicate check (revisions.go)
	rejects []Reject
	dlq     []kafka.Message
	// last holds, per topic and partition, the message with the highest offset
	// seen: committing it commits everything before it on that partition.
	last     map[topicPartition]kafka.Message
	messages int
	first    time.Time
	full     time.Time // when collect handed it to flush
}

type topicPartition struct {
	topic     string
	partition int
}

func (b *batch) reset() {
	b.rows.Reset()
	clear(b.revs)
	b.revs = b.revs[:0]
	clear(b.rejects)
	b.rejects = b.rejects[:0]
	clear(b.dlq)
	b.dlq = b.dlq[:0]
	clear(b.last)
	b.messages = 0
}

// pipeline moves messages from the source to the store:
//
//	Kafka ──fetch──▶ collect (decode, validate, batch) ──chan──▶ flush ──▶ ClickHouse
//	                                                              │  └──▶ DLQ topic + rejects
//	                                                              └──▶ commit offsets (after both)
//
// collect fills the next batch while flush writes the previous one; flush
// handles batches strictly in order, so offsets are committed in order and
// only after ClickHouse acknowledged every row they cover.
type pipeline struct {
	src      source
	store    store
	dlq      deadLetters
	firms    interface{ Has(string) bool }
	m        *metrics
	log      *slog.Logger
	now      func() time.Time
	rows     int
	wait     time.Duration
	grace    time.Duration
	attempt  time.Duration // time allowed for one attempt of a write; 0: unbounded
	backoff  backoff
	dlqTopic string
	onStored func(Stored)
	revs     revisionStore
}

// run consumes until ctx ends, then flushes and commits what it has read
// (within the grace period) and returns. A nil error means everything read
// was written and committed.
func (p *pipeline) run(ctx context.Context) error {
	full := make(chan *batch, 1)
	free := make(chan *batch, 2)
	for range 2 {
		b := &batch{last: make(map[topicPartition]kafka.Message)}
		b.rows.Grow(p.rows + chunkSize)
		free <- b
	}
	// The flush side outlives ctx by at most the grace period.
	wctx, wcancel := context.WithCancel(context.Background())
	defer wcancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(p.grace, wcancel)
		context.AfterFunc(wctx, func() { t.Stop() })
	})
	defer stop()

	collectErr := make(chan error, 1)
	go func() { collectErr <- p.collect(ctx, full, free) }()
	var flushErr error
	for b := range full {
		if flushErr == nil {
			flushErr = p.flush(wctx, b)
		}
		b.reset()
		free <- b
	}
	if err := <-collectErr; err != nil {
		return err
	}
	return flushErr
}

// chunkSize is how many messages the fetch stage hands over at once.
const chunkSize = 256

// fetch reads messages and hands them to collect in chunks, so that reading
// from Kafka and decoding run on different cores. A chunk is handed over
// when full or when no message came for chunkLinger. On ctx's end fetch
// hands over what it holds and closes out.
func (p *pipeline) fetch(ctx context.Context, out chan<- []kafka.Message) error {
	defer close(out)
	const chunkLinger = 5 * time.Millisecond
	for {
		chunk := make([]kafka.Message, 0, chunkSize)
		fctx := ctx
		cancel := context.CancelFunc(func() {})
	fill:
		for len(chunk) < chunkSize {
			msg, err := p.src.FetchMessage(fctx)
			if err != nil {
				cancel()
				switch {
				case ctx.Err() != nil:
					if len(chunk) > 0 {
						out <- chunk
					}
					return nil
				case errors.Is(err, context.DeadlineExceeded):
				default:
					if len(chunk) > 0 {
						out <- chunk
					}
					return fmt.Errorf("fetch message: %w", err)
				}
				break fill // the chunk's linger is over
			}
			if len(chunk) == 0 {
				fctx, cancel = context.WithTimeout(ctx, chunkLinger)
			}
			chunk = append(chunk, msg)
		}
		cancel()
		if len(chunk) > 0 {
			out <- chunk
		}
	}
}

// collect validates messages into batches of about p.rows messages (a chunk
// is never split), closing a batch p.wait after its first message.
func (p *pipeline) collect(ctx context.Context, full chan<- *batch, free <-chan *batch) error {
	defer close(full)
	chunks := make(chan []kafka.Message, 16)
	fetchErr := make(chan error, 1)
	go func() { fetchErr <- p.fetch(ctx, chunks) }()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var b *batch
	for {
		var timeout <-chan time.Time
		if b != nil && b.messages > 0 {
			timeout = timer.C
		}
		select {
		case chunk, ok := <-chunks:
			if !ok {
				if b != nil && b.messages > 0 {
					b.full = time.Now()
					full <- b
				}
				return <-fetchErr
			}
			if b == nil {
				b = <-free
			}
			if b.messages == 0 {
				b.first = p.now()
				timer.Reset(p.wait)
			}
			for _, msg := range chunk {
				p.add(b, msg)
			}
			if b.messages >= p.rows {
				timer.Stop()
				b.full = time.Now()
				full <- b
				b = nil
			}
		case <-timeout:
			b.full = time.Now()
			full <- b
			b = nil
		}
	}
}

func (p *pipeline) add(b *batch, msg kafka.Message) {
	b.messages++
	tp := topicPartition{msg.Topic, msg.Partition}
	if prev, ok := b.last[tp]; !ok || msg.Offset > prev.Offset {
		// keep only what commit needs, not the payload
		b.last[tp] = kafka.Message{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset, HighWaterMark: msg.HighWaterMark}
	}
	r, prob := report.Validate(msg.Value, b.first, p.firms)
	if prob == nil && len(msg.Key) > 0 && string(msg.Key) != r.FirmID {
		prob = &report.Problem{Reason: report.ReasonInvalidFirmID, Field: "firm_id",
			Message: fmt.Sprintf("message key %q is not the report's firm_id %s", truncate(string(msg.Key), 64), r.FirmID)}
	}
	if prob == nil {
		b.rows.Add(r, b.first, int32(msg.Partition), msg.Offset)
		b.revs = append(b.revs, rowRevision{report: r, hash: r.ContentHash(), msg: msg})
		return
	}
	p.refuse(b, msg, r.FirmID, prob)
}

// refuse sends msg to the DLQ and the rejects table of the batch.
func (p *pipeline) refuse(b *batch, msg kafka.Message, firm string, prob *report.Problem) {
	if firm == "" && len(msg.Key) == 18 {
		firm = string(msg.Key)
	}
	payload := msg.Value
	if len(payload) > rejectPayloadLimit && prob.Reason == report.ReasonTooLarge {
		payload = payload[:rejectPayloadLimit]
	}
	b.rejects = append(b.rejects, Reject{
		ReceivedAt: b.first, Topic: msg.Topic, Partition: int32(msg.Partition), Offset: msg.Offset,
		Key: string(msg.Key), Reason: prob.Reason, Field: prob.Field, Message: prob.Message,
		FirmID: firm, Payload: string(payload), PayloadBytes: uint32(len(msg.Value)),
	})
	b.dlq = append(b.dlq, kafka.Message{
		Key: msg.Key, Value: msg.Value,
		Headers: []kafka.Header{
			{Key: "reason", Value: []byte(prob.Reason)},
			{Key: "field", Value: []byte(prob.Field)},
			{Key: "message", Value: []byte(prob.Message)},
			{Key: "source_topic", Value: []byte(msg.Topic)},
			{Key: "source_partition", Value: []byte(strconv.Itoa(msg.Partition))},
			{Key: "source_offset", Value: []byte(strconv.FormatInt(msg.Offset, 10))},
		},
	})
	p.m.rejected.WithLabelValues(prob.Reason).Inc()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// flush writes a batch and then commits its offsets. Writes are retried with
// backoff until they succeed or ctx ends; nothing is committed before every
// write succeeded, so an error here loses nothing: the batch is read again.
func (p *pipeline) flush(ctx context.Context, b *batch) error {
	p.m.consumed.Add(float64(b.messages))
	// how long each step took, for the debug log (bench-ingest reads it)
	start := time.Now()
	var checked, revised, inserted time.Time
	if b.rows.Len() > 0 {
		// refuse what repeats a stored revision with other content, and
		// record the revisions before the reports that carry them
		if err := p.retry(ctx, "check_revisions", func(ctx context.Context) error { return p.checkRevisions(ctx, b) }); err != nil {
			return err
		}
		checked = time.Now()
		if err := p.retry(ctx, "insert_revisions", func(ctx context.Context) error { return p.revs.insertRevisions(ctx, b.first, b.revs) }); err != nil {
			return err
		}
		revised = time.Now()
	}
	if b.rows.Len() > 0 {
		err := p.retry(ctx, "insert_reports", func(ctx context.Context) error {
			start := time.Now()
			if err := p.store.InsertReports(ctx, &b.rows); err != nil {
				return err
			}
			p.m.insertSeconds.Observe(time.Since(start).Seconds())
			return nil
		})
		if err != nil {
			return err
		}
		p.m.inserted.Add(float64(b.rows.Len()))
		p.m.lastInsert.SetToCurrentTime()
		inserted = time.Now()
	}
	if len(b.dlq) > 0 {
		if err := p.retry(ctx, "dlq", func(ctx context.Context) error { return p.dlq.WriteMessages(ctx, b.dlq...) }); err != nil {
			return err
		}
		if err := p.retry(ctx, "insert_rejects", func(ctx context.Context) error { return p.store.InsertRejects(ctx, b.rejects) }); err != nil {
			return err
		}
	}
	commit := make([]kafka.Message, 0, len(b.last))
	for _, m := range b.last {
		commit = append(commit, m)
	}
	if err := p.retry(ctx, "commit", func(ctx context.Context) error { return p.src.CommitMessages(ctx, commit...) }); err != nil {
		return err
	}
	p.m.batches.Inc()
	if p.log.Enabled(ctx, slog.LevelDebug) {
		since := func(t, from time.Time) time.Duration {
			if t.IsZero() || from.IsZero() {
				return 0
			}
			return t.Sub(from)
		}
		p.log.Debug("batch committed", "messages", b.messages, "reports", b.rows.Len(), "rejects", len(b.rejects),
			"collect", b.full.Sub(b.first), "queued", start.Sub(b.full), "check_revisions", since(checked, start),
			"insert_revisions", since(revised, checked), "insert_reports", since(inserted, revised), "flush", time.Since(start))
	}
	if p.onStored != nil {
		p.onStored(Stored{Messages: b.messages, Reports: b.rows.Len(), Rejects: len(b.rejects)})
	}
	return nil
}

// retry runs fn until it succeeds or ctx ends, each attempt within
// p.attempt: a write that hangs (a frozen server: connection open, no
// answer) becomes a logged, counted, retried failure.
func (p *pipeline) retry(ctx context.Context, step string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := p.try(ctx, step, fn)
		if err == nil {
			if attempt > 1 {
				p.log.Info("recovered", "step", step, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: gave up at shutdown after %d attempts (nothing committed, the batch will be read again): %w", step, attempt, err)
		}
		p.m.retries.WithLabelValues(step).Inc()
		wait := p.backoff.delay(attempt)
		p.log.Warn("write failed, retrying", "step", step, "attempt", attempt, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: gave up at shutdown after %d attempts (nothing committed, the batch will be read again): %w", step, attempt, err)
		case <-time.After(wait):
		}
	}
}

// try is one attempt of fn, abandoned after p.attempt.
func (p *pipeline) try(ctx context.Context, step string, fn func(context.Context) error) error {
	if p.attempt <= 0 {
		return fn(ctx)
	}
	actx, cancel := context.WithTimeout(ctx, p.attempt)
	defer cancel()
	err := fn(actx)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		p.m.timeouts.WithLabelValues(step).Inc()
		return fmt.Errorf("no answer within %s (--insert-timeout): %w", p.attempt, err)
	}
	return err
}

// backoff doubles from min to max.
type backoff struct{ min, max time.Duration }

func (b backoff) delay(attempt int) time.Duration {
	d := b.min
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}
