package alerts_test

import (
	"context"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/smtptest"
	"github.com/layoffwatch/layoffwatch/internal/testenv"
)

// mailParts takes a received message apart as a mail client does: the
// text and HTML parts, transfer encoding undone (quoted-printable breaks
// long lines, so the raw message need not hold a firm id whole), HTML
// entities unescaped.
func mailParts(t testing.TB, m smtptest.Message) (text, htmlText string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("message %s: %v", m.MessageID, err)
	}
	var walk func(body io.Reader, ctype string)
	walk = func(body io.Reader, ctype string) {
		mt, params, err := mime.ParseMediaType(ctype)
		if err != nil {
			t.Fatalf("message %s: content type %q: %v", m.MessageID, ctype, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextPart() // undoes quoted-printable
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatalf("message %s: %v", m.MessageID, err)
				}
				walk(p, p.Header.Get("Content-Type"))
			}
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("message %s: %v", m.MessageID, err)
		}
		switch mt {
		case "text/plain":
			text = string(b)
		case "text/html":
			htmlText = html.UnescapeString(string(b))
		}
	}
	walk(msg.Body, msg.Header.Get("Content-Type"))
	if text == "" || htmlText == "" {
		t.Fatalf("message %s: no text or no HTML part", m.MessageID)
	}
	return text, htmlText
}

// logged is one settled row of the notification log.
type logged struct{ alert, recipient, status, messageID string }

