package sqlparity_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/console"
	"github.com/layoffwatch/layoffwatch/deploy/grafana"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/gateway"
	"github.com/layoffwatch/layoffwatch/ingest"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/demo"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/simulate"
)

// catalogs is every statement catalog of layoffwatch. A catalog declared
// anywhere else fails TestEveryCatalogListed.
func catalogs() []*chdb.Catalog {
	return []*chdb.Catalog{
		chdb.Statements(),
		firms.Statements(),
		ingest.Statements(),
		detector.Statements(),
		gateway.Statements(),
		alerts.Statements(),
		demo.Statements(),
		console.Statements(),
	}
}

// declaredInserts is every insert of every catalog, by name.
func declaredInserts() map[string]chdb.Insert {
	out := map[string]chdb.Insert{}
	for _, c := range catalogs() {
		for _, ins := range c.Inserts() {
			out[ins.Name()] = ins
		}
	}
	return out
}

// params gives every statement the argument lists it is run with, each a
// realistic call of the store that runs it. A statement missing here fails
// the test; so does an entry naming no statement.
func params(fx *fixture) map[string][][]any {
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	end, prev := fx.end.Start(), fx.end.Add(-1).Start()
	var sample []string // firms a county bureau's token covers
	for _, f := range fx.firms[:40] {
		sample = append(sample, f.ID)
	}
	sample = append(sample, fx.warnedFirm, fx.closedFirm, fx.revisedFirm, fx.rejectFirm)
	cluster := fx.event(simulate.CountyCluster)
	var eventWarnings, eventHeadcounts [][]any
	for _, e := range fx.events {
		keys := []string{e.Region}
		for _, f := range e.Firms {
			keys = append(keys, f.FirmID)
		}
		last := e.Period.Add(e.Months - 1).Start()
		eventWarnings = append(eventWarnings, []any{keys, day(e.Period.Start()), day(e.Period.Add(e.Months).Start())})
		eventHeadcounts = append(eventHeadcounts, []any{day(e.Period.Add(-1).Start()), day(last), keys[1:]})
	}
	none := [][]any{{}}
	// the console's scopes: a code prefix (620000 → 62, 620100 → 6201)
	county := fx.caseCounty
	pref := region.PrefectureOf(county)[:4]
	since := fx.now.Add(-15 * time.Minute).UTC() // the sign-in limits' window
	ids := []string{fx.caseAlert, fx.ackedAlert, fx.sentAlert, fx.changedAlert, "no-such-alert"}
	return map[string][][]any{
		"chdb.schema_version": none,
		"firms.all":           none,
		"firms.ids":           none,
		"detector.reports_since": {
			{day(fx.start.Start()), day(end), int64(0)},
			{day(fx.end.Add(-5).Start()), day(end), fx.ingestedMid.Unix()},
		},
		"detector.alert_states": none,
		"detector.directory":    none,
		"detector.firms_in":     {{fx.prefectures}, {[]string{"620100"}}},
		"detector.reports_in": {
			{day(fx.start.Start()), day(end), int64(0), fx.now.Unix(), fx.prefectures},
			{day(fx.end.Add(-5).Start()), day(end), fx.ingestedMid.Unix(), fx.now.Unix(), fx.prefectures},
			{day(fx.start.Start()), day(end), int64(0), fx.ingestedMid.Unix(), fx.prefectures},
		},
		"detector.partial_heads": {{[]string{"620000"}}, {[]string{"620000", "440000"}}},
		"detector.partial_data":  {{"620000", "C"}, {"620000", "E"}, {"620000", "H"}},
		"gateway.tokens":         none,
		"gateway.idempotency_lookup": {
			{fx.tokenID, fx.idemKey, fx.now.Add(-24 * time.Hour).UTC()},
			{fx.tokenID, "k-004", fx.now.Add(-time.Hour).UTC()},
		},
		"gateway.stored": {
			{day(fx.revisedAt.Start()), sample},
			{day(end), sample},
			{day(fx.ingestedMid.AddDate(0, -1, -5)), sample},
		},
		"gateway.rejects":            {{sample, fx.end.String()}, {sample, fx.end.Add(-1).String()}},
		"gateway.submissions_lookup": {{day(end), sample}, {day(prev), sample}},
		"gateway.reported":           {{day(end), sample, day(end), sample}},
		"alerts.settled":             none,
		"alerts.acked_by":            none,
		"alerts.acks":                none,
		"alerts.silences":            none,
		"alerts.alerts":              none,
		"alerts.first_ack":           {{fx.ackedAlert}, {fx.caseAlert}, {"no-such-alert"}},
		"alerts.sent_to":             {{fx.sentAlert, fx.sentTo}, {fx.sentAlert, "anning@gs.example.cn"}},
		"alerts.logged":              {{fx.sentAlert}, {"no-such-alert"}},
		"firms.contacts":             none,
		"console.user":               {{"county"}, {"province"}, {"nobody"}},
		"console.user_by_subject":    {{"sso-" + region.PrefectureOf(county)}, {"sso-unknown"}},
		"console.users":              none,
		"console.object_audit":       {{"case", fx.caseAlert}, {"user", "county"}, {"firm", fx.contactFirms[0]}},
		"console.cases":              {{"62"}, {pref}, {county}},
		"console.audit_scope":        {{"62", uint64(500)}, {pref, uint64(20)}, {county, uint64(3)}},
		"console.failures_account":   {{"county", since}, {"province", since}},
		"console.failures_account_address": {
			{"county", fx.failedAddress, since},
			{"county", "10.0.0.10", fx.now.Add(-time.Hour).UTC()},
		},
		"console.failures_address": {{fx.failedAddress, since}, {"192.0.2.1", since}},
		"console.reminders":        {{"62"}, {pref}},
		"console.alerts":           {{"62"}, {pref}, {county}},
		"console.alerts_month":     {{"62", day(end)}, {pref, day(prev)}, {county, day(fx.end.Add(-12).Start())}},
		"console.alert":            {{fx.caseAlert}, {fx.changedAlert}, {"no-such-alert"}},
		"console.alert_events":     {{fx.changedAlert}, {fx.caseAlert}},
		"console.notifications":    {{fx.sentAlert}, {fx.ackedAlert}},
		"console.acks":             {{ids}, {[]string{fx.caseAlert}}},
		"console.later_acks":       {{fx.ackedAlert}, {fx.caseAlert}},
		"console.firm":             {{fx.warnedFirm}, {fx.contactFirms[0]}},
		"console.firms_scope":      {{"62"}, {pref}, {county}},
		"console.contacts":         {{fx.contactFirms}, {sample}},
		"console.reported":         {{day(end), sample}, {day(prev), fx.contactFirms}},
		"console.firm_series": {
			{fx.warnedFirm, day(end), day(end)},
			{fx.closedFirm, day(end), day(end)},
			{fx.revisedFirm, day(fx.revisedAt.Start()), day(fx.revisedAt.Start())},
		},
		"console.region_series": {
			{"62", "", "", day(end), day(end)},
			{pref, "C", "C", day(end), day(end)},
			{county, "", "", day(cluster.Period.Start()), day(cluster.Period.Start())},
		},
		"alerts.firm_series": {
			{fx.warnedFirm, day(end), day(end)},
			{fx.closedFirm, day(end), day(end)},
			{fx.revisedFirm, day(fx.revisedAt.Start()), day(fx.revisedAt.Start())},
		},
		"alerts.region_series": {
			{"62", day(end), day(end)},
			{region.PrefectureOf(cluster.Region)[:4], day(end), day(end)},
			{cluster.Region, day(cluster.Period.Start()), day(cluster.Period.Start())},
		},
		"gateway.known_revisions": {
			{day(end), day(end), sample, day(end), day(end), sample},
			{day(fx.revisedAt.Start()), day(end), sample, day(fx.revisedAt.Start()), day(end), sample},
			{day(fx.start.Start()), day(fx.start.Start()), sample, day(fx.start.Start()), day(fx.start.Start()), sample},
		},
		"gateway.stored_revisions": {
			{day(fx.revisedAt.Start()), sample},
			{day(end), sample},
			{day(fx.ingestedMid.AddDate(0, -1, -5)), sample},
		},
		"ingest.revision_hashes": {
			{day(prev), day(end), revisionKeys(sample, fx.end.Add(-1), fx.end)},
			{day(fx.revisedAt.Start()), day(fx.revisedAt.Start()), revisionKeys([]string{fx.revisedFirm}, fx.revisedAt)},
			{day(fx.ingestedMid.AddDate(0, -1, -5)), day(fx.ingestedMid.AddDate(0, -1, -5)), revisionKeys(sample, report.PeriodOf(fx.ingestedMid.AddDate(0, -1, -5)))},
		},
		"demo.headcount_by_prefecture": none,
		"demo.warnings":                none,
		"demo.stored_reports":          none,
		"demo.event_warnings":          eventWarnings,
		"demo.event_headcounts":        eventHeadcounts,
		"demo.alert_events":            none,
		"demo.email_state":             none,
		"demo.emails":                  none,
		"demo.open_alerts":             none,
		"demo.emails_per_recipient":    none,
		"demo.old_warnings":            none,
		"demo.summaries":               none,
	}
}

