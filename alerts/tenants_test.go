package alerts

import (
	"slices"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
)

// twoProvinces is the routing of a deployment serving Gansu and Hubei:
// officials of both at every level, filters, and routes — one without
// regions naming an official of each province, one by region.
func twoProvinces(t *testing.T) *Config {
	t.Helper()
	c := &Config{
		Ack:   AckConfig{Secret: "0123456789abcdef-secret"},
		Links: Links{AckBaseURL: "http://127.0.0.1:9104"},
		Recipients: []Recipient{
			{Name: "城关区", Email: "chengguan@gs.example.cn", Region: "620102"},
			{Name: "兰州市", Email: "lanzhou@gs.example.cn", Region: "620100"},
			{Name: "甘肃省厅", Email: "province@gs.example.cn", Region: "620000"},
			{Name: "甘肃督查", Email: "audit@gs.example.cn", Region: "620000", MinLevel: "I"},
			{Name: "江岸区", Email: "jiangan@hb.example.cn", Region: "420102"},
			{Name: "武汉市", Email: "wuhan@hb.example.cn", Region: "420100"},
			{Name: "仙桃市", Email: "xiantao@hb.example.cn", Region: "429004"},
			{Name: "湖北省直管", Email: "direct@hb.example.cn", Region: "429000"},
			{Name: "湖北省厅", Email: "province@hb.example.cn", Region: "420000"},
			{Name: "湖北关闭专员", Email: "closures@hb.example.cn", Region: "420000", Rules: []string{"closure"}},
		},
		Routes: []Route{
			// every closure and major cut to both provinces' duty officials:
			// each hears only of its own province's
			{Match: RouteMatch{Rules: []string{"closure", "major_cut"}}, Recipients: []string{"audit@gs.example.cn", "closures@hb.example.cn"}},
			{Match: RouteMatch{MinLevel: "IV"}, Recipients: []string{"province@gs.example.cn", "province@hb.example.cn"}},
			{Match: RouteMatch{Regions: []string{"4201"}}, Recipients: []string{"province@hb.example.cn"}},
		},
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRouteTwoProvinces: every alert of either province — each scope and
// level, every rule the routes name, at every escalation tier — reaches
// only officials of its own province, and the province's own officials
// still get what the default routing and the routes give them.
func TestRouteTwoProvinces(t *testing.T) {
	rt := NewRouter(twoProvinces(t))
	regions := map[alertevent.Scope][]string{
		alertevent.ScopeFirm:       {"620102", "620103", "420102", "429004"},
		alertevent.ScopeCounty:     {"620102", "420102", "429004"},
		alertevent.ScopePrefecture: {"620100", "420100", "429000"},
		alertevent.ScopeProvince:   {"620000", "420000"},
	}
	checked := 0
	reached := map[string]bool{}
	for scope, list := range regions {
		for _, reg := range list {
			for _, lv := range alertevent.Levels() {
				for _, rule := range []string{"art41", "closure", "major_cut", "county_cluster"} {
					for tier := 0; tier <= TierProvince; tier++ {
						e := alertevent.Event{Rule: rule, Scope: scope, Level: lv, Region: reg, Industry: "C"}
						for _, r := range rt.Route(e, tier) {
							checked++
							reached[r.r.Email] = true
							if region.ProvinceOf(r.r.Region) != region.ProvinceOf(reg) {
								t.Errorf("%s %s alert of %s (%s, tier %d) reached %s of %s", lv, scope, reg, rule, tier, r.r.Email, r.r.Region)
							}
						}
					}
				}
			}
		}
	}
	for _, r := range twoProvinces(t).Recipients {
		if !reached[r.Email] {
			t.Errorf("%s received nothing: the routing under test is not exercised", r.Email)
		}
	}
	// what each province's routes still do
	for _, tc := range []struct {
		e    alertevent.Event
		want string
	}{
		{alertevent.Event{Rule: "closure", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "420102"}, "closures,jiangan,province"},
		{alertevent.Event{Rule: "closure", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "620102"}, "audit,chengguan,province"},
		{alertevent.Event{Rule: "art41", Scope: alertevent.ScopeFirm, Level: alertevent.LevelIV, Region: "429004"}, "province,xiantao"},
		{alertevent.Event{Rule: "art41", Scope: alertevent.ScopePrefecture, Level: alertevent.LevelI, Region: "429000"}, "direct,province"},
	} {
		var got []string
		for _, r := range rt.Route(tc.e, 0) {
			if region.ProvinceOf(r.r.Region) != region.ProvinceOf(tc.e.Region) {
				t.Errorf("%+v reached %s", tc.e, r.r.Email)
			}
			got = append(got, strings.Split(r.r.Email, "@")[0])
		}
		if g := strings.Join(slices.Sorted(slices.Values(got)), ","); g != tc.want {
			t.Errorf("%s %s of %s: %s, want %s", tc.e.Rule, tc.e.Level, tc.e.Region, g, tc.want)
		}
	}
	t.Logf("%d deliveries checked", checked)
}

// TestRouteRegionsOutsideTheRecipientsProvince: a route by region naming
// an official of another province is a config error (it could never
// deliver), named with the file's route and recipient.
func TestRouteRegionsOutsideTheRecipientsProvince(t *testing.T) {
	c := twoProvinces(t)
	c.Routes = append(c.Routes, Route{Match: RouteMatch{Regions: []string{"420100", "4290"}}, Recipients: []string{"wuhan@hb.example.cn", "lanzhou@gs.example.cn"}})
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "routes[3]: recipient lanzhou@gs.example.cn (region 620100) is outside every region of the route (420100, 4290)") {
		t.Fatalf("Validate: %v", err)
	}
}
