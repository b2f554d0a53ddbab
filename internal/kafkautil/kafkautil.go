// Package kafkautil holds the Kafka plumbing shared by the components:
// broker options, topic creation, and the reader and writer settings that
// make delivery safe (acks = all, explicit commits).
package kafkautil

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Options says how to reach Kafka: where, and how securely (security.go).
type Options struct {
	Brokers           []string `help:"Kafka bootstrap brokers." default:"127.0.0.1:19092" name:"kafka-brokers" sep:","`
	Partitions        int      `help:"Partitions for topics layoffwatch creates." default:"3" name:"kafka-partitions"`
	ReplicationFactor int      `help:"Replication factor for topics layoffwatch creates." default:"1" name:"kafka-replication-factor"`

	Security `embed:""`
}

// Validate checks the options, and reads the password and certificate
// files they name, without network I/O.
func (o Options) Validate() error {
	if len(o.Brokers) == 0 {
		return errors.New("no kafka brokers given")
	}
	for _, b := range o.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("kafka broker %q: %w", b, err)
		}
	}
	if o.Partitions < 1 {
		return fmt.Errorf("kafka partitions must be at least 1, got %d", o.Partitions)
	}
	_, err := o.resolve()
	return err
}

// EnsureTopics creates the topics that do not exist yet.
func EnsureTopics(ctx context.Context, o Options, topics ...string) error {
	client, done, err := o.client(10 * time.Second)
	if err != nil {
		return err
	}
	defer done()
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: o.Partitions, ReplicationFactor: max(o.ReplicationFactor, 1)})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", o.explain(err))
	}
	for t, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

// maxBatchBytes bounds a produced batch below what a broker accepts by
// default (message.max.bytes = 1,048,588 bytes, record batch overhead
// included): a larger call is split into batches of this size, where one
// batch too large for the broker is refused whole and retried for ever (a
// million firms' first detector pass is tens of megabytes of alert events).
const maxBatchBytes = 900 << 10

// NewWriter returns a producer that waits for every in-sync replica
// (acks = all) and keys messages to partitions with the same murmur2 hash as
// the Java client, so a firm's reports stay in order on one partition
// whichever client produced them.
func NewWriter(o Options, topic string, log *slog.Logger) *kafka.Writer {
	return &kafka.Writer{
		Transport:              o.transport(log),
		Addr:                   kafka.TCP(o.Brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           2 * time.Millisecond,
		BatchSize:              1000,
		BatchBytes:             maxBatchBytes,
		MaxAttempts:            5,
		WriteTimeout:           10 * time.Second,
		AllowAutoTopicCreation: false,
		ErrorLogger:            kafka.LoggerFunc(func(msg string, args ...any) { log.Warn(fmt.Sprintf(msg, args...), "topic", topic) }),
	}
}

// GroupReader says what a consumer-group reader reads. Offsets are
// committed only by CommitMessages (never in the background), and a group
// with no committed offset starts at the first message.
type GroupReader struct {
	Group, Topic   string
	SessionTimeout time.Duration // how soon a crashed consumer's partitions move
	MaxWait        time.Duration // longest wait for new messages in one fetch
	MaxBytes       int           // largest fetch
	QueueCapacity  int           // messages read ahead; 0: kafka-go's default (100)
}

// NewGroupReader returns the consumer of a group (ingest, alerts).
func NewGroupReader(o Options, g GroupReader, log *slog.Logger) *kafka.Reader {
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:           o.Brokers,
		Dialer:            o.dialer(log),
		GroupID:           g.Group,
		Topic:             g.Topic,
		MinBytes:          1,
		MaxBytes:          g.MaxBytes,
		MaxWait:           g.MaxWait,
		QueueCapacity:     g.QueueCapacity,
		CommitInterval:    0, // synchronous commits, by the caller, after its work is done
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    g.SessionTimeout,
		HeartbeatInterval: max(g.SessionTimeout/10, 100*time.Millisecond),
		RebalanceTimeout:  g.SessionTimeout,
		JoinGroupBackoff:  500 * time.Millisecond,
		ReadBackoffMin:    50 * time.Millisecond,
		ReadBackoffMax:    500 * time.Millisecond,
		ErrorLogger: kafka.LoggerFunc(func(msg string, args ...any) {
			log.Warn(fmt.Sprintf(msg, args...), "component", "kafka-reader", "topic", g.Topic)
		}),
	})
}

