package ingest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// A revision is sent once: the same (firm, period, revision) with other
// content is refused as duplicate_revision, a correction is a new revision.
// The reports table cannot tell what was stored — it keeps a firm-month's
// latest revision only, once merged (on ClickHouse 20+ already within an
// insert) — so ingest records every stored revision with its content hash
// in report_revisions (migration 0006) and, before each insert, compares the
// batch with it:
//
//	batch ──▶ look up the batch's keys in report_revisions
//	      ──▶ in message order: a key stored, or earlier in the batch, with
//	          another hash is refused (DLQ + rejects); the same hash is stored
//	          again (harmless: it collapses)
//	      ──▶ insert report_revisions, then reports
//
// Message order per partition is fixed and a firm's messages share a
// partition (keyed by firm id), so reading a batch again after a crash
// makes the same decisions. Two ingest replicas race only over messages
// without a key, which may land on any partition.

// revKey is what identifies a revision.
type revKey struct {
	firm     string
	period   report.Period
	revision uint32
}

// rowRevision is a row of the batch, kept to refuse it later if it turns
// out to be a duplicate.
type rowRevision struct {
	report report.Report
	hash   uint64
	msg    kafka.Message
}

func (r rowRevision) key() revKey { return revKey{r.report.FirmID, r.report.Period, r.report.Revision} }

// revisionStore is what the duplicate check needs of ClickHouse.
type revisionStore interface {
	// storedHashes returns the content hashes stored for revisions of the
	// periods from..to of firms (every firm when firms is nil).
	storedHashes(ctx context.Context, firms []string, from, to report.Period) (map[revKey][]uint64, error)
	insertRevisions(ctx context.Context, ingestedAt time.Time, rows []rowRevision) error
}

// checkRevisions refuses, as duplicate_revision, every row of b whose
// revision was stored, or came earlier in b, with other content.
func (p *pipeline) checkRevisions(ctx context.Context, b *batch) error {
	from, to := b.revs[0].report.Period, b.revs[0].report.Period
	seen := map[string]bool{}
	var firms []string
	for _, rv := range b.revs {
		from, to = min(from, rv.report.Period), max(to, rv.report.Period)
		if !seen[rv.report.FirmID] {
			seen[rv.report.FirmID] = true
			firms = append(firms, rv.report.FirmID)
		}
	}
	if len(firms) > maxLookupFirms {
		firms = nil // a large batch: read its periods whole, a query's text stays small
	}
	stored, err := p.revs.storedHashes(ctx, firms, from, to)
	if err != nil {
		return fmt.Errorf("look up stored revisions: %w", err)
	}
	first := map[revKey]uint64{}
	drop := make([]bool, len(b.revs))
	dropped := 0
	for i, rv := range b.revs {
		k := rv.key()
		if hashes, ok := stored[k]; ok {
			if slices.Contains(hashes, rv.hash) {
				continue
			}
		} else if h, ok := first[k]; !ok || h == rv.hash {
			first[k] = rv.hash
			continue
		}
		drop[i] = true
		dropped++
		p.refuse(b, rv.msg, k.firm, &report.Problem{Reason: report.ReasonDuplicateRevision, Field: "revision",
			Message: fmt.Sprintf("revision %d of firm %s for %s was already received with other content; send a correction as a new revision", k.revision, k.firm, k.period)})
	}
	if dropped == 0 {
		return nil
	}
	kept := b.revs[:0]
	b.rows.Reset()
	for i, rv := range b.revs {
		if !drop[i] {
			b.rows.Add(rv.report, b.first, int32(rv.msg.Partition), rv.msg.Offset)
			kept = append(kept, rv)
		}
	}
	clear(b.revs[len(kept):])
	b.revs = kept
	return nil
}

// maxLookupFirms bounds the firm list of a lookup (about 20 KiB of query).
const maxLookupFirms = 1000

// chRevisions is the revision store on ClickHouse: report_revisions.
type chRevisions struct{ ch *chdb.Client }

func (s chRevisions) storedHashes(ctx context.Context, firms []string, from, to report.Period) (map[revKey][]uint64, error) {
	q := `SELECT firm_id, period, revision, content_hash FROM report_revisions
		WHERE period >= toDate(?) AND period <= toDate(?)`
	args := []any{from.Start().Format(time.DateOnly), to.Start().Format(time.DateOnly)}
	if firms != nil {
		q += ` AND has(?, firm_id)`
		args = append(args, firms)
	}
	rows, err := s.ch.Conn().Query(ctx, q, args...)
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

func (s chRevisions) insertRevisions(ctx context.Context, ingestedAt time.Time, revs []rowRevision) error {
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
	b, err := s.ch.Conn().PrepareBatch(ctx, "INSERT INTO report_revisions (firm_id, period, revision, content_hash, reported_at, ingested_at)")
	if err != nil {
		return fmt.Errorf("prepare insert into report_revisions: %w", err)
	}
	for i, col := range []any{firm, period, rev, hash, reported, ingested} {
		if err := b.Column(i).Append(col); err != nil {
			_ = b.Abort()
			return fmt.Errorf("insert into report_revisions: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert into report_revisions: %w", err)
	}
	return nil
}
