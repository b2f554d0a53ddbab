// Package demo owns what `layoffwatch local` (make demo) prints about the
// simulated province once the pipeline has run: headcount by prefecture, the
// warnings, the planted events with what the detector raised about them, and
// the emails. Its queries are its own; it writes nothing but to its output.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
)

var queries = chdb.NewCatalog("demo")

var (
	qHeadcount = queries.Query("headcount_by_prefecture", `SELECT f.prefecture, r.period, count(), sum(r.headcount)
		FROM {{reports}} AS r FINAL
		ALL INNER JOIN (SELECT firm_id, prefecture FROM {{firms}} FINAL) AS f USING firm_id
		GROUP BY f.prefecture, r.period
		ORDER BY f.prefecture, r.period`)
	qWarnings = queries.Query("warnings", `SELECT level, rule, count() FROM alerts_latest
		WHERE event != 'resolved' GROUP BY level, rule ORDER BY level, rule`)
	qStored     = queries.Query("stored_reports", "SELECT count() FROM {{reports}} FINAL WHERE 1")
	qEventAlert = queries.Query("event_warnings", `SELECT rule, level, count() FROM alerts_latest
		WHERE has(?, alert_key) AND period >= toDate(?) AND period <= toDate(?) AND event != 'resolved'
		GROUP BY rule, level ORDER BY level, rule`)
	qEventHeadcount = queries.Query("event_headcounts", `SELECT sumIf(headcount, period = toDate(?)), sumIf(headcount, period = toDate(?))
		FROM {{reports}} FINAL WHERE has(?, firm_id)`)
	qAlertEvents = queries.Query("alert_events", "SELECT count() FROM alerts FINAL")
	qEmailState  = queries.Query("email_state", `SELECT countIf(status = 'pending'), countIf(status IN ('sent', 'failed'))
		FROM notifications`)
	qOpenAlerts = queries.Query("open_alerts", `SELECT rule, alert_key, period, level FROM alerts_latest
		WHERE event != 'resolved' ORDER BY period, rule, alert_key`)
	qEmailsPerRecipient = queries.Query("emails_per_recipient", `SELECT recipient, uniqExact(message_id) FROM notifications
		WHERE status = 'sent' GROUP BY recipient ORDER BY recipient`)
	qEmails = queries.Query("emails", "SELECT kind, status, count() FROM notifications WHERE status != 'pending' GROUP BY kind, status ORDER BY kind, status")
	// open warnings by why they are old ("" for current ones)
	qOldWarnings = queries.Query("old_warnings", `SELECT old, count() FROM alerts_latest
		WHERE event != 'resolved' GROUP BY old ORDER BY old`)
	qSummaries = queries.Query("summaries", `SELECT uniqExact(message_id), uniqExact(recipient), uniqExact(alert_id) FROM notifications
		WHERE kind = 'summary' AND status = 'sent'`)
)

// Statements is the demo's catalog (the parity test runs every one).
func Statements() *chdb.Catalog { return queries }

// Store reads what the demo prints.
type Store struct{ ch *chdb.Client }

// NewStore returns the demo's queries on ch.
func NewStore(ch *chdb.Client) *Store { return &Store{ch: ch} }

// PrefectureMonth is the summed headcount of one prefecture in one month.
type PrefectureMonth struct {
	Prefecture string
	Period     time.Time
	Firms      uint64
	Headcount  uint64
}

