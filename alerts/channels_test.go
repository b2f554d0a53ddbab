package alerts_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/alerts/channel"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
	"github.com/layoffwatch/layoffwatch/internal/tlsconf/tlstest"
)

// A receiver is a real HTTP server on loopback that speaks one channel's
// protocol as its real counterpart does — the bureau's webhook endpoint,
// WeCom's and DingTalk's robot APIs, an SMS gateway — and checks every
// request the way they do: signatures computed here from the documented
// recipes (not with the channel package's helpers), keys, tokens, formats
// and sizes. It can refuse its first attempts as the real one does when
// busy, and it counts deliveries by message id.
type receiver struct {
	t      *testing.T
	kind   string
	url    string
	secret string // webhook HMAC key, DingTalk signing secret
	key    string // WeCom key, DingTalk access token, SMS bearer token

	mu        sync.Mutex
	failFirst int  // refuse this many attempts first (busy: worth a retry)
	refuse    bool // refuse every attempt for good (403)
	attempts  int  // requests that passed the checks
	accepted  []delivery
	byID      map[string]int
	problems  []string // what a real receiver would have refused
}

// delivery is one accepted message.
type delivery struct {
	id, kind, to, text string // text: the Markdown, the webhook's text, the SMS
	payload            channel.Payload
}

