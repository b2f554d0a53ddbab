package chdb

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/firms"
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

var reportColumns = []string{"firm_id", "period", "revision", "headcount", "vacancies", "hires",
	"sep_economic_layoff", "sep_closure_bankruptcy", "sep_suspension", "sep_contract_expiry",
	"sep_resignation", "sep_retirement", "sep_transfer", "sep_other",
	"reported_at", "note", "ingested_at", "kafka_partition", "kafka_offset"}

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

func (b *ReportRows) columns() []any {
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
	return c.insertColumns(ctx, "reports", reportColumns, rows.columns())
}

func (c *Client) insertColumns(ctx context.Context, table string, names []string, cols []any) error {
	batch, err := c.conn.PrepareBatch(ctx, "INSERT INTO "+table+" ("+strings.Join(names, ", ")+")")
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", table, err)
	}
	for i, col := range cols {
		if err := batch.Column(i).Append(col); err != nil {
			_ = batch.Abort()
			return fmt.Errorf("insert into %s: column %s: %w", table, names[i], err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

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

// InsertRejects records refused messages. Rows are keyed by their Kafka
// position, so inserting them again after a crash leaves one row each.
func (c *Client) InsertRejects(ctx context.Context, rows []Reject) error {
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
	return c.insertColumns(ctx, "rejects",
		[]string{"received_at", "topic", "partition", "offset", "message_key", "reason", "field", "message", "firm_id", "payload", "payload_bytes"},
		[]any{received, topic, partition, offset, key, reason, field, msg, firm, payload, size})
}

// UpsertFirms writes firms; a firm already present is replaced.
func (c *Client) UpsertFirms(ctx context.Context, list []firms.Firm) error {
	if len(list) == 0 {
		return nil
	}
	now := time.Now().UTC().Truncate(time.Second)
	n := len(list)
	var (
		id, name, reg, pref, ind, own = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		base                          = make([]uint32, 0, n)
		from, to                      = make([]*time.Time, 0, n), make([]*time.Time, 0, n)
		upd                           = make([]time.Time, 0, n)
	)
	date := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	for _, f := range list {
		id = append(id, f.ID)
		name = append(name, f.Name)
		reg = append(reg, f.Region)
		pref = append(pref, f.Prefecture())
		ind = append(ind, f.Industry)
		base = append(base, f.BaselineHeadcount)
		own = append(own, f.Ownership)
		from = append(from, date(f.EnrolledFrom))
		to = append(to, date(f.EnrolledTo))
		upd = append(upd, now)
	}
	return c.insertColumns(ctx, "firms",
		[]string{"firm_id", "name", "region", "prefecture", "industry", "baseline_headcount", "ownership", "enrolled_from", "enrolled_to", "updated_at"},
		[]any{id, name, reg, pref, ind, base, own, from, to, upd})
}

// Insert writes columns (one slice per name, equal lengths) into table in
// one batch, for components that own their tables (alerts, gateway).
func (c *Client) Insert(ctx context.Context, table string, names []string, cols []any) error {
	return c.insertColumns(ctx, table, names, cols)
}
