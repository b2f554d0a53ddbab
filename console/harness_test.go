package console

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/detector"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The test world: Lanzhou (620100) with two counties, Chengguan (620102)
// and Qilihe (620103), and Baiyin's Baiyin district (620402). One firm per
// county, a firm warning in each, a county warning in Chengguan, a
// prefecture warning for Lanzhou; an account at each level. The warnings
// carry their level's facts as the detector records them (the default
// plan's), but Baiyin's, recorded before alert events carried facts.
const testPassword = "correct horse battery staple"

var (
	firmCG  = testenv.FirmID("620102", 1) // Chengguan
	firmQL  = testenv.FirmID("620103", 2) // Qilihe
	firmBY  = testenv.FirmID("620402", 3) // Baiyin
	firmCG2 = testenv.FirmID("620102", 4) // Chengguan, has not reported
)

type harness struct {
	t      *testing.T
	opts   Options
	chOpts chdb.Options
	ch     *chdb.Client
	sql    driver.Conn
	con    *Console
	stop   func() // stops the console's Serve
	url    string
	smtp   *smtptest.Server
	alerts map[string]string // name → alert id
	tls    *tls.Config       // the clients' TLS when the console serves HTTPS
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	chOpts := testenv.ClickHouseOptions(t)
	ch, err := chdb.Open(ctx, chOpts, testenv.Logger(t), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ch.Close() })
	if _, err := ch.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, chOpts: chOpts, ch: ch, sql: testenv.SQL(t, chOpts), alerts: map[string]string{}}
	h.smtp = smtptest.Start(t, smtptest.Options{})
	h.seed()
	opts, err := DefaultOptions()
	if err != nil {
		t.Fatal(err)
	}
	opts.ClickHouse = chOpts
	opts.Plans = []string{"../deploy/plans/default.yaml"}
	opts.DataDir = t.TempDir()
	opts.Reminders = "off"
	opts.SMTPFrom = "layoffwatch <noreply@bureau.example>"
	h.opts = opts
	h.start()
	return h
}

// start builds the console (again, for a restart) and serves it with
// Serve on a port of its own, as `layoffwatch console` does.
func (h *harness) start() {
	h.t.Helper()
	snd, err := email.NewSender(email.SMTPConfig{Host: h.smtp.Host, Port: h.smtp.Port, TLS: "none", InsecureNoTLS: true,
		From: h.opts.SMTPFrom, Timeout: 10 * time.Second})
	if err != nil {
		h.t.Fatal(err)
	}
	h.opts.Sender = snd
	c, err := New(context.Background(), h.opts, h.ch, testenv.Logger(h.t), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if h.stop != nil {
		h.stop()
	}
	lo := h.opts
	lo.Listen = "127.0.0.1:0"
	ln, err := Listen(lo)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Serve(ctx, ln) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("console: %v", err)
		}
	}
	h.t.Cleanup(h.stop)
	h.con = c
	h.url = "http://" + ln.Addr().String()
	if h.opts.TLS.Enabled() {
		h.url = "https://" + ln.Addr().String()
	}
}

