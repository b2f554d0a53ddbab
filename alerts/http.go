package alerts

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chdb"
	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

// httpAPI serves acknowledge links and the API. It reads and writes
// ClickHouse only; the notifier picks changes up before each pass.
type httpAPI struct {
	cfg    *Config
	store  *store
	signer *Signer
	now    func() time.Time
	log    *slog.Logger
	reg    *prometheus.Registry
	acks   *prometheus.CounterVec
	health *obs.Health
}

func (a *httpAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ack", a.ackPage)
	mux.HandleFunc("POST /ack", a.ackPost)
	mux.HandleFunc("GET /api/alerts", a.auth(a.listAlerts))
	mux.HandleFunc("POST /api/alerts/{id}/ack", a.auth(a.ackAPI))
	mux.HandleFunc("GET /api/silences", a.auth(a.listSilences))
	mux.HandleFunc("POST /api/silences", a.auth(a.addSilence))
	mux.HandleFunc("POST /api/silences/{id}/expire", a.auth(a.expireSilence))
	mux.Handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	a.health.Register(mux)
	return securityHeaders(mux)
}

// securityHeaders goes on every answer: the acknowledge page may not be
// framed (a click-jacked acknowledgement stops escalation), nothing is
// sniffed, and the signed link never leaves in a Referer.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		next.ServeHTTP(w, r)
	})
}

// serve serves on addr until ctx ends: HTTPS when tc is set.
func (a *httpAPI) serve(ctx context.Context, addr string, tc *tls.Config) error {
	if addr == "" {
		<-ctx.Done()
		return nil
	}
	ln, err := obs.Listen(addr, tc)
	if err != nil {
		return err
	}
	return obs.ServeListener(ctx, ln, a.handler(), a.log)
}

