package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestTenantScope: one gateway serving Gansu (the harness's firms) and
// Hubei (Jiang'an, Wuhan, and Xiantao, a county directly administered
// under 429000). Every bureau token of one province — province,
// prefecture, county — is refused for the other province's firms at every
// endpoint that acts for a firm (JSON, CSV, the web form's review and
// confirmation), and the endpoints that read (report states, deadlines,
// the web form's firm list) show nothing of the other province, though
// both have reports and missing firms to show. An Idempotency-Key one
// province used gives another province's token nothing of the first's
// answer. Each token still acts for its own firms (the control). Every
// route is probed, or named as public.
func TestTenantScope(t *testing.T) {
	h := newHarness(t, nil)
	hubeiFirms := []firms.Firm{
		{ID: testenv.FirmID("420102", 1), Name: "武汉甲公司", Region: "420102", Industry: "C", BaselineHeadcount: 700},
		{ID: testenv.FirmID("420102", 2), Name: "武汉乙公司", Region: "420102", Industry: "E", BaselineHeadcount: 200},
		{ID: testenv.FirmID("429004", 3), Name: "仙桃丙公司", Region: "429004", Industry: "C", BaselineHeadcount: 400},
	}
	if err := firms.NewStore(h.ch).Upsert(context.Background(), hubeiFirms); err != nil {
		t.Fatal(err)
	}
	if err := h.srv.firms.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	type province struct {
		name   string
		firms  []firms.Firm
		scopes []string // province, prefecture, county (and a directly administered county)
	}
	provinces := []province{
		{"Gansu", h.firms, []string{"620000", "620100", countyA, countyC}},
		{"Hubei", hubeiFirms, []string{"420000", "420100", "420102", "429000", "429004"}},
	}
	p := currentPeriod().String()
	tokens := map[string]string{}
	for _, pr := range provinces {
		for _, sc := range pr.scopes {
			tokens[sc] = h.token(Scope{Region: sc})
		}
	}
	// each province reports one firm (so report states have something of
	// both), the others are missing (so deadlines do)
	for _, pr := range provinces {
		if a := h.postJSON(tokens[pr.scopes[0]], reportJSON(pr.firms[0].ID, p, 1, "")); a.status != http.StatusAccepted {
			t.Fatalf("%s reports its own firm: %d %s", pr.name, a.status, a.body)
		}
	}
	sent := len(h.topic())
	covered := map[string]bool{}
	probes, rev := 0, 100
	probe := func(route string) { covered[route] = true; probes++ }
	for i, pr := range provinces {
		other := provinces[1-i]
		var foreign []string
		for _, f := range other.firms {
			foreign = append(foreign, f.ID, f.Name)
		}
		leaks := func(body []byte) string {
			for _, s := range foreign {
				if strings.Contains(string(body), s) {
					return s
				}
			}
			return ""
		}
		for _, sc := range pr.scopes {
			tok := tokens[sc]
			who := pr.name + " bureau " + sc
			mine := pr.firms[0]
			if !(Scope{Region: sc}).Allows(mine.ID, h.srv.registry(context.Background())) {
				for _, f := range pr.firms {
					if (Scope{Region: sc}).Allows(f.ID, h.srv.registry(context.Background())) {
						mine = f
					}
				}
			}
			for _, f := range other.firms {
				probe("POST /v1/reports")
				if a := h.postJSON(tok, reportJSON(f.ID, p, 1, "")); a.status != http.StatusForbidden || a.problem(t).Errors[0].Reason != "forbidden_firm" {
					t.Errorf("%s reports for %s of %s: %d %s", who, f.ID, other.name, a.status, a.body)
				}
				probe("POST /v1/reports")
				batch := "[" + reportJSON(mine.ID, p, 2, "") + "," + reportJSON(f.ID, p, 1, "") + "]"
				if a := h.postJSON(tok, batch); a.status != http.StatusForbidden {
					t.Errorf("%s reports a batch with %s of %s: %d %s", who, f.ID, other.name, a.status, a.body)
				}
				probe("POST /v1/reports.csv")
				csv := "firm_id,period,headcount,vacancies\n" + f.ID + "," + p + ",1,0\n"
				if a := h.do(http.MethodPost, "/v1/reports.csv", tok, "text/csv", []byte(csv)); a.status != http.StatusForbidden {
					t.Errorf("%s uploads CSV for %s of %s: %d %s", who, f.ID, other.name, a.status, a.body)
				}
			}
			for _, path := range []string{"/v1/reports?period=" + p, "/v1/deadlines?period=" + p, "/v1/reports", "/v1/deadlines"} {
				probe("GET " + strings.Split(path, "?")[0])
				a := h.get(path, tok)
				if a.status != http.StatusOK {
					t.Errorf("%s: GET %s: %d %s", who, path, a.status, a.body)
				} else if s := leaks(a.body); s != "" {
					t.Errorf("%s: GET %s shows %s of %s", who, path, s, other.name)
				}
			}
			// an Idempotency-Key the other province used: this token's
			// own request, its own answer
			probe("POST /v1/reports")
			key := "tenant-" + other.name
			idem := reportJSON(other.firms[0].ID, p, 7, `,"revision":50`)
			if a := h.postJSON(tokens[other.scopes[0]], idem, "Idempotency-Key", key); a.status != http.StatusAccepted {
				t.Fatalf("%s with key %s: %d %s", other.name, key, a.status, a.body)
			}
			if a := h.postJSON(tok, idem, "Idempotency-Key", key); a.status != http.StatusForbidden {
				t.Errorf("%s replays %s's Idempotency-Key for its firm: %d %s", who, other.name, a.status, a.body)
			}

			// the web form
			wc := newWebClient(h)
			form := wc.signIn(tok)
			probe("POST /report/signin")
			probe("GET /report")
			if form.status != http.StatusOK || !strings.Contains(string(form.body), mine.Name) {
				t.Fatalf("%s: the form of its own firm: %d", who, form.status)
			}
			if s := leaks(form.body); s != "" {
				t.Errorf("%s: the form lists %s of %s", who, s, other.name)
			}
			csrf := csrfOf(t, form)
			for _, f := range other.firms {
				probe("GET /report")
				if a := wc.get("/report?firm=" + url.QueryEscape(f.ID)); a.status != http.StatusForbidden || leaks(a.body) != "" {
					t.Errorf("%s: the form of %s of %s: %d", who, f.ID, other.name, a.status)
				}
				vals := url.Values{"csrf": {csrf}, "firm_id": {f.ID}, "headcount": {"100"}, "vacancies": {"1"}}
				for _, path := range []string{"/report", "/report/confirm"} {
					probe("POST " + path)
					if a := wc.post(path, vals); a.status != http.StatusForbidden || leaks(a.body) != "" {
						t.Errorf("%s: POST %s for %s of %s: %d", who, path, f.ID, other.name, a.status)
					}
				}
			}
			probe("POST /report/signout")
			if a := wc.post("/report/signout", url.Values{"csrf": {csrf}}); a.status != http.StatusOK {
				t.Errorf("%s: sign out: %d", who, a.status)
			}
			// the control: its own firm, by JSON
			rev++
			if a := h.postJSON(tok, reportJSON(mine.ID, p, 100, fmt.Sprintf(`,"revision":%d`, rev))); a.status != http.StatusAccepted {
				t.Errorf("%s reports its own firm %s: %d %s", who, mine.ID, a.status, a.body)
			}
			sent++
		}
	}
	// nothing of a refused request reached Kafka: the two first reports,
	// the two idempotent ones and each token's own
	if n := len(h.topic()); n != sent+2 {
		t.Errorf("%d messages on the topic, want %d", n, sent+2)
	}
	public := map[string]string{"GET /openapi.yaml": "public", "GET /healthz": "public", "GET /static/{file}": "public", "GET /{$}": "redirects to /report"}
	for _, rt := range h.srv.routeTable() {
		if !covered[rt.pattern] && public[rt.pattern] == "" {
			t.Errorf("route %s is not probed by the tenant scope test", rt.pattern)
		}
	}
	t.Logf("tenant scope: %d requests by %d bureau tokens of two provinces against the other's firms", probes, len(tokens))
}