func newReceiver(t *testing.T, kind string) *receiver {
	t.Helper()
	rc := &receiver{t: t, kind: kind, secret: "recv-secret-" + kind + "-0123456789", key: "key-" + kind + "-abcdef", byID: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()
	switch kind {
	case channel.TypeWebhook:
		rc.url = base + "/hooks/layoffwatch"
	case channel.TypeWeCom:
		rc.url = base + "/cgi-bin/webhook/send?key=" + rc.key
	case channel.TypeDingTalk:
		rc.url = base + "/robot/send?access_token=" + rc.key
	case channel.TypeSMS:
		rc.url = base + "/sms/send"
	}
	return rc
}

func (rc *receiver) problem(format string, a ...any) {
	rc.problems = append(rc.problems, fmt.Sprintf(format, a...))
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if r.Method != http.MethodPost {
		rc.problem("%s %s", r.Method, r.URL.Path)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	id := r.Header.Get("X-Layoffwatch-Message-Id")
	d := delivery{id: id}
	ok := true
	switch rc.kind {
	case channel.TypeWebhook:
		ok = rc.checkWebhook(r, body, &d)
	case channel.TypeWeCom:
		ok = rc.checkWeCom(r, body, &d)
	case channel.TypeDingTalk:
		ok = rc.checkDingTalk(r, body, &d)
	case channel.TypeSMS:
		ok = rc.checkSMS(r, body, &d)
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rc.attempts++
	if rc.refuse {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"error":"forbidden"}`)
		return
	}
	if rc.failFirst > 0 {
		rc.failFirst--
		switch rc.kind {
		case channel.TypeWeCom: // the robot's rate limit: HTTP 200, errcode 45009
			_, _ = io.WriteString(w, `{"errcode":45009,"errmsg":"api freq out of limit"}`)
		case channel.TypeDingTalk: // "send too fast"
			_, _ = io.WriteString(w, `{"errcode":130101,"errmsg":"send too fast"}`)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		return
	}
	rc.byID[d.id]++
	if rc.byID[d.id] == 1 {
		rc.accepted = append(rc.accepted, d)
	}
	switch rc.kind {
	case channel.TypeWeCom, channel.TypeDingTalk:
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	case channel.TypeSMS:
		_, _ = io.WriteString(w, `{"code":"OK","message":"accepted"}`)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// checkWebhook verifies X-Layoffwatch-Signature as docs/operations.md
// tells a receiver to: hex HMAC-SHA256 of timestamp "." body, keyed with the
// shared secret, and a timestamp within five minutes.
func (rc *receiver) checkWebhook(r *http.Request, body []byte, d *delivery) bool {
	ts := r.Header.Get("X-Layoffwatch-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		rc.problem("webhook timestamp %q", ts)
		return false
	}
	mac := hmac.New(sha256.New, []byte(rc.secret))
	mac.Write([]byte(ts + "." + string(body)))
	if want := "v1=" + hex.EncodeToString(mac.Sum(nil)); !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Layoffwatch-Signature"))) {
		rc.problem("webhook signature %q, want %q", r.Header.Get("X-Layoffwatch-Signature"), want)
		return false
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		rc.problem("webhook content type %q", r.Header.Get("Content-Type"))
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d.payload); err != nil {
		rc.problem("webhook body: %v", err)
		return false
	}
	p := d.payload
	if p.Version != 1 || p.MessageID != d.id || p.Recipient.Email == "" || len(p.Alerts) == 0 || p.Title == "" || p.Text == "" || p.Markdown == "" {
		rc.problem("webhook payload %+v", p)
		return false
	}
	d.kind, d.to, d.text = p.Kind, p.Recipient.Email, p.Text
	return true
}

// checkWeCom is WeCom's group robot API: POST to /cgi-bin/webhook/send with
// the robot's key, a JSON markdown message of at most 4096 bytes.
func (rc *receiver) checkWeCom(r *http.Request, body []byte, d *delivery) bool {
	if r.URL.Path != "/cgi-bin/webhook/send" || r.URL.Query().Get("key") != rc.key {
		rc.problem("wecom url %s", r.URL)
		return false
	}
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Content string `json:"content"`
		} `json:"markdown"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.MsgType != "markdown" || m.Markdown.Content == "" || len(m.Markdown.Content) > 4096 {
		rc.problem("wecom body %s (%v)", body, err)
		return false
	}
	d.text = m.Markdown.Content
	return true
}

// checkDingTalk is DingTalk's custom robot with signing: access_token,
// timestamp in milliseconds within an hour, and sign = the URL-encoded
// base64 of HMAC-SHA256(secret, timestamp "\n" secret).
func (rc *receiver) checkDingTalk(r *http.Request, body []byte, d *delivery) bool {
	q := r.URL.Query()
	ms, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	if r.URL.Path != "/robot/send" || q.Get("access_token") != rc.key || err != nil || time.Since(time.UnixMilli(ms)).Abs() > time.Hour {
		rc.problem("dingtalk url %s", r.URL)
		return false
	}
	mac := hmac.New(sha256.New, []byte(rc.secret))
	mac.Write([]byte(q.Get("timestamp") + "\n" + rc.secret))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if q.Get("sign") != want || !strings.Contains(r.URL.RawQuery, "sign="+strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(want)) {
		rc.problem("dingtalk sign in %s, want %s", r.URL.RawQuery, want)
		return false
	}
	var m struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"markdown"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.MsgType != "markdown" || m.Markdown.Title == "" || m.Markdown.Text == "" {
		rc.problem("dingtalk body %s (%v)", body, err)
		return false
	}
	d.text = m.Markdown.Text
	return true
}

// checkSMS is the bureau's SMS gateway as configured below: bearer token,
// JSON with the number, the text and the message id.
func (rc *receiver) checkSMS(r *http.Request, body []byte, d *delivery) bool {
	if r.Header.Get("Authorization") != "Bearer "+rc.key || r.URL.Query().Get("to") == "" {
		rc.problem("sms auth %q to %q", r.Header.Get("Authorization"), r.URL.Query().Get("to"))
		return false
	}
	var m struct {
		To, Text, ID string
	}
	if err := json.Unmarshal(body, &m); err != nil || m.To != r.URL.Query().Get("to") || m.Text == "" || m.ID != d.id || len([]rune(m.Text)) > 480 {
		rc.problem("sms body %s (%v)", body, err)
		return false
	}
	d.to, d.text = m.To, m.Text
	return true
}

func (rc *receiver) got() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.accepted...)
}

// check fails the test on anything a real receiver would have refused, and
// on a message accepted twice.
func (rc *receiver) check() {
	rc.t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, p := range rc.problems {
		rc.t.Errorf("%s receiver: %s", rc.kind, p)
	}
	for id, n := range rc.byID {
		if n > 1 {
			rc.t.Errorf("%s receiver: message %s delivered %d times", rc.kind, id, n)
		}
	}
}

func (rc *receiver) wait(n int) []delivery {
	rc.t.Helper()
	testenv.WaitFor(rc.t, fmt.Sprintf("%d %s deliveries", n, rc.kind), 60*time.Second, func() (bool, string) {
		return len(rc.got()) >= n, fmt.Sprintf("%d so far", len(rc.got()))
	})
	time.Sleep(500 * time.Millisecond) // nothing more should come
	return rc.got()
}

// channelRig is the alert component of rig with the four receivers.
type channelRig struct {
	*rig
	webhook, wecom, dingtalk, sms *receiver
	pki                           *tlstest.PKI // with https: the alert component's certificate
}

// newChannelRig starts the alert component with these recipients: the
// Chengguan official by email, SMS (levels I–II) and the bureau's signed
// webhook (oa); Lanzhou's duty group chat by a WeCom robot; the province by
// email and a DingTalk robot with signing; the English-speaking deputy
// director by the webhook. With https, the acknowledge links and the API are
// served over TLS.
func newChannelRig(t *testing.T, https bool, extra ...string) *channelRig {
	t.Helper()
	cr := &channelRig{webhook: newReceiver(t, channel.TypeWebhook), wecom: newReceiver(t, channel.TypeWeCom),
		dingtalk: newReceiver(t, channel.TypeDingTalk), sms: newReceiver(t, channel.TypeSMS)}
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 2})
	ch := testenv.ClickHouse(t)
	srv := smtptest.Start(t, smtptest.Options{})
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, kafka: kafkautil.Options{Brokers: k.Addrs(), Partitions: 2, ReplicationFactor: 1}, ch: ch, smtp: srv,
		clock: &clock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}, http: fmt.Sprintf("127.0.0.1:%d", port), firms: map[string]firms.Firm{}}
	var list []firms.Firm
	for i, county := range []string{"620102", "620103", "620103", "620104", "620105", "620102"} {
		f := firms.Firm{ID: testenv.FirmID(county, i+1), Name: fmt.Sprintf("测试企业%d有限公司", i+1), Region: county, Industry: "C", BaselineHeadcount: 800}
		r.firms[fmt.Sprint(i+1)] = f
		list = append(list, f)
	}
	if err := firms.NewStore(ch).Upsert(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return name // relative: resolved against the config's directory
	}
	scheme := "http"
	if https {
		scheme = "https"
		cr.pki = tlstest.New(t, filepath.Join(dir, "pki"), "alerts", false)
	}
	r.cfg = filepath.Join(dir, "alerts.yaml")
	cfg := fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true, timeout: 5s}
