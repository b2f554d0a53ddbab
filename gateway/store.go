package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// The gateway's ClickHouse access: its own tables of migrations 0002 and
// 0007 (gateway_revisions) and reads of reports, report_revisions and
// rejects. Every statement binds with `?` (client-side escaping), so no
// value from a request is ever spliced into SQL, and runs on ClickHouse
// 18.16 (see DEVELOPERS.md).
var queries = chdb.NewCatalog("gateway")

var (
	insToken = queries.Insert("token", "gateway_tokens", "token_id", "hash", "scope_kind", "scope", "label", "created_at", "revoked_at", "version")
	qTokens  = queries.Query("tokens", `SELECT token_id, hash, scope_kind, scope, label, created_at, revoked_at
		FROM gateway_tokens FINAL ORDER BY created_at, token_id`)
	insSubmissions = queries.Insert("submissions", "gateway_submissions", "received_at", "submission_id", "firm_id", "period", "revision",
		"token_id", "channel", "idempotency_key", "late")
	insIdempotency = queries.Insert("idempotency", "gateway_idempotency", "token_id", "idempotency_key", "request_hash", "status", "body", "created_at")
	qIdempotency   = queries.Query("idempotency_lookup", `SELECT request_hash, status, body, created_at FROM gateway_idempotency FINAL
		WHERE token_id = ? AND idempotency_key = ? AND created_at >= ?`)
	qStored = queries.Query("stored", `SELECT firm_id, revision, headcount, vacancies, hires,
			sep_economic_layoff, sep_closure_bankruptcy, sep_suspension, sep_contract_expiry,
			sep_resignation, sep_retirement, sep_transfer, sep_other, reported_at, note, ingested_at
		FROM {{reports}} FINAL WHERE period = toDate(?) AND has(?, firm_id)
		ORDER BY firm_id`)
	qRejects = queries.Query("rejects", `SELECT firm_id, toUInt32(visitParamExtractUInt(payload, 'revision')), received_at, reason, field, message
		FROM rejects FINAL WHERE has(?, firm_id) AND visitParamExtractString(payload, 'period') = ?
		ORDER BY firm_id, received_at, topic, partition, offset`)
	qSubmissions = queries.Query("submissions_lookup", `SELECT received_at, submission_id, firm_id, revision, token_id, channel, idempotency_key, late
		FROM {{gateway_submissions}} WHERE period = toDate(?) AND has(?, firm_id)
		ORDER BY firm_id, revision, received_at, submission_id`)
	qReported = queries.Query("reported", `SELECT DISTINCT firm_id FROM {{reports}} WHERE period = toDate(?) AND has(?, firm_id)
		UNION ALL SELECT DISTINCT firm_id FROM {{gateway_submissions}} WHERE period = toDate(?) AND has(?, firm_id)`)
	// the revisions of migration 0007: every revision this and every other
	// gateway accepted, with its content hash; what ingest stored (its
	// report_revisions) is read with them. DISTINCT: a key's rows carry one
	// hash, and how many of them a read sees depends on merges (ClickHouse
	// 20+ collapses them within one insert already).
	insRevisions    = queries.Insert("revisions", "gateway_revisions", "firm_id", "period", "revision", "content_hash", "received_at")
	qKnownRevisions = queries.Query("known_revisions", `SELECT DISTINCT firm_id, period, revision, content_hash FROM {{report_revisions}}
			WHERE period >= toDate(?) AND period <= toDate(?) AND has(?, firm_id)
		UNION ALL
		SELECT DISTINCT firm_id, period, revision, content_hash FROM {{gateway_revisions}}
			WHERE period >= toDate(?) AND period <= toDate(?) AND has(?, firm_id)`)
	qStoredRevisions = queries.Query("stored_revisions", `SELECT firm_id, revision, min(reported_at), min(ingested_at)
		FROM {{report_revisions}} WHERE period = toDate(?) AND has(?, firm_id)
		GROUP BY firm_id, revision ORDER BY firm_id, revision`)
)

// Statements is the gateway's catalog (the parity test runs every one).
func Statements() *chdb.Catalog { return queries }

// submission is one accepted report, as recorded in gateway_submissions.
type submission struct {
	ReceivedAt time.Time
	ID         string
	FirmID     string
	Period     report.Period
	Revision   uint32
	TokenID    string
	Channel    string
	IdemKey    string
	Late       bool
	Hash       uint64 // report.ContentHash, for gateway_revisions
}

