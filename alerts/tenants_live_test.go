package alerts_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestAlertComponentTwoProvinces: the alert component of a deployment
// serving Gansu and Hubei, on the real broker, ClickHouse and an SMTP
// server. A route without regions names both provinces' duty officials:
// each is told only of its own province's major cuts. Hubei's warnings —
// a firm's, a county's, the province's — reach only Hubei's officials, also
// when an unacknowledged one escalates to the province; Gansu's only
// Gansu's. A Gansu official's acknowledge link turned to a Hubei alert is
// refused, and nothing of Hubei is acknowledged.
func TestAlertComponentTwoProvinces(t *testing.T) {
	r := newRig(t, smtptest.Options{})
	r.stop()
	cfg := fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true, timeout: 5s}
links: {ack_base_url: "http://%s", grafana_base_url: "http://grafana.example"}
ack: {secret: test-ack-secret-0123456789, expiry: 168h}
group_wait: 300ms
recipients:%s
  - {name: 江岸区人社局, email: jiangan@hb.example.cn, region: "420102"}
  - {name: 仙桃市人社局, email: xiantao@hb.example.cn, region: "429004"}
  - {name: 武汉市人社局, email: wuhan@hb.example.cn, region: "420100", min_level: III}
  - {name: 湖北省人社厅就业处, email: jiuye@hb.example.cn, region: "420000", min_level: II}
  - {name: 湖北省值班, email: duty@hb.example.cn, region: "420000", min_level: IV}
routes:
  - match: {rules: [major_cut, closure]}
    recipients: [jiuye@gs.example.cn, duty@hb.example.cn]
`, r.smtp.Port, r.http, recipientsYAML)
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()

	hubei := func(e alertevent.Event, reg, key, subject string) alertevent.Event {
		e.Region, e.Key, e.Subject, e.Prefecture = reg, key, subject, ""
		if reg != reg[:2]+"0000" {
			e.Prefecture = reg[:4] + "00"
		}
		e.ID = alertevent.ID(e.Rule, e.Scope, e.Key, e.Period)
		return e
	}
	gsCut := r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing) // Chengguan
	gsCluster := r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620104", 1, alertevent.Firing)
	hbCut := hubei(r.event("major_cut", alertevent.LevelIII, alertevent.ScopeFirm, "1", 1, alertevent.Firing),
		"420102", testenv.FirmID("420102", 1), "武汉测试汽车有限公司")
	hbCounty := hubei(r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620104", 1, alertevent.Firing),
		"429004", "429004", "仙桃市")
	hbProvince := hubei(r.event("province_fall", alertevent.LevelII, alertevent.ScopeProvince, "620104", 1, alertevent.Firing),
		"420000", "420000", "湖北省")
	r.send(gsCut, gsCluster, hbCut, hbCounty, hbProvince)
	r.waitMail(9)
	// Hubei's county warning is not acknowledged: after its 2 h it
	// escalates to Wuhan's… tier (none for Xiantao) and then the province
	r.clock.add(2*time.Hour + time.Minute)
	time.Sleep(time.Second)
	r.clock.add(2*time.Hour + time.Minute)
	time.Sleep(2 * time.Second)

	gansuSecrets := []string{"gs.example.cn", gsCut.ID, gsCluster.ID, r.firms["1"].Name}
	hubeiSecrets := []string{"hb.example.cn", hbCut.ID, hbCounty.ID, hbProvince.ID, "武汉测试汽车有限公司", "仙桃市", "湖北省"}
	got := map[string]int{}
	for _, m := range r.smtp.Messages() {
		body := string(m.Data) + textPart(t, m)
		for _, to := range m.To {
			got[strings.Split(to, "@")[0]+"@"+strings.Split(to, "@")[1][:2]]++
			foreign := hubeiSecrets
			if strings.HasSuffix(to, "@hb.example.cn") {
				foreign = gansuSecrets
			}
			for _, s := range foreign {
				if s != "hb.example.cn" && s != "gs.example.cn" && strings.Contains(body, s) {
					t.Errorf("an email to %s tells of %q of the other province", to, s)
				}
			}
		}
	}
	// the control: each province's officials heard of its own warnings
	for _, who := range []string{"chengguan@gs", "jiuye@gs", "xigu@gs", "jiangan@hb", "duty@hb", "xiantao@hb", "jiuye@hb"} {
		if got[who] == 0 {
			t.Errorf("%s got no email: %v", who, got)
		}
	}
	var n uint64
	if err := testenv.SQL(t, r.ch.Options()).QueryRow(context.Background(),
		"SELECT count() FROM notifications WHERE (endsWith(recipient, '@gs.example.cn') AND startsWith(region, '42')) OR (endsWith(recipient, '@hb.example.cn') AND startsWith(region, '62'))").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("the notification log has %d deliveries across provinces", n)
	}
	if err := testenv.SQL(t, r.ch.Options()).QueryRow(context.Background(),
		"SELECT count() FROM notifications WHERE kind = 'escalation' AND alert_id = ?", hbCounty.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("Hubei's county warning did not escalate: the escalation path is not exercised")
	}

	// a Gansu official's acknowledge link, turned to a Hubei alert
	var link string
	for _, m := range r.smtp.Messages() {
		if m.To[0] == "chengguan@gs.example.cn" {
			link = ackRe.FindString(textPart(t, m))
		}
	}
	if link == "" {
		t.Fatal("no acknowledge link to Chengguan")
	}
	u, _ := url.Parse(link)
	for _, id := range []string{hbCut.ID, hbCounty.ID, hbProvince.ID} {
		q := u.Query()
		q.Set("a", id)
		for _, do := range []func() (*http.Response, error){
			func() (*http.Response, error) { return http.Get("http://" + r.http + "/ack?" + q.Encode()) },
			func() (*http.Response, error) { return http.PostForm("http://"+r.http+"/ack", q) },
		} {
			resp, err := do()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("Chengguan's link for Hubei's %s: %d, want 403", id, resp.StatusCode)
			}
		}
	}
	if err := testenv.SQL(t, r.ch.Options()).QueryRow(context.Background(), "SELECT count() FROM acks").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d acknowledgements recorded from refused links", n)
	}
	t.Logf("emails by recipient: %v", got)
}