var ackTmpl = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{.T.title}}</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}.lv{display:inline-block;padding:.1em .5em;color:#fff;border-radius:.2em}textarea{width:100%}</style>
</head><body>
<h1>{{.T.title}}</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{else}}
{{with .Alert}}<p><span class="lv" style="background:{{$.Color}}">{{.Level}}</span> <strong>{{.Subject}}</strong> — {{if eq $.Lang "en"}}{{.SummaryEn}}{{else}}{{.SummaryZh}}{{end}} ({{.Period}})</p>{{end}}
{{if .Done}}<p>{{.T.done}} {{.Who}}, {{.When}}.</p>{{else}}
<form method="post" action="ack">
<input type="hidden" name="a" value="{{.A}}"><input type="hidden" name="r" value="{{.R}}"><input type="hidden" name="e" value="{{.E}}"><input type="hidden" name="s" value="{{.S}}">
<p><label for="comment">{{.T.comment}}</label><br><textarea id="comment" name="comment" rows="4" maxlength="500"></textarea></p>
<p><button type="submit">{{.T.button}}</button></p>
</form>{{end}}{{end}}
</body></html>`))

var ackText = map[string]map[string]string{
	"zh-CN": {"title": "确认收到预警", "comment": "处理意见（可选）", "button": "确认", "done": "已确认：",
		"expired": "此确认链接已过期，请联系预警系统管理员或使用最新邮件中的链接。", "bad": "此确认链接无效（可能被修改）。",
		"gone": "该预警不存在。", "already": "该预警此前已被确认："},
	"en": {"title": "Acknowledge the warning", "comment": "Comment (optional)", "button": "Acknowledge", "done": "Acknowledged by",
		"expired": "This acknowledge link has expired; use the link of the latest email.", "bad": "This acknowledge link is not valid (it may have been altered).",
		"gone": "There is no such warning.", "already": "The warning was acknowledged before, by"},
}

func (a *httpAPI) lang(recipient string) string {
	for _, r := range a.cfg.Recipients {
		if strings.EqualFold(r.Email, recipient) && r.Language == "en" {
			return "en"
		}
	}
	return "zh-CN"
}

func (a *httpAPI) renderAck(w http.ResponseWriter, r *http.Request, status int, done bool, errMsg string) {
	q := r.Form
	lang := a.lang(q.Get("r"))
	data := map[string]any{"Lang": lang, "T": ackText[lang], "A": q.Get("a"), "R": q.Get("r"), "E": q.Get("e"), "S": q.Get("s"),
		"Done": done, "Who": q.Get("r"), "When": a.now().In(report.Shanghai()).Format("2006-01-02 15:04"), "Error": errMsg}
	if errMsg == "" {
		if e, ok := a.alert(r.Context(), q.Get("a")); ok {
			e.FillDefaultLevelFacts()
			data["Alert"] = e
			data["Color"] = "#607d8b"
			if colorRe.MatchString(e.LevelFacts.Color) {
				data["Color"] = e.LevelFacts.Color
			}
		}
	}
	if s, ok := r.Context().Value(standingAck{}).(firstAck); ok {
		data["Who"], data["When"] = s.Recipient, s.At.In(report.Shanghai()).Format("2006-01-02 15:04")
		if !s.first {
			data["T"] = withAlready(ackText[lang])
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = ackTmpl.Execute(w, data)
}

// colorRe is a colour the ack page shows the level in: the event carries
// it, so anything else is not put into the page's style.
var colorRe = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

func (a *httpAPI) checkLink(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return false
	}
	q := r.Form
	text := ackText[a.lang(q.Get("r"))]
	err := a.signer.Verify(q.Get("a"), q.Get("r"), q.Get("e"), q.Get("s"))
	switch {
	case errors.Is(err, ErrExpired):
		a.renderAck(w, r, http.StatusGone, false, text["expired"])
		return false
	case err != nil:
		a.renderAck(w, r, http.StatusForbidden, false, text["bad"])
		return false
	}
	// a good signature is not enough: the alert must exist and have been
	// sent to this recipient
	if _, ok := a.alert(r.Context(), q.Get("a")); !ok {
		if known, err := a.store.known(r.Context(), q.Get("a")); err != nil || !known {
			a.renderAck(w, r, http.StatusNotFound, false, text["gone"])
			return false
		}
	}
	sent, err := a.store.sentTo(r.Context(), q.Get("a"), q.Get("r"))
	if err != nil {
		a.log.Error("check ack recipient", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return false
	}
	if !sent {
		a.renderAck(w, r, http.StatusForbidden, false, text["bad"])
		return false
	}
	return true
}

// standingAck carries the alert's standing acknowledgement to the page.
type standingAck struct{}

func withAlready(t map[string]string) map[string]string {
	out := make(map[string]string, len(t))
	for k, v := range t {
		out[k] = v
	}
	out["done"] = t["already"]
	return out
}

// ackPage shows the alert and a button: a GET never records anything, so
// mail scanners that follow links do not acknowledge for the official.
func (a *httpAPI) ackPage(w http.ResponseWriter, r *http.Request) {
	if !a.checkLink(w, r) {
		return
	}
	a.renderAck(w, r, http.StatusOK, false, "")
}

func (a *httpAPI) ackPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !a.checkLink(w, r) {
		return
	}
	comment := strings.TrimSpace(r.Form.Get("comment"))
	if utf8.RuneCountInString(comment) > 500 || !utf8.ValidString(comment) {
		http.Error(w, "comment too long", http.StatusBadRequest)
		return
	}
	standing, first, err := a.store.ackOnce(r.Context(), r.Form.Get("a"), r.Form.Get("r"), comment, "link", a.now())
	if err != nil {
		a.log.Error("record ack", "err", err)
		http.Error(w, "could not record the acknowledgement, try again", http.StatusServiceUnavailable)
		return
	}
	if first {
		a.acks.WithLabelValues("link").Inc()
	}
	standing.first = first
	a.renderAck(w, r.WithContext(context.WithValue(r.Context(), standingAck{}, standing)), http.StatusOK, true, "")
}

func (a *httpAPI) alert(ctx context.Context, id string) (alertevent.Event, bool) {
	all, err := a.store.alertStates(ctx)
	if err != nil {
		return alertevent.Event{}, false
	}
	e, ok := all[id]
	return e, ok
}

func (a *httpAPI) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.cfg.APIToken == "" {
			http.Error(w, "the API is off: set api_token in the alerts config", http.StatusNotFound)
			return
		}
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(got), []byte(a.cfg.APIToken)) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// OpenAlert is an alert that is not resolved, with its acknowledgement.
type OpenAlert struct {
	alertevent.Event
	AckedBy string    `json:"acked_by,omitempty"`
	AckedAt time.Time `json:"acked_at,omitzero"`
	Comment string    `json:"ack_comment,omitempty"`
}

// ListOpen reads the open alerts, most severe and newest first, with their
// acknowledgements.
func ListOpen(ctx context.Context, ch *chdb.Client) ([]OpenAlert, error) {
	return listOpen(ctx, &store{ch: ch})
}

func listOpen(ctx context.Context, st *store) ([]OpenAlert, error) {
	open, err := st.openAlerts(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := st.ch.Query(ctx, qAcks)
	if err != nil {
		return nil, fmt.Errorf("read acks: %w", err)
	}
	defer rows.Close()
	acks := map[string]OpenAlert{}
	for rows.Next() {
		var id string
		var o OpenAlert
		if err := rows.Scan(&id, &o.AckedBy, &o.AckedAt, &o.Comment); err != nil {
			return nil, fmt.Errorf("scan ack: %w", err)
		}
		acks[id] = o
	}
	out := make([]OpenAlert, 0, len(open))
	for _, e := range open {
		o := acks[e.ID]
		o.Event = e
		out = append(out, o)
	}
	sortOpen(out)
	return out, rows.Err()
}

func sortOpen(list []OpenAlert) {
	less := func(a, b OpenAlert) bool {
		if a.Level.Rank() != b.Level.Rank() {
			return a.Level.Rank() < b.Level.Rank()
		}
		if a.Period != b.Period {
			return a.Period > b.Period
		}
		return a.ID < b.ID
	}
	for i := 1; i < len(list); i++ {
		for j := i; j > 0 && less(list[j], list[j-1]); j-- {
			list[j], list[j-1] = list[j-1], list[j]
		}
	}
}

func (a *httpAPI) listAlerts(w http.ResponseWriter, r *http.Request) {
	list, err := listOpen(r.Context(), a.store)
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (a *httpAPI) ackAPI(w http.ResponseWriter, r *http.Request) {
	var body struct {
		By      string `json:"by"`
		Comment string `json:"comment"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil || body.By == "" || strings.ContainsAny(body.By, "\r\n") || utf8.RuneCountInString(body.Comment) > 500 {
		http.Error(w, `body must be {"by": "who", "comment": "optional, ≤ 500 characters"}`, http.StatusBadRequest)
		return
	}
	id := r.PathValue("id")
	if _, ok := a.alert(r.Context(), id); !ok {
		http.Error(w, "no such alert", http.StatusNotFound)
		return
	}
	standing, first, err := a.store.ackOnce(r.Context(), id, body.By, body.Comment, "api", a.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	if first {
		a.acks.WithLabelValues("api").Inc()
	}
	writeJSON(w, http.StatusOK, map[string]any{"alert_id": id, "acked_by": standing.Recipient, "acked_at": standing.At, "first": first})
}