links: {ack_base_url: "%s://%s", grafana_base_url: "http://grafana.example"}
ack: {secret: test-ack-secret-0123456789, expiry: 168h}
group_wait: 300ms
channels:
  - {name: oa, type: webhook, url: %q, secret_file: %s}
  - {name: wecom-lanzhou, type: wecom, url_file: %s}
  - {name: dingtalk-province, type: dingtalk, url: %q, secret_file: %s}
  - name: sms
    type: sms
    min_level: II
    url: '%s?to={{urlquery .Phone}}'
    auth_header: Authorization
    auth_value_file: %s
    body: '{"to":{{json .Phone}},"text":{{json .Text}},"id":{{json .MessageID}}}'
    success_pattern: '"code":\s*"OK"'
recipients:
  - {name: 城关区人社局, email: chengguan@gs.example.cn, region: "620102", phone: "+86 138 0000 0001", channels: [email, sms, oa]}
  - {name: 七里河区人社局, email: qilihe@gs.example.cn, region: "620103", phone: "+86 138 0000 0002"}
  - {name: 西固区人社局, email: xigu@gs.example.cn, region: "620104"}
  - {name: 兰州市就业局值班群, email: lanzhou-duty@gs.example.cn, region: "620100", min_level: III, channels: [wecom-lanzhou]}
  - {name: 甘肃省人社厅就业处, email: jiuye@gs.example.cn, region: "620000", min_level: II, channels: [dingtalk-province, email]}
  - {name: Deputy director, email: deputy@gs.example.cn, region: "620000", min_level: I, language: en, channels: [oa]}
