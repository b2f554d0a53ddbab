package email

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/region"
	"github.com/layoffwatch/layoffwatch/internal/report"
)

//go:embed templates
var embedded embed.FS

// Template files, per language directory (templates/zh-CN/subject.txt …).
// subject.txt and body.txt are text/template, body.html is html/template;
// the summary of old warnings (KindSummary) has files of its own.
const (
	fileSubject        = "subject.txt"
	fileText           = "body.txt"
	fileHTML           = "body.html"
	fileSummarySubject = "summary_subject.txt"
	fileSummaryText    = "summary_body.txt"
	fileSummaryHTML    = "summary_body.html"
)

func templateFiles() []string {
	return []string{fileSubject, fileText, fileHTML, fileSummarySubject, fileSummaryText, fileSummaryHTML,
		fileChatMarkdown, fileChatText, fileSMS}
}

// shanghai is the bureau's clock, the one location of the project.
var shanghai = report.Shanghai()

// Renderer renders notifications with templates users can edit.
type Renderer struct {
	langs   map[string]*langTemplates
	regions *region.Table
	labels  map[string]metricLabel
	order   map[string]int
}

type langTemplates struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
	// the summary of old warnings
	sumSubject *texttemplate.Template
	sumText    *texttemplate.Template
	sumHTML    *htmltemplate.Template
	// the chat channels (chat.go)
	chatMD, chatText, sms *texttemplate.Template
	files                 map[string]string // template file → where it came from, for errors
}

// NewRenderer loads the templates: templateDir "" means the embedded
// defaults; a directory overrides some or all of them with files laid out
// like the embedded ones (<dir>/zh-CN/body.html, <dir>/en/subject.txt …).
// An unknown file or language directory is an error, so a misspelt name
// does not silently leave the default in place.
//
// It parses every template and renders a sample notification of every kind
// in both languages, with every optional part present and absent, so a
// template error fails at start-up, never at send time. Errors name the file.
func NewRenderer(templateDir string) (*Renderer, error) {
	if templateDir == "" {
		return newRenderer(nil, "")
	}
	st, err := os.Stat(templateDir)
	if err != nil {
		return nil, fmt.Errorf("email templates: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("email templates: %s is not a directory", templateDir)
	}
	return newRenderer(os.DirFS(templateDir), templateDir)
}

// newRenderer loads the embedded templates overridden by those of override
// (nil: none); dir names override in errors.
func newRenderer(override fs.FS, dir string) (*Renderer, error) {
	r := &Renderer{
		langs:   map[string]*langTemplates{},
		regions: region.China(),
		labels:  map[string]metricLabel{},
		order:   map[string]int{},
	}
	for i, l := range metricLabels() {
		r.labels[l.name] = l
		r.order[l.name] = i
	}
	if override != nil {
		if err := checkOverride(override, dir); err != nil {
			return nil, err
		}
	}
	for _, lang := range languages() {
		lt := &langTemplates{files: map[string]string{}}
		for _, file := range templateFiles() {
			name := lang + "/" + file
			src, origin, err := readTemplate(override, dir, name)
			if err != nil {
				return nil, err
			}
			lt.files[file] = origin
			if err := lt.parse(file, name, src); err != nil {
				return nil, fmt.Errorf("email template %s: %w", origin, err)
			}
		}
		r.langs[lang] = lt
	}
	if err := r.selfTest(); err != nil {
		return nil, err
	}
	return r, nil
}

// checkOverride rejects names the loader would ignore.
func checkOverride(fsys fs.FS, dir string) error {
	top, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("email templates: %w", err)
	}
	known := strings.Join(languages(), ", ")
	for _, e := range top {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasPrefix(strings.ToUpper(name), "README") {
			continue
		}
		if !e.IsDir() || !isLanguage(name) {
			return fmt.Errorf("email templates: unknown entry %s (want language directories %s)", filepath.Join(dir, name), known)
		}
		files, err := fs.ReadDir(fsys, name)
		if err != nil {
			return fmt.Errorf("email templates: %w", err)
		}
		for _, f := range files {
			fn := f.Name()
			if strings.HasPrefix(fn, ".") {
				continue
			}
			if f.IsDir() || !isTemplateFile(fn) {
				return fmt.Errorf("email templates: unknown file %s (want %s)", filepath.Join(dir, name, fn), strings.Join(templateFiles(), ", "))
			}
		}
	}
	return nil
}

