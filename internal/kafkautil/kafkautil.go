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
