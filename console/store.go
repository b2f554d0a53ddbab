package console

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// The console's ClickHouse access: its own tables of migration 0009
// (console_users, console_audit), the acknowledgements it shares with the
// alert component (acks: an acknowledgement in the console is one by
// email, and the other way round), and reads of the alerts, notifications,
// registry and reports behind a warning.
var queries = chdb.NewCatalog("console")

const userColumns = `username, display_name, email, role, region, language, password_hash, oidc_subject, disabled, session_epoch,
	created_at, changed_at, version`

// alertColumns are an alert's current state with its level's facts
// (migration 0006): the name, colour, action and response deadline of the
// plan that raised it, as the detector recorded them.
const alertColumns = `alert_id, last_version, event, rule, scope, alert_key, period, level, values_json, region, prefecture, industry,
	reported, expected, subject, title_zh, title_en, summary_zh, summary_en, first_emitted_at, last_emitted_at,
	level_name_zh, level_name_en, level_color, level_action_zh, level_action_en, level_response_seconds`

const auditColumns = `id, at, actor, actor_role, address, action, object_kind, object_id, region, seq, status, before, after, detail`

var (
	insUser = queries.Insert("put_user", "console_users", "username", "display_name", "email", "role", "region", "language",
		"password_hash", "oidc_subject", "disabled", "session_epoch", "created_at", "changed_at", "version")
	qUser         = queries.Query("user", `SELECT `+userColumns+` FROM console_users FINAL WHERE username = ?`)
	qUserBySubj   = queries.Query("user_by_subject", `SELECT `+userColumns+` FROM console_users FINAL WHERE oidc_subject = ? ORDER BY username LIMIT 1`)
	qUsers        = queries.Query("users", `SELECT `+userColumns+` FROM console_users FINAL ORDER BY username`)
	insAudit      = queries.Insert("audit", "console_audit", "id", "at", "actor", "actor_role", "address", "action", "object_kind", "object_id", "region", "seq", "status", "before", "after", "detail")
	qObjectAudit  = queries.Query("object_audit", `SELECT `+auditColumns+` FROM console_audit WHERE object_kind = ? AND object_id = ? ORDER BY at, seq, id`)
	qCaseRows     = queries.Query("cases", `SELECT `+auditColumns+` FROM console_audit WHERE object_kind = 'case' AND startsWith(region, ?) ORDER BY object_id, seq, at, id`)
	qAuditScope   = queries.Query("audit_scope", `SELECT `+auditColumns+` FROM console_audit WHERE startsWith(region, ?) OR region = '' ORDER BY at DESC, id DESC LIMIT ?`)
	qFailsAccount = queries.Query("failures_account", `SELECT count() FROM console_audit
		WHERE action = 'signin_failed' AND object_kind = 'user' AND object_id = ? AND at >= ?`)
	qFailsPair = queries.Query("failures_account_address", `SELECT count() FROM console_audit
		WHERE action = 'signin_failed' AND object_kind = 'user' AND object_id = ? AND address = ? AND at >= ?`)
	qFailsAddress = queries.Query("failures_address", `SELECT count() FROM console_audit WHERE action = 'signin_failed' AND address = ? AND at >= ?`)
	qReminders    = queries.Query("reminders", `SELECT `+auditColumns+` FROM console_audit
		WHERE action = 'remind' AND object_kind = 'firm' AND startsWith(region, ?) ORDER BY object_id, at, id`)

	qAlerts      = queries.Query("alerts", `SELECT `+alertColumns+` FROM alerts_latest WHERE startsWith(region, ?) ORDER BY alert_id`)
	qAlertsMonth = queries.Query("alerts_month", `SELECT `+alertColumns+` FROM alerts_latest
		WHERE startsWith(region, ?) AND period = toDate(?) ORDER BY alert_id`)
	qAlert       = queries.Query("alert", `SELECT `+alertColumns+` FROM alerts_latest WHERE alert_id = ?`)
	qAlertEvents = queries.Query("alert_events", `SELECT version, event, level, previous_level, summary_zh, summary_en, emitted_at
		FROM alerts FINAL WHERE alert_id = ? ORDER BY version`)
	qNotifications = queries.Query("notifications", `SELECT recipient, kind, tier, status, detail, at, alert_version
		FROM notifications WHERE alert_id = ? ORDER BY at, recipient, kind, tier, status, alert_version, detail`)
	qAcks  = queries.Query("acks", `SELECT alert_id, recipient, at, comment, via FROM acks FINAL WHERE has(?, alert_id) ORDER BY alert_id, at, recipient`)
	insAck = queries.Insert("ack", "acks", "alert_id", "recipient", "at", "comment", "via")
	// every acknowledgement is an event too (migration 0010), as with links
	qLaterAcks = queries.Query("later_acks", `SELECT recipient, at, comment, via FROM ack_events
		WHERE alert_id = ? AND outcome = 'already_acknowledged' ORDER BY at, recipient, via, comment`)
	insAckEvent = queries.Insert("ack_event", "ack_events", "alert_id", "recipient", "at", "comment", "via", "outcome")

	qFirm = queries.Query("firm", `SELECT firm_id, name, region, industry, baseline_headcount, ownership, enrolled_from, enrolled_to
		FROM firms FINAL WHERE firm_id = ?`)
	qFirmsScope = queries.Query("firms_scope", `SELECT firm_id, name, region, industry, baseline_headcount, ownership, enrolled_from, enrolled_to
		FROM firms FINAL WHERE startsWith(region, ?) ORDER BY firm_id`)
	qContacts = queries.Query("contacts", `SELECT firm_id, contact_name, contact_email, contact_phone FROM firm_contacts FINAL
		WHERE has(?, firm_id) ORDER BY firm_id`)
	qReported = queries.Query("reported", `SELECT DISTINCT firm_id FROM reports_latest WHERE period = toDate(?) AND has(?, firm_id) ORDER BY firm_id`)

	qFirmSeries = queries.Query("firm_series", `SELECT period, sum(headcount) FROM reports_latest
		WHERE firm_id = ? AND period <= toDate(?) AND period > addMonths(toDate(?), -36) GROUP BY period ORDER BY period`)
	qRegionSeries = queries.Query("region_series", `SELECT r.period, sum(r.headcount) FROM reports_latest AS r
		ALL INNER JOIN (SELECT firm_id, region, industry FROM firms FINAL) AS f USING firm_id
		WHERE startsWith(f.region, ?) AND (? = '' OR f.industry = ?) AND r.period <= toDate(?) AND r.period > addMonths(toDate(?), -36)
		GROUP BY r.period ORDER BY r.period`)
)

