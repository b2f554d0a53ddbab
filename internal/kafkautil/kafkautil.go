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
	"time"

	"github.com/segmentio/kafka-go"
)

// Options says how to reach Kafka.
type Options struct {
	Brokers           []string `help:"Kafka bootstrap brokers." default:"127.0.0.1:19092" name:"kafka-brokers" sep:","`
	Partitions        int      `help:"Partitions for topics layoffwatch creates." default:"3" name:"kafka-partitions"`
	ReplicationFactor int      `help:"Replication factor for topics layoffwatch creates." default:"1" name:"kafka-replication-factor"`
}

// Validate checks the options without network I/O.
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
	return nil
}

// EnsureTopics creates the topics that do not exist yet.
func EnsureTopics(ctx context.Context, o Options, topics ...string) error {
	client := &kafka.Client{Addr: kafka.TCP(o.Brokers...), Timeout: 10 * time.Second}
	req := &kafka.CreateTopicsRequest{}
	for _, t := range topics {
		req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: o.Partitions, ReplicationFactor: max(o.ReplicationFactor, 1)})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for t, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", t, err)
		}
	}
	return nil
}

// NewWriter returns a producer that waits for every in-sync replica
// (acks = all) and keys messages to partitions with the same murmur2 hash as
// the Java client, so a firm's reports stay in order on one partition
// whichever client produced them.
func NewWriter(o Options, topic string, log *slog.Logger) *kafka.Writer {
	return &kafka.Writer{
		Addr:                   kafka.TCP(o.Brokers...),
		Topic:                  topic,
		Balancer:               &kafka.Murmur2Balancer{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           2 * time.Millisecond,
		BatchSize:              1000,
		BatchBytes:             8 << 20,
		MaxAttempts:            5,
		WriteTimeout:           10 * time.Second,
		AllowAutoTopicCreation: false,
		ErrorLogger:            kafka.LoggerFunc(func(msg string, args ...any) { log.Warn(fmt.Sprintf(msg, args...), "topic", topic) }),
	}
}

// ReadAll calls fn for every message of topic, partition by partition, from
// the first offset to the high-water mark at the time of the call. The
// detector rebuilds its alert state this way when it starts.
func ReadAll(ctx context.Context, o Options, topic string, fn func(kafka.Message) error) error {
	client := &kafka.Client{Addr: kafka.TCP(o.Brokers...), Timeout: 10 * time.Second}
	meta, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range meta.Topics {
		if t.Error != nil {
			return fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		req := map[string][]kafka.OffsetRequest{}
		for _, p := range t.Partitions {
			req[topic] = append(req[topic], kafka.FirstOffsetOf(p.ID), kafka.LastOffsetOf(p.ID))
		}
		offs, err := client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: req})
		if err != nil {
			return fmt.Errorf("offsets of %s: %w", topic, err)
		}
		for _, po := range offs.Topics[topic] {
			if po.Error != nil {
				return fmt.Errorf("offsets of %s/%d: %w", topic, po.Partition, po.Error)
			}
			if po.LastOffset <= po.FirstOffset {
				continue
			}
			if err := readPartition(ctx, o, topic, po.Partition, po.FirstOffset, po.LastOffset, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func readPartition(ctx context.Context, o Options, topic string, partition int, first, last int64, fn func(kafka.Message) error) error {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: o.Brokers, Topic: topic, Partition: partition, MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 100 * time.Millisecond})
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
