package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chart"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// warningRow is a warning with its case, as the inbox and the reports
// show it.
type warningRow struct {
	Alert
	Case     Case
	Resolved bool // the detector withdrew it (a corrected report)
	Deadline time.Time
	Response time.Duration // 0: the level has no deadline
	Left     time.Duration // until the deadline (negative: overdue), while unacknowledged
	Overdue  bool
	AckDelay time.Duration // from firing to acknowledgement
	AckLate  bool
}

// status is the inbox status of a row: the case's, or resolved.
func (w warningRow) status() string {
	if w.Resolved && w.Case.Status != StatusClosed {
		return "resolved"
	}
	return w.Case.Status
}

// scopeWarnings reads the warnings of the user's scope (the SQL narrows by
// code prefix; Covers decides), each with its case and acknowledgements.
func (c *Console) scopeWarnings(ctx context.Context, u User, month string) ([]warningRow, error) {
	var (
		list []Alert
		err  error
	)
	if month != "" {
		list, err = c.st.alerts(ctx, qAlertsMonth, regionPrefix(u.Region), month+"-01")
	} else {
		list, err = c.st.alerts(ctx, qAlerts, regionPrefix(u.Region))
	}
	if err != nil {
		return nil, err
	}
	list = slices.DeleteFunc(list, func(a Alert) bool { return !u.Covers(a.Region) })
	cases, err := c.cases(ctx, u.Region)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	acks, err := c.st.acks(ctx, ids)
	if err != nil {
		return nil, err
	}
	now := c.now()
	out := make([]warningRow, 0, len(list))
	for _, a := range list {
		out = append(out, c.row(a, cases[a.ID], acks[a.ID], now))
	}
	return out, nil
}

// cases reads the current case of every warning of a region: the state
// after its latest action.
func (c *Console) cases(ctx context.Context, scope string) (map[string]Case, error) {
	rows, err := c.st.auditRows(ctx, qCaseRows, regionPrefix(scope))
	if err != nil {
		return nil, err
	}
	out := map[string]Case{}
	for _, r := range rows { // ordered by object, seq: the last one wins
		cs, err := decodeCase(r.After)
		if err != nil {
			c.log.Warn("unreadable case state in the audit trail", "alert", r.ObjectID, "id", r.ID, "err", err)
			continue
		}
		out[r.ObjectID] = cs
	}
	return out, nil
}

func (c *Console) row(a Alert, cs Case, acks []Ack, now time.Time) warningRow {
	if cs.AlertID == "" {
		cs = Case{AlertID: a.ID, Status: StatusNew}
	}
	cs = withEmailAck(cs, acks)
	// the deadline the alert was raised with (its level's facts), not the
	// plan's of today
	w := warningRow{Alert: a, Case: cs, Resolved: a.Event == "resolved", Response: a.Facts.Response()}
	if w.Response > 0 {
		w.Deadline = a.FiredAt.Add(w.Response)
		if cs.Ack == nil {
			w.Left = w.Deadline.Sub(now)
			w.Overdue = w.Left < 0 && !w.Resolved
		}
	}
	if cs.Ack != nil {
		w.AckDelay = max(cs.Ack.At.Sub(a.FiredAt), 0)
		w.AckLate = w.Response > 0 && w.AckDelay > w.Response
	}
	return w
}

// --- inbox ------------------------------------------------------------------

type inboxData struct {
	Rows       []warningRow
	Counts     []statusCount
	F          inboxFilter
	Levels     []levelOption
	Rules      []ruleOption
	Counties   []region.Region
	Industries []string
	Statuses   []string
	Assignees  []User
}

type statusCount struct {
	Status string
	N      int
}

type ruleOption struct{ ID, Title string }

// levelOption is a level of the filter, named as the newest warning at
// that level in the user's scope names it (the plan that raised it), or by
// its numeral alone when there is none.
type levelOption struct {
	Level string
	Facts alertevent.LevelFacts
}

// levelOptions names the four levels for the filter from the warnings'
// own level facts.
func levelOptions(rows []warningRow) []levelOption {
	out := make([]levelOption, 0, 4)
	for _, lv := range alertevent.Levels() {
		o := levelOption{Level: lv.String()}
		var newest time.Time
		for _, w := range rows {
			if w.Level == o.Level && !w.Facts.IsZero() && !w.ChangedAt.Before(newest) {
				o.Facts, newest = w.Facts, w.ChangedAt
			}
		}
		out = append(out, o)
	}
	return out
}