func (fx *fixture) event(kind simulate.EventKind) simulate.Event {
	for _, e := range fx.events {
		if e.Kind == kind {
			return e
		}
	}
	panic("no planted event of kind " + string(kind))
}

// statementCase is one run of a catalog statement.
type statementCase struct {
	st   chdb.Statement
	args []any
}

// statementCases pairs every statement with its arguments, or says which
// statements have none and which entries name no statement.
func statementCases(fx *fixture) ([]statementCase, error) {
	table := params(fx)
	seen := map[string]bool{}
	var out []statementCase
	var problems []string
	for _, c := range catalogs() {
		for _, st := range c.Statements() {
			seen[st.Name()] = true
			runs, ok := table[st.Name()]
			if !ok {
				problems = append(problems, fmt.Sprintf("statement %s has no parameters in the parity table (params in cases_test.go)", st.Name()))
				continue
			}
			for _, args := range runs {
				out = append(out, statementCase{st: st, args: args})
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(table)) {
		if !seen[name] {
			problems = append(problems, fmt.Sprintf("the parity table names %s, which no catalog declares", name))
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return out, nil
}

// dashboardRun is one dashboard with chosen variables and time range.
type dashboardRun struct {
	d    *grafana.Dashboard
	pick map[string]string
	rng  grafana.TimeRange
	name string
}

// dashboardRuns are the views a user would open: each dashboard for a year,
// the last month and a range with no data; the region dashboard for the
// province, a prefecture and a county; the firm dashboard for its first
// option, a firm with warnings and a closed firm.
func dashboardRuns(fx *fixture, dashes []*grafana.Dashboard) []dashboardRun {
	cluster := fx.event(simulate.CountyCluster)
	picks := map[string][]map[string]string{
		"layoffwatch-region": {{"region": "620000"}, {"region": region.PrefectureOf(cluster.Region)}, {"region": cluster.Region}},
		"layoffwatch-firm":   {{}, {"firm": fx.warnedFirm}, {"firm": fx.closedFirm}, {"firm": fx.revisedFirm}},
	}
	ranges := []struct {
		name string
		rng  grafana.TimeRange
	}{
		{"year", grafana.TimeRange{From: fx.now.AddDate(-1, 0, 0), To: fx.now}},
		{"month", grafana.TimeRange{From: fx.now.AddDate(0, -1, 0), To: fx.now}},
		{"empty", grafana.TimeRange{From: time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2019, 6, 30, 0, 0, 0, 0, time.UTC)}},
	}
	var out []dashboardRun
	for _, d := range dashes {
		hasCH := false
		for _, p := range d.AllPanels() {
			hasCH = hasCH || p.Datasource != nil && p.Datasource.Type == grafana.ClickHouseType
		}
		if !hasCH {
			continue
		}
		ps := picks[d.UID]
		if len(ps) == 0 {
			ps = []map[string]string{{}}
		}
		for _, pick := range ps {
			for _, r := range ranges {
				name := d.UID
				for _, k := range slices.Sorted(maps.Keys(pick)) {
					name += "/" + k + "=" + pick[k]
				}
				out = append(out, dashboardRun{d: d, pick: pick, rng: r.rng, name: name + "/" + r.name})
			}
		}
	}
	return out
}

// revisionKeys are ingest's revision lookup keys ("<firm>:<yyyymm>:<revision>",
// comma-separated) of revisions 1 and 2 of firms in periods.
func revisionKeys(firms []string, periods ...report.Period) string {
	var keys []string
	for _, f := range firms {
		for _, p := range periods {
			for rev := 1; rev <= 2; rev++ {
				keys = append(keys, fmt.Sprintf("%s:%s:%d", f, p.Start().Format("200601"), rev))
			}
		}
	}
	return strings.Join(keys, ",")
}