// idemRecord is a stored answer to a POST with an Idempotency-Key.
type idemRecord struct {
	TokenID     string
	Key         string
	RequestHash string
	Status      int
	Body        []byte
	CreatedAt   time.Time
}

type store struct {
	ch *chdb.Client
}

func (s *store) insertSubmissions(ctx context.Context, rows []submission) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	recv, per := make([]time.Time, 0, n), make([]time.Time, 0, n)
	id, firm, tok, ch, key := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	rev := make([]uint32, 0, n)
	late := make([]uint8, 0, n)
	for _, r := range rows {
		recv = append(recv, r.ReceivedAt.UTC())
		id = append(id, r.ID)
		firm = append(firm, r.FirmID)
		per = append(per, r.Period.Start())
		rev = append(rev, r.Revision)
		tok = append(tok, r.TokenID)
		ch = append(ch, r.Channel)
		key = append(key, r.IdemKey)
		var l uint8
		if r.Late {
			l = 1
		}
		late = append(late, l)
	}
	if err := s.ch.InsertColumns(ctx, insSubmissions, recv, id, firm, per, rev, tok, ch, key, late); err != nil {
		return fmt.Errorf("insert submissions: %w", err)
	}
	return s.insertRevisions(ctx, rows)
}

// insertRevisions records the accepted revisions with their content
// hashes (gateway_revisions), for the duplicate check of every gateway.
// Written after gateway_submissions, in the same flush.
func (s *store) insertRevisions(ctx context.Context, rows []submission) error {
	n := len(rows)
	firm, per, rev, hash, recv := make([]string, 0, n), make([]time.Time, 0, n), make([]uint32, 0, n), make([]uint64, 0, n), make([]time.Time, 0, n)
	for _, r := range rows {
		firm, per, rev, hash, recv = append(firm, r.FirmID), append(per, r.Period.Start()), append(rev, r.Revision), append(hash, r.Hash), append(recv, r.ReceivedAt.UTC())
	}
	if err := s.ch.InsertColumns(ctx, insRevisions, firm, per, rev, hash, recv); err != nil {
		return fmt.Errorf("insert revisions: %w", err)
	}
	return nil
}

// knownRevisions reads the content hashes of the firms' revisions for the
// periods from..to: those ingest stored and those any gateway accepted.
func (s *store) knownRevisions(ctx context.Context, firms []string, from, to report.Period) ([]knownRevision, error) {
	if len(firms) == 0 {
		return nil, nil
	}
	f, t := from.Start().Format(time.DateOnly), to.Start().Format(time.DateOnly)
	rows, err := s.ch.Query(ctx, qKnownRevisions, f, t, firms, f, t, firms)
	if err != nil {
		return nil, fmt.Errorf("query known revisions: %w", err)
	}
	defer rows.Close()
	var out []knownRevision
	for rows.Next() {
		var kr knownRevision
		var period time.Time
		if err := rows.Scan(&kr.key.firm, &period, &kr.key.revision, &kr.hash); err != nil {
			return nil, fmt.Errorf("scan known revision: %w", err)
		}
		kr.key.period = report.PeriodOf(period)
		out = append(out, kr)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read known revisions: %w", err)
	}
	return out, nil
}

func (s *store) insertIdempotency(ctx context.Context, rows []idemRecord) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	tok, key, hash, body := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	status := make([]uint16, 0, n)
	created := make([]time.Time, 0, n)
	for _, r := range rows {
		tok, key, hash, body = append(tok, r.TokenID), append(key, r.Key), append(hash, r.RequestHash), append(body, string(r.Body))
		status, created = append(status, uint16(r.Status)), append(created, r.CreatedAt.UTC())
	}
	if err := s.ch.InsertColumns(ctx, insIdempotency, tok, key, hash, status, body, created); err != nil {
		return fmt.Errorf("insert idempotency: %w", err)
	}
	return nil
}