type inboxFilter struct {
	Level, Rule, County, Industry, Status, Assignee, Q string
}

func (c *Console) inbox(w http.ResponseWriter, r *http.Request, rq *request) {
	q := r.URL.Query()
	f := inboxFilter{Level: q.Get("level"), Rule: q.Get("rule"), County: q.Get("county"), Industry: q.Get("industry"),
		Status: q.Get("status"), Assignee: q.Get("assignee"), Q: strings.TrimSpace(q.Get("q"))}
	if f.Status == "" {
		f.Status = "open"
	}
	rows, err := c.scopeWarnings(r.Context(), rq.user, "")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := inboxData{F: f, Levels: levelOptions(rows), Statuses: append([]string{"open"}, append(slices.Clone(Statuses), "resolved", "all")...)}
	// the rules of the plan in force, for the filter (the one thing the
	// console still reads the plan for, with each rule's condition and
	// source on the warning page: an alert event carries its title, not them)
	if plan := c.plans.For(rq.user.Region); plan != nil { // the plan of the account's province
		for _, rl := range plan.Rules {
			d.Rules = append(d.Rules, ruleOption{ID: rl.ID, Title: pick(rq.page.Lang, rl.Title.Zh, rl.Title.En)})
		}
	}
	d.Counties = c.countiesOf(rq.user.Region)
	for s := 'A'; s <= 'T'; s++ {
		d.Industries = append(d.Industries, string(s))
	}
	d.Assignees, _ = c.colleagues(r.Context(), rq.user.Region)
	counts := map[string]int{}
	for _, row := range rows {
		if !f.matches(row, rq.user.Username, true) {
			continue
		}
		counts[row.status()]++
		if row.status() != StatusClosed && row.status() != "resolved" {
			counts["open"]++
		}
		counts["all"]++
		if f.matches(row, rq.user.Username, false) {
			d.Rows = append(d.Rows, row)
		}
	}
	for _, s := range d.Statuses {
		d.Counts = append(d.Counts, statusCount{Status: s, N: counts[s]})
	}
	sortRows(d.Rows)
	p := rq.page
	p.Title, p.Nav, p.Data = p.T["inbox_heading"], "inbox", d
	facts := make([]alertevent.LevelFacts, len(d.Rows))
	for i, row := range d.Rows {
		facts[i] = row.Facts
	}
	p.LevelColors = levelColors(facts...)
	c.render(w, http.StatusOK, "inbox", p)
}

// matches applies the filters; noStatus leaves the status filter out (for
// the counts by status).
func (f inboxFilter) matches(w warningRow, me string, noStatus bool) bool {
	switch {
	case f.Level != "" && w.Level != f.Level,
		f.Rule != "" && w.Rule != f.Rule,
		f.County != "" && w.Region != f.County,
		f.Industry != "" && w.Industry != f.Industry:
		return false
	}
	switch f.Assignee {
	case "":
	case "me":
		if w.Case.Assignee != me {
			return false
		}
	case "none":
		if w.Case.Assignee != "" {
			return false
		}
	default:
		if w.Case.Assignee != f.Assignee {
			return false
		}
	}
	if f.Q != "" {
		q := strings.ToLower(f.Q)
		if !strings.Contains(strings.ToLower(w.Subject), q) && !strings.Contains(strings.ToLower(w.Key), q) {
			return false
		}
	}
	if noStatus {
		return true
	}
	switch st := w.status(); f.Status {
	case "all":
		return true
	case "open":
		return st != StatusClosed && st != "resolved"
	default:
		return st == f.Status
	}
}

// sortRows puts overdue first, then by level, time left and newest.
func sortRows(rows []warningRow) {
	sort.SliceStable(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Overdue != b.Overdue {
			return a.Overdue
		}
		if la, lb := levelRank(a.Level), levelRank(b.Level); la != lb {
			return la < lb
		}
		if a.Left != b.Left && a.Case.Ack == nil && b.Case.Ack == nil && a.Response > 0 && b.Response > 0 {
			return a.Left < b.Left
		}
		if a.FiredAt != b.FiredAt {
			return a.FiredAt.After(b.FiredAt)
		}
		return a.ID < b.ID
	})
}

