package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/csvcell"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// The monthly report a county sends upward: the month's warnings of a
// region, the response times against the plan's deadlines, the measures
// and the verdicts, as xlsx (github.com/xuri/excelize/v2: a summary sheet
// and a detail sheet) and as CSV (the detail, UTF-8 with a byte-order mark
// so that spreadsheets read the Chinese).

type summary struct {
	Total, InTime, Late, NotAcked, Closed, Workers int
	Measures                                       map[string]int
	Verdicts                                       map[string]int
}

func summarize(rows []warningRow) summary {
	s := summary{Measures: map[string]int{}, Verdicts: map[string]int{}}
	for _, w := range rows {
		s.Total++
		switch {
		case w.Case.Ack == nil:
			s.NotAcked++
		case w.AckLate:
			s.Late++
		default:
			s.InTime++
		}
		if w.Case.Status == StatusClosed {
			s.Closed++
			s.Verdicts[w.Case.Verdict]++
		}
		for _, m := range w.Case.Measures {
			s.Workers += m.Workers
			s.Measures[m.Kind]++
		}
	}
	return s
}

type reportsData struct {
	Period   string
	Region   string
	Regions  []region.Region
	S        summary
	Measures []keyCount // in the order of the plans' list
	Verdicts []keyCount
}

type keyCount struct {
	Key string
	N   int
}

// reportArgs reads ?period= (a month up to the current one; default the
// last complete month) and ?region= (inside the user's scope; default the
// scope).
func (c *Console) reportArgs(w http.ResponseWriter, r *http.Request, rq *request) (report.Period, string, bool) {
	q := r.URL.Query()
	period := c.currentPeriod(c.now())
	if s := q.Get("period"); s != "" {
		p, ok := c.parsePeriodParam(s)
		if !ok {
			c.errorPage(w, r, rq, http.StatusBadRequest, "err_period")
			return 0, "", false
		}
		period = p
	}
	reg := q.Get("region")
	if reg == "" {
		reg = rq.user.Region
	}
	if !rq.user.Covers(reg) {
		c.errorPage(w, r, rq, http.StatusNotFound, "err_region")
		return 0, "", false
	}
	return period, reg, true
}

// monthRows reads the month's warnings of reg (inside the user's scope).
func (c *Console) monthRows(ctx context.Context, rq *request, reg string, period report.Period) ([]warningRow, error) {
	scoped := rq.user
	scoped.Region = reg
	rows, err := c.scopeWarnings(ctx, scoped, period.String())
	if err != nil {
		return nil, err
	}
	sort.Slice(rows, func(i, j int) bool {
		if li, lj := levelRank(rows[i].Level), levelRank(rows[j].Level); li != lj {
			return li < lj
		}
		return rows[i].ID < rows[j].ID
	})
	return rows, nil
}

func (c *Console) reportsPage(w http.ResponseWriter, r *http.Request, rq *request) {
	period, reg, ok := c.reportArgs(w, r, rq)
	if !ok {
		return
	}
	rows, err := c.monthRows(r.Context(), rq, reg, period)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := reportsData{Period: period.String(), Region: reg, S: summarize(rows)}
	for _, m := range Measures {
		d.Measures = append(d.Measures, keyCount{m, d.S.Measures[m]})
	}
	for _, v := range Verdicts {
		d.Verdicts = append(d.Verdicts, keyCount{v, d.S.Verdicts[v]})
	}
	if own, ok := c.regions.Lookup(rq.user.Region); ok {
		d.Regions = append(d.Regions, own)
	}
	if region.LevelOf(rq.user.Region) != region.County {
		if region.LevelOf(rq.user.Region) == region.Province {
			d.Regions = append(d.Regions, c.regions.Within(rq.user.Region).Prefectures()...)
		}
		d.Regions = append(d.Regions, c.countiesOf(rq.user.Region)...)
	}
	p := rq.page
	p.Title, p.Nav, p.Data = p.T["reports_heading"], "reports", d
	c.render(w, http.StatusOK, "reports", p)
}

