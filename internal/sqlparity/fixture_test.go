package sqlparity_test

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"time"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

const planFile = "../../deploy/plans/default.yaml"

// row is one row of an insert, by column name.
type row map[string]any

// batch is one insert: the columns InsertColumns takes.
type batch struct {
	ins  chdb.Insert
	cols []any
}

// fixture is the data both engines hold, as batches of the components'
// declared inserts, and the facts the statements' parameters come from.
type fixture struct {
	batches []batch
	inserts map[string]chdb.Insert // every declared insert, by name
	used    map[string]bool

	now         time.Time // the fixture's "now": after the last month's reporting window
	start, end  report.Period
	firms       []firms.Firm
	events      []simulate.Event
	warnedFirm  string // a firm with firm-level warnings
	closedFirm  string // a firm that closed (left the sample)
	revisedFirm string // a firm-month stored in three revisions
	revisedAt   report.Period
	rejectFirm  string // a firm with a refused message in the last month
	ingestedMid time.Time
	alertKeys   []string
	tokenID     string
	idemKey     string
	prefectures []string // two prefectures of the registry: a replica's share

	// acknowledgements (alerts) and the console
	ackedAlert    string // an alert acknowledged twice: its first stands, the second is an event
	sentAlert     string // an alert emailed to sentTo
	sentTo        string
	changedAlert  string // an alert with a level change
	caseAlert     string // an alert with a case in the console, acknowledged there
	caseCounty    string // the county of caseAlert
	contactFirms  []string
	failedAddress string // where sign-ins failed from
}

// newFixture builds the data: a simulated province (a small one: every table
// and every kind of duplicate, without the size) ending in end.
func newFixture(inserts map[string]chdb.Insert) (*fixture, error) {
	opts := simulate.DefaultOptions()
	opts.Firms = 500
	opts.Layoffs = 8
	opts.Revisions = 0.02
	sim, err := simulate.New(opts)
	if err != nil {
		return nil, err
	}
	fx := &fixture{inserts: inserts, used: map[string]bool{}, start: opts.Start, end: sim.End(),
		firms: sim.Firms(), events: sim.Events()}
	// 20 November, 04:00 UTC: the last month's window closed on the 5th
	fx.now = fx.end.Add(1).Start().AddDate(0, 0, 19).Add(4 * time.Hour)
	if err := fx.schemaMigrations(); err != nil {
		return nil, err
	}
	if err := fx.registry(); err != nil {
		return nil, err
	}
	reports, err := fx.reports(sim)
	if err != nil {
		return nil, err
	}
	if err := fx.rejects(); err != nil {
		return nil, err
	}
	events, err := fx.alerts(reports)
	if err != nil {
		return nil, err
	}
	if err := fx.notifications(events); err != nil {
		return nil, err
	}
	if err := fx.console(events); err != nil {
		return nil, err
	}
	if err := fx.gateway(reports); err != nil {
		return nil, err
	}
	for name := range fx.inserts {
		if !fx.used[name] {
			return nil, fmt.Errorf("insert %s is declared but the fixture writes nothing with it: add its rows to the fixture", name)
		}
	}
	return fx, nil
}

// add appends one batch of the insert named name.
func (fx *fixture) add(name string, rows []row) error {
	ins, ok := fx.inserts[name]
	if !ok {
		return fmt.Errorf("no insert %s in the catalogs", name)
	}
	if len(rows) == 0 {
		return fmt.Errorf("insert %s: empty batch", name)
	}
	fx.used[name] = true
	cols := make([]any, 0, len(ins.Columns()))
	for _, c := range ins.Columns() {
		first, ok := rows[0][c]
		if !ok {
			return fmt.Errorf("insert %s: the fixture gives no value for column %s", name, c)
		}
		col := reflect.MakeSlice(reflect.SliceOf(reflect.TypeOf(first)), 0, len(rows))
		for i, r := range rows {
			v, ok := r[c]
			if !ok || reflect.TypeOf(v) != reflect.TypeOf(first) {
				return fmt.Errorf("insert %s: row %d: column %s is missing or of type %T, not %T", name, i, c, v, first)
			}
			col = reflect.Append(col, reflect.ValueOf(v))
		}
		cols = append(cols, col.Interface())
	}
	for i, r := range rows {
		if len(r) != len(ins.Columns()) {
			return fmt.Errorf("insert %s: row %d has %d values for %d columns", name, i, len(r), len(ins.Columns()))
		}
	}
	fx.batches = append(fx.batches, batch{ins: ins, cols: cols})
	return nil
}