func isLanguage(s string) bool {
	for _, l := range languages() {
		if s == l {
			return true
		}
	}
	return false
}

func isTemplateFile(s string) bool {
	for _, f := range templateFiles() {
		if s == f {
			return true
		}
	}
	return false
}

// readTemplate returns the override of name if there is one, else the
// embedded file, and where it came from.
func readTemplate(override fs.FS, dir, name string) (src, origin string, err error) {
	if override != nil {
		b, err := fs.ReadFile(override, name)
		switch {
		case err == nil:
			return string(b), filepath.Join(dir, filepath.FromSlash(name)), nil
		case !errors.Is(err, fs.ErrNotExist):
			return "", "", fmt.Errorf("email templates: %w", err)
		}
	}
	b, err := embedded.ReadFile(path.Join("templates", name))
	if err != nil {
		return "", "", fmt.Errorf("embedded email template %s: %w", name, err)
	}
	return string(b), "embedded templates/" + name, nil
}

func (lt *langTemplates) parse(file, name, src string) error {
	var err error
	switch file {
	case fileSubject:
		lt.subject, err = texttemplate.New(name).Option("missingkey=error").Parse(src)
	case fileText:
		lt.text, err = texttemplate.New(name).Option("missingkey=error").Parse(src)
	case fileHTML:
		lt.html, err = htmltemplate.New(name).Option("missingkey=error").Parse(src)
	case fileSummarySubject:
		lt.sumSubject, err = texttemplate.New(name).Option("missingkey=error").Parse(src)
	case fileSummaryText:
		lt.sumText, err = texttemplate.New(name).Option("missingkey=error").Parse(src)
	case fileSummaryHTML:
		lt.sumHTML, err = htmltemplate.New(name).Option("missingkey=error").Parse(src)
	case fileChatMarkdown:
		lt.chatMD, err = texttemplate.New(name).Option("missingkey=error").Funcs(chatFuncs()).Parse(src)
	case fileChatText:
		lt.chatText, err = texttemplate.New(name).Option("missingkey=error").Funcs(chatFuncs()).Parse(src)
	case fileSMS:
		lt.sms, err = texttemplate.New(name).Option("missingkey=error").Funcs(chatFuncs()).Parse(src)
	}
	return err
}

// Render renders n as a message from from ("layoffwatch <alerts@example.org>"
// or a bare address): multipart text and HTML with the charts inline.
func (r *Renderer) Render(n Notification, from string) (*mail.Msg, error) {
	v, err := r.view(n)
	if err != nil {
		return nil, err
	}
	lt := r.langs[v.Lang]
	subject, text, html, err := lt.execute(v)
	if err != nil {
		return nil, err
	}

	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := m.From(from); err != nil {
		return nil, fmt.Errorf("render email: from: %w", err)
	}
	if err := m.AddToFormat(headerText(n.To.Name), n.To.Email); err != nil {
		return nil, fmt.Errorf("render email: to: %w", err)
	}
	m.SetMessageIDWithValue(n.MessageID)
	m.SetDateWithValue(n.Now.In(shanghai))
	m.Subject(subject)
	m.SetUserAgent("layoffwatch")
	m.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated") // RFC 3834: no auto-replies
	m.SetGenHeader(mail.Header("X-Layoffwatch-Kind"), n.Kind)
	ids := make([]string, 0, len(v.Items))
	for _, it := range v.Items {
		ids = append(ids, headerText(it.ID+"/"+it.Version))
	}
	m.SetGenHeader(mail.Header("X-Layoffwatch-Alerts"), headerText(strings.Join(ids, " ")))
	if n.Items[v.top].Event.Level.AtLeast(alertevent.LevelII) && n.Kind != KindResolved && n.Kind != KindSummary {
		m.SetImportance(mail.ImportanceHigh)
	}
	m.SetBodyString(mail.TypeTextPlain, text)
	m.AddAlternativeString(mail.TypeTextHTML, html)
	for _, it := range v.Items {
		if it.chart == nil {
			continue
		}
		if err := m.EmbedReader(it.ChartFile, bytes.NewReader(it.chart),
			mail.WithFileContentID("<"+it.ChartCID+">"), mail.WithFileContentType(mail.ContentType("image/png"))); err != nil {
			return nil, fmt.Errorf("render email: embed chart: %w", err)
		}
	}
	return m, nil
}