// header and cells of the detail.
func detailHeader(t map[string]string) []string {
	if t["app"] == messages[langEN]["app"] {
		return []string{"Alert", "Level", "Rule", "Scope", "Subject", "Firm or region code", "Region", "Industry", "Month",
			"Fired", "Response deadline (h)", "Acknowledged", "Acknowledged by", "Response time (h)", "In time",
			"Status", "Finding", "Measures", "Workers concerned", "Verdict", "Closed"}
	}
	return []string{"预警编号", "级别", "规则", "范围", "对象", "企业或地区代码", "地区", "行业", "月份",
		"触发时间", "响应时限（小时）", "确认时间", "确认人", "响应用时（小时）", "是否按时",
		"状态", "核实结论", "处置措施", "涉及人数", "办结结论", "办结时间"}
}

func (c *Console) detailRow(w warningRow, lang string) []string {
	t := messages[lang]
	fmtT := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.In(report.Shanghai()).Format("2006-01-02 15:04")
	}
	hours := func(d time.Duration) string { return strconv.FormatFloat(d.Hours(), 'f', 1, 64) }
	regionName := w.Region
	if reg, ok := c.regions.Lookup(w.Region); ok {
		regionName = pick(lang, reg.Name, reg.NameEn)
	}
	row := []string{w.ID, w.Level, pick(lang, w.TitleZh, w.TitleEn), w.Scope, w.Subject, w.Key, regionName, w.Industry, w.Period,
		fmtT(w.FiredAt), "", "", "", "", "", t["st_"+w.status()], "", "", "", "", ""}
	if w.Response > 0 {
		row[10] = hours(w.Response)
	}
	if a := w.Case.Ack; a != nil {
		row[11], row[12], row[13] = fmtT(a.At), a.By, hours(w.AckDelay)
		row[14] = pick(lang, "是", "yes")
		if w.AckLate {
			row[14] = pick(lang, "否", "no")
		}
	}
	if v := w.Case.Verification; v != nil {
		row[16] = t["f_"+v.Finding]
	}
	var ms []string
	workers := 0
	for _, m := range w.Case.Measures {
		ms = append(ms, t["ms_"+m.Kind]+"×"+strconv.Itoa(m.Workers))
		workers += m.Workers
	}
	row[17] = strings.Join(ms, "；")
	if len(ms) > 0 {
		row[18] = strconv.Itoa(workers)
	}
	if w.Case.Status == StatusClosed {
		row[19], row[20] = t["v_"+w.Case.Verdict], fmtT(w.Case.ClosedAt)
	}
	// firm names, officials' addresses and the like come from outside: none
	// may run as a spreadsheet formula, in the CSV or the xlsx
	for i := range row {
		row[i] = csvcell.Neutralize(row[i])
	}
	return row
}

func (c *Console) exportAudit(r *http.Request, rq *request, format, reg string, period report.Period, n int) {
	_ = c.audit(r.Context(), rq, r, AuditRow{Action: "export", ObjectKind: "report", ObjectID: "monthly-" + period.String() + "." + format,
		Region: reg, Detail: mustJSON(map[string]any{"period": period.String(), "region": reg, "format": format, "warnings": n})})
}

func (c *Console) monthlyCSV(w http.ResponseWriter, r *http.Request, rq *request) {
	period, reg, ok := c.reportArgs(w, r, rq)
	if !ok {
		return
	}
	rows, err := c.monthRows(r.Context(), rq, reg, period)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	cw := csv.NewWriter(&buf)
	_ = cw.Write(detailHeader(rq.page.T))
	for _, row := range rows {
		_ = cw.Write(c.detailRow(row, rq.page.Lang))
	}
	cw.Flush()
	c.exportAudit(r, rq, "csv", reg, period, len(rows))
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="layoffwatch-%s-%s.csv"`, reg, period))
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) monthlyXLSX(w http.ResponseWriter, r *http.Request, rq *request) {
	period, reg, ok := c.reportArgs(w, r, rq)
	if !ok {
		return
	}
	rows, err := c.monthRows(r.Context(), rq, reg, period)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	b, err := c.workbook(rows, rq.page.Lang, reg, period)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.exportAudit(r, rq, "xlsx", reg, period, len(rows))
	w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="layoffwatch-%s-%s.xlsx"`, reg, period))
	_, _ = w.Write(b)
}

