package kafkautil_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func total(lag map[int]int64) int64 {
	var n int64
	for _, l := range lag {
		n += l
	}
	return n
}

// TestGroupLag: the lag comes from the broker, so it is right before the
// group's first commit, after some commits, and for a new consumer of the
// same group (a restart) before it reads anything.
func TestGroupLag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3, Topics: []string{"lagged"}})
	o := kafkautil.Options{Brokers: k.Addrs(), Partitions: 3, ReplicationFactor: 1}
	if err := kafkautil.Ping(ctx, o); err != nil {
		t.Fatal(err)
	}
	lag, err := kafkautil.GroupLag(ctx, o, "g", "lagged")
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 3 || total(lag) != 0 {
		t.Fatalf("empty topic: lag %v, want 3 partitions at 0", lag)
	}
	w := kafkautil.NewWriter(o, "lagged", testenv.Logger(t))
	var msgs []kafka.Message
	for i := range 30 {
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: []byte("v")})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if lag, err = kafkautil.GroupLag(ctx, o, "g", "lagged"); err != nil || total(lag) != 30 {
		t.Fatalf("before the first commit: lag %v (%v), want 30 in all", lag, err)
	}

	r := kafkautil.NewGroupReader(o, kafkautil.GroupReader{Group: "g", Topic: "lagged", SessionTimeout: 6 * time.Second,
		MaxWait: 100 * time.Millisecond, MaxBytes: 1 << 20}, testenv.Logger(t))
	for range 10 {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CommitMessages(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if lag, err = kafkautil.GroupLag(ctx, o, "g", "lagged"); err != nil || total(lag) != 20 {
		t.Fatalf("after 10 commits: lag %v (%v), want 20 in all", lag, err)
	}
	// another group has read nothing
	if lag, err = kafkautil.GroupLag(ctx, o, "other", "lagged"); err != nil || total(lag) != 30 {
		t.Fatalf("another group: lag %v (%v), want 30", lag, err)
	}
}

// TestPingFailsWithoutBroker: nothing listens, Ping says so.
func TestPingFailsWithoutBroker(t *testing.T) {
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafkautil.Ping(ctx, kafkautil.Options{Brokers: []string{fmt.Sprintf("127.0.0.1:%d", port)}}); err == nil {
		t.Fatal("Ping succeeded with no broker")
	}
}

// TestWriterBatchesFitADefaultBroker: a broker accepts record batches of at
// most 1 MiB unless configured otherwise (Kafka's message.max.bytes, and
// kfake's); one WriteMessages of many large messages — a million firms'
// first detector pass — must be split into batches it accepts, not refused
// as too large and retried for ever.
func TestWriterBatchesFitADefaultBroker(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 1, Topics: []string{"big"}})
	o := kafkautil.Options{Brokers: k.Addrs(), Partitions: 1, ReplicationFactor: 1}
	w := kafkautil.NewWriter(o, "big", testenv.Logger(t))
	defer w.Close()
	value := make([]byte, 3000) // an alert event with its values and texts is 1–3 KB
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var msgs []kafka.Message
	for i := range 2000 { // 6 MB in one call, one partition
		msgs = append(msgs, kafka.Message{Key: fmt.Appendf(nil, "k%d", i), Value: value})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		msg := err.Error()
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		t.Fatalf("6 MB of 3 KB messages in one call: %s", msg)
	}
}
