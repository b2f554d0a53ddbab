package chdb

import (
	"context"
	"slices"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// ReportRows is a batch of reports laid out by column, ready to insert.
// Appending to it does not allocate per row once its slices have grown.
type ReportRows struct {
	FirmID     []string
	Period     []time.Time
	Revision   []uint32
	Headcount  []uint32
	Vacancies  []uint32
	Hires      []uint32
	Sep        [8][]uint32 // in the order of report.SeparationReasons
	ReportedAt []time.Time
	Note       []string
	IngestedAt []time.Time
	Partition  []int32
	Offset     []int64
}

var insReports = queries.Insert("reports", "reports", "firm_id", "period", "revision", "headcount", "vacancies", "hires",
	"sep_economic_layoff", "sep_closure_bankruptcy", "sep_suspension", "sep_contract_expiry",
	"sep_resignation", "sep_retirement", "sep_transfer", "sep_other",
	"reported_at", "note", "ingested_at", "kafka_partition", "kafka_offset")

// Grow makes room for n more rows without reallocating.
func (b *ReportRows) Grow(n int) {
	b.FirmID = slices.Grow(b.FirmID, n)
	b.Period = slices.Grow(b.Period, n)
	b.Revision = slices.Grow(b.Revision, n)
	b.Headcount = slices.Grow(b.Headcount, n)
	b.Vacancies = slices.Grow(b.Vacancies, n)
	b.Hires = slices.Grow(b.Hires, n)
	for i := range b.Sep {
		b.Sep[i] = slices.Grow(b.Sep[i], n)
	}
	b.ReportedAt = slices.Grow(b.ReportedAt, n)
	b.Note = slices.Grow(b.Note, n)
	b.IngestedAt = slices.Grow(b.IngestedAt, n)
	b.Partition = slices.Grow(b.Partition, n)
	b.Offset = slices.Grow(b.Offset, n)
}

// Add appends one report with where it came from.
func (b *ReportRows) Add(r report.Report, ingestedAt time.Time, partition int32, offset int64) {
	b.FirmID = append(b.FirmID, r.FirmID)
	b.Period = append(b.Period, r.Period.Start())
	b.Revision = append(b.Revision, r.Revision)
	b.Headcount = append(b.Headcount, r.Headcount)
	b.Vacancies = append(b.Vacancies, r.Vacancies)
	b.Hires = append(b.Hires, r.Hires)
	for i, v := range r.Separations.Values() {
		b.Sep[i] = append(b.Sep[i], v)
	}
	reported := r.ReportedAt
	if reported.IsZero() {
		reported = ingestedAt
	}
	b.ReportedAt = append(b.ReportedAt, reported.UTC())
	b.Note = append(b.Note, r.Note)
	b.IngestedAt = append(b.IngestedAt, ingestedAt.UTC())
	b.Partition = append(b.Partition, partition)
	b.Offset = append(b.Offset, offset)
}

// Len is the number of rows.
func (b *ReportRows) Len() int { return len(b.FirmID) }

// Reset empties the batch, keeping its memory.
func (b *ReportRows) Reset() {
	b.FirmID, b.Period, b.Revision = b.FirmID[:0], b.Period[:0], b.Revision[:0]
	b.Headcount, b.Vacancies, b.Hires = b.Headcount[:0], b.Vacancies[:0], b.Hires[:0]
	for i := range b.Sep {
		b.Sep[i] = b.Sep[i][:0]
	}
	b.ReportedAt, b.Note, b.IngestedAt = b.ReportedAt[:0], b.Note[:0], b.IngestedAt[:0]
	b.Partition, b.Offset = b.Partition[:0], b.Offset[:0]
}

// Columns are the batch's columns in the order of the reports insert.
func (b *ReportRows) Columns() []any {
	cols := []any{b.FirmID, b.Period, b.Revision, b.Headcount, b.Vacancies, b.Hires}
	for i := range b.Sep {
		cols = append(cols, b.Sep[i])
	}
	return append(cols, b.ReportedAt, b.Note, b.IngestedAt, b.Partition, b.Offset)
}

// InsertReports writes the batch in one insert. It is safe to call again
// with the same rows after a failure: duplicates collapse in reports_latest.
func (c *Client) InsertReports(ctx context.Context, rows *ReportRows) error {
	if rows.Len() == 0 {
		return nil
	}
	return c.InsertColumns(ctx, insReports, rows.Columns()...)
}