`, srv.Port, scheme, r.http, cr.webhook.url, write("oa-secret.txt", cr.webhook.secret), write("wecom-url.txt", cr.wecom.url),
		cr.dingtalk.url, write("dingtalk-secret.txt", cr.dingtalk.secret), cr.sms.url, write("sms-token.txt", "Bearer "+cr.sms.key))
	cfg += strings.Join(extra, "\n")
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cr.rig = r
	cr.start()
	return cr
}

// start runs the alert component (over TLS with a PKI) until stop.
func (cr *channelRig) start() {
	r := cr.rig
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts := alerts.Options{Kafka: r.kafka, ClickHouse: chdb.Options{Addr: testenv.ClickHouseAddr(r.t), Database: r.ch.Database(), User: "default", DialTimeout: 5 * time.Second},
		Config: r.cfg, Topic: "alerts", Group: "alert-test", HTTPAddr: r.http,
		EscalationCheck: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, Now: r.clock.now}
	if cr.pki != nil {
		opts.HTTPTLS = obs.ServerTLS{TLSCert: cr.pki.ServerCert, TLSKey: cr.pki.ServerKey}
	}
	go func() { done <- alerts.Run(ctx, opts, testenv.Logger(r.t), prometheus.NewRegistry()) }()
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				r.t.Errorf("alert component: %v", err)
			}
		case <-time.After(30 * time.Second):
			r.t.Error("alert component did not stop")
		}
	}
	r.t.Cleanup(r.stop)
	testenv.WaitFor(r.t, "the alert component ready", 30*time.Second, func() (bool, string) {
		resp, err := cr.client().Get(cr.base() + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
}

func (cr *channelRig) base() string {
	if cr.pki != nil {
		return "https://" + cr.http
	}
	return "http://" + cr.http
}

func (cr *channelRig) client() *http.Client {
	if cr.pki == nil {
		return http.DefaultClient
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cr.pki.Pool, MinVersion: tls.VersionTLS12}}}
}

func (cr *channelRig) checkAll() {
	for _, rc := range []*receiver{cr.webhook, cr.wecom, cr.dingtalk, cr.sms} {
		rc.check()
	}
}

var chatAckRe = regexp.MustCompile(`https?://[^\s)]+/ack\?[^\s)]+`)

// TestChannels: one level I warning about a firm of Chengguan reaches each
// official through each of their channels — the county by email, SMS and
// the signed webhook; Lanzhou's duty group by its WeCom robot; the
// province by email and its signed DingTalk robot; the deputy director by
// the webhook, in English — and a level IV digest only the channels that
// take level IV. Every message names the firm (name and id), the level,
// the rule and the summary, carries an acknowledge link that works, and is
// in the recipient's language; the log holds one sent row per alert,
// recipient and channel.
func TestChannels(t *testing.T) {
	cr := newChannelRig(t, false)
	majorCut := cr.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing)
	art41 := cr.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "6", 1, alertevent.Firing)
	cr.send(majorCut, art41)
	firm := cr.firms["1"]

	hooks := cr.webhook.wait(3) // Chengguan: the alert and the digest; the deputy: the alert
	sort.Slice(hooks, func(i, j int) bool { return hooks[i].to+hooks[i].kind < hooks[j].to+hooks[j].kind })
	if got := fmt.Sprintf("%s/%s %s/%s %s/%s", hooks[0].to, hooks[0].kind, hooks[1].to, hooks[1].kind, hooks[2].to, hooks[2].kind); got !=
		"chengguan@gs.example.cn/alert chengguan@gs.example.cn/digest deputy@gs.example.cn/alert" {
		t.Fatalf("webhook deliveries %s", got)
	}
	alert := hooks[0].payload
	a := alert.Alerts[0]
	if a.ID != majorCut.ID || a.Key != firm.ID || a.Subject != firm.Name || a.Level != "I" || a.Rule != "major_cut" ||
		a.RegionName != "城关区" || a.Summary != "减员320人（40.0%）" || !strings.Contains(a.AckURL, "/ack?") {
		t.Errorf("webhook alert %+v", a)
	}
	if deputy := hooks[2].payload; deputy.Recipient.Language != "en" || !strings.Contains(deputy.Title, "Level I") ||
		deputy.Alerts[0].Summary != "cut 320 staff (40.0%)" || !strings.Contains(deputy.Text, "Acknowledge:") {
		t.Errorf("the deputy's webhook is not in English: %q\n%s", deputy.Title, deputy.Text)
	}
	if digest := hooks[1].payload; len(digest.Alerts) != 1 || digest.Alerts[0].ID != art41.ID {
		t.Errorf("digest %+v", digest.Alerts)
	}

	for _, c := range []struct {
		rc   *receiver
		want int
	}{{cr.wecom, 1}, {cr.dingtalk, 1}, {cr.sms, 1}} {
		got := c.rc.wait(c.want)
		if len(got) != c.want {
			t.Fatalf("%s: %d deliveries, want %d", c.rc.kind, len(got), c.want)
		}
		text := got[0].text
		for _, want := range []string{firm.Name, firm.ID, "I级", "major_cut", "减员320人", "/ack?"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s message lacks %q:\n%s", c.rc.kind, want, text)
			}
		}
		link := chatAckRe.FindString(text)
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "确认") {
			t.Errorf("%s ack link %s: %d", c.rc.kind, link, resp.StatusCode)
		}
	}
	if to := cr.sms.got()[0].to; to != "+86 138 0000 0001" {
		t.Errorf("sms to %q", to)
	}
	cr.waitMail(3) // Chengguan's alert and digest, the province's alert
	cr.checkAll()

	counts := map[string]uint64{}
	rows, err := testenv.SQL(t, cr.ch.Options()).Query(context.Background(),
		"SELECT channel, count(), uniqExact(message_id) FROM notifications WHERE status = 'sent' GROUP BY channel")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var ch string
		var n, ids uint64
		if err := rows.Scan(&ch, &n, &ids); err != nil {
			t.Fatal(err)
		}
		counts[ch] = n
	}
	rows.Close()
	want := map[string]uint64{"email": 3, "oa": 3, "wecom-lanzhou": 1, "dingtalk-province": 1, "sms": 1}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("sent rows by channel %v, want %v", counts, want)
	}
}