func (a *httpAPI) listSilences(w http.ResponseWriter, r *http.Request) {
	list, err := a.store.silences(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// AddSilence validates and records a new silence.
func AddSilence(ctx context.Context, ch *chdb.Client, s Silence, now time.Time) (Silence, error) {
	return addSilence(ctx, &store{ch: ch}, s, now)
}

// Silences lists every silence.
func Silences(ctx context.Context, ch *chdb.Client) ([]Silence, error) {
	return (&store{ch: ch}).silences(ctx)
}

// Ack records an acknowledgement made outside the links (CLI).
func Ack(ctx context.Context, ch *chdb.Client, alertID, by, comment string, now time.Time) error {
	st := &store{ch: ch}
	all, err := st.alertStates(ctx)
	if err != nil {
		return err
	}
	if _, ok := all[alertID]; !ok {
		return fmt.Errorf("no alert %s", alertID)
	}
	if by == "" || strings.ContainsAny(by, "\r\n") || utf8.RuneCountInString(comment) > 500 {
		return errors.New("ack needs who acknowledges (one line) and a comment of at most 500 characters")
	}
	_, _, err = st.ackOnce(ctx, alertID, by, comment, "cli", now)
	return err
}

func addSilence(ctx context.Context, st *store, s Silence, now time.Time) (Silence, error) {
	s.ID, s.Created, s.Expired = uuid.NewString(), now, false
	if s.Starts.IsZero() {
		s.Starts = now
	}
	if err := s.Validate(); err != nil {
		return s, err
	}
	return s, st.putSilence(ctx, s, now)
}

func (a *httpAPI) addSilence(w http.ResponseWriter, r *http.Request) {
	var s Silence
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	s, err := addSilence(r.Context(), a.store, s, a.now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusCreated, s)
}

// ExpireSilence ends a silence now.
func ExpireSilence(ctx context.Context, ch *chdb.Client, id string, now time.Time) error {
	return expireSilence(ctx, &store{ch: ch}, id, now)
}

func expireSilence(ctx context.Context, st *store, id string, now time.Time) error {
	list, err := st.silences(ctx)
	if err != nil {
		return err
	}
	for _, s := range list {
		if s.ID == id {
			s.Expired = true
			return st.putSilence(ctx, s, now)
		}
	}
	return fmt.Errorf("no silence %s", id)
}

func (a *httpAPI) expireSilence(w http.ResponseWriter, r *http.Request) {
	if err := expireSilence(r.Context(), a.store, r.PathValue("id"), a.now()); err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
