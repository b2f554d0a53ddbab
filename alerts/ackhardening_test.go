package alerts_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

const rigSecret = "test-ack-secret-0123456789"

// forge signs an acknowledge link as someone holding the secret would:
// HMAC-SHA256 over alert, recipient and expiry.
func forge(base, alertID, recipient string, exp int64) string {
	h := hmac.New(sha256.New, []byte(rigSecret))
	h.Write([]byte(alertID + "\n" + strings.ToLower(recipient) + "\n" + strconv.FormatInt(exp, 10)))
	q := url.Values{"a": {alertID}, "r": {recipient}, "e": {strconv.FormatInt(exp, 10)}, "s": {base64.RawURLEncoding.EncodeToString(h.Sum(nil))}}
	return base + "/ack?" + q.Encode()
}

func call(t *testing.T, method, link string, extra url.Values) (int, http.Header, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = http.Get(link)
	} else {
		u, _ := url.Parse(link)
		form := u.Query()
		for k, v := range extra {
			form[k] = v
		}
		u.RawQuery = ""
		resp, err = http.PostForm(u.String(), form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestAckLinksHardened is the black-box test of issue 11's findings about
// acknowledge links, against the running component (Kafka, ClickHouse,
// SMTP): a signed link is refused for a recipient the alert was not sent
// to, for an alert that does not exist, and with an expiry past what the
// server signs; the first acknowledgement stands (a second click or an
// upper-case recipient changes nothing and is kept as an event); every
// answer carries the anti-framing and anti-sniffing headers.
func TestAckLinksHardened(t *testing.T) {
	r := newRig(t, smtptest.Options{})
	majorCut := r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing) // to chengguan, lanzhou, jiuye, deputy
	r.send(majorCut)
	r.waitMail(4)
	base := "http://" + r.http
	sql := testenv.SQL(t, r.ch.Options())
	acks := func() uint64 {
		var n uint64
		if err := sql.QueryRow(context.Background(), "SELECT count() FROM acks WHERE alert_id = ?", majorCut.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	valid := r.clock.now().Add(24 * time.Hour).Unix()

	t.Run("recipient the alert was not sent to", func(t *testing.T) {
		link := forge(base, majorCut.ID, "anning@gs.example.cn", valid) // a configured official, not told
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if code, _, _ := call(t, m, link, nil); code != http.StatusForbidden {
				t.Errorf("%s: %d, want 403", m, code)
			}
		}
		if n := acks(); n != 0 {
			t.Errorf("%d acknowledgements recorded", n)
		}
	})
	t.Run("alert that does not exist", func(t *testing.T) {
		link := forge(base, "00000000000000000000", "chengguan@gs.example.cn", valid)
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if code, _, _ := call(t, m, link, nil); code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", m, code)
			}
		}
		var n uint64
		_ = sql.QueryRow(context.Background(), "SELECT count() FROM acks").Scan(&n)
		if n != 0 {
			t.Errorf("%d acknowledgements recorded", n)
		}
	})
	t.Run("expiry capped", func(t *testing.T) {
		link := forge(base, majorCut.ID, "chengguan@gs.example.cn", time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if code, _, _ := call(t, m, link, nil); code != http.StatusForbidden {
				t.Errorf("%s of a link valid until 2100: %d, want 403", m, code)
			}
		}
		if n := acks(); n != 0 {
			t.Errorf("%d acknowledgements recorded", n)
		}
	})
	t.Run("first acknowledgement stands", func(t *testing.T) {
		link := forge(base, majorCut.ID, "chengguan@gs.example.cn", valid)
		if code, _, _ := call(t, http.MethodPost, link, url.Values{"comment": {"first"}}); code != 200 {
			t.Fatalf("first: %d", code)
		}
		firstAt := r.clock.now().UTC().Truncate(time.Second)
		r.clock.add(10 * time.Minute)
		if code, _, page := call(t, http.MethodPost, link, url.Values{"comment": {"second"}}); code != 200 || !strings.Contains(page, "此前已被确认") {
			t.Errorf("second click: %d", code)
		}
		upper := forge(base, majorCut.ID, "CHENGGUAN@GS.EXAMPLE.CN", valid)
		if code, _, _ := call(t, http.MethodPost, upper, url.Values{"comment": {"upper"}}); code != 200 {
			t.Errorf("upper-case recipient: %d", code)
		}
		other := forge(base, majorCut.ID, "lanzhou@gs.example.cn", valid)
		if code, _, page := call(t, http.MethodPost, other, url.Values{"comment": {"lanzhou"}}); code != 200 || !strings.Contains(page, "chengguan@gs.example.cn") {
			t.Errorf("a later acknowledgement by another official: %d", code)
		}
		rows, err := sql.Query(context.Background(), "SELECT recipient, comment, at FROM acks FINAL WHERE alert_id = ?", majorCut.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var who, comment string
			var at time.Time
			_ = rows.Scan(&who, &comment, &at)
			got = append(got, who+" "+comment+" "+at.UTC().Format(time.RFC3339))
		}
		rows.Close()
		if want := "chengguan@gs.example.cn first " + firstAt.Format(time.RFC3339); len(got) != 1 || got[0] != want {
			t.Errorf("acks %q, want [%q]", got, want)
		}
		var events, later uint64
		_ = sql.QueryRow(context.Background(), "SELECT count(), countIf(outcome = 'already_acknowledged') FROM ack_events WHERE alert_id = ?", majorCut.ID).Scan(&events, &later)
		if events != 4 || later != 3 {
			t.Errorf("ack events %d (%d later), want 4 (3 later)", events, later)
		}
	})
	t.Run("security headers", func(t *testing.T) {
		link := forge(base, majorCut.ID, "chengguan@gs.example.cn", valid)
		for _, u := range []string{link, base + "/healthz", base + "/metrics", base + "/api/alerts", base + "/nope"} {
			_, h, _ := call(t, http.MethodGet, u, nil)
			if !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
				t.Errorf("%s: CSP %q nosniff %q referrer %q", u, h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
			}
		}
	})
}