// TestRouteChannels: a route adds SMS for Qilihe's major cuts only. Qilihe
// (email otherwise) gets a major cut by email and by SMS, and a mass layoff
// (level II, which the SMS channel takes) and a level III warning by email
// alone; the log holds one SMS row, for the major cut. A county alert of
// the same month comes in the same pass: the firm alerts that travel as it
// does are told inside its email, but the major cut, which the route sends
// by SMS too, is not folded into an email that no SMS carries.
func TestRouteChannels(t *testing.T) {
	cr := newChannelRig(t, false, `routes:
  - match: {rules: [major_cut], regions: ["620103"]}
    recipients: [qilihe@gs.example.cn]
    channels: [sms]`)
	majorCut := cr.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "2", 1, alertevent.Firing)
	massLayoff := cr.event("mass_layoff", alertevent.LevelII, alertevent.ScopeFirm, "3", 1, alertevent.Firing)
	art41 := cr.event("art41", alertevent.LevelIII, alertevent.ScopeFirm, "3", 1, alertevent.Firing)
	county := cr.event("county_drop", alertevent.LevelIII, alertevent.ScopeCounty, "620103", 1, alertevent.Firing)
	cr.send(county, majorCut, massLayoff, art41)
	conn := testenv.SQL(t, cr.ch.Options())
	testenv.WaitFor(t, "Qilihe's four warnings told by email", 60*time.Second, func() (bool, string) {
		var n uint64
		if err := conn.QueryRow(context.Background(),
			"SELECT uniqExact(alert_id) FROM notifications WHERE recipient = 'qilihe@gs.example.cn' AND channel = 'email' AND status IN ('sent', 'folded')").Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == 4, fmt.Sprintf("%d so far", n)
	})
	var status string
	if err := conn.QueryRow(context.Background(),
		"SELECT status FROM notifications WHERE recipient = 'qilihe@gs.example.cn' AND channel = 'email' AND alert_id = ? AND status IN ('sent', 'folded')", majorCut.ID).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != alerts.StatusSent {
		t.Errorf("the major cut was %s into the county's email; the route's SMS needs it alone", status)
	}
	got := cr.sms.wait(1)
	if len(got) != 1 || got[0].to != "+86 138 0000 0002" || !strings.Contains(got[0].text, "major_cut") {
		t.Fatalf("sms deliveries %+v, want one major cut to Qilihe", got)
	}
	var rows []string
	r, err := conn.Query(context.Background(), "SELECT recipient, alert_id FROM notifications WHERE channel = 'sms' AND status = 'sent' ORDER BY recipient, alert_id")
	if err != nil {
		t.Fatal(err)
	}
	for r.Next() {
		var to, id string
		if err := r.Scan(&to, &id); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, to+" "+id)
	}
	r.Close()
	if want := []string{"qilihe@gs.example.cn " + majorCut.ID}; fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Errorf("sms rows %v, want %v", rows, want)
	}
	cr.checkAll()
}