func (r *rig) settled(t *testing.T) []logged {
	t.Helper()
	rows, err := testenv.SQL(t, r.ch.Options()).Query(context.Background(),
		"SELECT alert_id, recipient, status, message_id FROM notifications WHERE status IN ('sent', 'folded') ORDER BY alert_id, recipient, message_id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []logged
	for rows.Next() {
		var l logged
		if err := rows.Scan(&l.alert, &l.recipient, &l.status, &l.messageID); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFirmsNamed checks that for every firm alert (of firms) each listed
// recipient has a settled log row, sent on its own or folded into a region
// alert's email, and that the email the row names reached that recipient and
// names the firm — its name and id — in both its text and its HTML part.
func (r *rig) checkFirmsNamed(t *testing.T, firms map[string]alertevent.Event, want map[string][]string) map[string]string {
	t.Helper()
	byID := map[string]smtptest.Message{}
	for _, m := range r.smtp.Messages() {
		byID[m.MessageID] = m
	}
	statuses := map[string]string{} // alert|recipient → status
	for _, l := range r.settled(t) {
		e, ok := firms[l.alert]
		if !ok {
			continue
		}
		statuses[l.alert+"|"+strings.Split(l.recipient, "@")[0]] = l.status
		m, ok := byID[l.messageID]
		if !ok {
			t.Errorf("firm alert %s (%s) logged %s to %s in message %s, which never reached the SMTP server", e.Rule, e.Subject, l.status, l.recipient, l.messageID)
			continue
		}
		if len(m.To) != 1 || m.To[0] != l.recipient {
			t.Errorf("message %s went to %v, the log says %s", l.messageID, m.To, l.recipient)
		}
		text, htmlText := mailParts(t, m)
		for part, body := range map[string]string{"text": text, "HTML": htmlText} {
			if !strings.Contains(body, e.Subject) || !strings.Contains(body, e.Key) {
				t.Errorf("the %s part of the email to %s that carries %s (%s) does not name the firm %s %s:\n%s", part, l.recipient, e.Rule, l.status, e.Subject, e.Key, body)
			}
		}
	}
	for id, recipients := range want {
		for _, who := range recipients {
			if _, ok := statuses[id+"|"+who]; !ok {
				t.Errorf("%s was never told of %s %s (neither sent nor folded)", who, firms[id].Rule, firms[id].Subject)
			}
		}
	}
	return statuses
}

// TestEveryWarnedFirmIsNamed: a firm alert told inside a county alert's
// email (folded) and firm alerts gathered into a digest are each named —
// firm name and id — in the email that carries them, to every official the
// alert is routed to.
func TestEveryWarnedFirmIsNamed(t *testing.T) {
	r := newRig(t, smtptest.Options{})
	cluster := r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620103", 1, alertevent.Firing) // Qilihe: firms 2 and 3
	major := r.event("major_cut", alertevent.LevelI, alertevent.ScopeFirm, "2", 1, alertevent.Firing)                // county, Lanzhou, the province
	art41 := r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "2", 1, alertevent.Firing)
	mass := r.event("mass_layoff", alertevent.LevelIII, alertevent.ScopeFirm, "3", 1, alertevent.Firing)
	digestA := r.event("art41", alertevent.LevelIV, alertevent.ScopeFirm, "1", 1, alertevent.Firing) // Chengguan: firms 1 and 6
	digestB := r.event("mass_layoff", alertevent.LevelIII, alertevent.ScopeFirm, "6", 1, alertevent.Firing)
	r.send(major, art41, digestA, mass, cluster, digestB)
	// Qilihe and Lanzhou: the cluster with the firms folded in; the
	// province's two: the major cut alone; Chengguan: one digest
	r.waitMail(5)
	firms := map[string]alertevent.Event{major.ID: major, art41.ID: art41, mass.ID: mass, digestA.ID: digestA, digestB.ID: digestB}
	statuses := r.checkFirmsNamed(t, firms, map[string][]string{
		major.ID:   {"qilihe", "lanzhou", "jiuye", "deputy"},
		art41.ID:   {"qilihe"},
		mass.ID:    {"qilihe"},
		digestA.ID: {"chengguan"},
		digestB.ID: {"chengguan"},
	})
	// the test covers both ways: folded into the cluster, and a digest of two firms
	for key, want := range map[string]string{major.ID + "|qilihe": "folded", major.ID + "|lanzhou": "folded", mass.ID + "|qilihe": "folded",
		major.ID + "|jiuye": "sent", digestA.ID + "|chengguan": "sent", digestB.ID + "|chengguan": "sent"} {
		if statuses[key] != want {
			t.Errorf("%s: %q, want %q", key, statuses[key], want)
		}
	}
	if n := len(r.smtp.Messages()); n != 5 {
		t.Errorf("%d emails, want 5", n)
	}
}

// TestFoldedFirmsSurviveARestart: the alert component stops while the
// county alert's email, with firm alerts folded in, is not yet sent (SMTP
// refuses it for now). After a restart the email that goes out still names
// the folded firms: a firm alert is settled only by the email that tells it.
func TestFoldedFirmsSurviveARestart(t *testing.T) {
	r := newRig(t, smtptest.Options{Fail: smtptest.FailTemp, FailCount: 1})
	cluster := r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620103", 1, alertevent.Firing)
	mass := r.event("mass_layoff", alertevent.LevelIII, alertevent.ScopeFirm, "3", 1, alertevent.Firing)
	r.send(cluster, mass)
	deadline := time.Now().Add(30 * time.Second)
	for r.smtp.Attempts() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the alert component never tried to send")
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.stop() // during the backoff after the refusal (500 ms)
	if n := len(r.smtp.Messages()); n != 0 {
		t.Fatalf("%d emails before the restart; the test needs the first attempt refused and no other", n)
	}
	r.start()
	r.waitMail(2) // the cluster to Qilihe and to Lanzhou
	r.checkFirmsNamed(t, map[string]alertevent.Event{mass.ID: mass}, map[string][]string{mass.ID: {"qilihe"}})
}

// TestEscalationFollowsTheEvent: an alert escalates after the response
// deadline its event carries from the plan, not after any other; an event
// recorded before events carried level facts takes the default plan's.
func TestEscalationFollowsTheEvent(t *testing.T) {
	r := newRig(t, smtptest.Options{})
	quick := r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620104", 1, alertevent.Firing) // Xigu
	quick.LevelFacts.ResponseSeconds = 30 * 60
	old := r.event("county_cluster", alertevent.LevelII, alertevent.ScopeCounty, "620105", 1, alertevent.Firing) // Anning
	old.LevelFacts = alertevent.LevelFacts{}
	r.send(quick, old)
	r.waitMail(4) // each to its county and to Lanzhou
	before := len(r.smtp.Messages())
	r.clock.add(31 * time.Minute)
	r.waitMail(before + 3) // the quick one: county, Lanzhou, and now the province
	escalated := map[string]bool{}
	for _, m := range r.smtp.Messages()[before:] {
		if m.Header.Get("X-Layoffwatch-Alerts") != quick.ID+"/1" {
			t.Errorf("escalated after 31 minutes: %s", m.Header.Get("X-Layoffwatch-Alerts"))
		}
		escalated[m.To[0]] = true
	}
	if !escalated["jiuye@gs.example.cn"] {
		t.Errorf("the province was not told: %v", escalated)
	}
	before = len(r.smtp.Messages())
	r.clock.add(90 * time.Minute) // 2 h 1 min: the default plan's deadline for II; the quick one escalates again
	r.waitMail(before + 6)
	var told []string
	for _, m := range r.smtp.Messages()[before:] {
		if m.Header.Get("X-Layoffwatch-Alerts") != old.ID+"/1" {
			continue
		}
		told = append(told, m.To[0])
		text, _ := mailParts(t, m)
		if !strings.Contains(text, "II级 橙色预警") {
			t.Errorf("the old event's email lacks the default plan's level name:\n%s", text)
		}
	}
	sort.Strings(told)
	if strings.Join(told, ",") != "anning@gs.example.cn,jiuye@gs.example.cn,lanzhou@gs.example.cn" {
		t.Errorf("the old event escalated to %v", told)
	}
}
