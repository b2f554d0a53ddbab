package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/chart"
	"github.com/layoffwatch/layoffwatch/internal/static"
)

//go:embed templates static
var assets embed.FS

// SecurityHeaders sets the headers every page of the console (and of the
// alert component's acknowledge pages) carries: no framing, no script, no
// sniffing, no referrer leaving the site.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// route is one endpoint: what it needs of the caller.
type route struct {
	method, pattern string
	auth            bool // a signed-in account
	post            bool // a change: CSRF token and a role that may act
	handle          func(w http.ResponseWriter, r *http.Request, rq *request)
}

// request is a signed-in request.
type request struct {
	user User
	sess session
	page page
}

func (c *Console) routeTable() []route {
	return []route{
		{method: "GET", pattern: "/signin", handle: func(w http.ResponseWriter, r *http.Request, _ *request) { c.signinPage(w, r, http.StatusOK, "") }},
		{method: "POST", pattern: "/signin", handle: func(w http.ResponseWriter, r *http.Request, _ *request) { c.signinPost(w, r) }},
		{method: "GET", pattern: "/oidc/login", handle: func(w http.ResponseWriter, r *http.Request, _ *request) { c.oidcLogin(w, r) }},
		{method: "GET", pattern: "/oidc/callback", handle: func(w http.ResponseWriter, r *http.Request, _ *request) { c.oidcCallback(w, r) }},
		{method: "POST", pattern: "/signout", auth: true, handle: c.signout},
		{method: "GET", pattern: "/{$}", auth: true, handle: func(w http.ResponseWriter, r *http.Request, _ *request) {
			http.Redirect(w, r, "/inbox", http.StatusSeeOther)
		}},
		{method: "GET", pattern: "/inbox", auth: true, handle: c.inbox},
		{method: "GET", pattern: "/warnings/{id}", auth: true, handle: c.warning},
		{method: "GET", pattern: "/warnings/{id}/chart.png", auth: true, handle: c.chartPNG},
		{method: "POST", pattern: "/warnings/{id}/{action}", auth: true, post: true, handle: c.act},
		{method: "GET", pattern: "/reporting", auth: true, handle: c.reporting},
		{method: "POST", pattern: "/reporting/remind", auth: true, post: true, handle: c.remindPost},
		{method: "GET", pattern: "/reports", auth: true, handle: c.reportsPage},
		{method: "GET", pattern: "/reports/monthly.xlsx", auth: true, handle: c.monthlyXLSX},
		{method: "GET", pattern: "/reports/monthly.csv", auth: true, handle: c.monthlyCSV},
		{method: "GET", pattern: "/audit", auth: true, handle: c.auditPage},
	}
}

// Routes lists the console's endpoints as "METHOD pattern" (the scope test
// proves it covers every one).
func (c *Console) Routes() []string {
	var out []string
	for _, rt := range c.routeTable() {
		out = append(out, rt.method+" "+rt.pattern)
	}
	return out
}

func (c *Console) routes() (http.Handler, error) {
	tmpl, err := template.New("").Funcs(c.funcMap()).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("console templates: %w", err)
	}
	c.tmpl = tmpl
	mux := http.NewServeMux()
	for _, rt := range c.routeTable() {
		mux.HandleFunc(rt.method+" "+rt.pattern, c.wrap(rt))
	}
	staticFS, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	fileServer := static.Handler("/static/", staticFS)
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /levels.css", c.levelsCSS)
	// /healthz (alive) and /readyz (started, ClickHouse answering) on the
	// officials' port too, for a load balancer in front of replicas
	c.health.Register(mux)
	// Cross-origin POSTs are refused by the browser's own Sec-Fetch-Site
	// or Origin (net/http's CrossOriginProtection); the form token covers
	// browsers that send neither.
	cop := http.NewCrossOriginProtection()
	return SecurityHeaders(cop.Handler(mux)), nil
}

// wrap checks what a route needs: a session of an enabled account whose
// epoch it carries; for a change, the session's CSRF token and a role
// that may act.
func (c *Console) wrap(rt route) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if rt.method == "POST" {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad form", http.StatusBadRequest)
				return
			}
		}
		if !rt.auth {
			rt.handle(w, r, nil)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		rq, ok := c.authenticate(w, r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if rt.post {
			if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(rq.sess.CSRF)) != 1 {
				c.errorPage(w, r, rq, http.StatusForbidden, "err_session")
				return
			}
			if !rq.user.Role.CanAct() {
				c.errorPage(w, r, rq, http.StatusForbidden, "err_forbidden")
				return
			}
		}
		rt.handle(w, r, rq)
	}
}