// TestChannelsFailAndComeBack: every receiver refuses its first three
// attempts as its real counterpart does when busy (503, WeCom's 45009,
// DingTalk's 130101): each message is retried until it is taken, and each
// is taken exactly once. A restart then sends nothing again, not even for
// a redelivered event. A receiver that refuses for good (403) gets one
// attempt, logged failed, and the other channels are not held up.
func TestChannelsFailAndComeBack(t *testing.T) {
	cr := newChannelRig(t, false)
	for _, rc := range []*receiver{cr.webhook, cr.wecom, cr.dingtalk, cr.sms} {
		rc.failFirst = 3
	}
	majorCut := cr.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing)
	cr.send(majorCut)
	want := map[*receiver]int{cr.webhook: 2, cr.wecom: 1, cr.dingtalk: 1, cr.sms: 1}
	for rc, n := range want {
		if got := rc.wait(n); len(got) != n {
			t.Fatalf("%s: %d deliveries, want %d", rc.kind, len(got), n)
		}
		rc.mu.Lock()
		if rc.attempts < n+3 {
			t.Errorf("%s: %d attempts for %d messages: the outage was not exercised", rc.kind, rc.attempts, n)
		}
		rc.mu.Unlock()
	}
	cr.waitMail(2)
	cr.checkAll()
	if n := cr.count(t, `SELECT count() FROM (SELECT alert_id, recipient, channel, countIf(status = 'sent') AS sent, countIf(status = 'pending') AS pending
		FROM notifications GROUP BY alert_id, recipient, channel HAVING sent != 1 OR pending != 1)`); n != 0 {
		t.Fatalf("%d (alert, recipient, channel) with other than one pending and one sent row", n)
	}

	// a restart, and the event delivered again: nothing is sent twice
	cr.stop()
	cr.start()
	cr.send(majorCut)
	time.Sleep(3 * time.Second)
	for rc, n := range want {
		if got := rc.got(); len(got) != n {
			t.Errorf("%s: %d deliveries after a restart, want %d", rc.kind, len(got), n)
		}
	}
	if n := len(cr.smtp.Messages()); n != 2 {
		t.Errorf("%d emails after a restart, want 2", n)
	}
	cr.checkAll()

	// refused for good: one attempt, logged failed with the answer
	cr.webhook.mu.Lock()
	cr.webhook.refuse = true
	before := cr.webhook.attempts
	cr.webhook.mu.Unlock()
	cluster := cr.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620102", 1, alertevent.Firing)
	cr.send(cluster)
	cr.sms.wait(2) // the SMS to Chengguan is not held up
	testenv.WaitFor(t, "the refused webhook logged", 30*time.Second, func() (bool, string) {
		n := cr.count(t, "SELECT count() FROM notifications WHERE channel = 'oa' AND status = 'failed' AND alert_id = ? AND position(detail, '403') > 0", cluster.ID)
		return n == 1, fmt.Sprint(n)
	})
	time.Sleep(time.Second)
	cr.webhook.mu.Lock()
	if cr.webhook.attempts != before+1 {
		t.Errorf("%d attempts for a message refused for good, want 1", cr.webhook.attempts-before)
	}
	cr.webhook.mu.Unlock()
}

// TestChannelsOldMonthsAndEscalation: a warning about a month past the alert
// horizon reaches the webhook and the group robots in the recipients' one
// summary (kind summary, no acknowledge link), and never by SMS; a level II
// warning nobody acknowledges is escalated through every channel, to the
// province's DingTalk robot too.
func TestChannelsOldMonthsAndEscalation(t *testing.T) {
	cr := newChannelRig(t, false)
	history := old(cr.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing), "2025-03", alertevent.OldHistory)
	cr.send(history)
	hooks := cr.webhook.wait(2) // Chengguan and the deputy, a summary each
	for _, h := range hooks {
		if h.kind != "summary" || h.payload.Alerts[0].Old != "history" || h.payload.Alerts[0].AckURL != "" {
			t.Errorf("old warning by webhook: kind %s, alerts %+v", h.kind, h.payload.Alerts)
		}
	}
	for _, rc := range []*receiver{cr.wecom, cr.dingtalk} {
		got := rc.wait(1)
		if !strings.Contains(got[0].text, "历史") || strings.Contains(got[0].text, "/ack?") || !strings.Contains(got[0].text, "major_cut") {
			t.Errorf("%s summary:\n%s", rc.kind, got[0].text)
		}
	}
	time.Sleep(time.Second)
	if n := len(cr.sms.got()); n != 0 {
		t.Errorf("an old warning was sent by SMS (%d)", n)
	}

	cluster := urgent(cr.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620102", 1, alertevent.Firing))
	cr.send(cluster)
	cr.sms.wait(1)
	cr.wecom.wait(2)
	cr.clock.add(2*time.Hour + time.Minute)
	// not acknowledged in 2 hours: re-sent to Chengguan (email, SMS,
	// webhook) and Lanzhou's group, and now to the province (email and
	// DingTalk) too
	sms := cr.sms.wait(2)
	wecom := cr.wecom.wait(3)
	ding := cr.dingtalk.wait(2)
	for name, text := range map[string]string{"sms": sms[1].text, "wecom": wecom[2].text, "dingtalk": ding[1].text} {
		if !strings.Contains(text, "升级") || !strings.Contains(text, "城关区") {
			t.Errorf("%s escalation:\n%s", name, text)
		}
	}
	esc := 0
	for _, h := range cr.webhook.got() {
		if h.kind == "escalation" {
			esc++
		}
	}
	if esc != 1 {
		t.Errorf("%d escalations by webhook, want 1 (Chengguan's)", esc)
	}
	cr.checkAll()
}

