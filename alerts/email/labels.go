package email

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chart"
)

// metricLabel names a metric of docs/risk-plans.md for people. pct marks
// rates shown as percentages.
type metricLabel struct {
	name, zh, en string
	pct          bool
}

// metricLabels lists the detector's metrics (and the default plan's defined
// names) in the order the values table shows them; unknown names follow,
// sorted, shown as they are.
func metricLabels() []metricLabel {
	return []metricLabel{
		{name: "firms_cutting", zh: "大幅减员企业数", en: "firms cutting"},
		{name: "loss", zh: "减员人数", en: "job loss"},
		{name: "rate", zh: "减员比例", en: "loss rate", pct: true},
		{name: "prev_headcount", zh: "上期职工人数", en: "previous headcount"},
		{name: "headcount", zh: "职工人数", en: "headcount"},
		{name: "change", zh: "人数变化", en: "change in headcount"},
		{name: "net3", zh: "三个月累计减员", en: "net loss over 3 months"},
		{name: "net3_rate", zh: "三个月累计减员比例", en: "3-month loss rate", pct: true},
		{name: "expected_rate", zh: "预期变化（同行业同期、往年同期）", en: "expected change (peers, earlier years)", pct: true},
		{name: "excess_rate", zh: "超出预期的减员比例", en: "loss beyond the expected change", pct: true},
		{name: "excess_loss", zh: "超出预期的减员人数", en: "people lost beyond the expected change"},
		{name: "excess_rate_rest", zh: "超出预期的减员比例（除减员最多企业外）", en: "loss beyond expectation without the worst firm", pct: true},
		{name: "excess_rate3", zh: "三个月超出预期的减员比例", en: "3-month loss beyond the expected change", pct: true},
		{name: "excess_loss3", zh: "三个月超出预期的减员人数", en: "people lost beyond expectation over 3 months"},
		{name: "z", zh: "异常程度（稳健z值）", en: "abnormality (robust z-score)"},
		{name: "z3", zh: "三个月异常程度（稳健z值）", en: "3-month abnormality (robust z-score)"},
		{name: "sigma", zh: "平时月度波动", en: "ordinary monthly volatility", pct: true},
		{name: "z_defined", zh: "可计算异常程度", en: "z-score defined"},
		{name: "z3_defined", zh: "可计算三个月异常程度", en: "3-month z-score defined"},
		{name: "firms_z", zh: "企业普遍下降程度", en: "breadth of the fall across firms (firms_z)"},
		{name: "firms_z3", zh: "三个月企业普遍下降程度", en: "3-month breadth of the fall (firms_z3)"},
		{name: "breadth", zh: "低于同行业的企业占比", en: "share of firms below their peers", pct: true},
		{name: "panel_firms", zh: "可比企业数", en: "firms compared"},
		{name: "panel_share", zh: "可比企业占比", en: "share of firms compared", pct: true},
		{name: "layoff_separations", zh: "报告经济性裁员（含关闭、停产）", en: "reported economic layoffs (with closure, suspension)"},
		{name: "layoff_separations3", zh: "三个月报告经济性裁员", en: "reported economic layoffs over 3 months"},
		{name: "usual_separations", zh: "平时月离职人数", en: "usual monthly separations"},
		{name: "separations_excess", zh: "超出平时的离职人数", en: "separations beyond the usual"},
		{name: "unusual_separations", zh: "离职原因超出企业平时的人数", en: "separations beyond the firm's habit for their reasons"},
		{name: "unusual_separations3", zh: "三个月离职原因超出平时的人数", en: "separations beyond the firm's habit over 3 months"},
		{name: "habitual_layoff_separations", zh: "企业每年惯常报告的裁员人数", en: "reported layoffs within the firm's habit"},
		{name: "habitual_layoff_separations3", zh: "三个月惯常报告的裁员人数", en: "reported layoffs within the firm's habit over 3 months"},
		{name: "unexplained_loss", zh: "离职招聘数据无法解释的减员", en: "loss the flows do not explain"},
		{name: "largest_share3", zh: "三个月中单月减员最大占比", en: "worst month's share of the 3-month loss", pct: true},
		{name: "peers", zh: "同行业可比企业数", en: "peer firms"},
		{name: "peer_rate", zh: "同行业中位变化", en: "peers' median change", pct: true},
		{name: "peer_z", zh: "相对同行业的偏离", en: "deviation from peers (z)"},
		{name: "headcount_1m", zh: "上月职工人数", en: "headcount last month"},
		{name: "headcount_3m", zh: "三个月前职工人数", en: "headcount 3 months ago"},
		{name: "headcount_12m", zh: "一年前职工人数", en: "headcount a year ago"},
		{name: "yoy_rate", zh: "同比变化", en: "change on a year ago", pct: true},
		{name: "vacancies", zh: "岗位空缺", en: "vacancies"},
		{name: "prev_vacancies", zh: "上期岗位空缺", en: "previous vacancies"},
		{name: "vacancy_mean_6m", zh: "前六个月平均岗位空缺", en: "6-month mean vacancies"},
		{name: "vacancy_reports_6m", zh: "前六个月报送次数", en: "reports in the previous 6 months"},
		{name: "hires", zh: "本月招聘", en: "hires"},
		{name: "sep_total", zh: "本月离职合计", en: "separations"},
		{name: "sep_economic_layoff", zh: "经济性裁员", en: "economic layoffs"},
		{name: "sep_closure_bankruptcy", zh: "关闭破产", en: "closure or bankruptcy"},
		{name: "sep_suspension", zh: "停产停业", en: "suspension"},
		{name: "sep_contract_expiry", zh: "合同到期", en: "contract expiry"},
		{name: "sep_resignation", zh: "主动辞职", en: "resignations"},
		{name: "sep_retirement", zh: "退休", en: "retirements"},
		{name: "sep_transfer", zh: "调出", en: "transfers"},
		{name: "sep_other", zh: "其他离职", en: "other separations"},
		{name: "baseline_headcount", zh: "建档期职工人数", en: "baseline headcount"},
		{name: "index", zh: "岗位指数（建档期=100）", en: "index (baseline = 100)"},
		{name: "seasonal_change", zh: "本月通常变化", en: "usual change this month", pct: true},
		{name: "seasonal_loss", zh: "超出季节性的减员", en: "loss beyond the seasonal dip"},
		{name: "seasonal_rate", zh: "超出季节性的减员比例", en: "loss rate beyond the seasonal dip", pct: true},
		{name: "seasonal_years", zh: "季节比较年数", en: "years for the seasonal comparison"},
		{name: "firms_expected", zh: "应报送企业数", en: "firms expected"},
		{name: "firms_reported", zh: "已报送企业数", en: "firms reported"},
		{name: "coverage", zh: "报送率", en: "coverage", pct: true},
		{name: "loss_rate", zh: "岗位流失率", en: "job-loss rate", pct: true},
		{name: "mom_change", zh: "环比变化", en: "change on last month", pct: true},
		{name: "mom_change_rest", zh: "环比变化（除减员最多企业外）", en: "change on last month without the firm that lost most", pct: true},
		{name: "mom_prev_headcount", zh: "上月职工人数（可比企业）", en: "last month's headcount (comparable firms)"},
		{name: "mom_headcount", zh: "本月职工人数（可比企业）", en: "headcount (comparable firms)"},
		{name: "mom_firms", zh: "环比可比企业数", en: "firms compared with last month"},
		{name: "seasonal_mom_change", zh: "本月通常环比变化", en: "usual change this month", pct: true},
		{name: "mom_excess", zh: "超出季节性的环比变化", en: "change beyond the seasonal dip", pct: true},
		{name: "loss_rate_3m", zh: "三个月平均岗位流失率", en: "3-month job-loss rate", pct: true},
		{name: "loss_rate_3m_min12", zh: "12个月内三个月平均流失率最低值", en: "12-month low of the 3-month rate", pct: true},
		{name: "trend_rise", zh: "较12个月低点上升", en: "rise above the 12-month low", pct: true},
		{name: "history_months", zh: "历史报送月数", en: "months of history"},
		{name: "prev_gap", zh: "距上期报送月数", en: "months since the previous report"},
		{name: "reported", zh: "本月已报送", en: "reported this month"},
		{name: "due", zh: "已过报送期限", en: "report due"},
		{name: "has_prev", zh: "有上期报送", en: "has a previous report"},
		{name: "has_1m", zh: "有上月报送", en: "has last month's report"},
		{name: "has_3m", zh: "有三个月前报送", en: "has the report of 3 months ago"},
		{name: "has_12m", zh: "有一年前报送", en: "has the report of a year ago"},
		{name: "loss_rate_defined", zh: "流失率可计算", en: "job-loss rate defined"},
		{name: "loss_rate_3m_defined", zh: "三个月流失率可计算", en: "3-month rate defined"},
		{name: "trend_defined", zh: "趋势可计算", en: "trend defined"},
		{name: "industry", zh: "行业", en: "industry"},
		{name: "county", zh: "县区", en: "county"},
		{name: "prefecture", zh: "市（州）", en: "prefecture"},
		{name: "region", zh: "地区", en: "region"},
	}
}

