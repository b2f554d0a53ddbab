// Package localstack starts the servers layoffwatch needs on one machine,
// for tests, CI, `make demo` and `layoffwatch local`: an embedded Kafka broker
// (kfake, a real Kafka wire-protocol server in-process on loopback) and a
// ClickHouse server from the machine's clickhouse-server package, run with the
// project's own config on loopback ports and a project-local data directory.
//
// It does not install packages: `make deps` does (deploy/local/deps.sh).
package localstack

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Topics every component expects.
var Topics = []string{"reports", "reports.dlq", "alerts"}

// KafkaOptions configures the embedded broker.
type KafkaOptions struct {
	Port       int    // 0: any free port
	Partitions int32  // per topic; default 3
	DataDir    string // empty: in memory; else the log survives a restart
	Topics     []string
}

// Kafka is a running embedded broker.
type Kafka struct {
	cluster *kfake.Cluster
}

// StartKafka starts an embedded broker with the topics seeded.
func StartKafka(opts KafkaOptions, log *slog.Logger) (*Kafka, error) {
	if opts.Partitions <= 0 {
		opts.Partitions = 3
	}
	if len(opts.Topics) == 0 {
		opts.Topics = Topics
	}
	kopts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.SeedTopics(opts.Partitions, opts.Topics...),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(opts.Partitions)),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if opts.Port != 0 {
		kopts = append(kopts, kfake.Ports(opts.Port))
	}
	if opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(opts.DataDir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	if log != nil {
		log.Info("embedded kafka started", "addrs", c.ListenAddrs())
	}
	return &Kafka{cluster: c}, nil
}

// Addrs are the broker addresses.
func (k *Kafka) Addrs() []string { return k.cluster.ListenAddrs() }

// Close stops the broker.
func (k *Kafka) Close() { k.cluster.Close() }