func (fx *fixture) schemaMigrations() error {
	all, err := chdb.Migrations("layoffwatch", "")
	if err != nil {
		return err
	}
	var rows []row
	for _, m := range all {
		rows = append(rows, row{"version": m.Version, "name": m.Name, "applied_at": fx.start.Start().Add(time.Hour)})
	}
	return fx.add("chdb.migration", rows)
}

func date(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// registry: the sample, then a re-import of a few firms with other names
// (the latest updated_at wins).
func (fx *fixture) registry() error {
	firmRow := func(f firms.Firm, updated time.Time) row {
		return row{"firm_id": f.ID, "name": f.Name, "region": f.Region, "prefecture": f.Prefecture(), "industry": f.Industry,
			"baseline_headcount": f.BaselineHeadcount, "ownership": f.Ownership,
			"enrolled_from": date(f.EnrolledFrom), "enrolled_to": date(f.EnrolledTo), "updated_at": updated}
	}
	var rows, again []row
	for i, f := range fx.firms {
		rows = append(rows, firmRow(f, fx.start.Start()))
		if i%50 == 7 {
			f.Name += "（更名）"
			again = append(again, firmRow(f, fx.start.Add(12).Start()))
		}
	}
	if err := fx.add("firms.upsert", rows); err != nil {
		return err
	}
	if err := fx.add("firms.upsert", again); err != nil {
		return err
	}
	// contacts of every tenth firm (a table of their own); a re-import a
	// year later clears one and changes another's address
	contactRow := func(f firms.Firm, i int, email string, updated time.Time) row {
		name, phone := fmt.Sprintf("联系人%d", i), fmt.Sprintf("0931-888%04d", i)
		if email == "" {
			name, phone = "", ""
		}
		return row{"firm_id": f.ID, "contact_name": name, "contact_email": email, "contact_phone": phone, "updated_at": updated}
	}
	var contacts, changed []row
	for i, f := range fx.firms {
		if i%10 != 3 {
			continue
		}
		fx.contactFirms = append(fx.contactFirms, f.ID)
		contacts = append(contacts, contactRow(f, i, fmt.Sprintf("hr-%d@firm.example.cn", i), fx.start.Start()))
		switch len(fx.contactFirms) {
		case 2:
			changed = append(changed, contactRow(f, i, "", fx.start.Add(12).Start()))
		case 3:
			changed = append(changed, contactRow(f, i, fmt.Sprintf("renshi-%d@firm.example.cn", i), fx.start.Add(12).Start()))
		}
	}
	if err := fx.add("firms.upsert_contacts", contacts); err != nil {
		return err
	}
	return fx.add("firms.upsert_contacts", changed)
}

// reports: one insert per month as ingest writes them (a month's
// corrections land in the same block as the originals), a month delivered
// twice (a crash before the commit), a producer's duplicate inside a
// block, and a third revision of one firm-month months later. Before each
// batch of reports, ingest records its revisions (report_revisions, one row
// per report, duplicates included); the first months were stored before
// that table existed and have none.
func (fx *fixture) reports(sim *simulate.Simulation) ([]report.Report, error) {
	var all []report.Report
	offset := map[int32]int64{}
	revisionRow := func(r report.Report, ingested time.Time) row {
		return row{"firm_id": r.FirmID, "period": r.Period.Start(), "revision": r.Revision, "content_hash": r.ContentHash(),
			"reported_at": r.ReportedAt.UTC(), "ingested_at": ingested}
	}
	withRevisions := func(p report.Period, revs, rows []row) error {
		if p >= fx.start.Add(3) {
			if err := fx.add("ingest.revisions", revs); err != nil {
				return err
			}
		}
		return fx.add("chdb.reports", rows)
	}
	reportRow := func(r report.Report, ingested time.Time, part int32) row {
		sep := r.Separations.Values()
		out := row{"firm_id": r.FirmID, "period": r.Period.Start(), "revision": r.Revision, "headcount": r.Headcount,
			"vacancies": r.Vacancies, "hires": r.Hires, "reported_at": r.ReportedAt.UTC(), "note": r.Note,
			"ingested_at": ingested, "kafka_partition": part, "kafka_offset": offset[part]}
		for i, name := range []string{"economic_layoff", "closure_bankruptcy", "suspension", "contract_expiry", "resignation", "retirement", "transfer", "other"} {
			out["sep_"+name] = sep[i]
		}
		offset[part]++
		return out
	}
	byPeriod := map[report.Period][]report.Report{}
	for r := range sim.Reports {
		byPeriod[r.Period] = append(byPeriod[r.Period], r)
		all = append(all, r)
	}
	var redeliver, redeliverRevs []row
	for p := fx.start; p <= fx.end; p++ {
		ingested := p.Add(1).Start().AddDate(0, 0, 5).Add(12 * time.Hour)
		var rows, revs []row
		for i, r := range byPeriod[p] {
			part := int32(i % 3)
			rows = append(rows, reportRow(r, ingested, part))
			revs = append(revs, revisionRow(r, ingested))
			if i == 10 {
				// the producer retried: the same report at the next offset
				rows = append(rows, reportRow(r, ingested, part))
				revs = append(revs, revisionRow(r, ingested))
			}
			if r.Revision == 2 && fx.revisedFirm == "" && p == fx.end.Add(-2) {
				fx.revisedFirm, fx.revisedAt = r.FirmID, p
			}
		}
		if err := withRevisions(p, revs, rows); err != nil {
			return nil, err
		}
		if p == fx.end.Add(-3) {
			fx.ingestedMid = ingested
			redeliver, redeliverRevs = rows, revs
		}
	}
	if fx.revisedFirm == "" {
		return nil, fmt.Errorf("no corrected report in %s", fx.end.Add(-2))
	}
	// month end-3 again, a day later: ingest crashed before committing
	var again, againRevs []row
	for _, r := range redeliver {
		c := copyRow(r)
		c["ingested_at"] = r["ingested_at"].(time.Time).Add(24 * time.Hour)
		again = append(again, c)
	}
	for _, r := range redeliverRevs {
		c := copyRow(r)
		c["ingested_at"] = r["ingested_at"].(time.Time).Add(24 * time.Hour)
		againRevs = append(againRevs, c)
	}
	if err := withRevisions(fx.end.Add(-3), againRevs, again); err != nil {
		return nil, err
	}
	// a third revision of the corrected firm-month, in a block of its own
	for _, r := range all {
		if r.FirmID == fx.revisedFirm && r.Period == fx.revisedAt && r.Revision == 2 {
			r.Revision, r.Headcount, r.Note = 3, r.Headcount+7, "再次更正"
			r.ReportedAt = fx.end.Start().Add(36 * time.Hour)
			all = append(all, r)
			at := fx.end.Start().Add(48 * time.Hour)
			if err := withRevisions(r.Period, []row{revisionRow(r, at)}, []row{reportRow(r, at, 1)}); err != nil {
				return nil, err
			}
			break
		}
	}
	return all, nil
}

func copyRow(r row) row {
	out := row{}
	for k, v := range r {
		out[k] = v
	}
	return out
}

// rejects: refusals of several kinds, one redelivered (same Kafka
// position, received again later: one row).
func (fx *fixture) rejects() error {
	last := fx.end.String()
	var rows []row
	reasons := []struct{ reason, field, msg string }{
		{report.ReasonUnknownField, "bonus", "unknown field"},
		{"out_of_range", "headcount", "headcount must be between 0 and 10000000, got -5"},
		{"future_period", "period", "period is in the future"},
		{"malformed_json", "", "unexpected end of JSON input"},
	}
	for i := range 12 {
		f := fx.firms[(i*37)%len(fx.firms)]
		if i == 0 {
			fx.rejectFirm = f.ID
		}
		rs := reasons[i%len(reasons)]
		period := last
		if i%3 == 2 {
			period = fx.end.Add(-1).String()
		}
		payload := fmt.Sprintf(`{"schema_version":1,"firm_id":%q,"period":%q,"headcount":5,"revision":%d}`, f.ID, period, 1+i%2)
		if rs.reason == "malformed_json" {
			payload = payload[:20]
		}
		rows = append(rows, row{"received_at": fx.end.Add(1).Start().Add(time.Duration(i) * time.Hour), "topic": "reports",
			"partition": int32(i % 3), "offset": int64(1000 + i), "message_key": f.ID, "reason": rs.reason, "field": rs.field,
			"message": rs.msg, "firm_id": f.ID, "payload": payload, "payload_bytes": uint32(len(payload))})
	}
	if err := fx.add("ingest.rejects", rows); err != nil {
		return err
	}
	again := copyRow(rows[0])
	again["received_at"] = rows[0]["received_at"].(time.Time).Add(3 * time.Hour)
	return fx.add("ingest.rejects", []row{again})
}

// alerts: the events the default plan raises over the province, as the
// detector records them: every firing, a level change for every 7th, a
// resolution for every 11th, in three batches, the second inserted twice
// (a restart re-emits). As if the detector first started a year before
// fx.now, the alerts about the months before are old history; the later
// ones were current when raised, and all but the newest month's are past
// their urgent_until by now.
func (fx *fixture) alerts(reports []report.Report) ([]alertevent.Event, error) {
	plan, err := detector.LoadPlan(planFile)
	if err != nil {
		return nil, err
	}
	ev, err := detector.NewEvaluator(plan)
	if err != nil {
		return nil, err
	}
	ds, err := detector.BuildDataset(fx.firms, reports)
	if err != nil {
		return nil, err
	}
	firings, err := ev.Evaluate(ds, detector.EvalOptions{})
	if err != nil {
		return nil, err
	}
	if err := fx.partials(ds); err != nil {
		return nil, err
	}
	if len(firings) < 30 {
		return nil, fmt.Errorf("the plan raised only %d alerts over the simulated province", len(firings))
	}
	byID := map[string]firms.Firm{}
	for _, f := range fx.firms {
		byID[f.ID] = f
	}
	regions := region.Gansu()
	var events []alertevent.Event
	for i, f := range firings {
		at := f.Period.Add(1).Start().AddDate(0, 0, 6).Add(time.Duration(i%600) * time.Second)
		e := plan.Event(f, byID[f.Key], regions, at)
		e.UrgentUntil = report.Deadline(f.Period, report.DefaultDeadlineDay).Add(840 * time.Hour).UTC()
		if f.Period <= fx.end.Add(-12) {
			e.Old = alertevent.OldHistory
		}
		if f.Scope == alertevent.ScopeFirm && fx.warnedFirm == "" {
			fx.warnedFirm = f.Key
		}
		events = append(events, e)
		switch {
		case i%11 == 10:
			r := e
			r.Version, r.Kind, r.At = 2, alertevent.Resolved, at.Add(24*time.Hour)
			events = append(events, r)
		case i%7 == 3:
			if fx.changedAlert == "" {
				fx.changedAlert = e.ID
			}
			c := e
			c.Version, c.Kind, c.At, c.PreviousLevel, c.PreviousLevelFacts = 2, alertevent.LevelChanged, at.Add(36*time.Hour), e.Level, e.LevelFacts
			c.Level = e.Level%4 + 1
			c.LevelFacts = plan.Levels[c.Level]
			c.SummaryZh, c.SummaryEn = e.SummaryZh+"（级别调整）", e.SummaryEn+" (level changed)"
			events = append(events, c)
		}
	}
	if fx.warnedFirm == "" {
		return nil, fmt.Errorf("no firm-level alert")
	}
	for _, e := range events {
		if e.Version == 1 && len(fx.alertKeys) < 5 {
			fx.alertKeys = append(fx.alertKeys, e.Key)
		}
	}
	for _, e := range fx.events {
		if e.Kind == simulate.Closure {
			fx.closedFirm = e.Firms[0].FirmID
		}
	}
	if fx.closedFirm == "" {
		return nil, fmt.Errorf("no planted closure")
	}
	third := len(events) / 3
	parts := [][]alertevent.Event{events[:third], events[third : 2*third], events[third : 2*third], events[2*third:]}
	for _, part := range parts {
		var rows []row
		for _, e := range part {
			p, err := report.ParsePeriod(e.Period)
			if err != nil {
				return nil, err
			}
			rows = append(rows, row{"alert_id": e.ID, "version": e.Version, "event": e.Kind, "rule": e.Rule, "scope": e.Scope.String(),
				"alert_key": e.Key, "period": p.Start(), "level": e.Level.String(), "previous_level": e.PreviousLevel.String(), "values_json": string(e.Values),
				"region": e.Region, "prefecture": e.Prefecture, "industry": e.Industry, "reported": e.Reported, "expected": e.Expected,
				"subject": e.Subject, "title_zh": e.TitleZh, "title_en": e.TitleEn, "summary_zh": e.SummaryZh, "summary_en": e.SummaryEn,
				"plan": e.Plan, "emitted_at": e.At.UTC(), "level_name_zh": e.LevelFacts.NameZh, "level_name_en": e.LevelFacts.NameEn,
				"level_color": e.LevelFacts.Color, "level_action_zh": e.LevelFacts.ActionZh, "level_action_en": e.LevelFacts.ActionEn,
				"level_response_seconds": e.LevelFacts.ResponseSeconds, "old": e.Old, "urgent_until": e.UrgentUntil})
		}
		if err := fx.add("detector.alert_events", rows); err != nil {
			return nil, err
		}
	}
	return events, nil
}

// partials: what detect replicas dividing the prefectures publish, twice:
// an older generation, then the current one (the latest version wins).
func (fx *fixture) partials(ds *detector.Dataset) error {
	parts := detector.Partials(ds)
	if len(parts) < 10 {
		return fmt.Errorf("only %d prefectures", len(parts))
	}
	for v, at := range []time.Time{fx.now.Add(-2 * time.Hour), fx.now.Add(-time.Hour)} {
		var rows []row
		for _, p := range parts {
			gen := p.Hash() + uint64(1-v) // the first publication: another generation
			add := func(industry string, data []byte) {
				rows = append(rows, row{"province": p.Province(), "prefecture": p.Prefecture, "industry": industry,
					"window_start": p.Start.Start(), "months": uint16(p.Months), "generation": gen, "as_of": at.Add(-time.Minute).UTC().Truncate(time.Second), "data": base64.StdEncoding.EncodeToString(data),
					"replica": fmt.Sprintf("replica-%d", v), "version": uint64(at.UnixNano()), "published_at": at.UTC()})
			}
			add("", nil)
			for i := range p.Industries {
				if v == 0 && i%2 == 1 {
					continue
				}
				b, err := p.Industries[i].MarshalBinary()
				if err != nil {
					return err
				}
				add(p.Industries[i].Industry, b)
			}
		}
		if err := fx.add("detector.partials", rows); err != nil {
			return err
		}
	}
	fx.prefectures = []string{parts[0].Prefecture, parts[len(parts)/2].Prefecture}
	return nil
}

// notifications: what the alert component logs for the newest alerts of
// each level (pending then sent, one failure, silenced and folded ones,
// level changes and resolutions), acknowledgements (in time, late, twice by
// one person, by two people), escalations, and silences (one expired).
func (fx *fixture) notifications(events []alertevent.Event) error {
	var log, acks, ackEvents []row
	perLevel := map[alertevent.Level]int{}
	sorted := slices.Clone(events)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].At.After(sorted[j].At) })
	logRow := func(e alertevent.Event, msg, rcpt, kind, status string, tier uint8, at time.Time) row {
		return row{"message_id": msg, "alert_id": e.ID, "alert_version": e.Version, "recipient": rcpt, "kind": kind, "tier": tier,
			"status": status, "detail": "", "level": e.Level.String(), "rule": e.Rule, "region": e.Region, "fired_at": e.At.UTC(), "at": at.UTC(),
			"channel": "email"}
	}
	// the same message through a channel beside email (alerts/channel)
	onChannel := func(r row, ch string) row {
		c := copyRow(r)
		c["channel"] = ch
		if m := c["message_id"].(string); m != "" {
			c["message_id"] = m + "@" + ch
		}
		return c
	}
	summarized := 0
	for _, e := range sorted {
		rcpt := "rsj-" + e.Region + "@gs.example.cn"
		if e.Old != "" {
			// an old warning: queued, then told in its official's summary
			if e.Kind == alertevent.Firing && summarized < 60 {
				summarized++
				msg := fmt.Sprintf("s-%s", e.Region)
				log = append(log, logRow(e, "", rcpt, "summary", "queued", 0, e.At.Add(time.Second)),
					logRow(e, msg, rcpt, "summary", "pending", 0, e.At.Add(time.Minute)), logRow(e, msg, rcpt, "summary", "sent", 0, e.At.Add(time.Minute)))
			}
			continue
		}
		if e.Kind != alertevent.Firing {
			kind := e.Kind
			log = append(log, logRow(e, "m-"+e.ID+"-v2", rcpt, kind, "sent", 0, e.At.Add(time.Minute)))
			continue
		}
		if perLevel[e.Level] >= 40 {
			continue
		}
		n := perLevel[e.Level]
		perLevel[e.Level]++
		kind := "digest"
		if e.Level <= alertevent.LevelII {
			kind = "alert"
		}
		msg := fmt.Sprintf("m-%s-1", e.ID)
		sent := e.At.Add(time.Minute)
		status := "sent"
		switch n % 10 {
		case 7:
			status = "failed"
		case 8:
			status = "silenced"
		case 9:
			status = "folded"
		}
		log = append(log, logRow(e, msg, rcpt, kind, "pending", 0, e.At.Add(30*time.Second)), logRow(e, msg, rcpt, kind, status, 0, sent))
		switch n % 3 {
		case 0: // the county's WeCom group was told too, a second later
			log = append(log, onChannel(logRow(e, msg, rcpt, kind, "pending", 0, e.At.Add(30*time.Second)), "wecom-"+e.Region),
				onChannel(logRow(e, msg, rcpt, kind, status, 0, sent.Add(time.Second)), "wecom-"+e.Region))
		case 1: // by SMS, which refused the first time for good
			if e.Level <= alertevent.LevelII {
				log = append(log, onChannel(logRow(e, msg, rcpt, kind, "failed", 0, sent), "sms"))
			}
		}
		if status != "sent" {
			continue
		}
		if fx.sentAlert == "" {
			fx.sentAlert, fx.sentTo = e.ID, rcpt
		}
		deadline := e.LevelFacts.Response()
		// every acknowledgement is an event; the first of an alert also
		// stands in acks, a later one by another official is an event only
		first := true
		ack := func(who, via string, at time.Time) {
			outcome := "already_acknowledged"
			if first {
				outcome = "acknowledged"
				acks = append(acks, row{"alert_id": e.ID, "recipient": who, "at": at.UTC(), "comment": "已核实：" + via, "via": via})
			} else if fx.ackedAlert == "" {
				fx.ackedAlert = e.ID
			}
			first = false
			ackEvents = append(ackEvents, row{"alert_id": e.ID, "recipient": who, "at": at.UTC(), "comment": "已核实：" + via, "via": via, "outcome": outcome})
		}
		switch n % 4 {
		case 0:
			ack(rcpt, "link", sent.Add(30*time.Minute))
		case 1:
			ack(rcpt, "web", sent.Add(deadline+time.Hour))
			ack("sz-"+e.Region+"@gs.example.cn", "web", sent.Add(deadline+2*time.Hour))
		case 2:
			if deadline > 0 {
				log = append(log, logRow(e, fmt.Sprintf("m-%s-2", e.ID), "sz-"+e.Region+"@gs.example.cn", "escalation", "sent", 1, sent.Add(deadline)))
			}
		}
	}
	if err := fx.add("alerts.log", log); err != nil {
		return err
	}
	if err := fx.add("alerts.ack", acks); err != nil {
		return err
	}
	// the same person acknowledges again later: one row, the later one (as
	// before the first acknowledgement stood), and an event
	again := copyRow(acks[0])
	again["at"] = acks[0]["at"].(time.Time).Add(2 * time.Hour)
	again["comment"] = "再次确认"
	if err := fx.add("alerts.ack", []row{again}); err != nil {
		return err
	}
	againEvent := copyRow(again)
	againEvent["outcome"] = "already_acknowledged"
	if err := fx.add("alerts.ack_event", ackEvents); err != nil {
		return err
	}
	if err := fx.add("alerts.ack_event", []row{againEvent}); err != nil {
		return err
	}
	if fx.ackedAlert == "" || fx.sentAlert == "" {
		return fmt.Errorf("no alert acknowledged twice, or none sent")
	}
	var silences []row
	for i, s := range []struct{ region, rule, firm string }{{"620102", "", ""}, {"", "missing_report", ""}, {"", "", fx.warnedFirm}} {
		created := fx.end.Start().Add(time.Duration(i) * time.Hour)
		silences = append(silences, row{"id": fmt.Sprintf("s-%d", i+1), "region": s.region, "rule": s.rule, "firm_id": s.firm,
			"starts_at": created, "ends_at": created.AddDate(0, 0, 30), "author": "ops@gs.example.cn", "reason": "检修",
			"created_at": created, "expired": uint8(0), "changed_at": created})
	}
	if err := fx.add("alerts.silence", silences); err != nil {
		return err
	}
	expired := copyRow(silences[1])
	expired["expired"], expired["changed_at"] = uint8(1), silences[1]["created_at"].(time.Time).AddDate(0, 0, 2)
	return fx.add("alerts.silence", []row{expired})
}