// idempotency looks up a stored answer not older than since.
func (s *store) idempotency(ctx context.Context, tokenID, key string, since time.Time) (idemRecord, bool, error) {
	rows, err := s.ch.Query(ctx, qIdempotency, tokenID, key, since.UTC())
	if err != nil {
		return idemRecord{}, false, fmt.Errorf("query idempotency: %w", err)
	}
	defer rows.Close()
	rec := idemRecord{TokenID: tokenID, Key: key}
	found := false
	for rows.Next() {
		var status uint16
		var body string
		if err := rows.Scan(&rec.RequestHash, &status, &body, &rec.CreatedAt); err != nil {
			return idemRecord{}, false, fmt.Errorf("scan idempotency: %w", err)
		}
		rec.Status, rec.Body, found = int(status), []byte(body), true
	}
	if err := rows.Err(); err != nil {
		return idemRecord{}, false, fmt.Errorf("read idempotency: %w", err)
	}
	return rec, found, nil
}

// storedRow is one firm's report as ingest stored it.
type storedRow struct {
	Report     report.Report
	IngestedAt time.Time
}

// stored reads the stored report of each of the firms for p: its highest
// revision. Superseded revisions are not kept: the reports table replaces
// them when it merges (and ClickHouse 25.x already within one insert), so
// what the table holds besides the latest depends on timing; the gateway
// reads it FINAL and knows older revisions from report_revisions and its
// own submissions.
func (s *store) stored(ctx context.Context, ids []string, p report.Period) ([]storedRow, error) {
	if len(ids) == 0 {
		return nil, nil // has([], firm_id) is an error on ClickHouse 18.16
	}
	rows, err := s.ch.Query(ctx, qStored, p.Start().Format(time.DateOnly), ids)
	if err != nil {
		return nil, fmt.Errorf("query stored reports: %w", err)
	}
	defer rows.Close()
	var out []storedRow
	for rows.Next() {
		var r storedRow
		var sep [8]uint32
		rep := &r.Report
		if err := rows.Scan(&rep.FirmID, &rep.Revision, &rep.Headcount, &rep.Vacancies, &rep.Hires,
			&sep[0], &sep[1], &sep[2], &sep[3], &sep[4], &sep[5], &sep[6], &sep[7],
			&rep.ReportedAt, &rep.Note, &r.IngestedAt); err != nil {
			return nil, fmt.Errorf("scan stored report: %w", err)
		}
		rep.Period = p
		rep.Separations = separationsOf(sep)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored reports: %w", err)
	}
	return out, nil
}

// storedRevision is one revision ingest stored (report_revisions).
type storedRevision struct {
	FirmID     string
	Revision   uint32
	ReportedAt time.Time
	IngestedAt time.Time
}