// valueRow is one line of the values table.
type valueRow struct {
	Name  string // the metric name, e.g. "loss"
	Label string // readable, e.g. "减员人数"; the name when unknown
	Value string // formatted, e.g. "1,500" or "30.0%"
}

// valueRows decodes an event's values (a JSON object) into table rows:
// known metrics in metricLabels order, then unknown ones sorted by name.
// Values that are not a JSON object give no rows.
func valueRows(raw json.RawMessage, labels map[string]metricLabel, order map[string]int, lang string) []valueRow {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var values map[string]any
	if err := dec.Decode(&values); err != nil {
		return nil
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool {
		oi, iok := order[names[i]]
		oj, jok := order[names[j]]
		switch {
		case iok && jok:
			return oi < oj
		case iok != jok:
			return iok
		}
		return names[i] < names[j]
	})
	rows := make([]valueRow, 0, len(names))
	for _, name := range names {
		l, known := labels[name]
		label := oneLine(name)
		if known {
			label = l.zh
			if lang == LangEn {
				label = l.en
			}
		}
		rows = append(rows, valueRow{Name: oneLine(name), Label: label, Value: formatValue(values[name], l.pct, lang)})
	}
	return rows
}

func formatValue(v any, pct bool, lang string) string {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return oneLine(x.String())
		}
		if pct {
			return formatPct(f)
		}
		return formatNumber(f)
	case bool:
		switch {
		case x && lang == LangEn:
			return "yes"
		case x:
			return "是"
		case lang == LangEn:
			return "no"
		}
		return "否"
	case string:
		return oneLine(x)
	case nil:
		return "—"
	}
	b, _ := json.Marshal(v)
	return oneLine(string(b))
}