func levelRank(l string) int {
	lv, _ := alertevent.ParseLevel(l)
	return lv.Rank()
}

func (c *Console) countiesOf(scope string) []region.Region {
	switch region.LevelOf(scope) {
	case region.County:
		if r, ok := c.regions.Lookup(scope); ok {
			return []region.Region{r}
		}
		return nil
	case region.Prefecture:
		return c.regions.Counties(scope)
	default:
		return c.regions.Within(scope).Counties("")
	}
}

// colleagues are the enabled accounts that may act on warnings of region.
func (c *Console) colleagues(ctx context.Context, code string) ([]User, error) {
	all, err := c.st.users(ctx)
	if err != nil {
		return nil, err
	}
	var out []User
	for _, u := range all {
		if !u.Disabled && u.Role.CanAct() && (u.Covers(code) || u.Region == code) {
			out = append(out, u)
		}
	}
	return out, nil
}

// --- the warning page -------------------------------------------------------

type warningData struct {
	W          warningRow
	Rule       *detector.Rule // the rule in the plan in force: its condition and source (nil: not in it)
	Values     []valueRow
	Firm       *Firm
	Timeline   []timelineEntry
	Audit      []AuditRow
	Colleagues []User
	CanAct     bool
	CanReopen  bool
	Methods    []string
	Findings   []string
	Measures   []string
	Verdicts   []string
	Now        string // for the datetime-local default
	Chart      bool
	Months     int
	Workers    int
}

type valueRow struct{ Name, Value string }

type timelineEntry struct {
	At   time.Time
	Text string
	Kind string
}

// scoped reads a warning the user may see; ok is false (and the answer
// written, the same 404 whether it exists elsewhere or not at all) when
// not.
func (c *Console) scoped(w http.ResponseWriter, r *http.Request, rq *request) (Alert, bool) {
	id := r.PathValue("id")
	if len(id) > 64 {
		c.errorPage(w, r, rq, http.StatusNotFound, "err_not_found")
		return Alert{}, false
	}
	a, found, err := c.st.alert(r.Context(), id)
	if err != nil {
		c.fail(w, r, err)
		return Alert{}, false
	}
	if !found || !rq.user.Covers(a.Region) {
		c.errorPage(w, r, rq, http.StatusNotFound, "err_not_found")
		return Alert{}, false
	}
	return a, true
}

// currentCase reads a warning's case, its audit rows and its acks.
func (c *Console) currentCase(ctx context.Context, a Alert) (Case, []AuditRow, []Ack, error) {
	rows, err := c.st.auditRows(ctx, qObjectAudit, "case", a.ID)
	if err != nil {
		return Case{}, nil, nil, err
	}
	cs := Case{AlertID: a.ID, Status: StatusNew}
	for _, r := range rows {
		if r.Seq == 0 {
			continue
		}
		if next, err := decodeCase(r.After); err == nil && next.Seq >= cs.Seq {
			cs = next
		}
	}
	acks, err := c.st.acks(ctx, []string{a.ID})
	if err != nil {
		return Case{}, nil, nil, err
	}
	return withEmailAck(cs, acks[a.ID]), rows, acks[a.ID], nil
}

func (c *Console) warning(w http.ResponseWriter, r *http.Request, rq *request) {
	a, ok := c.scoped(w, r, rq)
	if !ok {
		return
	}
	ctx := r.Context()
	cs, audit, acks, err := c.currentCase(ctx, a)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	lang := rq.page.Lang
	d := warningData{W: c.row(a, cs, acks, c.now()), CanAct: rq.user.Role.CanAct(), CanReopen: rq.user.Role.CanReopen(),
		Methods: Methods, Findings: Findings, Measures: Measures, Verdicts: Verdicts, Audit: audit,
		Now: c.now().In(report.Shanghai()).Format("2006-01-02T15:04")}
	d.W.Case = cs
	for _, m := range cs.Measures {
		d.Workers += m.Workers
	}
	rl, params, ok := c.rule(a.Region, a.Rule)
	if ok {
		d.Rule = rl
	}
	d.Values = valueRows(a, lang)
	if thr, ok := headcountThreshold(d.Rule, params, a.Values); ok {
		d.Values = append(d.Values, valueRow{Name: pick(lang, "触发阈值：职工人数不高于", "Threshold: headcount at most"), Value: chart.FormatNumber(thr)})
	}
	if a.Scope == "firm" {
		f, found, err := c.st.firm(ctx, a.Key)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if found {
			d.Firm = &f
		}
	}
	if pts, err := c.st.series(ctx, a); err == nil && len(pts) > 0 {
		d.Chart, d.Months = true, min(len(pts), 24)
	}
	d.Colleagues, err = c.colleagues(ctx, a.Region)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Timeline, err = c.timeline(ctx, a, acks, audit, lang)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := rq.page
	p.Title, p.Nav, p.Data = pick(lang, a.TitleZh, a.TitleEn)+" · "+a.Subject, "inbox", d
	p.LevelColors = levelColors(a.Facts)
	if e := r.URL.Query().Get("error"); e != "" && strings.HasPrefix(e, "err_") {
		p.Error = p.T[e]
	}
	c.render(w, http.StatusOK, "warning", p)
}

