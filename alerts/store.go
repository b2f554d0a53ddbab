package alerts

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
)

// Statuses in the notification log.
const (
	StatusPending  = "pending"  // about to be handed to SMTP
	StatusSent     = "sent"     // SMTP accepted it
	StatusFailed   = "failed"   // SMTP refused it for good
	StatusSilenced = "silenced" // a silence muted it
	StatusFolded   = "folded"   // told inside a region alert's email
	StatusQueued   = "queued"   // an old warning waiting for the recipient's summary (kind summary)
)

// logRow is one row of the notification log.
type logRow struct {
	MessageID string
	AlertID   string
	Version   uint32
	Recipient string
	Kind      string
	Tier      uint8
	Status    string
	Detail    string
	Level     string
	Rule      string
	Region    string
	FiredAt   time.Time
	At        time.Time
	Channel   string // email, or a channel's name (alerts/channel)
}

// The alert component's ClickHouse access: its tables of migration 0004
// (notifications, acks, silences) and reads of the alerts the detector
// recorded and of the reports behind the email charts.
var queries = chdb.NewCatalog("alerts")

var (
	insLog = queries.Insert("log", "notifications", "message_id", "alert_id", "alert_version", "recipient", "kind", "tier", "status",
		"detail", "level", "rule", "region", "fired_at", "at", "channel")
	qLog = queries.Query("settled", `SELECT alert_id, alert_version, recipient, kind, tier, status, detail, at, channel
		FROM notifications WHERE status != 'pending'`)
	qAckedBy = queries.Query("acked_by", "SELECT alert_id, recipient FROM acks FINAL")
	qAcks    = queries.Query("acks", "SELECT alert_id, recipient, at, comment FROM acks FINAL")
	insAck   = queries.Insert("ack", "acks", "alert_id", "recipient", "at", "comment", "via")
	// the first acknowledgement of an alert stands; every one is an event
	qFirstAck = queries.Query("first_ack", `SELECT recipient, at, comment, via FROM acks FINAL WHERE alert_id = ?
		ORDER BY at, recipient LIMIT 1`)
	insAckEvent = queries.Insert("ack_event", "ack_events", "alert_id", "recipient", "at", "comment", "via", "outcome")
	// an acknowledge link is good only for someone the alert was sent to
	qSentTo = queries.Query("sent_to", `SELECT count() FROM notifications
		WHERE alert_id = ? AND lower(recipient) = ? AND status IN ('sent', 'folded')`)
	qLogged    = queries.Query("logged", `SELECT count() FROM notifications WHERE alert_id = ?`)
	insSilence = queries.Insert("silence", "silences", "id", "region", "rule", "firm_id", "starts_at", "ends_at", "author", "reason",
		"created_at", "expired", "changed_at")
	qSilences = queries.Query("silences", `SELECT id, region, rule, firm_id, starts_at, ends_at, author, reason, created_at, expired
		FROM silences FINAL ORDER BY created_at, id`)
	qAlerts = queries.Query("alerts", `SELECT alert_id, last_version, event, rule, scope, alert_key, period, level, values_json,
		region, prefecture, industry, reported, expected, subject, title_zh, title_en, summary_zh, summary_en, last_emitted_at,
		level_name_zh, level_name_en, level_color, level_action_zh, level_action_en, level_response_seconds, old, urgent_until
		FROM alerts_latest`)
	qFirmSeries = queries.Query("firm_series", `SELECT period, sum(headcount) FROM {{reports}} FINAL
		WHERE firm_id = ? AND period <= toDate(?) AND period > addMonths(toDate(?), -24) GROUP BY period ORDER BY period`)
	qRegionSeries = queries.Query("region_series", `SELECT r.period, sum(r.headcount) FROM {{reports}} AS r FINAL
		ALL INNER JOIN (SELECT firm_id, region FROM {{firms}} FINAL) AS f USING firm_id
		WHERE startsWith(f.region, ?) AND r.period <= toDate(?) AND r.period > addMonths(toDate(?), -24)
		GROUP BY r.period ORDER BY r.period`)
)

