package localstack

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
)

// StackOptions configures the whole local stack.
type StackOptions struct {
	Dir            string // ClickHouse data and logs go under Dir/clickhouse
	KafkaPort      int    // 0: any free port
	ClickHousePort int    // 0: any free port
	Partitions     int32
}

// Stack is an embedded Kafka broker and a local ClickHouse server.
type Stack struct {
	Kafka      *Kafka
	ClickHouse *ClickHouse
}

// StartStack starts ClickHouse, then Kafka. Close stops them in reverse.
func StartStack(ctx context.Context, opts StackOptions, log *slog.Logger) (*Stack, error) {
	ch, err := NewClickHouse(ClickHouseOptions{Dir: filepath.Join(opts.Dir, "clickhouse"), TCPPort: opts.ClickHousePort}, log)
	if err != nil {
		return nil, err
	}
	if err := ch.Start(ctx); err != nil {
		return nil, fmt.Errorf("local clickhouse: %w", err)
	}
	k, err := StartKafka(KafkaOptions{Port: opts.KafkaPort, Partitions: opts.Partitions}, log)
	if err != nil {
		_ = ch.Stop()
		return nil, err
	}
	return &Stack{Kafka: k, ClickHouse: ch}, nil
}

// Close stops Kafka, then ClickHouse.
func (s *Stack) Close() error {
	s.Kafka.Close()
	return s.ClickHouse.Stop()
}