// metricNames label the detector's values for people; an unknown name is
// shown as it is.
var metricNames = map[string][2]string{
	"loss": {"减员人数", "staff lost"}, "rate": {"减员比例", "share of staff lost"}, "headcount": {"本月职工人数", "headcount"},
	"prev_headcount": {"上期职工人数", "previous headcount"}, "net3": {"三个月累计减员", "net loss over 3 months"},
	"net3_rate": {"三个月累计减员比例", "share lost over 3 months"}, "headcount_12m": {"一年前职工人数", "headcount a year ago"},
	"headcount_1m": {"上月职工人数", "last month's headcount"}, "vacancies": {"空缺岗位", "vacancies"},
	"vacancy_mean_6m": {"前六个月平均空缺岗位", "6-month mean vacancies"}, "firms_cutting": {"大幅减员企业数", "firms cutting"},
	"economic_layoff": {"经济性裁员人数", "economic layoffs"},
}

func valueRows(a Alert, lang string) []valueRow {
	names := make([]string, 0, len(a.Values))
	for k := range a.Values {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]valueRow, 0, len(names))
	for _, k := range names {
		label := k
		if n, ok := metricNames[k]; ok {
			label = pick(lang, n[0], n[1]) + " (" + k + ")"
		}
		out = append(out, valueRow{Name: label, Value: formatValue(k, a.Values[k])})
	}
	return out
}

func formatValue(name string, v any) string {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		if strings.Contains(name, "rate") {
			return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
		}
		return chart.FormatNumber(f)
	case bool:
		if x {
			return "✓"
		}
		return "✗"
	case nil:
		return "—"
	}
	return fmt.Sprint(v)
}

