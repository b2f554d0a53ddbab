package console

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// A second province beside the harness's Gansu: Hubei, with Wuhan's
// Jiang'an district (420102), Yichang's Xiling district (420502) and
// Xiantao (429004, a directly administered unit under 429000). A firm
// each, a firm warning in each, a county warning in Jiang'an, a
// prefecture warning for Wuhan and a province warning for Hubei (and one
// for Gansu); accounts at the three levels of each province.
var (
	firmJA = testenv.FirmID("420102", 11) // Jiang'an, Wuhan
	firmXL = testenv.FirmID("420502", 12) // Xiling, Yichang
	firmXT = testenv.FirmID("429004", 13) // Xiantao, has not reported
)

type tenant struct {
	users   []string // accounts: province, prefecture, county
	alerts  []string // harness alert names of the province
	secrets []string // what the other province must never see: names, firm ids, contacts, accounts
	regions []string // region codes of the province, for parameters
}

func seedHubei(h *harness) (gansu, hubei tenant) {
	t, ctx := h.t, context.Background()
	list := []firms.Firm{
		{ID: firmJA, Name: "武汉示例汽车零部件有限公司", Region: "420102", Industry: "C", BaselineHeadcount: 900,
			ContactName: "陈静", ContactEmail: "hr@ja.example.cn", ContactPhone: "027-82881234"},
		{ID: firmXL, Name: "宜昌示例化工有限公司", Region: "420502", Industry: "C", BaselineHeadcount: 600,
			ContactName: "刘洋", ContactEmail: "hr@xl.example.cn"},
		{ID: firmXT, Name: "仙桃示例无纺布有限公司", Region: "429004", Industry: "C", BaselineHeadcount: 500,
			ContactName: "周婷", ContactEmail: "hr@xt.example.cn"},
	}
	if err := firms.NewStore(h.ch).Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	cur := report.PeriodOf(now.In(report.Shanghai()))
	var rows chdb.ReportRows
	for _, f := range list[:2] { // Xiantao's firm has not reported the current month
		for i := 30; i >= 0; i-- {
			hc := uint32(800 + (int(cur.Add(-i))%12)*4)
			if i == 1 {
				hc = 500
			}
			rows.Add(report.Report{FirmID: f.ID, Period: cur.Add(-i), Headcount: hc, Revision: 1, ReportedAt: now}, now, 0, int64(200+i))
		}
	}
	for i := 30; i >= 2; i-- {
		rows.Add(report.Report{FirmID: firmXT, Period: cur.Add(-i), Headcount: 500, Revision: 1, ReportedAt: now}, now, 0, int64(300+i))
	}
	if err := h.ch.InsertReports(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	period := cur.Add(-1).String()
	h.alert("ja", "art41", "firm", firmJA, period, "IV", "420102", "C", "武汉示例汽车零部件有限公司", now.Add(-5*time.Hour), planFacts(t, "IV"))
	h.alert("xl", "art41", "firm", firmXL, period, "IV", "420502", "C", "宜昌示例化工有限公司", now.Add(-5*time.Hour), planFacts(t, "IV"))
	h.alert("xt", "art41", "firm", firmXT, cur.Add(-2).String(), "IV", "429004", "C", "仙桃示例无纺布有限公司", now.Add(-5*time.Hour), planFacts(t, "IV"))
	h.alert("jacounty", "county_cluster", "county", "420102", period, "II", "420102", "", "江岸区", now.Add(-4*time.Hour), planFacts(t, "II"))
	h.alert("wh", "prefecture_drop", "prefecture", "420100", period, "II", "420100", "", "武汉市", now.Add(-2*time.Hour), planFacts(t, "II"))
	h.alert("hb", "province_fall", "province", "420000", period, "I", "420000", "", "湖北省", now.Add(-2*time.Hour), planFacts(t, "I"))
	h.alert("gsprov", "province_fall", "province", "620000", period, "I", "620000", "", "甘肃省", now.Add(-2*time.Hour), planFacts(t, "I"))
	users := NewUsers(h.ch, "test")
	for _, u := range []User{
		{Username: "hb", Name: "湖北省管理员", Email: "hb@bureau.example", Role: Admin, Region: "420000"},
		{Username: "wh", Name: "武汉市负责人", Email: "wh@bureau.example", Role: Supervisor, Region: "420100"},
		{Username: "ja", Name: "江岸区经办人", Email: "ja@bureau.example", Role: Official, Region: "420102"},
	} {
		if err := users.Add(ctx, u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
	gansu = tenant{users: []string{"gs", "lz", "cg"}, alerts: []string{"cg", "cgmass", "ql", "by", "county", "pref", "gsprov"},
		secrets: []string{"兰州示例机械有限公司", "七里河示例食品有限公司", "白银示例有色金属有限公司", "城关示例商贸有限公司", firmCG, firmQL, firmBY, firmCG2,
			"hr@cg.example.cn", "hr@ql.example.cn", "zhao@cg2.example.cn", "城关区经办人", "cg@bureau.example", "兰州市", "甘肃省"},
		regions: []string{"620000", "620100", "620102", "620103", "620400", "620402", "62", "6201"}}
	hubei = tenant{users: []string{"hb", "wh", "ja"}, alerts: []string{"ja", "xl", "xt", "jacounty", "wh", "hb"},
		secrets: []string{"武汉示例汽车零部件有限公司", "宜昌示例化工有限公司", "仙桃示例无纺布有限公司", firmJA, firmXL, firmXT,
			"hr@ja.example.cn", "hr@xl.example.cn", "hr@xt.example.cn", "江岸区经办人", "ja@bureau.example", "武汉市", "湖北省", "江岸区"},
		regions: []string{"420000", "420100", "420102", "420500", "420502", "429000", "429004", "42", "4201"}}
	for _, name := range hubei.alerts {
		hubei.secrets = append(hubei.secrets, h.alerts[name])
	}
	for _, name := range gansu.alerts {
		gansu.secrets = append(gansu.secrets, h.alerts[name])
	}
	return gansu, hubei
}

// TestTenantScope: one console serving Gansu and Hubei. Each province's
// accounts — province admin, prefecture supervisor, county official — see
// nothing of the other province at any endpoint: its warnings by id (and
// their charts and every handling action), the inbox under any filter, the
// reporting list, the monthly report and its exports under the other's
// region codes, reminders to its firms, and the audit log with the other
// province's own actions in it. Each still sees its own province's
// warnings (the control that the probes can fail). Every route is probed,
// or named as not scoped with the reason.
func TestTenantScope(t *testing.T) {
	h := newHarness(t)
	gansu, hubei := seedHubei(h)
	cur := report.PeriodOf(time.Now().In(report.Shanghai()))
	period := cur.Add(-1).String()
	form := func() url.Values {
		return url.Values{"seq": {"0"}, "comment": {"x"}, "method": {"phone"}, "finding": {"other"}, "measure": {"other"}, "workers": {"1"},
			"verdict": {"false_alarm"}, "assignee": {"ja"}, "contacted_at": {"2020-01-01T00:00"}}
	}
	// each province acts on a warning of its own, so the audit log holds
	// both provinces' rows
	for _, own := range []struct{ user, alert string }{{"ja", "ja"}, {"hb", "hb"}, {"cg", "cg"}} {
		c := h.client()
		c.signIn(own.user)
		if code, _ := c.get("/warnings/" + h.alerts[own.alert]); code != http.StatusOK {
			t.Fatalf("%s opens its own warning %s: %d", own.user, own.alert, code)
		}
		if code, _, body := c.post("/warnings/"+h.alerts[own.alert]+"/ack", form()); code != http.StatusSeeOther {
			t.Fatalf("%s acknowledges its own warning %s: %d %s", own.user, own.alert, code, body)
		}
	}

	covered := map[string]bool{}
	probes, refused := 0, 0
	for _, side := range []struct {
		name      string
		mine, not tenant
	}{{"Gansu", gansu, hubei}, {"Hubei", hubei, gansu}} {
		for _, username := range side.mine.users {
			c := h.client()
			c.signIn(username)
			var role Role
			for _, r := range []struct {
				u    string
				role Role
			}{{"gs", Admin}, {"hb", Admin}, {"lz", Supervisor}, {"wh", Supervisor}, {"cg", Official}, {"ja", Official}} {
				if r.u == username {
					role = r.role
				}
			}
			who := side.name + " " + username
			clean := func(code int, body string) bool {
				if code != http.StatusOK {
					return false
				}
				body = searchBox.ReplaceAllString(body, "")
				for _, s := range side.not.secrets {
					if strings.Contains(body, s) {
						t.Logf("%s: the page shows %q", who, s)
						return false
					}
				}
				return true
			}
			check := func(route, method, path string, f url.Values, ok func(int, string) bool) {
				covered[route] = true
				probes++
				var code int
				var body string
				if method == "GET" {
					resp := c.do(mustReq("GET", h.url+path))
					b, _ := io.ReadAll(resp.Body)
					_ = resp.Body.Close()
					code, body = resp.StatusCode, string(b)
				} else {
					code, _, body = c.post(path, f)
				}
				if ok(code, body) {
					refused++
				} else {
					t.Errorf("%s: %s %s answered %d", who, method, path, code)
				}
			}
			notFound := func(code int, _ string) bool { return code == http.StatusNotFound }
			for _, name := range side.not.alerts {
				id := h.alerts[name]
				for _, v := range []string{id, strings.ToUpper(id), id + "?lang=en"} {
					check("GET /warnings/{id}", "GET", "/warnings/"+v, nil, notFound)
				}
				check("GET /warnings/{id}/chart.png", "GET", "/warnings/"+id+"/chart.png", nil, notFound)
				for _, a := range Actions {
					check("POST /warnings/{id}/{action}", "POST", "/warnings/"+id+"/"+a, form(), func(code int, _ string) bool {
						return code == http.StatusNotFound || code == http.StatusForbidden
					})
				}
			}
			queries := []string{"", "status=all", "status=all&lang=en", "status=closed", "status=resolved", "level=I&status=all", "rule=province_fall&status=all",
				"assignee=ja&status=all", "assignee=cg&status=all", "industry=C&status=all"}
			for _, reg := range side.not.regions {
				queries = append(queries, "county="+reg+"&status=all")
			}
			for _, s := range side.not.secrets {
				queries = append(queries, "status=all&q="+url.QueryEscape(s))
			}
			for _, q := range queries {
				check("GET /inbox", "GET", "/inbox?"+q, nil, clean)
			}
			for _, q := range []string{"", "period=" + period, "period=" + h.con.currentPeriod(time.Now()).String()} {
				check("GET /reporting", "GET", "/reporting?"+q, nil, clean)
				for _, reg := range side.not.regions {
					check("GET /reporting", "GET", "/reporting?"+q+"&region="+reg, nil, clean)
				}
			}
			for _, reg := range side.not.regions {
				for _, p := range []string{"/reports", "/reports/monthly.xlsx", "/reports/monthly.csv"} {
					check("GET "+p, "GET", p+"?period="+period+"&region="+reg, nil, notFound)
				}
			}
			for _, p := range []string{"/reports?period=" + period, "/reports/monthly.csv?period=" + period} {
				check("GET "+strings.Split(p, "?")[0], "GET", p, nil, clean)
			}
			remindRefused := func(code int, _ string) bool {
				return code == http.StatusNotFound || (role == ReadOnly && code == http.StatusForbidden)
			}
			for _, f := range []string{firmJA, firmXL, firmXT, firmCG, firmCG2, firmQL, firmBY} {
				if strings.Contains(strings.Join(side.not.secrets, " "), f) {
					check("POST /reporting/remind", "POST", "/reporting/remind", url.Values{"firm": {f}, "period": {h.con.currentPeriod(time.Now()).String()}}, remindRefused)
				}
			}
			if role == Admin {
				check("GET /audit", "GET", "/audit", nil, clean)
			} else {
				check("GET /audit", "GET", "/audit", nil, func(code int, _ string) bool { return code == http.StatusForbidden })
			}
			// the control: the account sees its own province's warnings
			_, inbox := c.get("/inbox?status=all")
			seen := 0
			for _, name := range side.mine.alerts {
				if strings.Contains(inbox, h.alerts[name]) {
					seen++
				}
			}
			if seen == 0 {
				t.Errorf("%s sees none of its own province's warnings: the probes prove nothing", who)
			}
			// remind all: only the province's own firms are emailed
			before := len(h.smtp.Messages())
			if code, _, _ := c.post("/reporting/remind", url.Values{"all": {"1"}, "period": {h.con.currentPeriod(time.Now()).String()}}); code != http.StatusSeeOther {
				t.Errorf("%s: remind all: %d", who, code)
			}
			for _, m := range h.smtp.Messages()[before:] {
				for _, to := range m.To {
					if strings.Contains(strings.Join(side.not.secrets, " "), to) {
						t.Errorf("%s: remind all emailed %s of the other province", who, to)
					}
				}
			}
		}
	}
	notScoped := map[string]string{
		"GET /signin": "public", "POST /signin": "public (tested in TestSessions, TestSigninRateLimit)",
		"GET /oidc/login": "public", "GET /oidc/callback": "public (state-checked)",
		"POST /signout": "ends the caller's own sessions only", "GET /{$}": "redirects to /inbox",
	}
	for _, r := range h.con.Routes() {
		if !covered[r] && notScoped[r] == "" {
			t.Errorf("route %s is not probed by the tenant scope test", r)
		}
	}
	if n := h.count("SELECT count() FROM console_audit WHERE object_kind = 'case' AND action != 'ack'"); n != 0 {
		t.Errorf("%d case actions recorded from refused requests", n)
	}
	if n := h.count("SELECT count() FROM acks"); n != 3 {
		t.Errorf("%d acknowledgements recorded, want the 3 of each province's own", n)
	}
	t.Logf("tenant scope: %d requests by six accounts of two provinces against the other province: %d refused or clean", probes, refused)
}

// TestTenantPlans: with a plan per province (detect's set), a warning's
// page shows the condition and source of its rule in its own province's
// plan, and an account's rule filter lists its province's plan's rules.
func TestTenantPlans(t *testing.T) {
	h := newHarness(t)
	seedHubei(h)
	h.opts.Plans = []string{"../deploy/plans/default.yaml", "../detector/testdata/two_provinces/plans/hubei.yaml"}
	h.start()
	period := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1).String()
	h.alert("hbcut", "hubei_cut", "firm", firmJA, period, "III", "420102", "C", "武汉示例汽车零部件有限公司", time.Now().Add(-time.Hour), planFacts(t, "III"))
	ja := h.client()
	ja.signIn("ja")
	if code, body := ja.get("/warnings/" + h.alerts["hbcut"]); code != http.StatusOK || !strings.Contains(body, `<code id="condition">loss &gt;= 30</code>`) ||
		!strings.Contains(body, "an illustrative threshold for the test") {
		t.Fatalf("Hubei's warning under Hubei's plan: %d, condition and source missing", code)
	}
	// a Hubei warning of a rule only Gansu's plan has: no condition shown
	if code, body := ja.get("/warnings/" + h.alerts["ja"]); code != http.StatusOK || strings.Contains(body, `id="condition"`) {
		t.Fatalf("Hubei's art41 warning shows a condition of another plan (%d)", code)
	}
	if _, body := ja.get("/inbox"); !strings.Contains(body, `<option value="hubei_cut"`) || strings.Contains(body, `<option value="art41"`) {
		t.Error("Hubei's rule filter does not list Hubei's plan's rules alone")
	}
	cg := h.client()
	cg.signIn("cg")
	if code, body := cg.get("/warnings/" + h.alerts["cg"]); code != http.StatusOK || !strings.Contains(body, `id="condition"`) {
		t.Fatalf("Gansu's warning under the default plan: %d, no condition", code)
	}
	if _, body := cg.get("/inbox"); strings.Contains(body, `<option value="hubei_cut"`) || !strings.Contains(body, `<option value="art41"`) {
		t.Error("Gansu's rule filter does not list the default plan's rules alone")
	}
}
