package ingest

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// A revision is sent once: the same (firm, period, revision) with other
// content is refused as duplicate_revision, a correction is a new revision.
// The reports table cannot tell what was stored — it keeps a firm-month's
// latest revision only, once merged (on ClickHouse 20+ already within an
// insert) — so ingest records every stored revision with its content hash
// in report_revisions (migration 0007) and, before each insert, compares the
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
	// storedHashes returns the content hashes stored for the revisions
	// keys, which fall in the periods from..to.
	storedHashes(ctx context.Context, keys []revKey, from, to report.Period) (map[revKey][]uint64, error)
	insertRevisions(ctx context.Context, ingestedAt time.Time, rows []rowRevision) error
}

// checkRevisions refuses, as duplicate_revision, every row of b whose
// revision was stored, or came earlier in b, with other content.
func (p *pipeline) checkRevisions(ctx context.Context, b *batch) error {
	// first: each revision's hash where the batch first has it, in message
	// order; its keys are what to look up
	from, to := b.revs[0].report.Period, b.revs[0].report.Period
	first := make(map[revKey]uint64, len(b.revs))
	keys := make([]revKey, 0, len(b.revs))
	for _, rv := range b.revs {
		from, to = min(from, rv.report.Period), max(to, rv.report.Period)
		if k := rv.key(); !has(first, k) {
			first[k] = rv.hash
			keys = append(keys, k)
		}
	}
	stored, err := p.revs.storedHashes(ctx, keys, from, to)
	if err != nil {
		return fmt.Errorf("look up stored revisions: %w", err)
	}
	drop := make([]bool, len(b.revs))
	dropped := 0
	for i, rv := range b.revs {
		k := rv.key()
		if hashes, ok := stored[k]; ok {
			if slices.Contains(hashes, rv.hash) {
				continue
			}
		} else if first[k] == rv.hash {
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

func has[K comparable, V any](m map[K]V, k K) bool {
	_, ok := m[k]
	return ok
}