// formatNumber writes numbers as the charts do (1,500; 12.33): one
// formatting for the email's text, its chart and the console.
var formatNumber = chart.FormatNumber

// formatPct formats a rate as the detector's summaries do: 0.3 → "30.0%".
func formatPct(f float64) string { return fmt.Sprintf("%.1f%%", f*100) }

// coverage formats the month's reporting coverage: "12/15 家企业已报送 (80%)".
func coverage(reported, expected uint32, lang string) string {
	if expected == 0 {
		return ""
	}
	p := fmt.Sprintf("%.0f%%", float64(reported)*100/float64(expected))
	if lang == LangEn {
		return fmt.Sprintf("%d of %d firms reported (%s)", reported, expected, p)
	}
	return fmt.Sprintf("%d/%d 家企业已报送 (%s)", reported, expected, p)
}

// duration formats a response time: "2小时", "1小时30分钟"; "2 hours".
func duration(d time.Duration, lang string) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if lang == LangEn {
		var parts []string
		if h > 0 {
			parts = append(parts, plural(h, "hour"))
		}
		if m > 0 || h == 0 {
			parts = append(parts, plural(m, "minute"))
		}
		return strings.Join(parts, " ")
	}
	switch {
	case h > 0 && m > 0:
		return fmt.Sprintf("%d小时%d分钟", h, m)
	case h > 0:
		return fmt.Sprintf("%d小时", h)
	}
	return fmt.Sprintf("%d分钟", m)
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
