package gateway

import (
	"net/http"
	"strconv"
	"strings"
)

// The web form speaks Simplified Chinese (the default) and English. The
// catalogue is a plain map: two languages and a few dozen strings do not
// need golang.org/x/text/message's catalogue generation, and a test holds
// the two languages to the same set of keys.

const (
	langZH = "zh-CN"
	langEN = "en"
)

var messages = map[string]map[string]string{
	langZH: { //nolint:gosec // G101: translations that mention tokens, not credentials
		"title":              "企业用工月报",
		"app":                "失业动态监测 · 企业月报",
		"skip":               "跳到主要内容",
		"signin_heading":     "登录",
		"signin_intro":       "请输入本企业的报送令牌（以 lw_ 开头）。",
		"token":              "报送令牌",
		"signin":             "登录",
		"signout":            "退出",
		"bad_token":          "令牌无效或已被吊销。",
		"too_many":           "失败次数过多，请稍后再试。",
		"session_expired":    "会话已过期或表单已失效，请重新操作。",
		"firm":               "企业",
		"choose_firm":        "选择企业",
		"show":               "显示",
		"period":             "报告期",
		"deadline":           "截止时间",
		"late_notice":        "已过截止时间：仍可报送，但将标记为逾期。",
		"last_month":         "上月数据",
		"no_last":            "上月无报送数据。",
		"this_month":         "本月数据",
		"already":            "本期已报送第 %s 版；再次提交将作为更正（第 %s 版）。",
		"required":           "（必填）",
		"headcount":          "期末从业人数",
		"vacancies":          "空缺岗位数",
		"hires":              "本月新增人数",
		"separations":        "本月减少人数（按原因）",
		"economic_layoff":    "经济性裁员",
		"closure_bankruptcy": "关闭破产",
		"suspension":         "停产停业",
		"contract_expiry":    "合同到期",
		"resignation":        "个人辞职",
		"retirement":         "退休",
		"transfer":           "调出",
		"other":              "其他原因",
		"note":               "备注",
		"review":             "检查并继续",
		"errors_heading":     "请更正以下问题：",
		"review_heading":     "请确认本月数据",
		"confirm":            "确认报送",
		"edit":               "返回修改",
		"done_heading":       "报送成功",
		"done_text":          "已收到 %s 的 %s 月报（第 %s 版）。",
		"done_late":          "本报告在截止时间之后收到，已标记为逾期。",
		"receipt":            "回执编号",
		"received_at":        "接收时间",
		"again":              "返回",
		"unavailable":        "暂时无法报送（消息队列不可用），数据未被接收，请稍后重试。",
		"conflict":           "本期该修订号已由他人或其他窗口以不同数据提交，您的数据未被接收。请核对已报数据，如需更正请作为新的修订再次提交。",
		"forbidden":          "此令牌无权为该企业报送。",
		"err_number":         "请输入非负整数。",
		"err_missing_field":  "此项为必填。",
		"err_out_of_range":   "超出允许范围：%s",
		"err_other":          "数据有误：%s",
		"figure":             "项目",
		"value":              "数值",
		"language":           "English",
	},
	langEN: {
		"title":              "Monthly employment report",
		"app":                "Unemployment monitoring · firm report",
		"skip":               "Skip to main content",
		"signin_heading":     "Sign in",
		"signin_intro":       "Enter your firm's reporting token (it starts with lw_).",
		"token":              "Reporting token",
		"signin":             "Sign in",
		"signout":            "Sign out",
		"bad_token":          "The token is not valid or has been revoked.",
		"too_many":           "Too many failed attempts; try again later.",
		"session_expired":    "Your session has expired or the form is stale; please try again.",
		"firm":               "Firm",
		"choose_firm":        "Choose a firm",
		"show":               "Show",
		"period":             "Reporting period",
		"deadline":           "Deadline",
		"late_notice":        "The deadline has passed: you can still report, but the report will be marked late.",
		"last_month":         "Last month",
		"no_last":            "No report for last month.",
		"this_month":         "This month",
		"already":            "Revision %s is already on file for this period; submitting again sends a correction (revision %s).",
		"required":           "(required)",
		"headcount":          "Headcount at month end",
		"vacancies":          "Open vacancies",
		"hires":              "Hires this month",
		"separations":        "Separations this month, by reason",
		"economic_layoff":    "Economic layoff",
		"closure_bankruptcy": "Closure or bankruptcy",
		"suspension":         "Suspension",
		"contract_expiry":    "Contract expiry",
		"resignation":        "Resignation",
		"retirement":         "Retirement",
		"transfer":           "Transfer",
		"other":              "Other",
		"note":               "Note",
		"review":             "Check and continue",
		"errors_heading":     "Please correct the following:",
		"review_heading":     "Please confirm this month's figures",
		"confirm":            "Confirm and submit",
		"edit":               "Go back and edit",
		"done_heading":       "Report submitted",
		"done_text":          "Received the %[2]s report of %[1]s (revision %[3]s).",
		"done_late":          "This report arrived after the deadline and is marked late.",
		"receipt":            "Receipt number",
		"received_at":        "Received at",
		"again":              "Back",
		"unavailable":        "Reports cannot be taken right now (the message queue is unavailable); nothing was received. Please try again later.",
		"conflict":           "This revision was just submitted with other figures (by someone else, or in another window); yours were not received. Check the figures on file and submit again as a correction.",
		"forbidden":          "This token may not report for that firm.",
		"err_number":         "Enter a whole number, 0 or more.",
		"err_missing_field":  "This field is required.",
		"err_out_of_range":   "Out of range: %s",
		"err_other":          "Invalid: %s",
		"figure":             "Figure",
		"value":              "Value",
		"language":           "中文",
	},
}

// pickLang chooses the page language: ?lang=, then the lw_lang cookie, then
// Accept-Language; Chinese unless English is preferred.
func pickLang(r *http.Request) (lang string, fromQuery bool) {
	if q := r.URL.Query().Get("lang"); q != "" {
		return normLang(q), true
	}
	if c, err := r.Cookie("lw_lang"); err == nil {
		return normLang(c.Value), false
	}
	best, bestQ := langZH, -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		tag = strings.ToLower(tag)
		var l string
		switch {
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = langEN
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			l = langZH
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best, false
}

func normLang(s string) string {
	if strings.HasPrefix(strings.ToLower(s), "en") {
		return langEN
	}
	return langZH
}
