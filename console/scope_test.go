package console

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/report"
)

// the query itself, echoed in the search box and the language link
var searchBox = regexp.MustCompile(`<input type="search"[^>]*>|<a href="[^"]*lang=[^"]*"`)

// TestScope proves, as a table over every endpoint and parameter, that a
// county official cannot see, open, act on or export another region's
// warning by any URL, id or parameter, and that a read-only account cannot
// change anything. Every route of the console is covered (or named below
// as not scoped, with the reason); the counts are in the test output.
func TestScope(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	period := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1).String()
	official := h.client()
	official.signIn("cg") // Chengguan, 620102
	reader := h.client()
	reader.signIn("ro") // read-only, Chengguan

	// what must never show to Chengguan: the other regions' warnings,
	// subjects and firms
	foreign := []string{h.alerts["ql"], h.alerts["by"], h.alerts["pref"], "七里河示例食品有限公司", "白银示例有色金属有限公司", firmQL, firmBY, "hr@ql.example.cn"}
	ids := map[string]string{"another county": h.alerts["ql"], "another prefecture": h.alerts["by"], "the prefecture above": h.alerts["pref"]}
	// the same ids written otherwise
	variants := func(id string) []string {
		return []string{id, strings.ToUpper(id), id + "%20", "%20" + id, id + "/", url.PathEscape(id + "\x00"), id[:len(id)-1], id + "0"}
	}

	type probe struct {
		route  string // the route pattern it exercises
		name   string
		method string
		path   string
		form   url.Values
		ok     func(code int, body string) bool // refused (or answered without anything foreign)
	}
	notFound := func(code int, _ string) bool { return code == http.StatusNotFound }
	forbidden := func(code int, _ string) bool { return code == http.StatusForbidden }
	clean := func(code int, body string) bool {
		if code != http.StatusOK {
			return false
		}
		body = searchBox.ReplaceAllString(body, "")
		for _, f := range foreign {
			if strings.Contains(body, f) {
				return false
			}
		}
		return true
	}
	var probes []probe
	for what, id := range ids {
		for _, v := range variants(id) {
			probes = append(probes,
				probe{"GET /warnings/{id}", "open " + what + " " + v, "GET", "/warnings/" + v, nil, notFound},
				probe{"GET /warnings/{id}", "open " + what + " in English " + v, "GET", "/warnings/" + v + "?lang=en", nil, notFound},
				probe{"GET /warnings/{id}/chart.png", "chart of " + what + " " + v, "GET", "/warnings/" + v + "/chart.png", nil, notFound})
			for _, a := range Actions {
				form := url.Values{"seq": {"0"}, "comment": {"x"}, "method": {"phone"}, "finding": {"other"}, "measure": {"other"}, "workers": {"1"},
					"verdict": {"false_alarm"}, "assignee": {"cg"}, "contacted_at": {"2020-01-01T00:00"}}
				probes = append(probes, probe{"POST /warnings/{id}/{action}", a + " on " + what + " " + v, "POST", "/warnings/" + v + "/" + a, form,
					func(code int, _ string) bool {
						return code == http.StatusNotFound || code == http.StatusMethodNotAllowed
					}})
			}
		}
	}
	for _, q := range []string{"county=620103", "county=620402", "q=七里河", "q=" + firmQL, "q=白银", "q=" + firmBY, "status=all", "status=all&county=620100",
		"level=II", "rule=county_cluster", "industry=B", "assignee=ql", "status=resolved", "status=closed", "q=" + h.alerts["ql"], "county=62", "lang=en&status=all"} {
		probes = append(probes, probe{"GET /inbox", "inbox " + q, "GET", "/inbox?" + q, nil, clean})
	}
	for _, q := range []string{"", "region=620103", "region=620000", "period=" + period, "period=" + period + "&region=620402"} {
		probes = append(probes, probe{"GET /reporting", "reporting " + q, "GET", "/reporting?" + q, nil, clean})
	}
	for _, reg := range []string{"620103", "620100", "620000", "620402", "6201", "62", "", "620102%00", "110101"} {
		if reg == "" {
			continue
		}
		for _, p := range []string{"/reports", "/reports/monthly.xlsx", "/reports/monthly.csv"} {
			route := "GET " + p
			probes = append(probes, probe{route, p + " region " + reg, "GET", p + "?period=" + period + "&region=" + reg, nil, notFound})
		}
	}
	for _, p := range []string{"/reports?period=" + period, "/reports/monthly.csv?period=" + period} {
		probes = append(probes, probe{"GET " + strings.Split(p, "?")[0], "own " + p, "GET", p, nil, clean})
	}
	for _, f := range []string{firmQL, firmBY, "91620103MA7K20009F", ""} {
		probes = append(probes, probe{"POST /reporting/remind", "remind " + f, "POST", "/reporting/remind", url.Values{"firm": {f}, "period": {period}}, notFound})
	}
	probes = append(probes, probe{"GET /audit", "audit log", "GET", "/audit", nil, forbidden})

	covered := map[string]bool{}
	refused := 0
	for _, p := range probes {
		covered[p.route] = true
		var code int
		var body string
		var loc string
		if p.method == "GET" {
			resp := official.do(mustReq("GET", h.url+p.path))
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			code, body, loc = resp.StatusCode, string(b), resp.Header.Get("Location")
		} else {
			code, loc, body = official.post(p.path, p.form)
		}
		// the router cleans a path such as /warnings/ID//ack with a
		// redirect, before any handler: follow it, as a browser would
		if code == http.StatusTemporaryRedirect || code == http.StatusPermanentRedirect {
			if p.method == "GET" {
				resp := official.do(mustReq("GET", h.url+loc))
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				code, body = resp.StatusCode, string(b)
			} else {
				code, _, body = official.post(loc, p.form)
			}
		}
		if p.ok(code, body) {
			refused++
		} else {
			t.Errorf("county official: %s: %s %s answered %d", p.name, p.method, p.path, code)
		}
	}
	// remind all: only the county's own firms get an email
	if code, _, _ := official.post("/reporting/remind", url.Values{"all": {"1"}, "period": {h.con.currentPeriod(time.Now()).String()}}); code != http.StatusSeeOther {
		t.Errorf("remind all: %d", code)
	}
	covered["POST /reporting/remind"] = true
	for _, m := range h.smtp.Messages() {
		for _, to := range m.To {
			if to != "zhao@cg2.example.cn" && to != "hr@cg.example.cn" {
				t.Errorf("remind all from Chengguan emailed %s", to)
			}
		}
	}

	// a read-only account changes nothing, on its own region's warnings
	changes := 0
	for _, id := range []string{h.alerts["cg"], h.alerts["county"], h.alerts["ql"]} {
		for _, a := range Actions {
			form := url.Values{"seq": {"0"}, "comment": {"x"}, "method": {"phone"}, "finding": {"other"}, "measure": {"other"}, "workers": {"1"},
				"verdict": {"false_alarm"}, "assignee": {"cg"}, "contacted_at": {"2020-01-01T00:00"}}
			code, _, _ := reader.post("/warnings/"+id+"/"+a, form)
			changes++
			if code == http.StatusForbidden {
				refused++
			} else {
				t.Errorf("read-only: %s on %s answered %d", a, id, code)
			}
		}
	}
	for _, f := range []url.Values{{"firm": {firmCG2}, "period": {period}}, {"all": {"1"}, "period": {period}}} {
		code, _, _ := reader.post("/reporting/remind", f)
		changes++
		if code == http.StatusForbidden {
			refused++
		} else {
			t.Errorf("read-only: remind %v answered %d", f, code)
		}
	}
	if n := h.count("SELECT count() FROM console_audit WHERE object_kind = 'case'"); n != 0 {
		t.Errorf("%d case actions recorded from refused requests", n)
	}
	if n := h.count("SELECT count() FROM acks"); n != 0 {
		t.Errorf("%d acknowledgements recorded from refused requests", n)
	}
	_ = ctx

	// every route is covered, or not scoped for a stated reason
	notScoped := map[string]string{
		"GET /signin": "public", "POST /signin": "public (tested in TestSessions, TestSigninRateLimit)",
		"GET /oidc/login": "public", "GET /oidc/callback": "public (state-checked)",
		"POST /signout": "ends the caller's own sessions only", "GET /{$}": "redirects to /inbox",
	}
	for _, r := range h.con.Routes() {
		if !covered[r] && notScoped[r] == "" {
			t.Errorf("route %s is not probed by the scope test", r)
		}
	}
	t.Logf("scope: %d requests by a Chengguan official against other regions and %d changes by a read-only account: %d of %d refused (%.0f%%)",
		len(probes), changes, refused, len(probes)+changes, 100*float64(refused)/float64(len(probes)+changes))
}
