package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/layoffwatch/layoffwatch/internal/firms"
	"github.com/layoffwatch/layoffwatch/internal/report"
	"github.com/layoffwatch/layoffwatch/internal/static"
)

// The web form at /report, for the HR clerk who reports by hand: sign in
// with the firm's token, see last month's figures, enter this month's, see
// problems next to the fields, review, confirm. Server-rendered with
// html/template (every value auto-escaped), no JavaScript, a strict
// Content-Security-Policy. The token is checked once at sign-in; the browser
// then holds only a random session id (HttpOnly, SameSite=Strict, Secure
// under TLS), and every form carries the session's CSRF token. The sign-in
// form's CSRF token belongs to a pre-session the server created when it
// showed the form (one use, one hour): a cookie a client injects matches
// nothing. Every form POST a browser marks cross-origin (Sec-Fetch-Site,
// Origin) is refused (net/http's CrossOriginProtection). Sessions live in
// this process's memory: a restart signs everyone out.

//go:embed web
var webFS embed.FS

const (
	sessionCookie = "lw_session"
	preCookie     = "lw_pre" // the pre-session of the sign-in form
	langCookie    = "lw_lang"
	sessionTTL    = 8 * time.Hour
	preTTL        = time.Hour
	maxSessions   = 100_000
	maxFormBytes  = 64 << 10
)

type webUI struct {
	s      *Server
	tmpl   *template.Template
	static http.Handler
	cop    *http.CrossOriginProtection

	mu       sync.Mutex
	sessions map[string]*session // signed in, by session id
	pre      map[string]*session // pre-sessions (no token), by id: a flood of them evicts only them
}

// session is a signed-in browser (tokenID set) or a pre-session: a
// browser that was shown the sign-in form, whose csrf the form carries.
type session struct {
	tokenID string
	csrf    string
	expires time.Time
}

func newWebUI(s *Server) (*webUI, error) {
	tmpl, err := template.New("").Funcs(template.FuncMap{
		"tf": func(format string, args ...any) string { return fmt.Sprintf(format, args...) },
	}).ParseFS(webFS, "web/*.html")
	if err != nil {
		return nil, fmt.Errorf("parse web templates: %w", err)
	}
	staticFS, err := fs.Sub(webFS, "web/static")
	if err != nil {
		return nil, fmt.Errorf("web static files: %w", err)
	}
	return &webUI{s: s, tmpl: tmpl, static: static.Handler("/static/", staticFS),
		cop: http.NewCrossOriginProtection(), sessions: map[string]*session{}, pre: map[string]*session{}}, nil
}

func (u *webUI) routeTable() []route {
	return []route{
		{"GET /report", u.getReport},
		{"POST /report/signin", u.postSignin},
		{"POST /report/signout", u.postSignout},
		{"POST /report", u.postReview},
		{"POST /report/confirm", u.postConfirm},
		{"GET /static/{file}", u.static.ServeHTTP},
		{"GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/report", http.StatusSeeOther) }},
	}
}

// page is what every template gets.
type page struct {
	Lang     string
	AltLang  string
	T        map[string]string
	CSRF     string
	Message  string // page-level notice (an error)
	SignedIn bool

	Firm      firms.Firm
	Firms     []firms.Firm // a bureau's token: the firms it may choose
	Period    string
	Deadline  string
	Late      bool
	LastMonth string
	Last      []shownFigure
	LastNote  string
	Revision  uint32 // the revision this submission will be
	OnFile    uint32 // the revision already on file, 0 if none
	Fields    []formField
	Errors    []formField // fields with errors, for the summary
	Note      formField
	Receipt   *Accepted
}

type shownFigure struct{ Label, Value string }

type formField struct {
	Name, Label, Value, Error string
	Required                  bool
	Group                     string // "separations" for the reasons
}

// numberFields are the form's figures in order; reasons are separations.
var numberFields = append([]string{"headcount", "vacancies", "hires"}, report.SeparationReasons[:]...)

