package console

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/label"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// TestCaseFlow works a warning from acknowledgement to closure as a county
// official, over HTTP against ClickHouse: every step changes the case,
// writes one audit row, and the acknowledgement lands in the acks table the
// alert component reads (so escalation stops); the verdict is exported as
// a label.
func TestCaseFlow(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn("cg")
	id := h.alerts["cg"]

	code, body := c.get("/inbox")
	if code != 200 || !strings.Contains(body, id) || !strings.Contains(body, h.alerts["county"]) {
		t.Fatalf("inbox of Chengguan misses its warnings: %d", code)
	}
	for _, other := range []string{"ql", "by", "pref"} {
		if strings.Contains(body, h.alerts[other]) {
			t.Errorf("inbox of Chengguan shows warning %s", other)
		}
	}
	if !strings.Contains(body, "已超时") {
		t.Error("the overdue level II county warning is not marked overdue")
	}

	steps := []struct {
		action string
		form   url.Values
		status string
	}{
		{"ack", url.Values{"comment": {"已收到，今日联系企业"}}, StatusAcknowledged},
		{"assign", url.Values{"assignee": {"cg2"}}, StatusAcknowledged},
		{"comment", url.Values{"comment": {"企业人事科电话占线"}}, StatusAcknowledged},
		{"verify", url.Values{"method": {"visit"}, "contacted_at": {time.Now().In(report.Shanghai()).Add(-time.Hour).Format("2006-01-02T15:04")},
			"finding": {"economic_layoff"}, "note": {"订单下降，裁员120人"}}, StatusVerified},
		{"respond", url.Values{"measure": {"retention_refund"}, "workers": {"300"}}, StatusResponding},
		{"respond", url.Values{"measure": {"job_matching"}, "workers": {"120"}, "note": {"专场招聘会"}}, StatusResponding},
		{"close", url.Values{"verdict": {"true_warning"}, "note": {"已妥善处置"}}, StatusClosed},
	}
	for i, s := range steps {
		c.get("/warnings/" + id)
		s.form.Set("seq", strconv.Itoa(i))
		code, loc, _ := c.post("/warnings/"+id+"/"+s.action, s.form)
		if code != http.StatusSeeOther || !strings.Contains(loc, "done=") {
			t.Fatalf("step %d %s: status %d, location %q", i, s.action, code, loc)
		}
		cs, _, _, err := h.con.currentCase(context.Background(), Alert{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if cs.Status != s.status || cs.Seq != uint32(i+1) {
			t.Fatalf("after %s: status %s seq %d, want %s %d", s.action, cs.Status, cs.Seq, s.status, i+1)
		}
	}
	// an audit row per action, with before and after
	if n := h.count("SELECT count() FROM console_audit WHERE object_kind = 'case' AND object_id = ?", id); n != uint64(len(steps)) {
		t.Errorf("%d audit rows for %d actions", n, len(steps))
	}
	if n := h.count("SELECT count() FROM console_audit WHERE object_kind = 'case' AND object_id = ? AND (before = '' OR after = '' OR actor != 'cg' OR address = '')", id); n != 0 {
		t.Errorf("%d audit rows without before, after, actor or address", n)
	}
	// the acknowledgement is the alert component's too
	if n := h.count("SELECT count() FROM acks FINAL WHERE alert_id = ? AND recipient = 'cg@bureau.example' AND via = 'console'", id); n != 1 {
		t.Errorf("acks rows for the console acknowledgement: %d, want 1", n)
	}
	// a step on a closed case is refused
	code, loc, _ := c.post("/warnings/"+id+"/respond", url.Values{"seq": {itoa(len(steps))}, "measure": {"training"}, "workers": {"1"}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "err_closed") {
		t.Errorf("respond on a closed case: %d %s", code, loc)
	}
	// a stale form is a conflict
	code, _, _ = c.post("/warnings/"+id+"/comment", url.Values{"seq": {"3"}, "comment": {"late"}})
	if code != http.StatusConflict {
		t.Errorf("stale form: %d, want 409", code)
	}
	// the page shows the timeline, the audit and the closure
	_, page := c.get("/warnings/" + id)
	// (the default plan's art41 judges the loss against peers and seasons:
	// no headcount line to show)
	for _, want := range []string{"预警属实", "稳岗返还", "职业介绍/招聘会", "经济性裁员属实", "cg@bureau.example", "邮件已发送至 cg@bureau.example", "王芳", "0931-8881234",
		"loss &gt;= line_people", "IV级 蓝色", "纳入重点监测"} {
		if !strings.Contains(page, want) {
			t.Errorf("warning page lacks %q", want)
		}
	}
	if strings.Contains(page, "触发阈值") {
		t.Error("a threshold shown for a rule of the default plan")
	}
	// and in English
	_, page = c.get("/warnings/" + id + "?lang=en")
	for _, want := range []string{`lang="en"`, "True warning", "Job-retention refund", "Economic layoff confirmed", "Level IV blue", "Closed"} {
		if !strings.Contains(page, want) {
			t.Errorf("English warning page lacks %q", want)
		}
	}
	// under the statutory plan, art41 is the literal line: the headcount
	// crossed 380 (from 400)
	h.opts.Plans = []string{"../deploy/plans/statutory.yaml"}
	h.start()
	_, page = c.get("/warnings/" + id + "?lang=zh-CN")
	if !strings.Contains(page, "loss &gt;= 20") || !strings.Contains(page, "触发阈值：职工人数不高于</th><td>380") {
		t.Error("the statutory plan's art41 threshold is not shown")
	}
	_, page = c.get("/warnings/" + id + "?lang=en")
	if !strings.Contains(page, "Threshold: headcount at most</th><td>380") {
		t.Error("the threshold is not shown in English")
	}
	// the verdict is a label
	labels, err := Labels(context.Background(), h.ch)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 1 || labels[0].Kind != label.Layoff || labels[0].Key != firmCG || labels[0].Source != label.Official {
		t.Fatalf("labels %+v", labels)
	}
	var buf bytes.Buffer
	if err := label.Write(&buf, labels); err != nil {
		t.Fatal(err)
	}
	if back, err := label.Read(&buf, nil); err != nil || len(back) != 1 {
		t.Fatalf("label CSV does not read back: %v", err)
	}
	// a supervisor reopens it; an official could not
	code, loc, _ = c.post("/warnings/"+id+"/reopen", url.Values{"seq": {itoa(len(steps))}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "err_forbidden") {
		t.Errorf("official reopens: %d %s", code, loc)
	}
	sup := h.client()
	sup.signIn("lz")
	sup.get("/warnings/" + id)
	code, loc, _ = sup.post("/warnings/"+id+"/reopen", url.Values{"seq": {itoa(len(steps))}, "comment": {"复核"}})
	if code != http.StatusSeeOther || strings.Contains(loc, "err_") {
		t.Errorf("supervisor reopens: %d %s", code, loc)
	}
	// every kind of action left its row, and so did the sign-ins
	for _, a := range append(slices.Clone(Actions), "signin") {
		if n := h.count("SELECT count() FROM console_audit WHERE action = ?", a); n == 0 {
			t.Errorf("no audit row for %s", a)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestEmailAckIsConsoleAck: an acknowledgement by email link shows in the
// console as the ack step, and the official goes on from there.
func TestEmailAckIsConsoleAck(t *testing.T) {
	h := newHarness(t)
	id := h.alerts["cg"]
	ctx := context.Background()
	if err := h.con.st.ack(ctx, Ack{AlertID: id, Recipient: "CG@bureau.example", At: time.Now().Add(-29 * time.Hour), Comment: "收到", Via: "link"}); err != nil {
		t.Fatal(err)
	}
	// a later click of the prefecture's link, kept as an event by the alert component
	b, err := h.sql.PrepareBatch(ctx, "INSERT INTO ack_events (alert_id, recipient, at, comment, via, outcome)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(id, "lz@bureau.example", time.Now().Add(-28*time.Hour).UTC().Truncate(time.Second), "市局也收到", "link", "already_acknowledged"); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	c := h.client()
	c.signIn("cg")
	_, page := c.get("/warnings/" + id)
	if !strings.Contains(page, "已确认") || !strings.Contains(page, "邮件链接") || strings.Contains(page, `id="form-ack"`) {
		t.Fatal("the email acknowledgement does not show as the ack step")
	}
	if !strings.Contains(page, "lz@bureau.example 再次确认") || !strings.Contains(page, "cg@bureau.example · ") {
		t.Error("the timeline misses the later acknowledgement, or the first does not stand")
	}
	code, loc, _ := c.post("/warnings/"+id+"/verify", url.Values{"seq": {"0"}, "method": {"phone"}, "finding": {"seasonal"},
		"contacted_at": {time.Now().In(report.Shanghai()).Format("2006-01-02T15:04")}})
	if code != http.StatusSeeOther || strings.Contains(loc, "err_") {
		t.Fatalf("verify after an email ack: %d %s", code, loc)
	}
	// no second acknowledgement was written
	if n := h.count("SELECT count() FROM acks WHERE alert_id = ?", id); n != 1 {
		t.Errorf("%d ack rows, want the email's only", n)
	}
}

// TestLevelFactsFromTheAlert: a warning's level name, colour, action and
// response deadline are those its alert event carried (the plan that raised
// it), not the plan the console reads today; a warning recorded before
// events carried them takes the shipped default plan's, as the alert
// component does.
func TestLevelFactsFromTheAlert(t *testing.T) {
	h := newHarness(t)
	period := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1).String()
	// raised under an older plan: level IV was "关注" in grey with a one-hour deadline
	h.alert("older", "art41", "firm", firmCG2, period, "IV", "620102", "F", "城关示例商贸有限公司", time.Now().Add(-3*time.Hour),
		alertevent.LevelFacts{NameZh: "关注", NameEn: "watch", Color: "#546e7a", ActionZh: "一小时内电话核实。", ActionEn: "Phone the firm within an hour.", ResponseSeconds: 3600})
	c := h.client()
	c.signIn("cg")
	_, page := c.get("/warnings/" + h.alerts["older"])
	for _, want := range []string{"IV级 关注", `class="lv lc-546e7a"`, "一小时内电话核实。", "1小时0分", "已超时", "/levels.css?c=546e7a"} {
		if !strings.Contains(page, want) {
			t.Errorf("warning page of an alert raised under an older plan lacks %q", want)
		}
	}
	if strings.Contains(page, "蓝色") || strings.Contains(page, "纳入重点监测") {
		t.Error("the warning page names the level as today's plan does, not as the alert did")
	}
	_, inbox := c.get("/inbox")
	for _, want := range []string{"IV级 关注", "IV级 蓝色", "II级 橙色", "lc-546e7a", "lc-1976d2", "lc-f57c00"} {
		if !strings.Contains(inbox, want) {
			t.Errorf("inbox lacks %q", want)
		}
	}
	// the stylesheet colours what the page names, each with the text
	// colour of higher contrast; anything but six hex digits is ignored
	resp := c.do(mustReq(http.MethodGet, h.url+"/levels.css?c=546e7a,fbc02d,red,12345,"+strings.Repeat("a", 7)))
	css, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if want := ".lc-546e7a{background:#546e7a;color:#fff}\n.lc-fbc02d{background:#fbc02d;color:#000}\n"; string(css) != want {
		t.Errorf("levels.css:\n%s\nwant\n%s", css, want)
	}

	// Baiyin's warning carries no facts: the default plan's (level IV: no deadline)
	gs := h.client()
	gs.signIn("gs")
	_, page = gs.get("/warnings/" + h.alerts["by"] + "?lang=zh-CN")
	for _, want := range []string{"IV级 蓝色", "无时限", "lc-1976d2"} {
		if !strings.Contains(page, want) {
			t.Errorf("warning without facts lacks %q", want)
		}
	}
}

// TestReadiness: the console's /readyz (on the officials' port) answers
// 200 while it serves and ClickHouse answers, naming the check; /healthz
// answers while the process serves at all.
func TestReadiness(t *testing.T) {
	h := newHarness(t)
	for path, want := range map[string]string{"/readyz": "ok   clickhouse", "/healthz": "ok"} {
		resp, err := http.Get(h.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %q, want 200 with %q", path, resp.StatusCode, b, want)
		}
	}
	if !h.con.Health().Started() {
		t.Error("not started while serving")
	}
	h.stop()
	if h.con.Health().Started() {
		t.Error("still started after Serve returned")
	}
}

// TestSecurityHeaders: every page, signed in or not, forbids framing and
// sniffing and keeps the referrer.
func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn("gs")
	for _, path := range []string{"/signin", "/inbox", "/warnings/" + h.alerts["cg"], "/warnings/" + h.alerts["cg"] + "/chart.png", "/reporting",
		"/reports", "/reports/monthly.csv", "/reports/monthly.xlsx", "/audit", "/static/console.css", "/levels.css", "/healthz", "/readyz", "/nope"} {
		resp := c.do(mustReq(http.MethodGet, h.url+path))
		_ = resp.Body.Close()
		hd := resp.Header
		if !strings.Contains(hd.Get("Content-Security-Policy"), "frame-ancestors 'none'") || hd.Get("X-Content-Type-Options") != "nosniff" ||
			hd.Get("Referrer-Policy") == "" {
			t.Errorf("%s (%d): CSP %q, nosniff %q, referrer %q", path, resp.StatusCode, hd.Get("Content-Security-Policy"), hd.Get("X-Content-Type-Options"), hd.Get("Referrer-Policy"))
		}
	}
}

func mustReq(method, u string) *http.Request {
	r, err := http.NewRequest(method, u, nil)
	if err != nil {
		panic(err)
	}
	return r
}

// TestCSRF: a change without the session's token, or from another origin,
// is refused and records nothing; the sign-in form needs its pre-session
// token.
func TestCSRF(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn("cg")
	id := h.alerts["cg"]
	refused := 0
	for _, tc := range []struct {
		name   string
		token  string
		origin string
		want   int
	}{
		{"no token", "", "", http.StatusForbidden},
		{"another session's token", "00112233445566778899aabbccddeeff", "", http.StatusForbidden},
		{"cross-origin with the right token", c.csrf, "https://evil.example", http.StatusForbidden},
	} {
		form := url.Values{"seq": {"0"}, "comment": {"csrf"}, "csrf": {tc.token}}
		req, _ := http.NewRequest(http.MethodPost, h.url+"/warnings/"+id+"/ack", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
			req.Header.Set("Sec-Fetch-Site", "cross-site")
		}
		resp := c.do(req)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		} else {
			refused++
		}
	}
	if n := h.count("SELECT count() FROM console_audit WHERE object_kind = 'case'"); n != 0 {
		t.Errorf("%d case actions recorded from refused requests", n)
	}
	// sign-in without the pre-session token
	fresh := h.client()
	code, _, _ := fresh.post("/signin", url.Values{"username": {"cg"}, "password": {testPassword}, "csrf": {"deadbeef"}})
	if code != http.StatusForbidden {
		t.Errorf("sign-in without the form's token: %d, want 403", code)
	} else {
		refused++
	}
	t.Logf("CSRF: %d of 4 forged requests refused", refused)
}

// TestSessions: a fresh session at every sign-in (a planted cookie is never
// promoted), sessions survive a restart of the console with the same data
// directory, and signing out ends copies of the cookie too; disabling an
// account ends its sessions.
func TestSessions(t *testing.T) {
	h := newHarness(t)
	u, _ := url.Parse(h.url)

	// fixation: the attacker plants a cookie (here a valid session of his
	// own, the strongest case); the victim signs in; the victim's cookie is
	// new, and the planted one is still the attacker's, not the victim's
	attacker := h.client()
	attacker.signIn("ql")
	planted := cookieValue(attacker, u, sessionCookie)
	victim := h.client()
	victim.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: planted, Path: "/"}})
	victim.signIn("cg")
	after := cookieValue(victim, u, sessionCookie)
	if after == "" || after == planted {
		t.Fatal("the session cookie did not change at sign-in")
	}
	_, page := attacker.get("/inbox")
	if strings.Contains(page, "城关区经办人") {
		t.Error("the planted cookie became the victim's session")
	}

	// restart: a new console with the same data directory reads the cookie
	h.start()
	if code, page := victim.get("/inbox"); code != 200 || !strings.Contains(page, "城关区经办人") {
		t.Fatalf("after a restart: %d", code)
	}
	// another data directory (other keys) does not
	keep := h.opts.DataDir
	h.opts.DataDir = t.TempDir()
	h.start()
	if code, _ := victim.get("/inbox"); code != http.StatusSeeOther {
		t.Errorf("with other keys the session still works: %d", code)
	}
	h.opts.DataDir = keep
	h.start()

	// a second replica with the same keys (a shared key file) reads the
	// session too
	replicaOpts := h.opts
	replicaOpts.DataDir, replicaOpts.SessionKeyFile = "", filepath.Join(keep, "session.keys")
	replica, err := New(context.Background(), replicaOpts, h.ch, testenv.Logger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	rsrv := httptest.NewServer(replica.Handler())
	defer rsrv.Close()
	replicaInbox := func(c *client) int {
		resp := c.do(mustReq(http.MethodGet, rsrv.URL+"/inbox"))
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := replicaInbox(victim); code != 200 {
		t.Fatalf("the session on a second replica: %d", code)
	}

	// sign-out ends a copy of the cookie
	copyOf := h.client()
	copyOf.http.Jar.SetCookies(u, []*http.Cookie{{Name: sessionCookie, Value: after, Path: "/"}})
	if code, _ := copyOf.get("/inbox"); code != 200 {
		t.Fatalf("the copied cookie does not work before sign-out: %d", code)
	}
	victim.get("/inbox")
	if code, _, _ := victim.post("/signout", nil); code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", code)
	}
	if code, _ := copyOf.get("/inbox"); code != http.StatusSeeOther {
		t.Errorf("a copy of the cookie works after sign-out: %d", code)
	}
	if code := replicaInbox(copyOf); code != http.StatusSeeOther {
		t.Errorf("the session still works on the other replica after sign-out: %d", code)
	}

	// disabling an account ends its sessions
	gs := h.client()
	gs.signIn("gs")
	if err := NewUsers(h.ch, "test").Disable(context.Background(), "gs"); err != nil {
		t.Fatal(err)
	}
	if code, _ := gs.get("/inbox"); code != http.StatusSeeOther {
		t.Errorf("a disabled account's session works: %d", code)
	}
	if code := h.client().trySignIn("gs", testPassword); code != http.StatusUnauthorized {
		t.Errorf("a disabled account signs in: %d", code)
	}
}

func cookieValue(c *client, u *url.URL, name string) string {
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// TestSigninRateLimit: five failures of one account from one address stop
// that pair, even with the right password; twenty of an account from
// anywhere stop the account; fifty from an address stop the address. Each
// failure is in the audit trail, which is where every replica counts them.
func TestSigninRateLimit(t *testing.T) {
	h := newHarness(t)
	for i := 0; i < maxFailPair; i++ {
		if code := h.client().trySignIn("cg", "wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if code := h.client().trySignIn("cg", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("the right password after %d failures: %d, want 429", maxFailPair, code)
	}
	if code := h.client().trySignIn("ql", testPassword); code != http.StatusSeeOther {
		t.Errorf("another account from the same address: %d", code)
	}
	if n := h.count("SELECT count() FROM console_audit WHERE action = 'signin_failed' AND object_id = 'cg' AND address = '127.0.0.1'"); n < maxFailPair {
		t.Errorf("%d failed sign-ins audited", n)
	}
	// an account attacked from many addresses (recorded as other replicas
	// would have)
	now := time.Now()
	var rows []AuditRow
	for i := 0; i < maxFailAccount; i++ {
		rows = append(rows, AuditRow{ID: newID(), At: now, Actor: "lz", Address: "198.51.100." + strconv.Itoa(i), Action: "signin_failed", ObjectKind: "user", ObjectID: "lz"})
	}
	if err := h.con.st.audit(context.Background(), rows...); err != nil {
		t.Fatal(err)
	}
	if code := h.client().trySignIn("lz", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("an account with %d failures from elsewhere: %d, want 429", maxFailAccount, code)
	}
	// per address: unknown accounts from one address
	for i := 0; i < maxFailAddress; i++ {
		h.client().trySignIn("nobody"+itoa(i), "x")
	}
	if code := h.client().trySignIn("gs", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("a good sign-in from an address with %d failures: %d, want 429", maxFailAddress, code)
	}
}

// TestReportingAndReminders: the reporting page lists the firm of the
// county without a report, with its contact; a reminder by hand reaches
// SMTP and the audit trail; the automatic run sends each kind once.
func TestReportingAndReminders(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn("cg")
	_, page := c.get("/reporting")
	if !strings.Contains(page, "城关示例商贸有限公司") || !strings.Contains(page, "zhao@cg2.example.cn") || strings.Contains(page, "七里河示例") {
		t.Fatal("reporting page: wrong firms")
	}
	if strings.Contains(page, firmCG+"</code>") {
		t.Error("a firm that reported is listed")
	}
	code, loc, _ := c.post("/reporting/remind", url.Values{"firm": {firmCG2}, "period": {h.con.currentPeriod(time.Now()).String()}})
	if code != http.StatusSeeOther || !strings.Contains(loc, "reminded=1") {
		t.Fatalf("remind: %d %s", code, loc)
	}
	msgs := h.smtp.Wait(t, 1)
	if msgs[0].To[0] != "zhao@cg2.example.cn" || !strings.Contains(msgs[0].Header.Get("Subject"), "=?") && !strings.Contains(msgs[0].Header.Get("Subject"), "月报") {
		t.Errorf("reminder to %v, subject %q", msgs[0].To, msgs[0].Header.Get("Subject"))
	}
	if n := h.count("SELECT count() FROM console_audit WHERE action = 'remind' AND object_id = ? AND actor = 'cg'", firmCG2); n != 1 {
		t.Errorf("%d audit rows for the reminder", n)
	}
	// a firm of another county cannot be reminded from here
	code, _, _ = c.post("/reporting/remind", url.Values{"firm": {firmQL}})
	if code != http.StatusNotFound {
		t.Errorf("remind a firm of another county: %d", code)
	}
	// automatic: the day after the deadline, once
	cur := h.con.currentPeriod(time.Now())
	late := report.Deadline(cur, 5).Add(time.Hour)
	h.con.now = func() time.Time { return late }
	n1, err := h.con.RemindOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n2, err := h.con.RemindOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n1 == 0 || n2 != 0 {
		t.Errorf("automatic reminders: %d then %d, want some then none", n1, n2)
	}
}

// TestMonthlyReport: the xlsx and the CSV hold the month's warnings of the
// region with their handling, formula-like text neutralised; the download
// is audited.
func TestMonthlyReport(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.signIn("lz")
	period := report.PeriodOf(time.Now().In(report.Shanghai())).Add(-1).String()
	code, _, _ := c.post("/warnings/"+h.alerts["cg"]+"/ack", url.Values{"seq": {"0"}, "csrf": {c.csrf}})
	if code != http.StatusSeeOther {
		t.Fatalf("ack: %d", code)
	}
	resp := c.do(mustReq(http.MethodGet, h.url+"/reports/monthly.xlsx?period="+period))
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("xlsx: %d", resp.StatusCode)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows("明细")
	if err != nil {
		t.Fatal(err)
	}
	// Lanzhou's warnings of the month: cg, ql, county, pref (not Baiyin's)
	if len(rows) != 5 {
		t.Fatalf("detail has %d rows, want header + 4: %v", len(rows), rows)
	}
	acked := 0
	for _, r := range rows[1:] {
		if r[0] == h.alerts["by"] {
			t.Error("Baiyin's warning is in Lanzhou's report")
		}
		if len(r) > 12 && r[12] == "lz@bureau.example" {
			acked++
		}
	}
	if acked != 1 {
		t.Errorf("%d acknowledged rows, want 1", acked)
	}
	total, _ := f.GetCellValue("汇总", "B6")
	if total != "4" {
		t.Errorf("summary total %q, want 4", total)
	}
	resp = c.do(mustReq(http.MethodGet, h.url+"/reports/monthly.csv?period="+period+"&region=620102"))
	b, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
	if err != nil || len(recs) != 3 { // header, cg, county
		t.Fatalf("csv: %v, %d records", err, len(recs))
	}
	if n := h.count("SELECT count() FROM console_audit WHERE action = 'export' AND actor = 'lz'"); n != 2 {
		t.Errorf("%d export audit rows, want 2", n)
	}
	// a firm named like a formula is exported as text
	h.alert("hostile", "art41", "firm", firmCG2, period, "IV", "620102", "F", `=HYPERLINK("http://x.example","点击")`, time.Now().Add(-2*time.Hour), planFacts(t, "IV"))
	resp = c.do(mustReq(http.MethodGet, h.url+"/reports/monthly.csv?period="+period+"&region=620102"))
	b, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !bytes.Contains(b, []byte(`"'=HYPERLINK(""http://x.example"",""点击"")"`)) {
		t.Errorf("the hostile firm name is not neutralised in the CSV:\n%s", b)
	}
}

// forwardedFor is a client transport behind a proxy that reports client as
// the address it received each request from.
type forwardedFor struct {
	next   http.RoundTripper
	client string
}

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.client)
	return f.next.RoundTrip(r)
}

// TestSigninBehindProxy: behind a load balancer named in --trusted-proxies,
// sign-in failures are counted and audited under the client address it
// reports, so one client's failures do not stop another's sign-in; without
// it the header is ignored (a client cannot choose its address).
func TestSigninBehindProxy(t *testing.T) {
	h := newHarness(t)
	via := func(client string) *client {
		c := h.client()
		c.http.Transport = forwardedFor{next: c.http.Transport, client: client}
		return c
	}
	// untrusted: the header is not believed
	if code := via("198.51.100.9").trySignIn("ql", "wrong password!"); code != http.StatusUnauthorized {
		t.Fatalf("failure: %d", code)
	}
	if n := h.count("SELECT count() FROM console_audit WHERE action = 'signin_failed' AND object_id = 'ql' AND address = '127.0.0.1'"); n != 1 {
		t.Errorf("without --trusted-proxies the failure is audited under %d× the peer address, want 1", n)
	}

	h.opts.TrustedProxies = "127.0.0.1,::1"
	h.start()
	for i := 0; i < maxFailPair; i++ {
		if code := via("198.51.100.1").trySignIn("cg", "wrong password!"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if code := via("198.51.100.1").trySignIn("cg", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("the failing client with the right password: %d, want 429", code)
	}
	if code := via("198.51.100.2").trySignIn("cg", testPassword); code != http.StatusSeeOther {
		t.Errorf("another client behind the same balancer: %d, want 303 (signed in)", code)
	}
	if n := h.count("SELECT count() FROM console_audit WHERE action = 'signin_failed' AND object_id = 'cg' AND address = '198.51.100.1'"); n < maxFailPair {
		t.Errorf("%d failures audited under the client's address, want %d", n, maxFailPair)
	}
}
