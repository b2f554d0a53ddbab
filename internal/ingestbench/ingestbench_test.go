package ingestbench_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/ingestbench"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestMeasure runs the three floors on a small topic against the embedded
// broker and the test ClickHouse: each consumes or inserts every row, the
// rows land, and no floor touches another group's offsets. (It checks what
// the floors do, never how fast.)
func TestMeasure(t *testing.T) {
	const rows, batch = 2500, 1000
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 3})
	ko := kafkautil.Options{Brokers: k.Addrs(), Partitions: 3, ReplicationFactor: 1}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := kafkautil.EnsureTopics(ctx, ko, "reports"); err != nil {
		t.Fatal(err)
	}
	start := report.NewPeriod(2024, 1)
	gen := func(i int) report.Report {
		return report.Report{FirmID: testenv.FirmID("620102", i%500+1), Period: start.Add(i / 500), Headcount: uint32(100 + i%7), Revision: 1}
	}
	w := kafkautil.NewWriter(ko, "reports", slog.New(slog.DiscardHandler))
	var msgs []kafka.Message
	for i := range rows {
		v, err := report.Encode(gen(i))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Key: []byte(gen(i).FirmID), Value: v})
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	ch := testenv.ClickHouse(t)
	settled := 0
	f, err := ingestbench.Measure(ctx, ingestbench.Options{
		Kafka: ko, Topic: "reports", ClickHouse: ch.Options(), Rows: rows, BatchRows: batch, Report: gen,
		Log:    testenv.Logger(t),
		Settle: func(context.Context) error { settled++; return nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	if settled != 3 {
		t.Errorf("Settle ran %d times, want 3", settled)
	}
	for _, tc := range []struct {
		name string
		got  ingestbench.Rate
		want int
	}{
		{"raw", f.Raw, rows},
		{"consume", f.Consume, rows - 1},
		{"combined", f.Combined, rows - batch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got.Rows != tc.want || tc.got.Elapsed <= 0 || tc.got.PerSecond() <= 0 {
				t.Errorf("rate = %+v, want %d rows in a positive time", tc.got, tc.want)
			}
		})
	}
	// the combined floor alone, into a database of its own: every row
	// lands, every message of its group is committed
	ch2 := testenv.ClickHouse(t)
	r, err := ingestbench.ConsumeInsert(ctx, ingestbench.Options{
		Kafka: ko, Topic: "reports", Group: "alone", ClickHouse: ch2.Options(), Rows: rows, BatchRows: batch, Report: gen})
	if err != nil {
		t.Fatal(err)
	}
	if r.Rows != rows-batch {
		t.Errorf("combined alone: %+v, want %d rows", r, rows-batch)
	}
	var n, keys uint64
	if err := testenv.SQL(t, ch2.Options()).QueryRow(ctx, "SELECT count(), uniqExact(firm_id, period) FROM reports").Scan(&n, &keys); err != nil {
		t.Fatal(err)
	}
	if n != rows || keys != rows {
		t.Errorf("reports hold %d rows, %d keys; want %d of each", n, keys, rows)
	}
	lag, err := kafkautil.GroupLag(ctx, ko, findGroup(ctx, t, ko, "alone-combined-"), "reports")
	if err != nil {
		t.Fatal(err)
	}
	if len(lag) != 3 {
		t.Errorf("lag of %d partitions, want 3", len(lag))
	}
	for p, l := range lag {
		if l != 0 {
			t.Errorf("partition %d: lag %d after the combined floor, want 0", p, l)
		}
	}
}

func TestOptionsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    ingestbench.Options
	}{
		{"no rows", ingestbench.Options{Topic: "t", Report: func(int) report.Report { return report.Report{} }}},
		{"no report function", ingestbench.Options{Topic: "t", Rows: 10}},
		{"no topic", ingestbench.Options{Rows: 10, Report: func(int) report.Report { return report.Report{} }}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ingestbench.Measure(context.Background(), tc.o); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// findGroup returns the one consumer group whose name starts with prefix.
func findGroup(ctx context.Context, t *testing.T, ko kafkautil.Options, prefix string) string {
	t.Helper()
	c := &kafka.Client{Addr: kafka.TCP(ko.Brokers...)}
	res, err := c.ListGroups(ctx, &kafka.ListGroupsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, g := range res.Groups {
		if strings.HasPrefix(g.GroupID, prefix) {
			found = append(found, g.GroupID)
		}
	}
	if len(found) != 1 {
		t.Fatalf("groups with prefix %s: %v", prefix, found)
	}
	return found[0]
}
