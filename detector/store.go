package detector

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// The detector's ClickHouse access: it reads the registry and the stored
// reports, and records the alert events it emits in the alerts table
// (migrations 0003, 0006 and 0010), from which it also rebuilds its state on
// start.
var queries = chdb.NewCatalog("detector")

var (
	qReportsSince = queries.Query("reports_since", `SELECT firm_id, period, revision, headcount, vacancies, hires,
		sep_economic_layoff, sep_closure_bankruptcy, sep_suspension, sep_contract_expiry,
		sep_resignation, sep_retirement, sep_transfer, sep_other, ingested_at
		FROM {{reports}}
		WHERE period >= toDate(?) AND period <= toDate(?) AND ingested_at >= toDateTime(?)`)
	insAlerts = queries.Insert("alert_events", "alerts", "alert_id", "version", "event", "rule", "scope", "alert_key", "period", "level", "previous_level", "values_json",
		"region", "prefecture", "industry", "reported", "expected", "subject", "title_zh", "title_en", "summary_zh", "summary_en", "plan", "emitted_at",
		"level_name_zh", "level_name_en", "level_color", "level_action_zh", "level_action_en", "level_response_seconds", "old", "urgent_until")
	// a replica's share (share.go): the registry's prefectures, the firms
	// and reports of some of them, and the partials the replicas exchange
	// (migration 0014)
	qDirectory = queries.Query("directory", `SELECT prefecture, count() FROM firms FINAL
		WHERE prefecture != '' GROUP BY prefecture ORDER BY prefecture`)
	qFirmsIn = queries.Query("firms_in", `SELECT firm_id, name, region, industry, baseline_headcount, ownership, enrolled_from, enrolled_to
		FROM firms FINAL WHERE has(?, prefecture) ORDER BY firm_id`)
	qReportsIn = queries.Query("reports_in", `SELECT firm_id, period, revision, headcount, vacancies, hires,
		sep_economic_layoff, sep_closure_bankruptcy, sep_suspension, sep_contract_expiry,
		sep_resignation, sep_retirement, sep_transfer, sep_other, ingested_at
		FROM {{reports}}
		WHERE period >= toDate(?) AND period <= toDate(?) AND ingested_at >= toDateTime(?) AND ingested_at < toDateTime(?)
			AND firm_id IN (SELECT firm_id FROM {{firms}} FINAL WHERE has(?, prefecture))`)
	insPartials = queries.Insert("partials", "detector_partials", "province", "prefecture", "industry", "window_start", "months",
		"generation", "as_of", "data", "replica", "version", "published_at")
	qPartialHeads = queries.Query("partial_heads", `SELECT prefecture, generation, window_start, months, as_of FROM detector_partials FINAL
		WHERE has(?, province) AND industry = '' ORDER BY prefecture`)
	qPartialData = queries.Query("partial_data", `SELECT prefecture, generation, data FROM detector_partials FINAL
		WHERE province = ? AND industry = ? ORDER BY prefecture`)
	qAlertStates = queries.Query("alert_states", `SELECT alert_id, last_version, event, rule, scope, alert_key, period, level, values_json,
		region, prefecture, industry, reported, expected, subject, title_zh, title_en, summary_zh, summary_en, last_emitted_at
		FROM alerts_latest`)
)

// Statements is the detector's catalog (the parity test runs every one).
func Statements() *chdb.Catalog { return queries }

// Store is the detector's ClickHouse: the daemon's store, and the way
// tests and fixtures record alert events as the daemon does.
type Store struct {
	ch  *chdb.Client
	reg *firms.Store
}

// NewStore returns the detector's store on ch.
func NewStore(ch *chdb.Client) *Store { return &Store{ch: ch, reg: firms.NewStore(ch)} }

// Firms reads the registry.
func (s *Store) Firms(ctx context.Context) ([]firms.Firm, error) { return s.reg.All(ctx) }

