package alerts_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/kafkautil"
	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type rig struct {
	t     *testing.T
	kafka kafkautil.Options
	ch    *chdb.Client
	smtp  *smtptest.Server
	clock *clock
	http  string
	cfg   string
	data  string // the component's --data-dir
	firms map[string]firms.Firm
	stop  func()
}

const recipientsYAML = `
  - {name: 城关区人社局, email: chengguan@gs.example.cn, region: "620102"}
  - {name: 七里河区人社局, email: qilihe@gs.example.cn, region: "620103"}
  - {name: 西固区人社局, email: xigu@gs.example.cn, region: "620104"}
  - {name: 安宁区人社局, email: anning@gs.example.cn, region: "620105"}
  - {name: 兰州市人社局, email: lanzhou@gs.example.cn, region: "620100", min_level: III}
  - {name: 甘肃省人社厅就业处, email: jiuye@gs.example.cn, region: "620000", min_level: II}
  - {name: Deputy director, email: deputy@gs.example.cn, region: "620000", min_level: I, language: en}
`

func newRig(t *testing.T, smtpOpts smtptest.Options) *rig {
	t.Helper()
	k := testenv.Kafka(t, localstack.KafkaOptions{Partitions: 2})
	ch := testenv.ClickHouse(t)
	srv := smtptest.Start(t, smtpOpts)
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, kafka: kafkautil.Options{Brokers: k.Addrs(), Partitions: 2, ReplicationFactor: 1}, ch: ch, smtp: srv,
		clock: &clock{t: time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)}, http: fmt.Sprintf("127.0.0.1:%d", port), firms: map[string]firms.Firm{},
		data: t.TempDir()}
	var list []firms.Firm
	for i, county := range []string{"620102", "620103", "620103", "620104", "620105", "620102"} {
		f := firms.Firm{ID: testenv.FirmID(county, i+1), Name: fmt.Sprintf("测试企业%d有限公司", i+1), Region: county, Industry: "C", BaselineHeadcount: 800}
		r.firms[fmt.Sprint(i+1)] = f
		list = append(list, f)
	}
	if err := firms.NewStore(ch).Upsert(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	r.cfg = filepath.Join(t.TempDir(), "alerts.yaml")
	cfg := fmt.Sprintf(`smtp: {host: 127.0.0.1, port: %d, from: "layoffwatch <alerts@example.cn>", tls: none, insecure_no_tls: true, timeout: 5s}
links: {ack_base_url: "http://%s", grafana_base_url: "http://grafana.example"}
ack: {secret: test-ack-secret-0123456789, expiry: 168h}
group_wait: 300ms
recipients:%s`, srv.Port, r.http, recipientsYAML)
	if err := os.WriteFile(r.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	return r
}

func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opts := alerts.Options{Kafka: r.kafka, ClickHouse: chdb.Options{Addr: testenv.ClickHouseAddr(r.t), Database: r.ch.Database(), User: "default", DialTimeout: 5 * time.Second},
		Config: r.cfg, Topic: "alerts", Group: "alert-test", HTTPAddr: r.http,
		EscalationCheck: 100 * time.Millisecond, SessionTimeout: 6 * time.Second, Now: r.clock.now, DataDir: r.data}
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
	// ready when /readyz says so
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + r.http + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatal("alert component did not start")
}

// event builds a detector event for firm n (1–6) or a region, with the
// shipped default plan's facts about its level, as the detector does.
func (r *rig) event(rule string, level alertevent.Level, scope alertevent.Scope, key string, version uint32, kind string) alertevent.Event {
	e := alertevent.Event{Rule: rule, Level: level, LevelFacts: alertevent.DefaultLevelFacts(level), Scope: scope, Key: key, Period: "2026-10", Version: version, Kind: kind,
		Values: json.RawMessage(`{"loss":320,"rate":0.4,"prev_headcount":800}`), At: r.clock.now(),
		TitleZh: "测试规则", TitleEn: "Test rule", SummaryZh: "减员320人（40.0%）", SummaryEn: "cut 320 staff (40.0%)", Reported: 4, Expected: 5}
	if f, ok := r.firms[key]; ok {
		e.Key, e.Region, e.Industry, e.Subject = f.ID, f.Region, f.Industry, f.Name
	} else {
		e.Region, e.Subject = key, "区县"
	}
	e.Prefecture = e.Region[:4] + "00"
	e.ID = alertevent.ID(rule, scope, e.Key, e.Period)
	return e
}

func (r *rig) send(events ...alertevent.Event) {
	r.t.Helper()
	w := kafkautil.NewWriter(r.kafka, "alerts", slog.New(slog.DiscardHandler))
	defer w.Close()
	var msgs []kafka.Message
	for _, e := range events {
		b, _ := json.Marshal(e)
		msgs = append(msgs, kafka.Message{Key: []byte(e.ID), Value: b})
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		r.t.Fatal(err)
	}
}