// TestHTTPSAckLinks: with --tls-cert the acknowledge links the channels
// carry are https:// and work over TLS; plain HTTP gets no page.
func TestHTTPSAckLinks(t *testing.T) {
	cr := newChannelRig(t, true)
	cr.send(cr.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing))
	got := cr.wecom.wait(1)
	link := chatAckRe.FindString(got[0].text)
	if !strings.HasPrefix(link, "https://") {
		t.Fatalf("ack link %q", link)
	}
	resp, err := cr.client().Get(link)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "确认") {
		t.Fatalf("GET %s: %d", link, resp.StatusCode)
	}
	if resp, err := http.Get(strings.Replace(link, "https://", "http://", 1)); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain http served the acknowledge page")
		}
	}
	cr.checkAll()
}

// TestChannelConfigErrors: recipients' use of channels is checked when the
// config is read.
func TestChannelConfigErrors(t *testing.T) {
	head := `links: {ack_base_url: "http://127.0.0.1:9104"}
ack: {secret: test-ack-secret-0123456789}
smtp: {host: 127.0.0.1, port: 25, from: "a@example.cn", tls: none, insecure_no_tls: true}
channels:
  - {name: group, type: wecom, url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"}
  - {name: sms, type: sms, url: "https://sms.example/send", body: '{{json .Text}}'}
`
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown channel", `recipients: [{email: a@gs.example.cn, region: "620102", channels: [fax]}]`, `channel "fax" is not defined`},
		{"sms without phone", `recipients: [{email: a@gs.example.cn, region: "620102", channels: [sms]}]`, "is not a phone number"},
		{"bad phone", `recipients: [{email: a@gs.example.cn, region: "620102", phone: "call me", channels: [email]}]`, "is not a phone number"},
		{"group robot twice", `recipients: [{email: a@gs.example.cn, region: "620102", channels: [group]}, {email: b@gs.example.cn, region: "620103", channels: [group]}]`,
			"posts into one group chat"},
		{"listed twice", `recipients: [{email: a@gs.example.cn, region: "620102", channels: [email, email]}]`, "listed twice"},
		{"unknown key", `recipients: [{email: a@gs.example.cn, region: "620102", chanels: [email]}]`, "chanels"},
		{"route: unknown channel", `recipients: [{email: a@gs.example.cn, region: "620102"}]
routes: [{match: {rules: [x]}, recipients: [a@gs.example.cn], channels: [fax]}]`, `routes[0]: channel "fax" is not defined`},
		{"route: sms without phone", `recipients: [{email: a@gs.example.cn, region: "620102"}]
routes: [{match: {rules: [x]}, recipients: [a@gs.example.cn], channels: [sms]}]`, "recipient a@gs.example.cn has no phone number"},
		{"route: email", `recipients: [{email: a@gs.example.cn, region: "620102"}]
routes: [{match: {rules: [x]}, recipients: [a@gs.example.cn], channels: [email]}]`, "email is the recipient's own choice"},
		{"same address in another case", `recipients: [{email: a@gs.example.cn, region: "620102"}, {email: A@gs.example.cn, region: "620103"}]`, "listed twice"},
		{"route: group robot", `recipients: [{email: a@gs.example.cn, region: "620102"}]
routes: [{match: {rules: [x]}, recipients: [a@gs.example.cn], channels: [group]}]`, "make the group a recipient"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := alerts.ParseConfig("alerts.yaml", []byte(head+c.yaml))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseConfig = %v, want %q", err, c.want)
			}
		})
	}
	dup := strings.Replace(head, "name: sms,", "name: group,", 1)
	if _, err := alerts.ParseConfig("alerts.yaml", []byte(dup+`recipients: [{email: a@gs.example.cn, region: "620102"}]`)); err == nil ||
		!strings.Contains(err.Error(), "defined twice") {
		t.Fatalf("a channel defined twice: %v", err)
	}
	if _, err := alerts.ParseConfig("alerts.yaml", []byte(head+`recipients: [{email: a@gs.example.cn, region: "620102", phone: "13800000000", channels: [sms, group]}]`)); err != nil {
		t.Fatal(err)
	}
}