// Statements is the alert component's catalog (the parity test runs every
// one).
func Statements() *chdb.Catalog { return queries }

// store is the alert component's ClickHouse.
type store struct{ ch *chdb.Client }

func (s *store) log(ctx context.Context, rows []logRow) error {
	if len(rows) == 0 {
		return nil
	}
	n := len(rows)
	var (
		mid, aid, rcpt, kind, status, detail, level, rule, reg = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		chans                                                  = make([]string, 0, n)
		ver                                                    = make([]uint32, 0, n)
		tier                                                   = make([]uint8, 0, n)
		fired, at                                              = make([]time.Time, 0, n), make([]time.Time, 0, n)
	)
	for _, r := range rows {
		mid, aid, rcpt, kind, status = append(mid, r.MessageID), append(aid, r.AlertID), append(rcpt, r.Recipient), append(kind, r.Kind), append(status, r.Status)
		detail, level, rule, reg = append(detail, r.Detail), append(level, r.Level), append(rule, r.Rule), append(reg, r.Region)
		ver, tier, fired, at = append(ver, r.Version), append(tier, r.Tier), append(fired, r.FiredAt.UTC()), append(at, r.At.UTC())
		ch := r.Channel
		if ch == "" {
			ch = "email"
		}
		chans = append(chans, ch)
	}
	if err := s.ch.InsertColumns(ctx, insLog, mid, aid, ver, rcpt, kind, tier, status, detail, level, rule, reg, fired, at, chans); err != nil {
		return fmt.Errorf("notification log: %w", err)
	}
	return nil
}

// history is what the log and the acks say about every alert.
type history struct {
	done      map[string]bool           // item keys (alert, version, recipient, kind, tier) settled: sent, silenced, folded or failed
	sentTo    map[string]map[string]int // alert → recipient → tier, by its own email or folded into another's
	firstSent map[string]time.Time
	tiers     map[string]int      // escalations done
	folded    map[string][]string // region alert → firm alerts told inside its emails
	acked     map[string]string
	queued    []logRow // old warnings queued for a summary (settled or not: see done)
}