// TestAckSecretNotFromTheRepository: the secrets once committed to the
// repository are refused; without a configured secret the component
// generates one into its data directory (0600) and keeps it across a
// restart, so the links it emailed stay good.
func TestAckSecretNotFromTheRepository(t *testing.T) {
	head := "links: {ack_base_url: http://x}\nrecipients: [{email: a@b.cn, region: '620102'}]\n"
	for _, s := range []string{"demo-only-ack-secret-change-me", "dev-only-ack-secret-change-me-7f3a9c1e"} {
		if _, err := alerts.ParseConfig("a.yaml", []byte(head+"ack: {secret: "+s+"}\n")); err == nil || !strings.Contains(err.Error(), "published") {
			t.Errorf("the published secret %s: %v", s, err)
		}
		file := filepath.Join(t.TempDir(), "ack_secret")
		if err := os.WriteFile(file, []byte(s+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := alerts.ParseConfig("a.yaml", []byte(head+"ack: {secret_file: "+file+"}\n")); err == nil {
			t.Errorf("the published secret %s in a secret file was accepted", s)
		}
	}
	for _, f := range []string{"../deploy/local/alerts.yaml", "../deploy/alerts.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^\s*secret:`).Match(b) {
			t.Errorf("%s has a secret in the repository", f)
		}
	}

	// generated at first start, kept across a restart
	r := newRig(t, smtptest.Options{})
	r.stop()
	cfg, err := os.ReadFile(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.cfg, []byte(strings.Replace(string(cfg), "secret: "+rigSecret+", ", "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r.start()
	key := filepath.Join(r.data, "ack.secret")
	st, err := os.Stat(key)
	if err != nil {
		t.Fatalf("no secret generated: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secret file mode %v, want 0600", st.Mode().Perm())
	}
	first, _ := os.ReadFile(key)
	majorCut := r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "1", 1, alertevent.Firing)
	r.send(majorCut)
	r.waitMail(4)
	link := ackRe.FindString(textPart(t, r.smtp.Messages()[0]))
	r.stop()
	r.start()
	again, _ := os.ReadFile(key)
	if string(first) != string(again) || len(strings.TrimSpace(string(first))) < 32 {
		t.Fatal("the generated secret changed across a restart")
	}
	if code, _, _ := call(t, http.MethodGet, link, nil); code != 200 {
		t.Errorf("a link emailed before the restart: %d", code)
	}
}