// HeadcountByPrefecture sums the latest reports by prefecture and month.
func (s *Store) HeadcountByPrefecture(ctx context.Context) ([]PrefectureMonth, error) {
	rows, err := s.ch.Query(ctx, qHeadcount)
	if err != nil {
		return nil, fmt.Errorf("query headcount by prefecture: %w", err)
	}
	defer rows.Close()
	var out []PrefectureMonth
	for rows.Next() {
		var m PrefectureMonth
		if err := rows.Scan(&m.Prefecture, &m.Period, &m.Firms, &m.Headcount); err != nil {
			return nil, fmt.Errorf("scan headcount: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read headcount: %w", err)
	}
	return out, nil
}

// Count is a count by two labels.
type Count struct {
	A, B string
	N    uint64
}

func (s *Store) counts(ctx context.Context, q chdb.Statement, args ...any) ([]Count, error) {
	rows, err := s.ch.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.A, &c.B, &c.N); err != nil {
			return nil, fmt.Errorf("%s: %w", q, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	return out, nil
}

// Warnings counts the open warnings by level (A) and rule (B).
func (s *Store) Warnings(ctx context.Context) ([]Count, error) { return s.counts(ctx, qWarnings) }

// EventWarnings counts the open warnings of the months from … to about any
// of keys (firm ids or region codes) by rule (A) and level (B).
func (s *Store) EventWarnings(ctx context.Context, keys []string, from, to time.Time) ([]Count, error) {
	return s.counts(ctx, qEventAlert, keys, from.Format(time.DateOnly), to.Format(time.DateOnly))
}

// OldWarnings counts the open warnings by why they are old: "history",
// "late_data", …, and "" for current ones.
func (s *Store) OldWarnings(ctx context.Context) (map[string]uint64, error) {
	rows, err := s.ch.Query(ctx, qOldWarnings)
	if err != nil {
		return nil, fmt.Errorf("count old warnings: %w", err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var old string
		var n uint64
		if err := rows.Scan(&old, &n); err != nil {
			return nil, fmt.Errorf("scan old warnings: %w", err)
		}
		out[old] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read old warnings: %w", err)
	}
	return out, nil
}

// Summaries counts the summary emails of old warnings sent, the officials
// they went to, and the warnings they told.
func (s *Store) Summaries(ctx context.Context) (emails, officials, warnings uint64, err error) {
	if err := s.ch.QueryRow(ctx, qSummaries).Scan(&emails, &officials, &warnings); err != nil {
		return 0, 0, 0, fmt.Errorf("count summaries: %w", err)
	}
	return emails, officials, warnings, nil
}

// Emails counts the notification log by kind (A) and status (B).
func (s *Store) Emails(ctx context.Context) ([]Count, error) { return s.counts(ctx, qEmails) }

// StoredReports counts the firm-months in ClickHouse.
func (s *Store) StoredReports(ctx context.Context) (uint64, error) {
	var n uint64
	if err := s.ch.QueryRow(ctx, qStored).Scan(&n); err != nil {
		return 0, fmt.Errorf("count reports: %w", err)
	}
	return n, nil
}

// EventHeadcounts sums the headcount of firms in the months before and
// last.
func (s *Store) EventHeadcounts(ctx context.Context, firmIDs []string, before, last time.Time) (uint64, uint64, error) {
	var b, a uint64
	if err := s.ch.QueryRow(ctx, qEventHeadcount, before.Format(time.DateOnly), last.Format(time.DateOnly), firmIDs).Scan(&b, &a); err != nil {
		return 0, 0, fmt.Errorf("event headcounts: %w", err)
	}
	return b, a, nil
}

// AlertEvents counts the alert events the detector recorded.
func (s *Store) AlertEvents(ctx context.Context) (uint64, error) {
	var n uint64
	if err := s.ch.QueryRow(ctx, qAlertEvents).Scan(&n); err != nil {
		return 0, fmt.Errorf("count alert events: %w", err)
	}
	return n, nil
}

// EmailState counts the notification log's pending rows and settled ones.
func (s *Store) EmailState(ctx context.Context) (pending, settled uint64, err error) {
	if err := s.ch.QueryRow(ctx, qEmailState).Scan(&pending, &settled); err != nil {
		return 0, 0, fmt.Errorf("notification log: %w", err)
	}
	return pending, settled, nil
}

// OpenAlert is an alert the detector raised and did not resolve.
type OpenAlert struct {
	Rule, Key, Level string
	Period           time.Time
}

// OpenAlerts lists the alerts not resolved, by period, rule and key.
func (s *Store) OpenAlerts(ctx context.Context) ([]OpenAlert, error) {
	rows, err := s.ch.Query(ctx, qOpenAlerts)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []OpenAlert
	for rows.Next() {
		var a OpenAlert
		if err := rows.Scan(&a.Rule, &a.Key, &a.Period, &a.Level); err != nil {
			return nil, fmt.Errorf("%s: %w", qOpenAlerts, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// EmailsPerRecipient counts the emails each official was sent.
func (s *Store) EmailsPerRecipient(ctx context.Context) (map[string]uint64, error) {
	rows, err := s.ch.Query(ctx, qEmailsPerRecipient)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var who string
		var n uint64
		if err := rows.Scan(&who, &n); err != nil {
			return nil, fmt.Errorf("%s: %w", qEmailsPerRecipient, err)
		}
		out[who] = n
	}
	return out, rows.Err()
}