func (s *store) history(ctx context.Context) (*history, error) {
	h := &history{done: map[string]bool{}, sentTo: map[string]map[string]int{}, firstSent: map[string]time.Time{},
		tiers: map[string]int{}, folded: map[string][]string{}, acked: map[string]string{}}
	rows, err := s.ch.Query(ctx, qLog)
	if err != nil {
		return nil, fmt.Errorf("read notification log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r logRow
		if err := rows.Scan(&r.AlertID, &r.Version, &r.Recipient, &r.Kind, &r.Tier, &r.Status, &r.Detail, &r.At, &r.Channel); err != nil {
			return nil, fmt.Errorf("scan notification log: %w", err)
		}
		if r.Status == StatusQueued {
			h.queued = append(h.queued, r) // not settled: its summary is
			continue
		}
		h.done[itemKey(r.AlertID, r.Version, r.Recipient, r.Kind, int(r.Tier), r.Channel)] = true
		if r.Status == StatusSent || r.Status == StatusFolded {
			if h.sentTo[r.AlertID] == nil {
				h.sentTo[r.AlertID] = map[string]int{}
			}
			h.sentTo[r.AlertID][r.Recipient] = max(h.sentTo[r.AlertID][r.Recipient], int(r.Tier))
		}
		if host, ok := strings.CutPrefix(r.Detail, foldedDetail); ok && r.Status == StatusFolded && !slices.Contains(h.folded[host], r.AlertID) {
			h.folded[host] = append(h.folded[host], r.AlertID)
		}
		if r.Status == StatusSent {
			if f, ok := h.firstSent[r.AlertID]; !ok || r.At.Before(f) {
				h.firstSent[r.AlertID] = r.At
			}
			if r.Kind == "escalation" && int(r.Tier) > h.tiers[r.AlertID] {
				h.tiers[r.AlertID] = int(r.Tier)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read notification log: %w", err)
	}
	acks, err := s.ch.Query(ctx, qAckedBy)
	if err != nil {
		return nil, fmt.Errorf("read acks: %w", err)
	}
	defer acks.Close()
	for acks.Next() {
		var id, who string
		if err := acks.Scan(&id, &who); err != nil {
			return nil, fmt.Errorf("scan ack: %w", err)
		}
		h.acked[id] = who
	}
	return h, acks.Err()
}

// Ack records an acknowledgement.
func (s *store) ack(ctx context.Context, alertID, recipient, comment, via string, at time.Time) error {
	return s.ch.InsertColumns(ctx, insAck, []string{alertID}, []string{recipient}, []time.Time{at.UTC()}, []string{comment}, []string{via})
}

// firstAck is an alert's standing acknowledgement.
type firstAck struct {
	Recipient, Comment, Via string
	At                      time.Time
	first                   bool // this request made it
}

// ackOnce records an acknowledgement unless the alert has one already: the
// first stands (its time and comment never change), a later one is kept as
// an event only. It returns the standing acknowledgement and whether this
// one is it.
func (s *store) ackOnce(ctx context.Context, alertID, recipient, comment, via string, at time.Time) (firstAck, bool, error) {
	recipient = CanonicalRecipient(recipient)
	var first firstAck
	found := true
	if err := s.ch.QueryRow(ctx, qFirstAck, alertID).Scan(&first.Recipient, &first.At, &first.Comment, &first.Via); err != nil {
		if !errors.Is(err, sql.ErrNoRows) {
			return first, false, fmt.Errorf("read acknowledgement: %w", err)
		}
		found = false
	}
	outcome := "already_acknowledged"
	if !found {
		outcome, first = "acknowledged", firstAck{Recipient: recipient, Comment: comment, Via: via, At: at}
		if err := s.ack(ctx, alertID, recipient, comment, via, at); err != nil {
			return first, false, err
		}
	}
	if err := s.ch.InsertColumns(ctx, insAckEvent, []string{alertID}, []string{recipient}, []time.Time{at.UTC()}, []string{comment},
		[]string{via}, []string{outcome}); err != nil {
		return first, false, fmt.Errorf("record acknowledgement event: %w", err)
	}
	return first, !found, nil
}

// known reports whether the alert is in the notification log (it may not
// be in the detector's table yet, which another process writes).
func (s *store) known(ctx context.Context, alertID string) (bool, error) {
	var n uint64
	if err := s.ch.QueryRow(ctx, qLogged, alertID).Scan(&n); err != nil {
		return false, fmt.Errorf("read notification log: %w", err)
	}
	return n > 0, nil
}

// sentTo reports whether the alert was emailed to recipient.
func (s *store) sentTo(ctx context.Context, alertID, recipient string) (bool, error) {
	var n uint64
	if err := s.ch.QueryRow(ctx, qSentTo, alertID, CanonicalRecipient(recipient)).Scan(&n); err != nil {
		return false, fmt.Errorf("read notification log: %w", err)
	}
	return n > 0, nil
}

// putSilence records a silence (a new one, or a change such as expiry).
func (s *store) putSilence(ctx context.Context, si Silence, now time.Time) error {
	exp := uint8(0)
	if si.Expired {
		exp = 1
	}
	return s.ch.InsertColumns(ctx, insSilence, []string{si.ID}, []string{si.Region}, []string{si.Rule}, []string{si.FirmID}, []time.Time{si.Starts.UTC()}, []time.Time{si.Ends.UTC()},
		[]string{si.Author}, []string{si.Reason}, []time.Time{si.Created.UTC()}, []uint8{exp}, []time.Time{now.UTC()})
}

func (s *store) silences(ctx context.Context) ([]Silence, error) {
	rows, err := s.ch.Query(ctx, qSilences)
	if err != nil {
		return nil, fmt.Errorf("read silences: %w", err)
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var si Silence
		var exp uint8
		if err := rows.Scan(&si.ID, &si.Region, &si.Rule, &si.FirmID, &si.Starts, &si.Ends, &si.Author, &si.Reason, &si.Created, &exp); err != nil {
			return nil, fmt.Errorf("scan silence: %w", err)
		}
		si.Expired = exp == 1
		out = append(out, si)
	}
	return out, rows.Err()
}

// openAlerts reads the latest event of every alert that is not resolved.
func (s *store) openAlerts(ctx context.Context) ([]alertevent.Event, error) {
	all, err := s.alertStates(ctx)
	if err != nil {
		return nil, err
	}
	var out []alertevent.Event
	for _, e := range all {
		if e.Kind != alertevent.Resolved {
			out = append(out, e)
		}
	}
	return out, nil
}

// series reads the last 24 months of headcount up to period for a firm
// (scope firm) or a region.
func (s *store) series(ctx context.Context, e alertevent.Event) ([]seriesPoint, error) {
	query, arg := qFirmSeries, any(e.Key)
	if e.Scope != alertevent.ScopeFirm {
		query, arg = qRegionSeries, regionPrefix(e.Region)
	}
	month := e.Period + "-01"
	rows, err := s.ch.Query(ctx, query, arg, month, month)
	if err != nil {
		return nil, fmt.Errorf("chart series: %w", err)
	}
	defer rows.Close()
	var out []seriesPoint
	for rows.Next() {
		var p seriesPoint
		var n uint64
		if err := rows.Scan(&p.period, &n); err != nil {
			return nil, fmt.Errorf("scan chart series: %w", err)
		}
		p.headcount = float64(n)
		out = append(out, p)
	}
	return out, rows.Err()
}

// alertStates reads the latest event of every alert.
func (s *store) alertStates(ctx context.Context) (map[string]alertevent.Event, error) {
	rows, err := s.ch.Query(ctx, qAlerts)
	if err != nil {
		return nil, fmt.Errorf("query alerts: %w", err)
	}
	defer rows.Close()
	out := map[string]alertevent.Event{}
	for rows.Next() {
		var e alertevent.Event
		var period time.Time
		var scope, level, values string
		f := &e.LevelFacts
		if err := rows.Scan(&e.ID, &e.Version, &e.Kind, &e.Rule, &scope, &e.Key, &period, &level, &values,
			&e.Region, &e.Prefecture, &e.Industry, &e.Reported, &e.Expected, &e.Subject, &e.TitleZh, &e.TitleEn, &e.SummaryZh, &e.SummaryEn, &e.At,
			&f.NameZh, &f.NameEn, &f.Color, &f.ActionZh, &f.ActionEn, &f.ResponseSeconds, &e.Old, &e.UrgentUntil); err != nil {
			return nil, fmt.Errorf("scan alert: %w", err)
		}
		var err error
		if e.Scope, err = alertevent.ParseScope(scope); err != nil {
			return nil, fmt.Errorf("alert %s: %w", e.ID, err)
		}
		if e.Level, err = alertevent.ParseLevel(level); err != nil {
			return nil, fmt.Errorf("alert %s: %w", e.ID, err)
		}
		e.Period = period.UTC().Format("2006-01")
		e.Values = json.RawMessage(values)
		if e.UrgentUntil.Unix() <= 0 { // 0: recorded before events carried it
			e.UrgentUntil = time.Time{}
		}
		out[e.ID] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return out, nil
}

type seriesPoint struct {
	period    time.Time
	headcount float64
}

func regionPrefix(code string) string {
	p := code
	for len(p) > 2 && p[len(p)-2:] == "00" {
		p = p[:len(p)-2]
	}
	return p
}
