package ingest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// Ingest's ClickHouse access: the reports batch (chdb.ReportRows, the
// reports table of migration 0001), the rejects table and report_revisions.
var queries = chdb.NewCatalog("ingest")

var (
	insRejects = queries.Insert("rejects", "rejects", "received_at", "topic", "partition", "offset", "message_key",
		"reason", "field", "message", "firm_id", "payload", "payload_bytes")
	// report_revisions (migration 0007): every stored revision with its
	// content hash, for the duplicate check (revisions.go). DISTINCT: a
	// key's rows carry one hash, and how many a read sees depends on merges
	// (ClickHouse 20+ collapses them within one insert already). A large
	// batch reads its periods whole, so that the query's text stays small.
	insRevisions    = queries.Insert("revisions", "report_revisions", "firm_id", "period", "revision", "content_hash", "reported_at", "ingested_at")
	qRevisionHashes = queries.Query("revision_hashes", `SELECT DISTINCT firm_id, period, revision, content_hash FROM {{report_revisions}}
		WHERE period >= toDate(?) AND period <= toDate(?) AND has(?, firm_id)`)
	qAllRevisionHashes = queries.Query("revision_hashes_all", `SELECT DISTINCT firm_id, period, revision, content_hash FROM {{report_revisions}}
		WHERE period >= toDate(?) AND period <= toDate(?)`)
)

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

// storedHashes reads the content hashes of the stored revisions of the
// periods from..to of firms (every firm when firms is nil).
func (s chStore) storedHashes(ctx context.Context, firms []string, from, to report.Period) (map[revKey][]uint64, error) {
	f, t := from.Start().Format(time.DateOnly), to.Start().Format(time.DateOnly)
	st, args := qRevisionHashes, []any{f, t, firms}
	if firms == nil {
		st, args = qAllRevisionHashes, []any{f, t}
	}
	rows, err := s.ch.Query(ctx, st, args...)
	if err != nil {
		return nil, fmt.Errorf("query report_revisions: %w", err)
	}
	defer rows.Close()
	out := map[revKey][]uint64{}
	for rows.Next() {
		var (
			firm   string
			period time.Time
			rev    uint32
			hash   uint64
		)
		if err := rows.Scan(&firm, &period, &rev, &hash); err != nil {
			return nil, fmt.Errorf("scan report_revisions: %w", err)
		}
		k := revKey{firm, report.PeriodOf(period), rev}
		if hash != 0 && !slices.Contains(out[k], hash) {
			out[k] = append(out[k], hash)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read report_revisions: %w", err)
	}
	return out, nil
}

// insertRevisions records the batch's revisions with their content hashes,
// before the reports that carry them.
func (s chStore) insertRevisions(ctx context.Context, ingestedAt time.Time, revs []rowRevision) error {
	if len(revs) == 0 {
		return nil
	}
	n := len(revs)
	firm, hash := make([]string, 0, n), make([]uint64, 0, n)
	period, reported, ingested := make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
	rev := make([]uint32, 0, n)
	for _, rv := range revs {
		r := rv.report
		at := r.ReportedAt
		if at.IsZero() {
			at = ingestedAt
		}
		firm, period, rev, hash = append(firm, r.FirmID), append(period, r.Period.Start()), append(rev, r.Revision), append(hash, rv.hash)
		reported, ingested = append(reported, at.UTC()), append(ingested, ingestedAt.UTC())
	}
	return s.ch.InsertColumns(ctx, insRevisions, firm, period, rev, hash, reported, ingested)
}