// gateway: tokens (one revoked), the last month's submissions (two
// revisions, late ones, one ingest has not stored) with their revisions'
// content hashes (one submitted again with the same content, in the same
// flush and in a later one), idempotency keys (one stored twice by a retry).
func (fx *fixture) gateway(reports []report.Report) error {
	created := fx.end.Start()
	var tokens []row
	for i, s := range []struct{ kind, scope string }{{"firm", fx.warnedFirm}, {"region", "620102"}, {"region", "620000"}, {"firm", fx.closedFirm}} {
		tokens = append(tokens, row{"token_id": fmt.Sprintf("lw_%04d", i+1), "hash": fmt.Sprintf("%064x", i+1), "scope_kind": s.kind,
			"scope": s.scope, "label": "令牌 " + s.scope, "created_at": created.Add(time.Duration(i) * time.Hour), "revoked_at": (*time.Time)(nil), "version": uint64(1)})
	}
	fx.tokenID = "lw_0001"
	if err := fx.add("gateway.token", tokens); err != nil {
		return err
	}
	revoked := copyRow(tokens[3])
	at := created.AddDate(0, 0, 3)
	revoked["revoked_at"], revoked["version"] = &at, uint64(2)
	if err := fx.add("gateway.token", []row{revoked}); err != nil {
		return err
	}
	deadline := fx.end.Add(1).Start().AddDate(0, 0, 5).Add(16 * time.Hour)
	var subs []row
	for i, f := range fx.firms[:40] {
		recv := fx.end.Start().AddDate(0, 0, 24).Add(time.Duration(i) * 3 * time.Hour)
		late := uint8(0)
		if recv.After(deadline) {
			late = 1
		}
		rev := uint32(1)
		if f.ID == fx.warnedFirm {
			rev = 2
		}
		subs = append(subs, row{"received_at": recv, "submission_id": fmt.Sprintf("sub-%03d", i), "firm_id": f.ID, "period": fx.end.Start(),
			"revision": rev, "token_id": "lw_0002", "channel": []string{"api", "csv", "web"}[i%3], "idempotency_key": fmt.Sprintf("k-%03d", i), "late": late})
	}
	subs = append(subs, row{"received_at": fx.now.Add(-time.Hour), "submission_id": "sub-pending", "firm_id": fx.warnedFirm, "period": fx.end.Start(),
		"revision": uint32(9), "token_id": fx.tokenID, "channel": "api", "idempotency_key": "", "late": uint8(1)})
	if err := fx.add("gateway.submissions", subs); err != nil {
		return err
	}
	// the content of each submitted revision: the firm's report of the
	// month, with the revision submitted
	last := map[string]report.Report{}
	for _, r := range reports {
		if r.Period == fx.end && r.Revision == 1 {
			last[r.FirmID] = r
		}
	}
	var revs []row
	for _, sb := range subs {
		r, ok := last[sb["firm_id"].(string)]
		if !ok {
			r = report.Report{FirmID: sb["firm_id"].(string), Period: fx.end, Headcount: 100}
		}
		r.Revision = sb["revision"].(uint32)
		revs = append(revs, row{"firm_id": r.FirmID, "period": fx.end.Start(), "revision": r.Revision, "content_hash": r.ContentHash(),
			"received_at": sb["received_at"].(time.Time)})
	}
	resent := copyRow(revs[3])
	resent["received_at"] = revs[3]["received_at"].(time.Time).Add(time.Minute)
	revs = append(revs, resent)
	if err := fx.add("gateway.revisions", revs); err != nil {
		return err
	}
	resent = copyRow(resent)
	resent["received_at"] = resent["received_at"].(time.Time).Add(time.Hour)
	if err := fx.add("gateway.revisions", []row{resent}); err != nil {
		return err
	}
	fx.idemKey = "k-001"
	var idem []row
	for i := range 5 {
		idem = append(idem, row{"token_id": fx.tokenID, "idempotency_key": fmt.Sprintf("k-%03d", i), "request_hash": fmt.Sprintf("h%02d", i),
			"status": uint16(202), "body": `{"accepted":1}`, "created_at": fx.now.Add(-time.Duration(i+1) * time.Hour)})
	}
	if err := fx.add("gateway.idempotency", idem); err != nil {
		return err
	}
	retry := copyRow(idem[1])
	retry["created_at"], retry["status"] = fx.now.Add(-30*time.Minute), uint16(409)
	return fx.add("gateway.idempotency", []row{retry})
}