func (h *harness) seed() {
	t, ctx := h.t, context.Background()
	list := []firms.Firm{
		{ID: firmCG, Name: "兰州示例机械有限公司", Region: "620102", Industry: "C", BaselineHeadcount: 420,
			ContactName: "王芳", ContactEmail: "hr@cg.example.cn", ContactPhone: "0931-8881234"},
		{ID: firmQL, Name: "七里河示例食品有限公司", Region: "620103", Industry: "C", BaselineHeadcount: 300,
			ContactName: "李强", ContactEmail: "hr@ql.example.cn"},
		{ID: firmBY, Name: "白银示例有色金属有限公司", Region: "620402", Industry: "B", BaselineHeadcount: 2300},
		{ID: firmCG2, Name: "城关示例商贸有限公司", Region: "620102", Industry: "F", BaselineHeadcount: 80,
			ContactName: "赵敏", ContactEmail: "zhao@cg2.example.cn"},
	}
	if err := firms.NewStore(h.ch).Upsert(ctx, list); err != nil {
		t.Fatal(err)
	}
	// 30 months of reports for the first three firms, up to the current
	// reporting period; the fourth has not reported it
	now := time.Now()
	cur := report.PeriodOf(now.In(report.Shanghai()))
	var rows chdb.ReportRows
	for _, f := range list[:3] {
		for i := 30; i >= 0; i-- {
			p := cur.Add(-i)
			hc := uint32(400 + (int(p)%12)*3)
			if i == 1 && f.ID == firmCG {
				hc = 280 // the layoff
			}
			rows.Add(report.Report{FirmID: f.ID, Period: p, Headcount: hc, Revision: 1, ReportedAt: now}, now, 0, int64(i))
		}
	}
	for i := 30; i >= 2; i-- {
		rows.Add(report.Report{FirmID: firmCG2, Period: cur.Add(-i), Headcount: 80, Revision: 1, ReportedAt: now}, now, 0, int64(100+i))
	}
	if err := h.ch.InsertReports(ctx, &rows); err != nil {
		t.Fatal(err)
	}
	period := cur.Add(-1).String()
	h.alert("cg", "art41", "firm", firmCG, period, "IV", "620102", "C", "兰州示例机械有限公司", now.Add(-30*time.Hour), planFacts(t, "IV"))
	h.alert("cgmass", "mass_layoff", "firm", firmCG, cur.Add(-2).String(), "III", "620102", "C", "兰州示例机械有限公司", now.Add(-14*time.Hour), planFacts(t, "III"))
	h.alert("ql", "art41", "firm", firmQL, period, "IV", "620103", "C", "七里河示例食品有限公司", now.Add(-3*time.Hour), planFacts(t, "IV"))
	h.alert("by", "art41", "firm", firmBY, period, "IV", "620402", "B", "白银示例有色金属有限公司", now.Add(-3*time.Hour), alertevent.LevelFacts{})
	h.alert("county", "county_cluster", "county", "620102", period, "II", "620102", "", "城关区", now.Add(-3*time.Hour), planFacts(t, "II"))
	h.alert("pref", "prefecture_drop", "prefecture", "620100", period, "II", "620100", "", "兰州市", now.Add(-1*time.Hour), planFacts(t, "II"))
	// an email was sent about the Chengguan warning
	b, err := h.sql.PrepareBatch(ctx, "INSERT INTO notifications (message_id, alert_id, alert_version, recipient, kind, tier, status, detail, level, rule, region, fired_at, at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append("m1@layoffwatch", h.alerts["cg"], uint32(1), "cg@bureau.example", "digest", uint8(0), "sent", "", "IV", "art41", "620102",
		now.Add(-30*time.Hour), now.Add(-30*time.Hour+time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	users := NewUsers(h.ch, "test")
	for _, u := range []User{
		{Username: "cg", Name: "城关区经办人", Email: "cg@bureau.example", Role: Official, Region: "620102"},
		{Username: "cg2", Name: "城关区经办人二", Email: "cg2@bureau.example", Role: Official, Region: "620102"},
		{Username: "ql", Name: "七里河区经办人", Email: "ql@bureau.example", Role: Official, Region: "620103"},
		{Username: "lz", Name: "兰州市负责人", Email: "lz@bureau.example", Role: Supervisor, Region: "620100"},
		{Username: "gs", Name: "甘肃省管理员", Email: "gs@bureau.example", Role: Admin, Region: "620000", Language: "en"},
		{Username: "ro", Name: "城关区只读", Email: "ro@bureau.example", Role: ReadOnly, Region: "620102"},
		{Username: "ro-gs", Name: "省只读", Email: "rogs@bureau.example", Role: ReadOnly, Region: "620000"},
	} {
		if err := users.Add(ctx, u, testPassword); err != nil {
			t.Fatal(err)
		}
	}
}

// planFacts are what the default plan says about level.
func planFacts(t testing.TB, level string) alertevent.LevelFacts {
	t.Helper()
	plan, err := detector.LoadPlan("../deploy/plans/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lv, err := alertevent.ParseLevel(level)
	if err != nil {
		t.Fatal(err)
	}
	return plan.Levels[lv]
}

// alert records a firing alert as the detector does, with its level's
// facts (none: an alert recorded before events carried them).
func (h *harness) alert(name, rule, scope, key, period, level, reg, industry, subject string, at time.Time, facts alertevent.LevelFacts) {
	h.t.Helper()
	id := "a" + strings.Repeat("0", 19-len(name)) + name
	h.alerts[name] = id
	b, err := h.sql.PrepareBatch(context.Background(), `INSERT INTO alerts (alert_id, version, event, rule, scope, alert_key, period, level,
		previous_level, values_json, region, prefecture, industry, reported, expected, subject, title_zh, title_en, summary_zh, summary_en, plan, emitted_at,
		level_name_zh, level_name_en, level_color, level_action_zh, level_action_en, level_response_seconds)`)
	if err != nil {
		h.t.Fatal(err)
	}
	p, _ := time.Parse("2006-01", period)
	plan, err := detector.LoadPlan("../deploy/plans/default.yaml")
	if err != nil {
		h.t.Fatal(err)
	}
	titleZh, titleEn, values, sumZh, sumEn := rule, rule, `{"loss":120,"rate":0.3,"prev_headcount":400}`, "减员120人（30.0%）", "cut 120 staff (30.0%)"
	if r, ok := plan.Rule(rule); ok {
		titleZh, titleEn = r.Title.Zh, r.Title.En
	}
	if scope != "firm" {
		values, sumZh, sumEn = `{"firms_cutting":6}`, "6家企业同月减员超过50人或30%", "6 firms cut more than 50 staff or 30% in one month"
	}
	if err := b.Append(id, uint32(1), "firing", rule, scope, key, p, level, "", values, reg, reg[:4]+"00", industry,
		uint32(9), uint32(10), subject, titleZh, titleEn, sumZh, sumEn, "default", at.UTC().Truncate(time.Second),
		facts.NameZh, facts.NameEn, facts.Color, facts.ActionZh, facts.ActionEn, facts.ResponseSeconds); err != nil {
		h.t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		h.t.Fatal(err)
	}
}

// client is a browser without JavaScript: a cookie jar, no redirects
// followed.
type client struct {
	h    *harness
	http *http.Client
	csrf string
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{h: h, http: &http.Client{Jar: jar, Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: h.tls},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// get returns the status and body, and remembers the page's CSRF token.
func (c *client) get(path string) (int, string) {
	c.h.t.Helper()
	resp, err := c.http.Get(c.h.url + path)
	if err != nil {
		c.h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfRe.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, string(b)
}

func (c *client) do(req *http.Request) *http.Response {
	c.h.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return resp
}

// post sends a form with the session's CSRF token (unless form sets one)
// and returns the status, Location and body.
func (c *client) post(path string, form url.Values) (int, string, string) {
	c.h.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.h.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp := c.do(req)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// signIn signs in and fails the test unless it worked.
func (c *client) signIn(username string) {
	c.h.t.Helper()
	if code := c.trySignIn(username, testPassword); code != http.StatusSeeOther {
		c.h.t.Fatalf("sign in as %s: status %d", username, code)
	}
	if code, _ := c.get("/inbox"); code != http.StatusOK {
		c.h.t.Fatalf("inbox after sign-in as %s: %d", username, code)
	}
}

func (c *client) trySignIn(username, password string) int {
	c.h.t.Helper()
	c.get("/signin")
	code, _, _ := c.post("/signin", url.Values{"username": {username}, "password": {password}})
	return code
}

// count runs a count(*) of the test's own.
func (h *harness) count(query string, args ...any) uint64 {
	h.t.Helper()
	var n uint64
	if err := h.sql.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", query, err)
	}
	return n
}