// mailbox is who got which subjects, from the SMTP server.
func (r *rig) mailbox() map[string][]string {
	out := map[string][]string{}
	for _, m := range r.smtp.Messages() {
		subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		for _, to := range m.To {
			out[strings.Split(to, "@")[0]] = append(out[strings.Split(to, "@")[0]], subj)
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func (r *rig) waitMail(n int) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if len(r.smtp.Messages()) >= n {
			time.Sleep(500 * time.Millisecond) // nothing more should come
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("got %d emails, want %d: %v", len(r.smtp.Messages()), n, r.mailbox())
}

func textPart(t *testing.T, m smtptest.Message) string {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatal(err)
	}
	var find func(io.Reader, string) string
	find = func(body io.Reader, ctype string) string {
		mt, params, _ := mime.ParseMediaType(ctype)
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					return ""
				}
				if s := find(p, p.Header.Get("Content-Type")); s != "" {
					return s
				}
			}
		}
		if mt == "text/plain" {
			b, _ := io.ReadAll(body)
			return string(b)
		}
		return ""
	}
	return find(msg.Body, msg.Header.Get("Content-Type"))
}

var ackRe = regexp.MustCompile(`http://[^\s]+/ack\?[^\s]+`)

func TestAlertComponent(t *testing.T) {
	r := newRig(t, smtptest.Options{})
	majorCut := r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing) // Chengguan: county, prefecture, province
	art41 := r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "2", 1, alertevent.Firing)       // Qilihe: a digest of two
	mass := r.event("mass_layoff", alertevent.LevelIII, alertevent.ScopeFirm, "3", 1, alertevent.Firing) // Qilihe
	cluster := r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620104", 1, alertevent.Firing)
	folded := r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "4", 1, alertevent.Firing) // Xigu: folded into the cluster
	// a prefecture alert at level IV reaches nobody (Lanzhou takes III and
	// up), so the firm alerts it covers must not fold into it
	quietPrefecture := r.event("prefecture_rate", alertevent.LevelIV, alertevent.ScopePrefecture, "620100", 1, alertevent.Firing)
	r.send(quietPrefecture, majorCut, art41, mass, cluster, folded)
	r.waitMail(7)
	box := r.mailbox()
	want := map[string]int{"chengguan": 1, "lanzhou": 2, "jiuye": 1, "deputy": 1, "qilihe": 1, "xigu": 1}
	for who, n := range want {
		if len(box[who]) != n {
			t.Errorf("%s got %d emails, want %d: %q", who, len(box[who]), n, box[who])
		}
	}
	if len(box["anning"]) != 0 {
		t.Errorf("anning got %q", box["anning"])
	}
	if s := box["chengguan"]; len(s) == 1 && !strings.HasPrefix(s[0], "[I级 红色预警]") {
		t.Errorf("chengguan's subject %q", s[0])
	}
	if s := box["deputy"]; len(s) == 1 && !strings.Contains(s[0], "Level I") {
		t.Errorf("the English recipient's subject %q", s[0])
	}
	var chengguan, xigu smtptest.Message
	for _, m := range r.smtp.Messages() {
		switch m.To[0] {
		case "chengguan@gs.example.cn":
			chengguan = m
		case "xigu@gs.example.cn":
			xigu = m
		}
	}
	if body := textPart(t, xigu); !strings.Contains(body, r.firms["4"].Name) {
		t.Errorf("the folded firm alert is not in the county alert's email:\n%s", body)
	}

	t.Run("ack link", func(t *testing.T) {
		link := ackRe.FindString(textPart(t, chengguan))
		if link == "" {
			t.Fatal("no ack link in the email")
		}
		resp, err := http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(page), "确认") {
			t.Fatalf("GET %s: %d\n%s", link, resp.StatusCode, page)
		}
		u, _ := url.Parse(link)
		tampered := u.Query()
		tampered.Set("a", art41.ID)
		resp, err = http.PostForm("http://"+r.http+"/ack", tampered)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("tampered link: %d, want 403", resp.StatusCode)
		}
		form := u.Query()
		form.Set("comment", "已派工作组 <b>核实</b>")
		resp, err = http.PostForm("http://"+r.http+"/ack", form)
		if err != nil {
			t.Fatal(err)
		}
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("POST ack: %d\n%s", resp.StatusCode, page)
		}
		var who, comment string
		if err := testenv.SQL(t, r.ch.Options()).QueryRow(context.Background(), "SELECT recipient, comment FROM acks FINAL WHERE alert_id = ?", majorCut.ID).Scan(&who, &comment); err != nil {
			t.Fatal(err)
		}
		if who != "chengguan@gs.example.cn" || comment != "已派工作组 <b>核实</b>" {
			t.Fatalf("ack recorded as %q %q", who, comment)
		}
		r.clock.add(8 * 24 * time.Hour)
		resp, err = http.Get(link)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		r.clock.add(-8 * 24 * time.Hour)
		if resp.StatusCode != http.StatusGone {
			t.Fatalf("expired link: %d, want 410", resp.StatusCode)
		}
	})

	t.Run("escalation", func(t *testing.T) {
		before := len(r.smtp.Messages())
		r.clock.add(2*time.Hour + time.Minute)
		// the cluster (II, 2 h) was not acknowledged: re-sent to the county
		// and the prefecture, and now to the province too; the major cut was
		// acknowledged: nothing; III and IV are not due yet
		r.waitMail(before + 3)
		var got []string
		for _, m := range r.smtp.Messages()[before:] {
			got = append(got, m.To[0])
		}
		sort.Strings(got)
		if strings.Join(got, ",") != "jiuye@gs.example.cn,lanzhou@gs.example.cn,xigu@gs.example.cn" {
			t.Fatalf("escalation went to %v", got)
		}
	})

	t.Run("level change", func(t *testing.T) {
		before := len(r.smtp.Messages())
		changed := cluster
		changed.Version, changed.Kind, changed.Level, changed.PreviousLevel = 2, alertevent.LevelChanged, alertevent.LevelI, alertevent.LevelII
		changed.LevelFacts, changed.PreviousLevelFacts = alertevent.DefaultLevelFacts(alertevent.LevelI), alertevent.DefaultLevelFacts(alertevent.LevelII)
		r.send(changed)
		// everyone who got the level II cluster alert (Xigu, Lanzhou, and the
		// province after the escalation), and now the deputy director too
		r.waitMail(before + 4)
		var got []string
		for _, m := range r.smtp.Messages()[before:] {
			got = append(got, m.To[0])
		}
		sort.Strings(got)
		if strings.Join(got, ",") != "deputy@gs.example.cn,jiuye@gs.example.cn,lanzhou@gs.example.cn,xigu@gs.example.cn" {
			t.Fatalf("level change went to %v", got)
		}
	})

	t.Run("silence, resolve, restart", func(t *testing.T) {
		if _, err := alerts.AddSilence(context.Background(), r.ch, alerts.Silence{Region: "620105", Rule: "art41",
			Starts: r.clock.now().Add(-time.Minute), Ends: r.clock.now().Add(time.Hour), Author: "张三", Reason: "企业已说明"}, r.clock.now()); err != nil {
			t.Fatal(err)
		}
		before := len(r.smtp.Messages())
		resolved := art41
		resolved.Version, resolved.Kind = 2, alertevent.Resolved
		r.send(r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "5", 1, alertevent.Firing), resolved)
		r.waitMail(before + 1) // the resolved notice to Qilihe; the silenced one to nobody
		if m := r.smtp.Messages()[before]; m.To[0] != "qilihe@gs.example.cn" {
			t.Fatalf("resolved notice went to %v", m.To)
		}
		var silenced uint64
		if err := testenv.SQL(t, r.ch.Options()).QueryRow(context.Background(), "SELECT count() FROM notifications WHERE status = 'silenced'").Scan(&silenced); err != nil || silenced != 1 {
			t.Fatalf("silenced rows %d, %v", silenced, err)
		}
		// a restart re-reads nothing it already told anyone
		count := len(r.smtp.Messages())
		r.stop()
		r.start()
		r.send(majorCut) // a redelivered event
		time.Sleep(2 * time.Second)
		if n := len(r.smtp.Messages()); n != count {
			t.Fatalf("after a restart %d more emails", n-count)
		}
	})
}

// TestSMTPOutage: the SMTP server refuses for a while, then accepts: every
// (alert, recipient) gets exactly one email.
func TestSMTPOutage(t *testing.T) {
	r := newRig(t, smtptest.Options{Fail: smtptest.FailTemp, FailCount: 4})
	r.send(r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing), r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620104", 1, alertevent.Firing))
	r.waitMail(6)
	seen := map[string]bool{}
	for _, m := range r.smtp.Messages() {
		if seen[m.MessageID] {
			t.Errorf("message %s delivered twice", m.MessageID)
		}
		seen[m.MessageID] = true
	}
	if r.smtp.Attempts() <= len(r.smtp.Messages()) {
		t.Errorf("the outage was not exercised: %d attempts for %d messages", r.smtp.Attempts(), len(r.smtp.Messages()))
	}
}