// Ping checks that a broker answers a metadata request.
func Ping(ctx context.Context, o Options) error {
	client, done, err := o.client(5 * time.Second)
	if err != nil {
		return err
	}
	defer done()
	if _, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{}}); err != nil {
		return fmt.Errorf("kafka at %s: %w", strings.Join(o.Brokers, ","), o.explain(err))
	}
	return nil
}

// GroupLag returns, for every partition of topic, how many messages group
// has not committed yet: the broker's end offset minus the group's
// committed offset (or minus the first offset the partition still holds,
// when the group has committed nothing there). It asks the broker, so it
// is right before a consumer's first commit, after a restart, and while
// the consumer is stuck.
func GroupLag(ctx context.Context, o Options, group, topic string) (map[int]int64, error) {
	client, closeClient, err := o.client(10 * time.Second)
	if err != nil {
		return nil, err
	}
	defer closeClient()
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, o.explain(err))
	}
	var parts []int
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	req := map[string][]kafka.OffsetRequest{}
	for _, p := range parts {
		req[topic] = append(req[topic], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		return nil, fmt.Errorf("offsets of %s: %w", topic, err)
	}
	committed, err := client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, err)
	}
	switch {
	case errors.Is(committed.Error, kafka.GroupIdNotFound):
		committed.Topics = nil // a group that never committed: kfake says so, Kafka answers -1
	case committed.Error != nil:
		return nil, fmt.Errorf("committed offsets of group %s: %w", group, committed.Error)
	}
	done := map[int]int64{}
	for _, p := range committed.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("committed offset of group %s on %s/%d: %w", group, topic, p.Partition, p.Error)
		}
		done[p.Partition] = p.CommittedOffset
	}
	lag := make(map[int]int64, len(parts))
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		from := po.FirstOffset
		if c, ok := done[po.Partition]; ok && c > from {
			from = c
		}
		lag[po.Partition] = max(po.LastOffset-from, 0)
	}
	return lag, nil
}

// ReadAll calls fn for every message of topic, partition by partition, from
// the first offset to the high-water mark at the time of the call. The
// detector rebuilds its alert state this way when it starts.
func ReadAll(ctx context.Context, o Options, topic string, fn func(kafka.Message) error) error {
	_, err := ReadFrom(ctx, o, topic, nil, fn)
	return err
}

// ReadFrom calls fn for every message of topic from the offsets in from
// (partition → next offset; a partition not in it from its first offset)
// to the high-water mark at the time of the call, partition by partition,
// and returns the offsets to read from next time. A detector replica that
// takes prefectures over catches up with the alert events others emitted
// this way.
func ReadFrom(ctx context.Context, o Options, topic string, from map[int]int64, fn func(kafka.Message) error) (map[int]int64, error) {
	client, done, err := o.client(10 * time.Second)
	if err != nil {
		return nil, err
	}
	defer done()
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, o.explain(err))
	}
	next := map[int]int64{}
	for p, off := range from {
		next[p] = off
	}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		req := map[string][]kafka.OffsetRequest{}
		for _, p := range t.Partitions {
			req[topic] = append(req[topic], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
		offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
		if err != nil {
			return nil, fmt.Errorf("offsets of %s: %w", topic, err)
		}
		for _, po := range offs.Topics[topic] {
			if po.Error != nil {
				return nil, fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			first := po.FirstOffset
			if f, ok := from[po.Partition]; ok && f > first {
				first = f
			}
			if po.LastOffset > first {
				if err := readPartition(ctx, o, topic, po.Partition, first, po.LastOffset, fn); err != nil {
					return nil, err
				}
			}
			next[po.Partition] = max(first, po.LastOffset)
		}
	}
	return next, nil
}

func readPartition(ctx context.Context, o Options, topic string, partition int, first, last int64, fn func(kafka.Message) error) error {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: o.Brokers, Dialer: o.dialer(nil), Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 8 << 20,
		MaxWait: 100 * time.Millisecond})
	defer r.Close()
	if err := r.SetOffset(first); err != nil {
		return fmt.Errorf("read %s/%d: %w", topic, partition, err)
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read %s/%d: %w", topic, partition, err)
		}
		if err := fn(m); err != nil {
			return err
		}
		if m.Offset >= last-1 {
			return nil
		}
	}
}