// storedRevisions reads every revision of the firms' reports for p that
// ingest stored, superseded ones included (the reports table has merged
// those away).
func (s *store) storedRevisions(ctx context.Context, ids []string, p report.Period) ([]storedRevision, error) {
	if len(ids) == 0 {
		return nil, nil // has([], firm_id) is an error on ClickHouse 18.16
	}
	rows, err := s.ch.Query(ctx, qStoredRevisions, p.Start().Format(time.DateOnly), ids)
	if err != nil {
		return nil, fmt.Errorf("query stored revisions: %w", err)
	}
	defer rows.Close()
	var out []storedRevision
	for rows.Next() {
		var r storedRevision
		if err := rows.Scan(&r.FirmID, &r.Revision, &r.ReportedAt, &r.IngestedAt); err != nil {
			return nil, fmt.Errorf("scan stored revision: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read stored revisions: %w", err)
	}
	return out, nil
}

func separationsOf(v [8]uint32) report.Separations {
	return report.Separations{EconomicLayoff: v[0], ClosureBankruptcy: v[1], Suspension: v[2], ContractExpiry: v[3],
		Resignation: v[4], Retirement: v[5], Transfer: v[6], Other: v[7]}
}

// latest reads the latest revision of one firm's report for p.
func (s *store) latest(ctx context.Context, firmID string, p report.Period) (report.Report, bool, error) {
	revs, err := s.stored(ctx, []string{firmID}, p)
	if err != nil || len(revs) == 0 {
		return report.Report{}, false, err
	}
	return revs[0].Report, true, nil
}

// rejectRow is a message for one of the firms that ingest refused.
type rejectRow struct {
	FirmID     string
	Revision   uint32
	ReceivedAt time.Time
	Problem    report.Problem
}

// rejects reads the refusals whose payload names period p.
func (s *store) rejects(ctx context.Context, ids []string, p report.Period) ([]rejectRow, error) {
	if len(ids) == 0 {
		return nil, nil // has([], firm_id) is an error on ClickHouse 18.16
	}
	rows, err := s.ch.Query(ctx, qRejects, ids, p.String())
	if err != nil {
		return nil, fmt.Errorf("query rejects: %w", err)
	}
	defer rows.Close()
	var out []rejectRow
	for rows.Next() {
		var r rejectRow
		if err := rows.Scan(&r.FirmID, &r.Revision, &r.ReceivedAt, &r.Problem.Reason, &r.Problem.Field, &r.Problem.Message); err != nil {
			return nil, fmt.Errorf("scan reject: %w", err)
		}
		if r.Revision == 0 {
			r.Revision = 1 // no revision in the payload: the wire format's default
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rejects: %w", err)
	}
	return out, nil
}

// submissions reads what the gateway accepted for the firms in p.
func (s *store) submissions(ctx context.Context, ids []string, p report.Period) ([]submission, error) {
	if len(ids) == 0 {
		return nil, nil // has([], firm_id) is an error on ClickHouse 18.16
	}
	rows, err := s.ch.Query(ctx, qSubmissions, p.Start().Format(time.DateOnly), ids)
	if err != nil {
		return nil, fmt.Errorf("query submissions: %w", err)
	}
	defer rows.Close()
	var out []submission
	for rows.Next() {
		r := submission{Period: p}
		var late uint8
		if err := rows.Scan(&r.ReceivedAt, &r.ID, &r.FirmID, &r.Revision, &r.TokenID, &r.Channel, &r.IdemKey, &late); err != nil {
			return nil, fmt.Errorf("scan submission: %w", err)
		}
		r.Late = late == 1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read submissions: %w", err)
	}
	return out, nil
}

// reported returns the firms, among ids, that have a stored or a submitted
// report for p.
func (s *store) reported(ctx context.Context, ids []string, p report.Period) (map[string]bool, error) {
	if len(ids) == 0 {
		return map[string]bool{}, nil // has([], firm_id) is an error on ClickHouse 18.16
	}
	rows, err := s.ch.Query(ctx, qReported,
		p.Start().Format(time.DateOnly), ids, p.Start().Format(time.DateOnly), ids)
	if err != nil {
		return nil, fmt.Errorf("query reported firms: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan reported firm: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read reported firms: %w", err)
	}
	return out, nil
}

// batcher collects rows and writes them in batches, at most every interval,
// so that a gateway answering thousands of requests a second sends
// ClickHouse a few inserts a second. A failed write is retried with the next
// flush, up to limit rows kept; beyond that the oldest are dropped and logged.
type batcher[T any] struct {
	write    func(context.Context, []T) error
	interval time.Duration
	limit    int
	log      *slog.Logger
	what     string

	mu   sync.Mutex
	rows []T
	kick chan struct{}
}

func newBatcher[T any](what string, write func(context.Context, []T) error, interval time.Duration, log *slog.Logger) *batcher[T] {
	return &batcher[T]{write: write, interval: interval, limit: 1_000_000, log: log, what: what, kick: make(chan struct{}, 1)}
}

func (b *batcher[T]) add(rows ...T) {
	b.mu.Lock()
	b.rows = append(b.rows, rows...)
	if over := len(b.rows) - b.limit; over > 0 {
		b.log.Error("dropping unwritten rows: ClickHouse has refused them too long", "table", b.what, "rows", over)
		b.rows = b.rows[over:]
	}
	b.mu.Unlock()
}

// flush writes what has been added so far.
func (b *batcher[T]) flush(ctx context.Context) error {
	b.mu.Lock()
	rows := b.rows
	b.rows = nil
	b.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	if err := b.write(ctx, rows); err != nil {
		b.mu.Lock()
		b.rows = append(rows, b.rows...)
		b.mu.Unlock()
		return err
	}
	return nil
}

// run flushes every interval until ctx ends, then once more within grace.
func (b *batcher[T]) run(ctx context.Context, grace time.Duration) {
	t := time.NewTicker(b.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
			if err := b.flush(fctx); err != nil {
				b.log.Error("final write failed; rows lost", "table", b.what, "err", err)
			}
			cancel()
			return
		case <-t.C:
		case <-b.kick:
		}
		if err := b.flush(ctx); err != nil {
			b.log.Warn("write failed; will retry", "table", b.what, "err", err)
		}
	}
}
