package ingest

import (
	"context"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
)

// Ingest's ClickHouse access: the reports batch (chdb.ReportRows, the
// reports table of migration 0001) and the rejects table.
var queries = chdb.NewCatalog("ingest")

var insRejects = queries.Insert("rejects", "rejects", "received_at", "topic", "partition", "offset", "message_key",
	"reason", "field", "message", "firm_id", "payload", "payload_bytes")

// Statements is ingest's catalog (the parity test runs every one).
func Statements() *chdb.Catalog { return queries }

// Reject is one refused message.
type Reject struct {
	ReceivedAt   time.Time
	Topic        string
	Partition    int32
	Offset       int64
	Key          string
	Reason       string
	Field        string
	Message      string
	FirmID       string
	Payload      string
	PayloadBytes uint32
}

// chStore is the pipeline's store on ClickHouse.
type chStore struct{ ch *chdb.Client }

// InsertReports writes the batch of reports in one insert.
func (s chStore) InsertReports(ctx context.Context, rows *chdb.ReportRows) error {
	return s.ch.InsertReports(ctx, rows)
}

// InsertRejects records refused messages. Rows are keyed by their Kafka
// position, so inserting them again after a crash leaves one row each.
func (s chStore) InsertRejects(ctx context.Context, rows []Reject) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		received                                      = make([]time.Time, 0, n)
		topic, key, reason, field, msg, firm, payload = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		partition                                     = make([]int32, 0, n)
		offset                                        = make([]int64, 0, n)
		size                                          = make([]uint32, 0, n)
	)
	for _, r := range rows {
		received = append(received, r.ReceivedAt.UTC())
		topic = append(topic, r.Topic)
		partition = append(partition, r.Partition)
		offset = append(offset, r.Offset)
		key = append(key, r.Key)
		reason = append(reason, r.Reason)
		field = append(field, r.Field)
		msg = append(msg, r.Message)
		firm = append(firm, r.FirmID)
		payload = append(payload, r.Payload)
		size = append(size, r.PayloadBytes)
	}
	return s.ch.InsertColumns(ctx, insRejects, received, topic, partition, offset, key, reason, field, msg, firm, payload, size)
}