// TestKill9Channels kills `layoffwatch alert` (a child process) with
// SIGKILL at random moments while it sends 40 level I warnings through
// every channel, four times, restarting it each time: in the end every
// receiver holds one message id per (alert, recipient) — a receiver that
// deduplicates on X-Layoffwatch-Message-Id sees each message once, even the
// one a kill between its answer and the log's record made arrive twice —
// and the log holds one message per (alert, recipient, channel). None is
// lost.
func TestKill9Channels(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "layoffwatch")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/layoffwatch").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cr := newChannelRig(t, false)
	cr.stop() // the in-process component is not used here
	var events []alertevent.Event
	chengguan := 0
	for i := 0; i < 40; i++ {
		firm := fmt.Sprint(i%5 + 1)
		e := cr.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, firm, 1, alertevent.Firing)
		e.Period = fmt.Sprintf("20%02d-%02d", 24+i/12, i%12+1)
		e.ID = alertevent.ID(e.Rule, e.Scope, e.Key, e.Period)
		e.UrgentUntil = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		events = append(events, e)
		if firm == "1" {
			chengguan++
		}
	}
	cr.send(events...)
	// webhook: the deputy (all) and Chengguan (its firm's); WeCom: Lanzhou's
	// group (all); DingTalk: the province (all); SMS: Chengguan
	want := map[*receiver]int{cr.webhook: 40 + chengguan, cr.wecom: 40, cr.dingtalk: 40, cr.sms: chengguan}
	distinct := func(rc *receiver) int {
		rc.mu.Lock()
		defer rc.mu.Unlock()
		return len(rc.byID)
	}
	total := func() (n int) {
		for rc := range want {
			n += distinct(rc)
		}
		return n
	}
	all := 0
	for _, n := range want {
		all += n
	}
	logPath := filepath.Join(dir, "alert.log")
	run := func() *exec.Cmd {
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "alert", "--config", cr.cfg,
			"--kafka-brokers", cr.kafka.Brokers[0], "--clickhouse-addr", testenv.ClickHouseAddr(t), "--clickhouse-database", cr.ch.Database(),
			"--http-addr", cr.http, "--group", "alert-test", "--session-timeout", "3s", "--escalation-check", "1h")
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = f.Close() })
		return cmd
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for round := 0; round < 4; round++ {
		cmd := run()
		target := total() + 15 + rng.IntN(30)
		deadline := time.Now().Add(60 * time.Second)
		for total() < min(target, all) && time.Now().Before(deadline) {
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("round %d: killed with %d of %d messages received", round+1, total(), all)
	}
	cmd := run()
	testenv.WaitFor(t, "every message", 3*time.Minute, func() (bool, string) { return total() >= all, fmt.Sprintf("%d of %d", total(), all) })
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	for rc, n := range want {
		if got := distinct(rc); got != n {
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s: %d distinct messages, want %d; log tail:\n%.3000s", rc.kind, got, n, string(b[max(0, len(b)-3000):]))
		}
		rc.mu.Lock()
		for _, p := range rc.problems {
			t.Errorf("%s receiver: %s", rc.kind, p)
		}
		again := 0
		for _, c := range rc.byID {
			again += c - 1
		}
		rc.mu.Unlock()
		t.Logf("%s: %d messages, %d arrived again after a kill between the answer and the record (same id)", rc.kind, n, again)
	}
	if n := cr.count(t, `SELECT count() FROM (SELECT alert_id, recipient, channel, uniqExact(message_id) AS ids
		FROM notifications WHERE status = 'sent' GROUP BY alert_id, recipient, channel HAVING ids > 1)`); n != 0 {
		t.Fatalf("%d (alert, recipient, channel) have more than one message", n)
	}
}