// MonthRow is one stored report, as the detector reads it.
type MonthRow struct {
	FirmID     string
	Period     report.Period
	Revision   uint32
	Headcount  uint32
	Vacancies  uint32
	Hires      uint32
	Sep        [8]uint32
	IngestedAt time.Time
}

// ReportsSince streams the stored rows of the months from … to ingested at
// or after since (zero: all), in no particular order: every revision still
// in the table, superseded ones and repeated deliveries too — which of
// those are left depends on merges and on the server version (25.x
// collapses a key's rows within one insert). The caller keeps the highest
// revision of each firm and month (Dataset.Set); ingest refuses an equal
// revision with other content, so that is one answer. Reading without FINAL
// is what keeps the detector's start and passes as cheap as streaming the
// rows (bench-detect); the parity test compares what the caller keeps.
func (s *Store) ReportsSince(ctx context.Context, from, to report.Period, since time.Time, fn func(*MonthRow)) error {
	rows, err := s.ch.Query(ctx, qReportsSince,
		from.Start().Format(time.DateOnly), to.Start().Format(time.DateOnly), max(since.Unix(), 0))
	if err != nil {
		return fmt.Errorf("query reports: %w", err)
	}
	return scanMonthRows(rows, fn)
}

func scanMonthRows(rows driver.Rows, fn func(*MonthRow)) error {
	defer rows.Close()
	var r MonthRow
	var period time.Time
	for rows.Next() {
		if err := rows.Scan(&r.FirmID, &period, &r.Revision, &r.Headcount, &r.Vacancies, &r.Hires,
			&r.Sep[0], &r.Sep[1], &r.Sep[2], &r.Sep[3], &r.Sep[4], &r.Sep[5], &r.Sep[6], &r.Sep[7], &r.IngestedAt); err != nil {
			return fmt.Errorf("scan report: %w", err)
		}
		r.Period = report.PeriodOf(period.UTC())
		fn(&r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read reports: %w", err)
	}
	return nil
}

// Directory reads how many firms each prefecture of the registry has.
func (s *Store) Directory(ctx context.Context) (map[string]int, error) {
	rows, err := s.ch.Query(ctx, qDirectory)
	if err != nil {
		return nil, fmt.Errorf("query the registry's prefectures: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var pref string
		var n uint64
		if err := rows.Scan(&pref, &n); err != nil {
			return nil, fmt.Errorf("scan prefecture: %w", err)
		}
		out[pref] = int(n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the registry's prefectures: %w", err)
	}
	return out, nil
}

// FirmsIn reads the registry's firms of the prefectures, sorted by id.
func (s *Store) FirmsIn(ctx context.Context, prefectures []string) ([]firms.Firm, error) {
	rows, err := s.ch.Query(ctx, qFirmsIn, prefectures)
	if err != nil {
		return nil, fmt.Errorf("query firms: %w", err)
	}
	defer rows.Close()
	var out []firms.Firm
	for rows.Next() {
		var f firms.Firm
		var from, to *time.Time
		if err := rows.Scan(&f.ID, &f.Name, &f.Region, &f.Industry, &f.BaselineHeadcount, &f.Ownership, &from, &to); err != nil {
			return nil, fmt.Errorf("scan firm: %w", err)
		}
		if from != nil {
			f.EnrolledFrom = *from
		}
		if to != nil {
			f.EnrolledTo = *to
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read firms: %w", err)
	}
	return out, nil
}

// ReportsIn streams, as ReportsSince, the stored reports of the firms of
// the prefectures ingested in [since, until): a replica of several reads up
// to its epoch.
func (s *Store) ReportsIn(ctx context.Context, prefectures []string, from, to report.Period, since, until time.Time, fn func(*MonthRow)) error {
	rows, err := s.ch.Query(ctx, qReportsIn,
		from.Start().Format(time.DateOnly), to.Start().Format(time.DateOnly), max(since.Unix(), 0), until.Unix(), prefectures)
	if err != nil {
		return fmt.Errorf("query reports: %w", err)
	}
	return scanMonthRows(rows, fn)
}

// PublishPartials records the partials of the replica's prefectures as of
// an epoch, in one insert: those in parts whole (the prefecture's row and
// one row per industry), those in heads by their prefecture's row alone
// (their data did not change, only the epoch).
func (s *Store) PublishPartials(ctx context.Context, replica string, parts, heads []*Partial, asOf, at time.Time) error {
	var prov, pref, ind, data, rep []string
	var start, published, asOfs []time.Time
	var months []uint16
	var gen, version []uint64
	v := uint64(at.UnixNano())
	add := func(p *Partial, industry string, g uint64, d []byte) {
		prov, pref, ind, data, rep = append(prov, p.Province()), append(pref, p.Prefecture), append(ind, industry), append(data, base64.StdEncoding.EncodeToString(d)), append(rep, replica)
		start, published, months = append(start, p.Start.Start()), append(published, at.UTC().Truncate(time.Second)), append(months, uint16(p.Months))
		gen, version, asOfs = append(gen, g), append(version, v), append(asOfs, asOf.UTC())
	}
	for _, p := range parts {
		g := p.Hash()
		for i := range p.Industries {
			b, err := p.Industries[i].MarshalBinary()
			if err != nil {
				return fmt.Errorf("encode partial %s/%s: %w", p.Prefecture, p.Industries[i].Industry, err)
			}
			add(p, p.Industries[i].Industry, g, b)
		}
		add(p, "", g, nil)
	}
	for _, p := range heads {
		add(p, "", p.Hash(), nil)
	}
	if len(prov) == 0 {
		return nil
	}
	return s.ch.InsertColumns(ctx, insPartials, prov, pref, ind, start, months, gen, asOfs, data, rep, version, published)
}

// PartialHead is a prefecture's latest partial: its generation and window.
type PartialHead struct {
	Prefecture string
	Generation uint64
	Start      report.Period
	Months     int
	AsOf       time.Time // the epoch it reflects
}

// PartialHeads reads the latest partial of every prefecture of the
// provinces.
func (s *Store) PartialHeads(ctx context.Context, provinces []string) ([]PartialHead, error) {
	rows, err := s.ch.Query(ctx, qPartialHeads, provinces)
	if err != nil {
		return nil, fmt.Errorf("query partials: %w", err)
	}
	defer rows.Close()
	var out []PartialHead
	for rows.Next() {
		var h PartialHead
		var start time.Time
		var months uint16
		if err := rows.Scan(&h.Prefecture, &h.Generation, &start, &months, &h.AsOf); err != nil {
			return nil, fmt.Errorf("scan partial: %w", err)
		}
		h.Start, h.Months, h.AsOf = report.PeriodOf(start.UTC()), int(months), h.AsOf.UTC()
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read partials: %w", err)
	}
	return out, nil
}

// PartialData reads the industry rows of the partials of a province's
// prefectures, each with the generation it belongs to.
func (s *Store) PartialData(ctx context.Context, province, industry string, fn func(prefecture string, generation uint64, pi *PartialIndustry) error) error {
	rows, err := s.ch.Query(ctx, qPartialData, province, industry)
	if err != nil {
		return fmt.Errorf("query partials: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pref, data string
		var gen uint64
		if err := rows.Scan(&pref, &gen, &data); err != nil {
			return fmt.Errorf("scan partial: %w", err)
		}
		pi := &PartialIndustry{Industry: industry}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return fmt.Errorf("partial %s/%s: %w", pref, industry, err)
		}
		if err := pi.UnmarshalBinary(b); err != nil {
			return fmt.Errorf("partial %s/%s: %w", pref, industry, err)
		}
		if err := fn(pref, gen, pi); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read partials: %w", err)
	}
	return nil
}

// InsertAlertEvents records alert state changes. Rows are keyed by
// (alert_id, version): inserting an event again leaves one row. The table
// keeps the facts of the event's level; those of the previous level travel
// on the topic only.
func (s *Store) InsertAlertEvents(ctx context.Context, events []alertevent.Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	strs := func() []string { return make([]string, 0, n) }
	var (
		id, kind, rule, scope, key, level, prev, values = strs(), strs(), strs(), strs(), strs(), strs(), strs(), strs()
		reg, pref, ind, subj, tzh, ten, plan            = strs(), strs(), strs(), strs(), strs(), strs(), strs()
		szh, sen, old                                   = strs(), strs(), strs()
		lzh, len_, lcolor, azh, aen                     = strs(), strs(), strs(), strs(), strs()
		version, reported, expected, response           = make([]uint32, 0, n), make([]uint32, 0, n), make([]uint32, 0, n), make([]uint32, 0, n)
		period, at, urgent                              = make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
	)
	for _, e := range events {
		p, err := report.ParsePeriod(e.Period)
		if err != nil {
			return fmt.Errorf("alert %s: %w", e.ID, err)
		}
		f := e.LevelFacts
		id, kind, rule, scope, key = append(id, e.ID), append(kind, e.Kind), append(rule, e.Rule), append(scope, e.Scope.String()), append(key, e.Key)
		level, prev, values = append(level, e.Level.String()), append(prev, e.PreviousLevel.String()), append(values, string(e.Values))
		reg, pref, ind, subj = append(reg, e.Region), append(pref, e.Prefecture), append(ind, e.Industry), append(subj, e.Subject)
		tzh, ten, plan = append(tzh, e.TitleZh), append(ten, e.TitleEn), append(plan, e.Plan)
		szh, sen, old = append(szh, e.SummaryZh), append(sen, e.SummaryEn), append(old, e.Old)
		lzh, len_, lcolor, azh, aen = append(lzh, f.NameZh), append(len_, f.NameEn), append(lcolor, f.Color), append(azh, f.ActionZh), append(aen, f.ActionEn)
		version, reported, expected, response = append(version, e.Version), append(reported, e.Reported), append(expected, e.Expected), append(response, f.ResponseSeconds)
		period, at, urgent = append(period, p.Start()), append(at, e.At.UTC()), append(urgent, dateTime(e.UrgentUntil))
	}
	return s.ch.InsertColumns(ctx, insAlerts, id, version, kind, rule, scope, key, period, level, prev, values, reg, pref, ind, reported, expected,
		subj, tzh, ten, szh, sen, plan, at, lzh, len_, lcolor, azh, aen, response, old, urgent)
}

// dateTime is t for a DateTime column: the zero time is stored as 0 (the
// epoch), which readers take for "none"; the driver would wrap year 1.
func dateTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC()
}

// AlertStates reads the latest event of every alert.
func (s *Store) AlertStates(ctx context.Context) (map[string]alertevent.Event, error) {
	rows, err := s.ch.Query(ctx, qAlertStates)
	if err != nil {
		return nil, fmt.Errorf("query alert states: %w", err)
	}
	defer rows.Close()
	out := map[string]alertevent.Event{}
	for rows.Next() {
		var e alertevent.Event
		var period time.Time
		var scope, level, values string
		if err := rows.Scan(&e.ID, &e.Version, &e.Kind, &e.Rule, &scope, &e.Key, &period, &level, &values,
			&e.Region, &e.Prefecture, &e.Industry, &e.Reported, &e.Expected, &e.Subject, &e.TitleZh, &e.TitleEn, &e.SummaryZh, &e.SummaryEn, &e.At); err != nil {
			return nil, fmt.Errorf("scan alert state: %w", err)
		}
		var err error
		if e.Scope, err = alertevent.ParseScope(scope); err != nil {
			return nil, fmt.Errorf("alert %s: %w", e.ID, err)
		}
		if e.Level, err = alertevent.ParseLevel(level); err != nil {
			return nil, fmt.Errorf("alert %s: %w", e.ID, err)
		}
		e.Period = report.PeriodOf(period.UTC()).String()
		e.Values = json.RawMessage(values)
		out[e.ID] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alert states: %w", err)
	}
	return out, nil
}