func (c *Console) authenticate(w http.ResponseWriter, r *http.Request) (*request, bool) {
	s, ok := c.readSession(r)
	if !ok {
		return nil, false
	}
	u, found, err := c.st.user(r.Context(), s.User)
	if err != nil {
		c.log.Error("read user", "err", err)
		return nil, false
	}
	if !found || u.Disabled || u.Epoch != s.Epoch {
		c.clearSession(w)
		return nil, false
	}
	rq := &request{user: u, sess: s}
	rq.page = c.page(w, r, rq)
	return rq, true
}

// page is what every template gets.
type page struct {
	Lang    string
	T       map[string]string
	User    *User
	CSRF    string
	Title   string
	Nav     string
	Flash   string
	Error   string
	OIDC    bool
	LangURL string // this page in the other language
	// LevelColors are the level colours of the page's badges, for
	// /levels.css (levelColors)
	LevelColors string
	Data        any
}

func (c *Console) page(w http.ResponseWriter, r *http.Request, rq *request) page {
	var u *User
	if rq != nil {
		u = &rq.user
	}
	lang := c.language(w, r, u)
	p := page{Lang: lang, T: messages[lang], User: u, OIDC: c.oidc != nil}
	if rq != nil {
		p.CSRF = rq.sess.CSRF
	}
	q := r.URL.Query()
	other := langEN
	if lang == langEN {
		other = langZH
	}
	q.Set("lang", other)
	p.LangURL = r.URL.Path + "?" + q.Encode()
	if r.Method == http.MethodGet {
		if k := q.Get("done"); k != "" {
			if msg, ok := p.T[k]; ok && strings.HasPrefix(k, "done") {
				p.Flash = msg
			}
		}
	}
	return p
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	var b strings.Builder
	if err := c.tmpl.ExecuteTemplate(&b, name, p); err != nil {
		c.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (c *Console) errorPage(w http.ResponseWriter, r *http.Request, rq *request, status int, key string) {
	var p page
	if rq != nil {
		p = rq.page
	} else {
		p = c.page(w, r, nil)
	}
	p.Error = p.T[key]
	if p.Error == "" {
		p.Error = key
	}
	p.Title = p.T["app"]
	c.render(w, status, "error", p)
}

// levelColors lists the distinct colours of the level facts given, as
// /levels.css?c= takes them: "d32f2f,f57c00".
func levelColors(facts ...alertevent.LevelFacts) string {
	var list []string
	for _, f := range facts {
		if cls := levelClass(f); cls != "lc-none" && !slices.Contains(list, cls[3:]) {
			list = append(list, cls[3:])
		}
	}
	slices.Sort(list)
	return strings.Join(list, ",")
}

// levelClass is the class of a level badge in its level's colour (from
// the alert's level facts: the plan that raised it), lc-rrggbb; lc-none
// for no readable colour.
func levelClass(f alertevent.LevelFacts) string {
	col, ok := chart.ParseColor(f.Color)
	if !ok {
		return "lc-none"
	}
	return fmt.Sprintf("lc-%02x%02x%02x", col.R, col.G, col.B)
}

// maxLevelColors bounds /levels.css?c=.
const maxLevelColors = 16

// levelsCSS colours the level badges (the CSP allows no inline style): one
// class per colour the page names in ?c=, each colour six hex digits; the
// page takes them from its alerts' level facts.
func (c *Console) levelsCSS(w http.ResponseWriter, r *http.Request) {
	var b strings.Builder
	list := strings.Split(r.URL.Query().Get("c"), ",")
	if len(list) > maxLevelColors {
		list = list[:maxLevelColors]
	}
	for _, hex := range list {
		col, ok := chart.ParseColor("#" + hex)
		if !ok || len(hex) != 6 {
			continue
		}
		// the text colour of higher contrast (WCAG 2 relative luminance)
		lin := func(v uint8) float64 {
			c := float64(v) / 255
			if c <= 0.03928 {
				return c / 12.92
			}
			return math.Pow((c+0.055)/1.055, 2.4)
		}
		lum := 0.2126*lin(col.R) + 0.7152*lin(col.G) + 0.0722*lin(col.B)
		ink := "#fff"
		if (lum+0.05)/0.05 > 1.05/(lum+0.05) { // black contrasts more than white
			ink = "#000"
		}
		fmt.Fprintf(&b, ".lc-%02x%02x%02x{background:#%02x%02x%02x;color:%s}\n", col.R, col.G, col.B, col.R, col.G, col.B, ink)
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write([]byte(b.String()))
}

// fail answers a server-side failure (ClickHouse away) without details.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	c.log.Error("console request failed", "path", r.URL.Path, "err", err)
	c.errorPage(w, r, nil, http.StatusServiceUnavailable, "err_unavailable")
}

// --- sign-in ------------------------------------------------------------------

// Sign-in limits, counted from the audit trail so every replica sees them:
// tight for one account from one address (guessing), looser for an account
// from anywhere (so a stranger cannot lock an official out with five tries)
// and for an address (a county bureau's officials share one behind NAT).
const (
	failWindow     = 15 * time.Minute
	maxFailPair    = 5
	maxFailAccount = 20
	maxFailAddress = 50
)

func (c *Console) signinPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := c.page(w, r, nil)
	pre, err := c.newPre(w, "", "")
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p.CSRF, p.Error, p.Title = pre.CSRF, msg, p.T["signin_heading"]
	p.Data = map[string]string{"Next": safeNext(r.FormValue("next")), "Username": r.PostFormValue("username")}
	c.render(w, status, "signin", p)
}

// safeNext keeps a local path to return to after sign-in.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") || strings.ContainsAny(s, "\r\n") {
		return "/inbox"
	}
	return s
}