func (u *webUI) newPage(w http.ResponseWriter, r *http.Request) page {
	lang, fromQuery := pickLang(r)
	if fromQuery {
		// Secure follows TLS: over plain HTTP (loopback, behind a TLS proxy) a
		// Secure cookie would never come back.
		//nolint:gosec // G124: see above
		http.SetCookie(w, &http.Cookie{Name: langCookie, Value: lang, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true,
			Secure: u.s.opts.TLSCert != "", SameSite: http.SameSiteLaxMode})
	}
	alt := langEN
	if lang == langEN {
		alt = langZH
	}
	return page{Lang: lang, AltLang: alt, T: messages[lang]}
}

func (u *webUI) render(w http.ResponseWriter, status int, name string, p page) {
	var buf bytes.Buffer
	if err := u.tmpl.ExecuteTemplate(&buf, name, p); err != nil {
		u.s.log.Error("render page", "err", err, "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("Cache-Control", "no-store")
	writeBody(w, status, "text/html; charset=utf-8", buf.Bytes())
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (u *webUI) cookie(name, value string, maxAge int) *http.Cookie {
	//nolint:gosec // G124: Secure follows TLS (see newPage)
	return &http.Cookie{Name: name, Value: value, Path: "/report", MaxAge: maxAge, HttpOnly: true,
		Secure: u.s.opts.TLSCert != "", SameSite: http.SameSiteStrictMode}
}

// session returns the request's session if it is live and its token still
// valid.
func (u *webUI) session(r *http.Request) (*session, Token, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, Token{}, false
	}
	u.mu.Lock()
	sess, ok := u.sessions[c.Value]
	if ok && time.Now().After(sess.expires) {
		delete(u.sessions, c.Value)
		ok = false
	}
	u.mu.Unlock()
	if !ok {
		return nil, Token{}, false
	}
	tok, ok := u.s.tokens.valid(r.Context(), sess.tokenID)
	return sess, tok, ok
}

// takePre ends the request's pre-session and reports whether csrf is its
// token. A pre-session is used once, whatever the outcome.
func (u *webUI) takePre(r *http.Request, csrf string) bool {
	c, err := r.Cookie(preCookie)
	if err != nil {
		return false
	}
	u.mu.Lock()
	pre, ok := u.pre[c.Value]
	delete(u.pre, c.Value)
	u.mu.Unlock()
	return ok && time.Now().Before(pre.expires) && sameToken(pre.csrf, csrf)
}

// newSession starts a session for tokenID, or a pre-session when tokenID
// is "".
func (u *webUI) newSession(tokenID string) (id string, sess *session) {
	id = randomToken()
	m, ttl := u.sessions, sessionTTL
	if tokenID == "" {
		m, ttl = u.pre, preTTL
	}
	sess = &session{tokenID: tokenID, csrf: randomToken(), expires: time.Now().Add(ttl)}
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(m) >= maxSessions {
		now := time.Now()
		for k, v := range m {
			if now.After(v.expires) {
				delete(m, k)
			}
		}
		for k := range m { // still full: drop arbitrary ones
			if len(m) < maxSessions*9/10 {
				break
			}
			delete(m, k)
		}
	}
	m[id] = sess
	return id, sess
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// parseForm reads a urlencoded form of bounded size.
func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	return r.ParseForm() == nil
}

func (u *webUI) signinPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := u.newPage(w, r)
	id, pre := u.newSession("")
	p.CSRF = pre.csrf
	p.Message = msg
	http.SetCookie(w, u.cookie(preCookie, id, int(preTTL/time.Second)))
	u.render(w, status, "signin.html", p)
}

// crossOrigin refuses, with the sign-in page, a form POST that the browser
// says comes from another origin.
func (u *webUI) crossOrigin(w http.ResponseWriter, r *http.Request) bool {
	if err := u.cop.Check(r); err != nil {
		lang, _ := pickLang(r)
		u.s.log.Warn("cross-origin form post refused", "path", r.URL.Path, "origin", r.Header.Get("Origin"), "err", err)
		u.signinPage(w, r, http.StatusForbidden, messages[lang]["session_expired"])
		return true
	}
	return false
}

func (u *webUI) getReport(w http.ResponseWriter, r *http.Request) {
	sess, tok, ok := u.session(r)
	if !ok {
		u.signinPage(w, r, http.StatusOK, "")
		return
	}
	p, ok := u.formPage(w, r, sess, tok, r.URL.Query().Get("firm"))
	if !ok {
		return
	}
	u.render(w, http.StatusOK, "form.html", p)
}

func (u *webUI) postSignin(w http.ResponseWriter, r *http.Request) {
	if u.crossOrigin(w, r) {
		return
	}
	if !parseForm(w, r) {
		u.signinPage(w, r, http.StatusBadRequest, messages[langZH]["session_expired"])
		return
	}
	if !u.takePre(r, r.PostForm.Get("csrf")) {
		lang, _ := pickLang(r)
		u.signinPage(w, r, http.StatusForbidden, messages[lang]["session_expired"])
		return
	}
	tok, prob, _ := u.s.verify(r, strings.TrimSpace(r.PostForm.Get("token")))
	if prob != nil {
		lang, _ := pickLang(r)
		msg := messages[lang]["bad_token"]
		if prob.Status == http.StatusTooManyRequests {
			msg = messages[lang]["too_many"]
		}
		u.signinPage(w, r, prob.Status, msg)
		return
	}
	id, _ := u.newSession(tok.ID)
	http.SetCookie(w, u.cookie(sessionCookie, id, int(sessionTTL/time.Second)))
	http.SetCookie(w, u.cookie(preCookie, "", -1))
	http.Redirect(w, r, "/report", http.StatusSeeOther)
}

func (u *webUI) postSignout(w http.ResponseWriter, r *http.Request) {
	if u.crossOrigin(w, r) {
		return
	}
	if sess, _, ok := u.session(r); ok && parseForm(w, r) && sameToken(sess.csrf, r.PostForm.Get("csrf")) {
		c, _ := r.Cookie(sessionCookie)
		u.mu.Lock()
		delete(u.sessions, c.Value)
		u.mu.Unlock()
	}
	http.SetCookie(w, u.cookie(sessionCookie, "", -1))
	http.Redirect(w, r, "/report", http.StatusSeeOther)
}

// formPage builds the form for the chosen firm (a firm token's own firm; for
// a bureau's token the one asked for, else the first of its region).
func (u *webUI) formPage(w http.ResponseWriter, r *http.Request, sess *session, tok Token, firmID string) (page, bool) {
	ctx := r.Context()
	p := u.newPage(w, r)
	p.CSRF, p.SignedIn = sess.csrf, true
	reg := u.s.registry(ctx)
	inScope := tok.Scope.Firms(reg)
	if tok.Scope.Region != "" {
		p.Firms = inScope
	}
	switch {
	case len(inScope) == 0:
		p.Message = p.T["forbidden"]
		u.render(w, http.StatusForbidden, "form.html", p)
		return p, false
	case firmID == "":
		p.Firm = inScope[0]
	case tok.Scope.Allows(firmID, reg):
		p.Firm, _ = reg.Lookup(firmID)
		if p.Firm.ID == "" {
			p.Firm.ID = firmID
		}
	default:
		p.Message = p.T["forbidden"]
		u.render(w, http.StatusForbidden, "form.html", p)
		return p, false
	}
	now := u.s.now()
	period := u.s.dl.current(now)
	p.Period, p.LastMonth = period.String(), period.Add(-1).String()
	dl := u.s.dl.of(period)
	p.Deadline = dl.Format("2006-01-02 15:04 MST")
	if dl.Hour() == 0 && dl.Minute() == 0 { // say "the 5th, 24:00" rather than "the 6th, 00:00"
		p.Deadline = dl.Add(-time.Minute).Format("2006-01-02") + " 24:00 (Asia/Shanghai)"
	}
	p.Late = u.s.dl.late(period, now)
	last, ok, err := u.s.store.latest(ctx, p.Firm.ID, period.Add(-1))
	if err != nil {
		u.s.log.Warn("read last month's report", "err", err, "firm_id", p.Firm.ID)
	}
	if ok {
		p.Last = figures(p.T, last)
		p.LastNote = last.Note
	}
	onFile, err := u.s.lastRevision(ctx, p.Firm.ID, period)
	if err != nil {
		u.s.log.Warn("read revisions on file", "err", err, "firm_id", p.Firm.ID)
	}
	p.OnFile, p.Revision = onFile, onFile+1
	p.Fields = make([]formField, len(numberFields))
	for i, name := range numberFields {
		p.Fields[i] = formField{Name: name, Label: p.T[name], Required: name == "headcount" || name == "vacancies"}
		if i >= 3 {
			p.Fields[i].Group = "separations"
		}
	}
	p.Note = formField{Name: "note", Label: p.T["note"]}
	return p, true
}

func figures(t map[string]string, r report.Report) []shownFigure {
	seps := r.Separations.Values()
	vals := append([]uint32{r.Headcount, r.Vacancies, r.Hires}, seps[:]...)
	out := make([]shownFigure, len(numberFields))
	for i, name := range numberFields {
		out[i] = shownFigure{Label: t[name], Value: strconv.FormatUint(uint64(vals[i]), 10)}
	}
	return out
}

// lastRevision is the highest revision stored or accepted for the firm and
// period (0: none).
func (s *Server) lastRevision(ctx context.Context, firmID string, p report.Period) (uint32, error) {
	rev := s.revs.latest(firmID, p) // accepted here, maybe not recorded yet
	latest, err := s.store.stored(ctx, []string{firmID}, p)
	if err != nil {
		return 0, err
	}
	for _, r := range latest {
		rev = max(rev, r.Report.Revision)
	}
	stored, err := s.store.storedRevisions(ctx, []string{firmID}, p)
	if err != nil {
		return 0, err
	}
	for _, r := range stored {
		rev = max(rev, r.Revision)
	}
	subs, err := s.store.submissions(ctx, []string{firmID}, p)
	if err != nil {
		return 0, err
	}
	for _, sb := range subs {
		rev = max(rev, sb.Revision)
	}
	return rev, nil
}

// postedForm checks the session and CSRF token of a form POST and rebuilds
// the form page with the posted values. ok is false when it answered itself.
func (u *webUI) postedForm(w http.ResponseWriter, r *http.Request) (page, Token, bool) {
	if u.crossOrigin(w, r) {
		return page{}, Token{}, false
	}
	if !parseForm(w, r) {
		u.signinPage(w, r, http.StatusBadRequest, "")
		return page{}, Token{}, false
	}
	sess, tok, ok := u.session(r)
	if !ok || !sameToken(sess.csrf, r.PostForm.Get("csrf")) {
		lang, _ := pickLang(r)
		u.signinPage(w, r, http.StatusForbidden, messages[lang]["session_expired"])
		return page{}, Token{}, false
	}
	p, ok := u.formPage(w, r, sess, tok, r.PostForm.Get("firm_id"))
	if !ok {
		return page{}, Token{}, false
	}
	for i := range p.Fields {
		p.Fields[i].Value = strings.TrimSpace(r.PostForm.Get(p.Fields[i].Name))
	}
	p.Note.Value = r.PostForm.Get("note")
	return p, tok, true
}

// check validates the posted figures with report.Validate (the one
// validation of every path) and marks the fields at fault. It returns the
// report when valid.
func (u *webUI) check(ctx context.Context, p *page) (report.Report, bool) {
	b := make([]byte, 0, 512)
	b = append(b, `{"schema_version":1,"firm_id":`...)
	b = appendJSONString(b, p.Firm.ID)
	b = append(b, `,"period":`...)
	b = appendJSONString(b, p.Period)
	b = append(b, `,"revision":`...)
	b = strconv.AppendUint(b, uint64(p.Revision), 10)
	var seps []byte
	bad := false
	for i := range p.Fields {
		f := &p.Fields[i]
		if f.Value == "" {
			continue
		}
		n, err := strconv.ParseInt(f.Value, 10, 64)
		if err != nil {
			f.Error, bad = p.T["err_number"], true
			continue
		}
		if f.Group == "separations" {
			if len(seps) > 0 {
				seps = append(seps, ',')
			}
			seps = appendJSONString(seps, f.Name)
			seps = append(seps, ':')
			seps = strconv.AppendInt(seps, n, 10)
			continue
		}
		b = append(b, ',')
		b = appendJSONString(b, f.Name)
		b = append(b, ':')
		b = strconv.AppendInt(b, n, 10)
	}
	if len(seps) > 0 {
		b = append(b, `,"separations":{`...)
		b = append(append(b, seps...), '}')
	}
	if p.Note.Value != "" {
		b = append(b, `,"note":`...)
		b = appendJSONString(b, p.Note.Value)
	}
	b = append(b, '}')
	var r report.Report
	if !utf8.ValidString(p.Note.Value) { // JSON encoding would replace the bytes: refuse them
		u.markProblem(p, &report.Problem{Reason: report.ReasonInvalidEncoding, Field: "note", Message: "the note holds bytes that are not UTF-8"})
		bad = true
	}
	if !bad {
		view := &registryView{ctx: ctx, c: u.s.firms, reg: u.s.registry(ctx)}
		var prob *report.Problem
		r, prob = report.Validate(b, u.s.now(), view)
		if prob != nil {
			u.markProblem(p, prob)
			bad = true
		}
	}
	for _, f := range append(p.Fields, p.Note) {
		if f.Error != "" {
			p.Errors = append(p.Errors, f)
		}
	}
	return r, !bad
}

func (u *webUI) markProblem(p *page, prob *report.Problem) {
	msg := p.T["err_other"]
	switch prob.Reason {
	case report.ReasonMissingField:
		msg = p.T["err_missing_field"]
	case report.ReasonOutOfRange:
		msg = fmt.Sprintf(p.T["err_out_of_range"], prob.Message)
	default:
		msg = fmt.Sprintf(msg, prob.Message)
	}
	name := strings.TrimPrefix(prob.Field, "separations.")
	for i := range p.Fields {
		if p.Fields[i].Name == name {
			p.Fields[i].Error = msg
			return
		}
	}
	if name == "note" {
		p.Note.Error = msg
		return
	}
	p.Message = msg // not a field of the form (firm, period)
}

func (u *webUI) postReview(w http.ResponseWriter, r *http.Request) {
	p, _, ok := u.postedForm(w, r)
	if !ok {
		return
	}
	if _, valid := u.check(r.Context(), &p); !valid {
		u.render(w, http.StatusUnprocessableEntity, "form.html", p)
		return
	}
	u.render(w, http.StatusOK, "review.html", p)
}

func (u *webUI) postConfirm(w http.ResponseWriter, r *http.Request) {
	p, tok, ok := u.postedForm(w, r)
	if !ok {
		return
	}
	rep, valid := u.check(r.Context(), &p)
	if !valid || r.PostForm.Has("edit") {
		status := http.StatusUnprocessableEntity
		if valid {
			status = http.StatusOK
		}
		u.render(w, status, "form.html", p)
		return
	}
	if ok, _ := u.s.tokLim.allow(tok.ID, time.Now()); !ok {
		p.Message = p.T["too_many"]
		u.render(w, http.StatusTooManyRequests, "review.html", p)
		return
	}
	l, conflicts, err := u.s.revs.claim(r.Context(), []report.Report{rep})
	if err != nil {
		u.s.log.Warn("check revisions", "err", err, "token_id", tok.ID)
		p.Message = p.T["unavailable"]
		w.Header().Set("Retry-After", "30")
		u.render(w, http.StatusServiceUnavailable, "review.html", p)
		return
	}
	if len(conflicts) > 0 {
		// another submission of this revision won (another clerk, another
		// tab): show the form again with the revision now on file
		period, _ := report.ParsePeriod(p.Period)
		onFile, err := u.s.lastRevision(r.Context(), p.Firm.ID, period)
		if err != nil {
			u.s.log.Warn("read revisions on file", "err", err, "firm_id", p.Firm.ID)
		}
		p.OnFile, p.Revision = max(onFile, p.Revision), max(onFile, p.Revision)+1
		p.Message = p.T["conflict"]
		u.render(w, http.StatusConflict, "form.html", p)
		return
	}
	ans, _, err := u.s.produce(r.Context(), tok, "web", []report.Report{rep}, "", u.s.now())
	l.done(err == nil)
	if err != nil {
		p.Message = p.T["unavailable"]
		w.Header().Set("Retry-After", "30")
		u.render(w, http.StatusServiceUnavailable, "review.html", p)
		return
	}
	p.Receipt = &ans
	p.Late = ans.Late > 0
	u.render(w, http.StatusOK, "done.html", p)
}