// Limits on what a template may write: a runaway edited template fails
// instead of sending a huge email.
const (
	maxSubjectBytes = 4 << 10
	maxBodyBytes    = 2 << 20
)

// limitWriter fails a write past its limit.
type limitWriter struct {
	b     strings.Builder
	limit int
}

var errTooLong = errors.New("output too long")

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > w.limit {
		return 0, fmt.Errorf("%w: over %d bytes", errTooLong, w.limit)
	}
	return w.b.Write(p)
}

func (w *limitWriter) String() string { return w.b.String() }

func (lt *langTemplates) executeSubject(v *view) (string, error) {
	tmpl, file := lt.subject, fileSubject
	if v.Kind == KindSummary {
		tmpl, file = lt.sumSubject, fileSummarySubject
	}
	b := &limitWriter{limit: maxSubjectBytes}
	if err := tmpl.Execute(b, v); err != nil {
		return "", fmt.Errorf("email template %s: %w", lt.files[file], err)
	}
	s := headerText(b.String())
	if s == "" {
		return "", fmt.Errorf("email template %s: empty subject", lt.files[file])
	}
	return s, nil
}

func (lt *langTemplates) execute(v *view) (subject, text, html string, err error) {
	if subject, err = lt.executeSubject(v); err != nil {
		return "", "", "", err
	}
	textTmpl, textFile, htmlTmpl, htmlFile := lt.text, fileText, lt.html, fileHTML
	if v.Kind == KindSummary {
		textTmpl, textFile, htmlTmpl, htmlFile = lt.sumText, fileSummaryText, lt.sumHTML, fileSummaryHTML
	}
	tb, hb := &limitWriter{limit: maxBodyBytes}, &limitWriter{limit: maxBodyBytes}
	if err := textTmpl.Execute(tb, v); err != nil {
		return "", "", "", fmt.Errorf("email template %s: %w", lt.files[textFile], err)
	}
	if err := htmlTmpl.Execute(hb, v); err != nil {
		return "", "", "", fmt.Errorf("email template %s: %w", lt.files[htmlFile], err)
	}
	return subject, tb.String(), hb.String(), nil
}

// view is what the templates see. Every string in it is one line of plain
// text (html/template escapes it for HTML); templates need no functions.
type view struct {
	Kind  string // KindAlert …
	Lang  string // "zh-CN" or "en"
	To    string // recipient's name, may be empty
	Now   string // "2026-04-06 10:00", Beijing time
	Count int    // len(Items)
	More  int    // Count − 1
	Top   itemView
	Items []itemView // most severe first, otherwise in the caller's order
	// summaryView: the old warnings grouped (KindSummary only).
	summaryView

	top int // the index in the notification's items of Top
}