func (c *Console) timeline(ctx context.Context, a Alert, acks []Ack, audit []AuditRow, lang string) ([]timelineEntry, error) {
	t := messages[lang]
	events, err := c.st.alertEvents(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	notes, err := c.st.notifications(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	var out []timelineEntry
	for _, e := range events {
		sum := pick(lang, e.SummaryZh, e.SummaryEn)
		switch e.Event {
		case "firing":
			out = append(out, timelineEntry{At: e.At, Kind: "fired", Text: fmt.Sprintf(t["tl_fired"], e.Level, sum)})
		case "level_changed":
			out = append(out, timelineEntry{At: e.At, Kind: "level", Text: fmt.Sprintf(t["tl_level_changed"], e.Prev, e.Level, sum)})
		case "resolved":
			out = append(out, timelineEntry{At: e.At, Kind: "resolved", Text: t["tl_resolved"]})
		}
	}
	for _, n := range notes {
		switch {
		case n.Status == "sent" && n.Kind == "escalation":
			out = append(out, timelineEntry{At: n.At, Kind: "escalation", Text: fmt.Sprintf(t["tl_escalation"], n.Recipient, n.Tier)})
		case n.Status == "sent":
			out = append(out, timelineEntry{At: n.At, Kind: "email", Text: fmt.Sprintf(t["tl_email"], n.Recipient)})
		case n.Status == "failed":
			out = append(out, timelineEntry{At: n.At, Kind: "failed", Text: fmt.Sprintf(t["tl_email_failed"], n.Recipient+": "+n.Detail)})
		case n.Status == "silenced":
			out = append(out, timelineEntry{At: n.At, Kind: "silenced", Text: fmt.Sprintf(t["tl_silenced"], n.Recipient)})
		case n.Status == "folded":
			out = append(out, timelineEntry{At: n.At, Kind: "email", Text: fmt.Sprintf(t["tl_folded"], n.Recipient)})
		}
	}
	for _, k := range acks {
		if k.Via == "console" {
			continue // its audit row tells it, with who
		}
		text := fmt.Sprintf(t["tl_ack"], k.Recipient, viaName(t, k.Via))
		if k.Comment != "" {
			text += ": " + k.Comment
		}
		out = append(out, timelineEntry{At: k.At, Kind: "ack", Text: text})
	}
	later, err := c.st.laterAcks(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, k := range later {
		text := fmt.Sprintf(t["tl_ack_later"], k.Recipient, viaName(t, k.Via))
		if k.Comment != "" {
			text += ": " + k.Comment
		}
		out = append(out, timelineEntry{At: k.At, Kind: "ack", Text: text})
	}
	for _, r := range audit {
		text := r.Actor + " " + t["act_"+r.Action]
		if d := auditDetail(r, t); d != "" {
			text += ": " + d
		}
		out = append(out, timelineEntry{At: r.At, Kind: r.Action, Text: text})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

func viaName(t map[string]string, via string) string {
	if s, ok := t["via_"+via]; ok {
		return s
	}
	return via
}

// auditDetail is a row's action in words: the measure, the verdict, the
// comment.
func auditDetail(r AuditRow, t map[string]string) string {
	var d map[string]any
	if json.Unmarshal([]byte(r.Detail), &d) != nil {
		return r.Detail
	}
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	str := func(k string) string { s, _ := d[k].(string); return s }
	if v := str("method"); v != "" {
		add(t["m_"+v])
	}
	if v := str("finding"); v != "" {
		add(t["f_"+v])
	}
	if v := str("measure"); v != "" {
		add(t["ms_"+v] + " × " + fmt.Sprint(d["workers"]))
	}
	if v := str("verdict"); v != "" {
		add(t["v_"+v])
	}
	if v, ok := d["assignee"]; ok {
		add("→ " + fmt.Sprint(v))
	}
	add(str("note"))
	add(str("comment"))
	add(str("period"))
	add(str("email"))
	return strings.Join(parts, "；")
}

// --- the chart --------------------------------------------------------------

func (c *Console) chartPNG(w http.ResponseWriter, r *http.Request, rq *request) {
	a, ok := c.scoped(w, r, rq)
	if !ok {
		return
	}
	pts, err := c.st.series(r.Context(), a)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	series, expected := chartSeries(pts)
	mark := chart.Chart{}.Mark
	if col, ok := chart.ParseColor(a.Facts.Color); ok {
		mark = col
	}
	cht := chart.Chart{Lang: rq.page.Lang, Series: series, Expected: expected, Period: a.Period, Mark: mark, Width: 720, Height: 320}
	if rl, params, ok := c.rule(a.Region, a.Rule); ok {
		if thr, ok := headcountThreshold(rl, params, a.Values); ok {
			cht.Threshold = &thr
		}
	}
	png, err := chart.PNG(cht)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(png)
}

// chartSeries keeps the last 24 months and computes the seasonal
// expectation of each: the month before times the median change of the
// same calendar month in the earlier years of the series (at least one).
func chartSeries(pts []seriesPoint) (series, expected []chart.Point) {
	by := make(map[report.Period]float64, len(pts))
	for _, p := range pts {
		by[p.Period] = p.Headcount
	}
	start := max(0, len(pts)-24)
	for _, p := range pts[start:] {
		series = append(series, chart.Point{Period: p.Period.String(), Value: p.Headcount})
		prev, ok := by[p.Period.Add(-1)]
		if !ok || prev == 0 {
			continue
		}
		var changes []float64
		for y := 1; y <= 3; y++ {
			cur, ok1 := by[p.Period.Add(-12*y)]
			before, ok2 := by[p.Period.Add(-12*y-1)]
			if ok1 && ok2 && before > 0 {
				changes = append(changes, cur/before-1)
			}
		}
		if len(changes) == 0 {
			continue
		}
		sort.Float64s(changes)
		med := changes[len(changes)/2]
		if len(changes)%2 == 0 {
			med = (changes[len(changes)/2-1] + changes[len(changes)/2]) / 2
		}
		expected = append(expected, chart.Point{Period: p.Period.String(), Value: math.Round(prev * (1 + med))})
	}
	return series, expected
}

// --- actions ----------------------------------------------------------------

func (c *Console) act(w http.ResponseWriter, r *http.Request, rq *request) {
	kind := r.PathValue("action")
	if !slices.Contains(Actions, kind) {
		c.errorPage(w, r, rq, http.StatusNotFound, "err_action")
		return
	}
	a, ok := c.scoped(w, r, rq)
	if !ok {
		return
	}
	ctx := r.Context()
	cur, _, _, err := c.currentCase(ctx, a)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	f := r.PostForm
	if seq, err := strconv.ParseUint(f.Get("seq"), 10, 32); err != nil || uint32(seq) != cur.Seq {
		c.errorPage(w, r, rq, http.StatusConflict, "err_conflict")
		return
	}
	act := Action{Kind: kind, Comment: strings.TrimSpace(f.Get("comment")), Method: f.Get("method"), Finding: f.Get("finding"),
		Measure: f.Get("measure"), Verdict: f.Get("verdict"), Note: strings.TrimSpace(f.Get("note")), Assignee: f.Get("assignee")}
	if s := f.Get("contacted_at"); s != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", s, report.Shanghai())
		if err != nil {
			c.back(w, r, a.ID, "err_contacted")
			return
		}
		act.ContactedAt = t
	}
	if s := f.Get("workers"); s != "" || kind == "respond" {
		n, err := strconv.Atoi(s)
		if err != nil {
			c.back(w, r, a.ID, "err_measure")
			return
		}
		act.Workers = n
	}
	if kind == "assign" && act.Assignee != "" {
		mates, err := c.colleagues(ctx, a.Region)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if !slices.ContainsFunc(mates, func(u User) bool { return u.Username == act.Assignee }) {
			c.back(w, r, a.ID, "err_assignee")
			return
		}
	}
	now := c.now()
	next, err := apply(cur, act, rq.user.Username, rq.user.Role, now)
	var ae *actionError
	if errors.As(err, &ae) {
		c.back(w, r, a.ID, ae.key)
		return
	}
	if err != nil {
		c.fail(w, r, err)
		return
	}
	// the acknowledgement goes where the alert component looks for it, so
	// escalation stops whichever way the warning was acknowledged
	if cur.Ack == nil && next.Ack != nil {
		comment := act.Comment
		if kind != "ack" {
			comment = ""
		}
		if err := c.st.ack(ctx, Ack{AlertID: a.ID, Recipient: rq.user.Email, At: now, Comment: comment, Via: "console"}); err != nil {
			c.fail(w, r, err)
			return
		}
		next.Ack.By = rq.user.Email
	}
	detail := map[string]any{"action": kind}
	switch kind {
	case "ack", "comment", "reopen":
		detail["comment"] = act.Comment
	case "verify":
		detail["method"], detail["finding"], detail["contacted_at"], detail["note"] = act.Method, act.Finding, act.ContactedAt.UTC(), act.Note
	case "respond":
		detail["measure"], detail["workers"], detail["note"] = act.Measure, act.Workers, act.Note
	case "close":
		detail["verdict"], detail["note"] = act.Verdict, act.Note
	case "assign":
		detail["assignee"] = act.Assignee
	}
	if err := c.audit(ctx, rq, r, AuditRow{Action: kind, ObjectKind: "case", ObjectID: a.ID, Region: a.Region, Seq: next.Seq,
		Status: next.Status, Before: mustJSON(cur), After: mustJSON(next), Detail: mustJSON(detail)}); err != nil {
		c.fail(w, r, err)
		return
	}
	c.m.actions.WithLabelValues(kind).Inc()
	http.Redirect(w, r, "/warnings/"+a.ID+"?done=done#case", http.StatusSeeOther)
}

// back returns to the warning page with a message the official can act on.
func (c *Console) back(w http.ResponseWriter, r *http.Request, id, key string) {
	http.Redirect(w, r, "/warnings/"+id+"?error="+key+"#case", http.StatusSeeOther)
}

func pick(lang, zh, en string) string {
	if lang == langEN && en != "" {
		return en
	}
	return zh
}
