package ingest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

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
	// content hash, for the duplicate check (revisions.go). GROUP BY: a
	// key's rows carry one hash, and how many a read sees depends on merges
	// (ClickHouse 20+ collapses them within one insert already); DISTINCT
	// returns repeats on 18.16 when the WHERE holds an IN subquery. The batch's
	// revisions go as one string of keys (lookupKey, comma-separated: one
	// literal for the server to parse, not 50,000) and are looked up in a
	// set (IN, not has(): has() scans the array for every row), so that only
	// the rows of those exact revisions come back: reading the batch's
	// periods whole cost ingest a fifth of its CPU, growing with the firms
	// stored (docs/benchmarks.md).
	insRevisions    = queries.Insert("revisions", "report_revisions", "firm_id", "period", "revision", "content_hash", "reported_at", "ingested_at")
	qRevisionHashes = queries.Query("revision_hashes", `SELECT firm_id, period, revision, content_hash FROM {{report_revisions}}
		WHERE period >= toDate(?) AND period <= toDate(?)
		AND concat(firm_id, ':', toString(toYYYYMM(period)), ':', toString(revision)) IN (SELECT arrayJoin(splitByChar(',', ?)))
		GROUP BY firm_id, period, revision, content_hash`)
)

// lookupKey is a revision as qRevisionHashes matches it:
// "<firm_id>:<yyyymm>:<revision>".
func lookupKey(buf []byte, k revKey) []byte {
	buf = append(append(buf, k.firm...), ':')
	buf = strconv.AppendInt(buf, int64(k.period.Year()*100+int(k.period.Month())), 10)
	return strconv.AppendUint(append(buf, ':'), uint64(k.revision), 10)
}

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

// storedHashes reads the content hashes stored for the revisions keys,
// which fall in the periods from..to.
func (s chStore) storedHashes(ctx context.Context, keys []revKey, from, to report.Period) (map[revKey][]uint64, error) {
	f, t := from.Start().Format(time.DateOnly), to.Start().Format(time.DateOnly)
	// the keys as one string, split on the server: one literal to parse,
	// not one per key
	var buf []byte
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = lookupKey(buf, k)
	}
	lookup := string(buf)
	// the keys travel in the query's text (about 28 bytes each): more than
	// the default max_query_size (256 KiB) allows for a 50,000-row batch
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_query_size": 1<<20 + len(lookup)}))
	rows, err := s.ch.Query(ctx, qRevisionHashes, f, t, lookup)
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