type itemView struct {
	ID, Version, Rule, Scope, Key, Period string
	Level, LevelName, LevelLabel, Color   string // "II", "橙色", "II级 橙色预警", "#f57c00"
	// PrevLevel… are set for level changes.
	PrevLevel, PrevLevelName, PrevLevelLabel string
	IsFirm                                   bool
	Place                                    string // firm name, or the region's full name
	Region                                   string // the firm's county, or the region, full name
	Industry                                 string // "C 制造业", may be empty
	Title, Summary                           string
	Values                                   []valueRow
	Coverage                                 string // "12/15 家企业已报送 (80%)", may be empty
	Action                                   string
	Response                                 string // "2小时"; empty: none
	Deadline                                 string // event time + response, Beijing time; empty: none
	At                                       string // event time, Beijing time
	Folded                                   []foldedView
	ChartCID                                 string // empty: no chart
	ChartFile                                string
	ChartAlt                                 string
	ChartMonths                              int
	AckURL, DashboardURL                     string

	chart []byte
}

type foldedView struct {
	Place, Key, Title, Summary, Level, LevelLabel string
}

func (r *Renderer) view(n Notification) (*view, error) { return r.buildView(n, true) }

func (r *Renderer) buildView(n Notification, charts bool) (*view, error) {
	if err := checkMessageID(n.MessageID); err != nil {
		return nil, fmt.Errorf("render email: %w", err)
	}
	if !isKind(n.Kind) {
		return nil, fmt.Errorf("render email: unknown kind %q", n.Kind)
	}
	if len(n.Items) == 0 {
		return nil, fmt.Errorf("render email: no items")
	}
	if n.Now.IsZero() {
		return nil, fmt.Errorf("render email: now is not set")
	}
	lang := language(n.To.Language)
	v := &view{Kind: n.Kind, Lang: lang, To: oneLine(n.To.Name), Now: n.Now.In(shanghai).Format("2006-01-02 15:04"), Count: len(n.Items), More: len(n.Items) - 1}
	order := make([]int, len(n.Items))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		return n.Items[order[i]].Event.Level.Rank() < n.Items[order[j]].Event.Level.Rank()
	})
	for i, k := range order {
		iv, err := r.item(n.Items[k], n, lang, i, charts)
		if err != nil {
			return nil, err
		}
		v.Items = append(v.Items, iv)
	}
	v.Top, v.top = v.Items[0], order[0]
	if n.Kind == KindSummary {
		v.summaryView = r.summary(n, lang)
	}
	return v, nil
}

func isKind(k string) bool {
	for _, x := range kinds() {
		if k == x {
			return true
		}
	}
	return false
}

// language maps a recipient's language to a template language: "en…" is
// English, anything else Chinese.
func language(s string) string {
	if strings.HasPrefix(strings.ToLower(s), "en") {
		return LangEn
	}
	return LangZh
}