// Statements is the console's catalog (the parity test runs every one).
func Statements() *chdb.Catalog { return queries }

// store is the console's ClickHouse.
type store struct{ ch *chdb.Client }

// --- users ------------------------------------------------------------------

func scanUser(sc interface{ Scan(...any) error }) (User, error) {
	var u User
	var disabled uint8
	var role string
	err := sc.Scan(&u.Username, &u.Name, &u.Email, &role, &u.Region, &u.Language, &u.PasswordHash, &u.OIDCSubject, &disabled,
		&u.Epoch, &u.Created, &u.Changed, &u.Version)
	u.Disabled, u.Role = disabled == 1, Role(role)
	return u, err
}

func (s *store) user(ctx context.Context, username string) (User, bool, error) {
	return s.oneUser(ctx, qUser, username)
}

func (s *store) userBySubject(ctx context.Context, subject string) (User, bool, error) {
	return s.oneUser(ctx, qUserBySubj, subject)
}

func (s *store) oneUser(ctx context.Context, q chdb.Statement, arg string) (User, bool, error) {
	rows, err := s.ch.Query(ctx, q, arg)
	if err != nil {
		return User{}, false, fmt.Errorf("read user: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return User{}, false, rows.Err()
	}
	u, err := scanUser(rows)
	if err != nil {
		return User{}, false, fmt.Errorf("scan user: %w", err)
	}
	return u, true, rows.Err()
}

func (s *store) users(ctx context.Context) ([]User, error) {
	rows, err := s.ch.Query(ctx, qUsers)
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("scan user: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// putUser writes a user's new state; its version must be higher than the
// stored one's (the latest version wins).
func (s *store) putUser(ctx context.Context, u User) error {
	dis := uint8(0)
	if u.Disabled {
		dis = 1
	}
	return s.ch.InsertColumns(ctx, insUser, []string{u.Username}, []string{u.Name}, []string{u.Email}, []string{string(u.Role)},
		[]string{u.Region}, []string{u.Language}, []string{u.PasswordHash}, []string{u.OIDCSubject}, []uint8{dis}, []uint64{u.Epoch},
		[]time.Time{u.Created.UTC()}, []time.Time{u.Changed.UTC()}, []uint64{u.Version})
}

// --- audit ------------------------------------------------------------------

// AuditRow is one action.
type AuditRow struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	ActorRole  string    `json:"actor_role"`
	Address    string    `json:"address"`
	Action     string    `json:"action"`
	ObjectKind string    `json:"object_kind"`
	ObjectID   string    `json:"object_id"`
	Region     string    `json:"region"`
	Seq        uint32    `json:"seq"`
	Status     string    `json:"status"`
	Before     string    `json:"before"`
	After      string    `json:"after"`
	Detail     string    `json:"detail"`
}

func (s *store) audit(ctx context.Context, rows ...AuditRow) error {
	n := len(rows)
	var (
		id, actor, role, addr, action, kind, obj, reg, status, before, after, detail = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		at                                                                           = make([]time.Time, 0, n)
		seq                                                                          = make([]uint32, 0, n)
	)
	for _, r := range rows {
		id, actor, role, addr, action, kind = append(id, r.ID), append(actor, r.Actor), append(role, r.ActorRole), append(addr, r.Address), append(action, r.Action), append(kind, r.ObjectKind)
		obj, reg, status, before, after, detail = append(obj, r.ObjectID), append(reg, r.Region), append(status, r.Status), append(before, r.Before), append(after, r.After), append(detail, r.Detail)
		at, seq = append(at, r.At.UTC()), append(seq, r.Seq)
	}
	if err := s.ch.InsertColumns(ctx, insAudit, id, at, actor, role, addr, action, kind, obj, reg, seq, status, before, after, detail); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

func (s *store) auditRows(ctx context.Context, q chdb.Statement, args ...any) ([]AuditRow, error) {
	rows, err := s.ch.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit: %w", err)
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		var r AuditRow
		if err := rows.Scan(&r.ID, &r.At, &r.Actor, &r.ActorRole, &r.Address, &r.Action, &r.ObjectKind, &r.ObjectID, &r.Region,
			&r.Seq, &r.Status, &r.Before, &r.After, &r.Detail); err != nil {
			return nil, fmt.Errorf("scan audit: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *store) count(ctx context.Context, q chdb.Statement, args ...any) (uint64, error) {
	var n uint64
	if err := s.ch.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: %w", q.Name(), err)
	}
	return n, nil
}

// --- alerts -----------------------------------------------------------------

// Alert is the current state of one warning, as the detector recorded it.
type Alert struct {
	ID         string
	Version    uint32
	Event      string // firing, level_changed, resolved
	Rule       string
	Scope      string
	Key        string
	Period     string
	Level      string
	Values     map[string]any
	ValuesJSON string
	Region     string
	Prefecture string
	Industry   string
	Reported   uint32
	Expected   uint32
	Subject    string
	TitleZh    string
	TitleEn    string
	SummaryZh  string
	SummaryEn  string
	FiredAt    time.Time
	ChangedAt  time.Time
	// Facts are what the plan that raised the alert says about its level
	// (name, colour, action, response deadline), carried on the alert
	// event; for an alert recorded before events carried them, the shipped
	// default plan's (alertevent.DefaultLevelFacts), as the alert component
	// takes them.
	Facts alertevent.LevelFacts
}

func (s *store) alerts(ctx context.Context, q chdb.Statement, args ...any) ([]Alert, error) {
	rows, err := s.ch.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		var a Alert
		var period time.Time
		if err := rows.Scan(&a.ID, &a.Version, &a.Event, &a.Rule, &a.Scope, &a.Key, &period, &a.Level, &a.ValuesJSON, &a.Region, &a.Prefecture,
			&a.Industry, &a.Reported, &a.Expected, &a.Subject, &a.TitleZh, &a.TitleEn, &a.SummaryZh, &a.SummaryEn, &a.FiredAt, &a.ChangedAt,
			&a.Facts.NameZh, &a.Facts.NameEn, &a.Facts.Color, &a.Facts.ActionZh, &a.Facts.ActionEn, &a.Facts.ResponseSeconds); err != nil {
			return nil, fmt.Errorf("scan alert: %w", err)
		}
		if lv, err := alertevent.ParseLevel(a.Level); err == nil && a.Facts.IsZero() {
			a.Facts = alertevent.DefaultLevelFacts(lv)
		}
		a.Period = period.UTC().Format("2006-01")
		dec := json.NewDecoder(strings.NewReader(a.ValuesJSON))
		dec.UseNumber()
		_ = dec.Decode(&a.Values) // values are the detector's; unreadable ones are shown raw
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *store) alert(ctx context.Context, id string) (Alert, bool, error) {
	list, err := s.alerts(ctx, qAlert, id)
	if err != nil || len(list) == 0 {
		return Alert{}, false, err
	}
	return list[0], true, nil
}

// alertEvent is one recorded state change of an alert.
type alertEvent struct {
	Version              uint32
	Event, Level, Prev   string
	SummaryZh, SummaryEn string
	At                   time.Time
}

func (s *store) alertEvents(ctx context.Context, id string) ([]alertEvent, error) {
	rows, err := s.ch.Query(ctx, qAlertEvents, id)
	if err != nil {
		return nil, fmt.Errorf("read alert events: %w", err)
	}
	defer rows.Close()
	var out []alertEvent
	for rows.Next() {
		var e alertEvent
		if err := rows.Scan(&e.Version, &e.Event, &e.Level, &e.Prev, &e.SummaryZh, &e.SummaryEn, &e.At); err != nil {
			return nil, fmt.Errorf("scan alert event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// notification is one row of the alert component's notification log.
type notification struct {
	Recipient, Kind, Status, Detail string
	Tier                            uint8
	At                              time.Time
	Version                         uint32
}

func (s *store) notifications(ctx context.Context, id string) ([]notification, error) {
	rows, err := s.ch.Query(ctx, qNotifications, id)
	if err != nil {
		return nil, fmt.Errorf("read notifications: %w", err)
	}
	defer rows.Close()
	var out []notification
	for rows.Next() {
		var n notification
		if err := rows.Scan(&n.Recipient, &n.Kind, &n.Tier, &n.Status, &n.Detail, &n.At, &n.Version); err != nil {
			return nil, fmt.Errorf("scan notification: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Ack is an acknowledgement, by email link, API, CLI or console.
type Ack struct {
	AlertID, Recipient, Comment, Via string
	At                               time.Time
}

// acks reads the acknowledgements of ids, oldest first per alert.
func (s *store) acks(ctx context.Context, ids []string) (map[string][]Ack, error) {
	out := map[string][]Ack{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.ch.Query(ctx, qAcks, ids)
	if err != nil {
		return nil, fmt.Errorf("read acks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Ack
		if err := rows.Scan(&a.AlertID, &a.Recipient, &a.At, &a.Comment, &a.Via); err != nil {
			return nil, fmt.Errorf("scan ack: %w", err)
		}
		out[a.AlertID] = append(out[a.AlertID], a)
	}
	return out, rows.Err()
}

// ack records the first acknowledgement of an alert where the alert
// component reads it, and as an event.
// laterAcks reads the acknowledgements that came after the first (kept as
// events; the first stands).
func (s *store) laterAcks(ctx context.Context, id string) ([]Ack, error) {
	rows, err := s.ch.Query(ctx, qLaterAcks, id)
	if err != nil {
		return nil, fmt.Errorf("read later acknowledgements: %w", err)
	}
	defer rows.Close()
	var out []Ack
	for rows.Next() {
		a := Ack{AlertID: id}
		if err := rows.Scan(&a.Recipient, &a.At, &a.Comment, &a.Via); err != nil {
			return nil, fmt.Errorf("scan acknowledgement: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *store) ack(ctx context.Context, a Ack) error {
	rcpt := strings.ToLower(strings.TrimSpace(a.Recipient))
	if err := s.ch.InsertColumns(ctx, insAck, []string{a.AlertID}, []string{rcpt}, []time.Time{a.At.UTC()},
		[]string{a.Comment}, []string{a.Via}); err != nil {
		return err
	}
	return s.ch.InsertColumns(ctx, insAckEvent, []string{a.AlertID}, []string{rcpt}, []time.Time{a.At.UTC()},
		[]string{a.Comment}, []string{a.Via}, []string{"acknowledged"})
}

// --- registry and reports ---------------------------------------------------

// Firm is a registered firm with its contact.
type Firm struct {
	ID, Name, Region, Industry, Ownership string
	Baseline                              uint32
	EnrolledFrom, EnrolledTo              *time.Time
	ContactName, ContactEmail, Phone      string
}

func (s *store) firms(ctx context.Context, q chdb.Statement, arg string) ([]Firm, error) {
	rows, err := s.ch.Query(ctx, q, arg)
	if err != nil {
		return nil, fmt.Errorf("read firms: %w", err)
	}
	defer rows.Close()
	var out []Firm
	for rows.Next() {
		var f Firm
		if err := rows.Scan(&f.ID, &f.Name, &f.Region, &f.Industry, &f.Baseline, &f.Ownership, &f.EnrolledFrom, &f.EnrolledTo); err != nil {
			return nil, fmt.Errorf("scan firm: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read firms: %w", err)
	}
	return out, s.withContacts(ctx, out)
}

func (s *store) withContacts(ctx context.Context, list []Firm) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]string, len(list))
	at := make(map[string]int, len(list))
	for i, f := range list {
		ids[i], at[f.ID] = f.ID, i
	}
	rows, err := s.ch.Query(ctx, qContacts, ids)
	if err != nil {
		return fmt.Errorf("read firm contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name, email, phone string
		if err := rows.Scan(&id, &name, &email, &phone); err != nil {
			return fmt.Errorf("scan firm contact: %w", err)
		}
		if i, ok := at[id]; ok {
			list[i].ContactName, list[i].ContactEmail, list[i].Phone = name, email, phone
		}
	}
	return rows.Err()
}

func (s *store) firm(ctx context.Context, id string) (Firm, bool, error) {
	list, err := s.firms(ctx, qFirm, id)
	if err != nil || len(list) == 0 {
		return Firm{}, false, err
	}
	return list[0], true, nil
}

// reported reads which of ids have a report for period.
func (s *store) reported(ctx context.Context, period report.Period, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.ch.Query(ctx, qReported, period.String()+"-01", ids)
	if err != nil {
		return nil, fmt.Errorf("read reported firms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("scan reported firm: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// seriesPoint is one month of headcount.
type seriesPoint struct {
	Period    report.Period
	Headcount float64
}

// series reads up to 36 months of headcount up to the alert's period: the
// firm's, or the region's (of the alert's industry, for a by-industry rule).
func (s *store) series(ctx context.Context, a Alert) ([]seriesPoint, error) {
	month := a.Period + "-01"
	var (
		q    = qFirmSeries
		args = []any{a.Key, month, month}
	)
	if a.Scope != "firm" {
		q, args = qRegionSeries, []any{regionPrefix(a.Region), a.Industry, a.Industry, month, month}
	}
	rows, err := s.ch.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("chart series: %w", err)
	}
	defer rows.Close()
	var out []seriesPoint
	for rows.Next() {
		var t time.Time
		var n uint64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("scan chart series: %w", err)
		}
		out = append(out, seriesPoint{Period: report.PeriodOf(t.UTC()), Headcount: float64(n)})
	}
	return out, rows.Err()
}

// regionPrefix is the code prefix shared by a region and every region in
// it: 620000 → 62, 620100 → 6201, 620102 → 620102.
func regionPrefix(code string) string {
	p := code
	for len(p) > 2 && strings.HasSuffix(p, "00") {
		p = p[:len(p)-2]
	}
	return p
}