func (c *Console) signinPost(w http.ResponseWriter, r *http.Request) {
	p := c.page(w, r, nil)
	pre, ok := c.readPre(r)
	if !ok || subtle.ConstantTimeCompare([]byte(pre.CSRF), []byte(r.PostForm.Get("csrf"))) != 1 {
		c.signinPage(w, r, http.StatusForbidden, p.T["err_session"])
		return
	}
	username := strings.ToLower(strings.TrimSpace(r.PostForm.Get("username")))
	if len(username) > 64 {
		username = username[:64]
	}
	password := r.PostForm.Get("password")
	since := c.now().Add(-failWindow).UTC()
	byPair, err0 := c.st.count(r.Context(), qFailsPair, username, c.clients.Addr(r), since)
	byAccount, err1 := c.st.count(r.Context(), qFailsAccount, username, since)
	byAddress, err2 := c.st.count(r.Context(), qFailsAddress, c.clients.Addr(r), since)
	if err := errors.Join(err0, err1, err2); err != nil {
		c.fail(w, r, err)
		return
	}
	if byPair >= maxFailPair || byAccount >= maxFailAccount || byAddress >= maxFailAddress {
		c.m.signins.WithLabelValues("limited").Inc()
		c.recordSignin(r, username, "", false, "rate limited")
		w.Header().Set("Retry-After", "900")
		c.signinPage(w, r, http.StatusTooManyRequests, p.T["err_too_many"])
		return
	}
	u, found, err := c.st.user(r.Context(), username)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	hash := dummyHash
	if found && u.PasswordHash != "" {
		hash = u.PasswordHash
	}
	good := CheckPassword(hash, password) && found && u.PasswordHash != "" && !u.Disabled
	if !good {
		c.m.signins.WithLabelValues("failed").Inc()
		c.recordSignin(r, username, u.Region, false, "")
		c.signinPage(w, r, http.StatusUnauthorized, p.T["err_signin"])
		return
	}
	if _, err := c.setSession(w, u); err != nil {
		c.fail(w, r, err)
		return
	}
	c.m.signins.WithLabelValues("ok").Inc()
	c.recordSignin(r, u.Username, u.Region, true, "password")
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther) //nolint:gosec // safeNext keeps local paths only
}

func (c *Console) recordSignin(r *http.Request, username, reg string, ok bool, detail string) {
	action := "signin"
	if !ok {
		action = "signin_failed"
	}
	row := AuditRow{ID: newID(), At: c.now(), Actor: username, Address: c.clients.Addr(r), Action: action, ObjectKind: "user",
		ObjectID: username, Region: reg, Detail: detail}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if err := c.st.audit(ctx, row); err != nil {
		c.log.Error("audit sign-in", "err", err)
	}
}

// signout ends every session of the account (its epoch rises), so a copy
// of the cookie is worthless too.
func (c *Console) signout(w http.ResponseWriter, r *http.Request, rq *request) {
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(rq.sess.CSRF)) != 1 {
		c.errorPage(w, r, rq, http.StatusForbidden, "err_session")
		return
	}
	u := rq.user
	u.Epoch++
	u.Version = max(u.Version+1, uint64(c.now().UnixNano())) //nolint:gosec // positive
	u.Changed = c.now().UTC().Truncate(time.Second)
	if err := c.st.putUser(r.Context(), u); err != nil {
		c.fail(w, r, err)
		return
	}
	c.clearSession(w)
	if err := c.st.audit(r.Context(), AuditRow{ID: newID(), At: c.now(), Actor: u.Username, ActorRole: string(u.Role), Address: c.clients.Addr(r),
		Action: "signout", ObjectKind: "user", ObjectID: u.Username, Region: u.Region}); err != nil {
		c.log.Error("audit sign-out", "err", err)
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// audit records an action of a signed-in account.
func (c *Console) audit(ctx context.Context, rq *request, r *http.Request, row AuditRow) error {
	row.ID, row.At = newID(), c.now()
	row.Actor, row.ActorRole, row.Address = rq.user.Username, string(rq.user.Role), c.clients.Addr(r)
	return c.st.audit(ctx, row)
}