func (r *Renderer) item(it Item, n Notification, lang string, i int, charts bool) (itemView, error) {
	e := it.Event
	facts := e.LevelFacts
	iv := itemView{
		ID: oneLine(e.ID), Version: fmt.Sprint(e.Version), Rule: oneLine(e.Rule), Scope: e.Scope.String(),
		Key: oneLine(e.Key), Period: oneLine(e.Period),
		Level: e.Level.String(), Color: "#607d8b",
		IsFirm:   e.Scope == alertevent.ScopeFirm,
		Coverage: coverage(e.Reported, e.Expected, lang),
		Values:   valueRows(e.Values, r.labels, r.order, lang),
		At:       formatTime(e.At),
		AckURL:   webURL(it.AckURL), DashboardURL: webURL(it.DashboardURL),
	}
	iv.LevelName, iv.LevelLabel = levelLabel(e.Level, facts, lang)
	if e.PreviousLevel != 0 {
		iv.PrevLevel = e.PreviousLevel.String()
		iv.PrevLevelName, iv.PrevLevelLabel = levelLabel(e.PreviousLevel, e.PreviousLevelFacts, lang)
	}
	if _, ok := parseColor(facts.Color); ok {
		iv.Color = facts.Color
	}
	iv.Action = oneLine(pick(lang, facts.ActionZh, facts.ActionEn))
	if d := facts.Response(); d > 0 {
		iv.Response = duration(d, lang)
		if !e.At.IsZero() {
			iv.Deadline = formatTime(e.At.Add(d))
		}
	}
	iv.Title = oneLine(pick(lang, e.TitleZh, e.TitleEn))
	iv.Summary = oneLine(pick(lang, e.SummaryZh, e.SummaryEn))
	if iv.Summary == "" {
		iv.Summary = iv.Title
	}
	iv.Region = r.regionName(e.Region, lang)
	if iv.IsFirm {
		iv.Place = oneLine(e.Subject)
		if iv.Place == "" {
			iv.Place = iv.Key
		}
	} else {
		iv.Place = iv.Region
		if iv.Place == "" {
			iv.Place = oneLine(e.Subject)
		}
	}
	if e.Industry != "" {
		iv.Industry = industryName(e.Industry, lang)
		if !iv.IsFirm {
			iv.Place += pick(lang, "（"+industryShort(e.Industry, lang)+"）", " ("+industryShort(e.Industry, lang)+")")
		}
	}
	for _, f := range it.Folded {
		fv := foldedView{Place: oneLine(f.Subject), Key: oneLine(f.Key), Title: oneLine(pick(lang, f.TitleZh, f.TitleEn)),
			Summary: oneLine(pick(lang, f.SummaryZh, f.SummaryEn)), Level: f.Level.String()}
		if fv.Place == "" {
			fv.Place = fv.Key
		}
		_, fv.LevelLabel = levelLabel(f.Level, f.LevelFacts, lang)
		iv.Folded = append(iv.Folded, fv)
	}
	if len(it.Series) > 0 {
		iv.ChartCID = fmt.Sprintf("chart%d.%s", i+1, n.MessageID)
		iv.ChartFile = fmt.Sprintf("chart%d.png", i+1)
		iv.ChartMonths = len(it.Series)
		iv.ChartAlt = pick(lang, "近"+fmt.Sprint(len(it.Series))+"个月职工人数", "Headcount over the last "+fmt.Sprint(len(it.Series))+" months")
		if charts {
			mark, _ := parseColor(iv.Color)
			png, err := drawChart(lang, it.Series, e.Period, mark)
			if err != nil {
				return iv, fmt.Errorf("render email: alert %s: %w", e.ID, err)
			}
			iv.chart = png
		}
	}
	return iv, nil
}

// webURL keeps an absolute http(s) URL and drops anything else, so that
// neither part of the email links to javascript: or a relative path.
// (html/template would also neutralise such a link, but only in HTML.)
func webURL(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(s, " \t\r\n") {
		return ""
	}
	return u.String()
}

func pick(lang, zh, en string) string {
	if lang == LangEn {
		return en
	}
	return zh
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(shanghai).Format("2006-01-02 15:04")
}

// levelLabel returns a level's name in the plan and its label: "橙色",
// "II级 橙色预警"; "orange", "Level II orange warning". Without facts the
// label is the numeral's alone.
func levelLabel(level alertevent.Level, facts alertevent.LevelFacts, lang string) (name, label string) {
	numeral := level.String()
	if lang == LangEn {
		name = oneLine(facts.NameEn)
		if name == "" {
			return "", "Level " + numeral + " warning"
		}
		return name, "Level " + numeral + " " + name + " warning"
	}
	name = oneLine(facts.NameZh)
	if name == "" {
		return "", numeral + "级预警"
	}
	return name, numeral + "级 " + name + "预警"
}

// regionName gives a division's full name: a county with its prefecture
// (兰州市城关区; Chengguan, Lanzhou), a prefecture or the province by its
// name. An unknown code is shown as it is.
func (r *Renderer) regionName(code, lang string) string {
	reg, ok := r.regions.Lookup(code)
	if !ok {
		return oneLine(code)
	}
	name := pick(lang, reg.Name, reg.NameEn)
	if reg.Level != region.County {
		return name
	}
	pre, ok := r.regions.Lookup(region.PrefectureOf(code))
	if !ok {
		return name
	}
	if lang == LangEn {
		return name + ", " + pre.NameEn
	}
	return pre.Name + name
}