// workbook writes the summary and detail sheets.
func (c *Console) workbook(rows []warningRow, lang, reg string, period report.Period) ([]byte, error) {
	t := messages[lang]
	f := excelize.NewFile()
	defer func() { _ = f.Close() }()
	sumSheet, detSheet := pick(lang, "汇总", "Summary"), pick(lang, "明细", "Detail")
	if err := f.SetSheetName("Sheet1", sumSheet); err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	if _, err := f.NewSheet(detSheet); err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	regionName := reg
	if r, ok := c.regions.Lookup(reg); ok {
		regionName = pick(lang, r.Name, r.NameEn)
	}
	s := summarize(rows)
	lines := [][]any{
		{pick(lang, "失业风险预警处置月报", "Monthly report on unemployment warnings")},
		{t["region"], regionName + " (" + reg + ")"},
		{t["period"], period.String()},
		{pick(lang, "生成时间", "Generated"), c.now().In(report.Shanghai()).Format("2006-01-02 15:04")},
		{},
		{t["warnings_total"], s.Total},
		{t["acked_in_time"], s.InTime},
		{t["acked_late_count"], s.Late},
		{t["not_acked"], s.NotAcked},
		{t["closed_count"], s.Closed},
		{t["workers_total"], s.Workers},
		{},
		{t["measure"], pick(lang, "次数", "Times")},
	}
	for _, m := range Measures {
		lines = append(lines, []any{t["ms_"+m], s.Measures[m]})
	}
	lines = append(lines, []any{}, []any{t["verdict"], pick(lang, "数量", "Count")})
	for _, v := range Verdicts {
		lines = append(lines, []any{t["v_"+v], s.Verdicts[v]})
	}
	for i, l := range lines {
		if len(l) == 0 {
			continue
		}
		ref, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sumSheet, ref, &l); err != nil {
			return nil, fmt.Errorf("xlsx: %w", err)
		}
	}
	_ = f.SetColWidth(sumSheet, "A", "A", 28)
	_ = f.SetColWidth(sumSheet, "B", "B", 24)
	head := detailHeader(t)
	if err := f.SetSheetRow(detSheet, "A1", &head); err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	for i, w := range rows {
		cells := c.detailRow(w, lang)
		vals := make([]any, len(cells))
		for j, v := range cells {
			vals[j] = v
			if j == 18 || j == 10 || j == 13 { // numbers as numbers
				if n, err := strconv.ParseFloat(v, 64); err == nil {
					vals[j] = n
				}
			}
		}
		ref, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow(detSheet, ref, &vals); err != nil {
			return nil, fmt.Errorf("xlsx: %w", err)
		}
	}
	if err := f.SetPanes(detSheet, &excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	_ = f.SetColWidth(detSheet, "A", "U", 16)
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	return buf.Bytes(), nil
}

// --- the audit trail for administrators -------------------------------------

func (c *Console) auditPage(w http.ResponseWriter, r *http.Request, rq *request) {
	if rq.user.Role != Admin {
		c.errorPage(w, r, rq, http.StatusForbidden, "err_forbidden")
		return
	}
	rows, err := c.st.auditRows(r.Context(), qAuditScope, regionPrefix(rq.user.Region), uint64(500))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := rq.page
	p.Title, p.Nav, p.Data = p.T["nav_audit"], "audit", rows
	c.render(w, http.StatusOK, "audit", p)
}

// --- verdicts as labels -------------------------------------------------------

// Labels reads every closed case and turns its verdict into a label for
// `plan eval` (`layoffwatch alerts labels`), oldest warning month first.
func Labels(ctx context.Context, ch *chdb.Client) ([]label.Label, error) {
	st := &store{ch: ch}
	alerts, err := st.alerts(ctx, qAlerts, "")
	if err != nil {
		return nil, err
	}
	c := &Console{st: st}
	cases, err := c.casesAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []label.Label
	for _, a := range alerts {
		if l, ok := Label(a, cases[a.ID]); ok {
			out = append(out, l)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

func (c *Console) casesAll(ctx context.Context) (map[string]Case, error) {
	rows, err := c.st.auditRows(ctx, qCaseRows, "")
	if err != nil {
		return nil, err
	}
	out := map[string]Case{}
	for _, r := range rows {
		if cs, err := decodeCase(r.After); err == nil {
			out[r.ObjectID] = cs
		}
	}
	return out, nil
}