// console: accounts (one changed twice, one linked to single sign-on), the
// cases officials worked on the newest firings of the province (untouched,
// acknowledged — in the console, so in acks and ack_events too — verified,
// responding, closed), failed and good sign-ins from two addresses,
// reporting reminders (one firm reminded twice) and account changes.
func (fx *fixture) console(events []alertevent.Event) error {
	var firing []alertevent.Event
	for _, e := range events {
		if e.Kind == alertevent.Firing {
			firing = append(firing, e)
		}
	}
	sort.SliceStable(firing, func(i, j int) bool {
		return firing[i].At.After(firing[j].At) || firing[i].At.Equal(firing[j].At) && firing[i].ID < firing[j].ID
	})
	firing = firing[:min(len(firing), 60)]
	// the case looked at: the first firing in a county that gets at least
	// as far as verified (below: i%5 steps)
	for i, e := range firing {
		if i%5 >= 2 && region.LevelOf(e.Region) == region.County {
			fx.caseAlert, fx.caseCounty = e.ID, e.Region
			break
		}
	}
	if fx.caseAlert == "" {
		return fmt.Errorf("no firing in a county among the newest")
	}
	created := fx.end.Start()
	userRow := func(name, role, reg, subject string, epoch, version uint64, changed time.Time) row {
		return row{"username": name, "display_name": "经办人 " + name, "email": name + "@gs.example.cn", "role": role, "region": reg,
			"language": "zh-CN", "password_hash": fmt.Sprintf("$argon2id$v=19$m=65536,t=1,p=4$%s$%d", name, version), "oidc_subject": subject,
			"disabled": uint8(0), "session_epoch": epoch, "created_at": created, "changed_at": changed, "version": version}
	}
	pref := region.PrefectureOf(fx.caseCounty)
	users := []row{
		userRow("province", "admin", "620000", "", 0, 1, created),
		userRow("prefecture", "supervisor", pref, "sso-"+pref, 0, 1, created),
		userRow("county", "official", fx.caseCounty, "", 0, 1, created),
		userRow("observer", "read-only", fx.caseCounty, "", 0, 1, created),
	}
	if err := fx.add("console.put_user", users); err != nil {
		return err
	}
	// the county official's password is reset (sessions end), then the
	// account is disabled
	reset := userRow("county", "official", fx.caseCounty, "", 1, 2, created.AddDate(0, 0, 3))
	disabled := userRow("county", "official", fx.caseCounty, "", 2, 3, created.AddDate(0, 0, 9))
	disabled["disabled"] = uint8(1)
	if err := fx.add("console.put_user", []row{reset}); err != nil {
		return err
	}
	if err := fx.add("console.put_user", []row{disabled}); err != nil {
		return err
	}

	auditRow := func(id string, at time.Time, actor, action, kind, object, reg string, seq uint32, status, before, after, detail string) row {
		return row{"id": id, "at": at.UTC(), "actor": actor, "actor_role": "official", "address": "10.0.0.1", "action": action,
			"object_kind": kind, "object_id": object, "region": reg, "seq": seq, "status": status, "before": before, "after": after, "detail": detail}
	}
	var audit, acks, ackEvents []row
	steps := []struct{ action, status string }{{"ack", "acknowledged"}, {"verify", "verified"}, {"respond", "responding"}, {"close", "closed"}}
	for i, e := range firing {
		n := i % 5
		if n == 0 {
			continue
		}
		at := e.At.Add(time.Duration(10+i) * time.Minute).UTC().Truncate(time.Second)
		who := "official-" + e.Region
		before := `{"status":"new"}`
		for k, s := range steps[:n] {
			after := fmt.Sprintf(`{"alert_id":%q,"seq":%d,"status":%q}`, e.ID, k+1, s.status)
			audit = append(audit, auditRow(fmt.Sprintf("%s-%d", e.ID, k+1), at.Add(time.Duration(k)*time.Hour), who, s.action, "case",
				e.ID, e.Region, uint32(k+1), s.status, before, after, fmt.Sprintf(`{"action":%q}`, s.action)))
			before = after
		}
		rcpt := who + "@gs.example.cn"
		acks = append(acks, row{"alert_id": e.ID, "recipient": rcpt, "at": at, "comment": "已收到", "via": "console"})
		ackEvents = append(ackEvents, row{"alert_id": e.ID, "recipient": rcpt, "at": at, "comment": "已收到", "via": "console", "outcome": "acknowledged"})
	}
	// sign-ins: five failures for the county account from one address, one
	// from another, then a good one; reminders, one firm twice; account changes
	fx.failedAddress = "10.0.0.9"
	for i := range 6 {
		addr := fx.failedAddress
		if i == 5 {
			addr = "10.0.0.10"
		}
		r := auditRow(fmt.Sprintf("signin-%d", i), fx.now.Add(-time.Duration(30-i)*time.Minute), "county", "signin_failed", "user", "county", "", 0, "", "", "", "")
		r["address"] = addr
		audit = append(audit, r)
	}
	audit = append(audit, auditRow("signin-ok", fx.now.Add(-10*time.Minute), "county", "signin", "user", "county", fx.caseCounty, 0, "", "", "", ""))
	for i, id := range fx.contactFirms[:4] {
		f := fx.firmByID(id)
		audit = append(audit, auditRow(fmt.Sprintf("remind-%d", i), fx.end.Add(1).Start().AddDate(0, 0, 2), "system", "remind", "firm", id, f.Region, 0, "",
			"", "", `{"kind":"before"}`))
		if i == 0 {
			audit = append(audit, auditRow("remind-late", fx.end.Add(1).Start().AddDate(0, 0, 6), "system", "remind", "firm", id, f.Region, 0, "",
				"", "", `{"kind":"late"}`))
		}
	}
	audit = append(audit, auditRow("user-reset", created.AddDate(0, 0, 3), "cli:ops", "reset_password", "user", "county", "", 0, "", `{"epoch":0}`, `{"epoch":1}`, ""))
	if err := fx.add("console.audit", audit); err != nil {
		return err
	}
	if err := fx.add("console.ack", acks); err != nil {
		return err
	}
	return fx.add("console.ack_event", ackEvents)
}

func (fx *fixture) firmByID(id string) firms.Firm {
	for _, f := range fx.firms {
		if f.ID == id {
			return f
		}
	}
	panic("no firm " + id)
}
