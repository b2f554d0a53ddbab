package email

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"

	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

var update = flag.Bool("update", false, "rewrite the expected files of the golden tests")

func newTestRenderer(t testing.TB) *Renderer {
	t.Helper()
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// parsed is a rendered message taken apart.
type parsed struct {
	Raw     []byte
	Header  mail.Header
	Subject string // decoded
	Text    string
	HTML    string
	Images  map[string][]byte // by Content-ID without <>
}

func parseMsg(t testing.TB, m *gomail.Msg) parsed {
	t.Helper()
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return parseRaw(t, buf.Bytes())
}

func parseRaw(t testing.TB, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	p := parsed{Raw: raw, Header: msg.Header, Images: map[string][]byte{}}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("decode subject: %v", err)
	}
	var walk func(ct string, h map[string][]string, body io.Reader)
	walk = func(ct string, h map[string][]string, body io.Reader) {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil {
			t.Fatalf("content type %q: %v", ct, err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				part, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(part.Header.Get("Content-Type"), part.Header, part)
			}
		}
		r := body
		switch strings.ToLower(first(h["Content-Transfer-Encoding"])) {
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		case "base64":
			r = base64Reader(body)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		switch mt {
		case "text/plain":
			p.Text = string(b)
		case "text/html":
			p.HTML = string(b)
		case "image/png":
			p.Images[strings.Trim(first(h["Content-Id"]), "<>")] = b
		}
	}
	walk(msg.Header.Get("Content-Type"), msg.Header, msg.Body)
	return p
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func readNotification(t testing.TB, dir string) Notification {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "notification.json")) //nolint:gosec // test data
	if err != nil {
		t.Fatal(err)
	}
	var n Notification
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	return n
}

// subject renders n and returns its decoded Subject header.
func subject(t testing.TB, r *Renderer, n Notification) string {
	t.Helper()
	m, err := r.Render(n, "alerts@example.org")
	if err != nil {
		t.Fatal(err)
	}
	return parseMsg(t, m).Subject
}

// TestGolden renders testdata/<case>/notification.json and compares the
// subject, the text part and the HTML part with the expected files. Run
// with -update to rewrite them after a reviewed change.
func TestGolden(t *testing.T) {
	r := newTestRenderer(t)
	dirs, err := filepath.Glob("testdata/*/notification.json")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			n := readNotification(t, dir)
			m, err := r.Render(n, "layoffwatch <alerts@layoffwatch.example.org>")
			if err != nil {
				t.Fatal(err)
			}
			p := parseMsg(t, m)
			if got := strings.Trim(p.Header.Get("Message-Id"), "<>"); got != n.MessageID {
				t.Errorf("Message-ID = %q, want %q", got, n.MessageID)
			}
			want := map[string]string{"expected.subject": p.Subject + "\n", "expected.txt": p.Text, "expected.html": p.HTML}
			for name, got := range want {
				path := filepath.Join(dir, name)
				if *update {
					if err := os.WriteFile(path, []byte(got), 0o644); err != nil { //nolint:gosec // checked-in test data
						t.Fatal(err)
					}
					continue
				}
				exp, err := os.ReadFile(path) //nolint:gosec // test data
				if err != nil {
					t.Fatalf("%v (run with -update to create)", err)
				}
				if string(exp) != got {
					t.Errorf("%s differs (run with -update after review):\n--- got\n%s\n--- want\n%s", path, got, exp)
				}
			}
		})
	}
}

// TestRenderDeterministic renders twice: only the MIME boundaries may
// differ, so the parts are equal.
func TestRenderDeterministic(t *testing.T) {
	r := newTestRenderer(t)
	n := readNotification(t, "testdata/alert_zh")
	a, err := r.Render(n, "alerts@example.org")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Render(n, "alerts@example.org")
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := parseMsg(t, a), parseMsg(t, b)
	if pa.Text != pb.Text || pa.HTML != pb.HTML || pa.Subject != pb.Subject {
		t.Error("two renderings differ")
	}
	for cid, img := range pa.Images {
		if !bytes.Equal(img, pb.Images[cid]) {
			t.Errorf("chart %s differs between renderings", cid)
		}
	}
	if pa.Header.Get("Date") != "Mon, 06 Apr 2026 10:00:00 +0800" {
		t.Errorf("Date = %q, want Notification.Now in Beijing time", pa.Header.Get("Date"))
	}
}

func TestSubject(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct {
		name string
		dir  string
		lang string
		want string
	}{
		{name: "zh alert", dir: "alert_zh", want: "[II级 橙色预警] 兰州市城关区：5家企业同月减员超过30%"},
		{name: "en alert", dir: "alert_en", want: "[Level II orange warning] Chengguan, Lanzhou: 5 firms cut more than 50 staff or 30% in one month"},
		{name: "zh digest", dir: "digest_zh", want: "[预警汇总] 2026-03 共3条预警（最高III级 黄色预警）：白银有色配件厂等"},
		{name: "zh level changed", dir: "level_changed_zh", want: "[级别变更 III→I] [I级 红色预警] 天水长城电工有限公司：企业关闭，原有职工640人"},
		{name: "zh resolved", dir: "resolved_zh", want: "[已解除] [II级 橙色预警] 兰州市城关区：5家企业同月减员超过30%"},
		{name: "zh escalation", dir: "escalation_zh", want: "[升级·未确认] [I级 红色预警] 兰州市：监测企业岗位环比下降5.3%"},
		{name: "en escalation", dir: "escalation_en", want: "[Escalated · not acknowledged] [Level I red warning] Lanzhou: headcount of monitored firms down 5.3% on last month"},
		{name: "zh summary", dir: "summary_zh", want: "[历史预警汇总·非紧急] 2024-11至2025-06 共5条（最高I级 红色预警）"},
		{name: "en summary", dir: "summary_en", want: "[Old warnings · not urgent] 5 warnings about 2024-11 to 2025-06 (highest: Level I red warning)"},
		{name: "default language", dir: "hostile_zh", want: "[II级 橙色 Bcc: x@example.org预警] Evil Bcc: victim@example.org <script>alert(\"x\")</script> & 'Co'：减员51人 X-Injected: yes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := readNotification(t, filepath.Join("testdata", tt.dir))
			if got := subject(t, r, n); got != tt.want {
				t.Errorf("subject %q\nwant     %q", got, tt.want)
			}
		})
	}
}

// TestSubjectKinds checks that every kind's subject is told apart by its
// prefix in both languages.
func TestSubjectKinds(t *testing.T) {
	r := newTestRenderer(t)
	for _, lang := range languages() {
		seen := map[string]string{}
		for _, kind := range kinds() {
			s := subject(t, r, Sample(kind, lang, true))
			prefix, _, ok := strings.Cut(s, "]")
			if !ok {
				t.Fatalf("%s %s: subject %q has no [prefix]", lang, kind, s)
			}
			if other, dup := seen[prefix]; dup {
				t.Errorf("%s: %s and %s share the prefix %q", lang, kind, other, prefix)
			}
			seen[prefix] = kind
		}
	}
}

// TestHostileText puts CR, LF, HTML and quotes into the firm name, the
// summary, the recipient's name and the acknowledge link.
func TestHostileText(t *testing.T) {
	r := newTestRenderer(t)
	for _, dir := range []string{"hostile_en", "hostile_zh"} {
		t.Run(dir, func(t *testing.T) {
			n := readNotification(t, filepath.Join("testdata", dir))
			m, err := r.Render(n, "alerts@example.org")
			if err != nil {
				t.Fatal(err)
			}
			p := parseMsg(t, m)
			head, _, _ := bytes.Cut(p.Raw, []byte("\r\n\r\n"))
			for _, bad := range []string{"\r\nBcc:", "\r\nX-Injected:", "\nBcc:", "\nX-Injected:"} {
				if bytes.Contains(head, []byte(bad)) {
					t.Errorf("header block contains %q:\n%s", bad, head)
				}
			}
			if len(p.Header["Bcc"]) != 0 || len(p.Header["X-Injected"]) != 0 {
				t.Errorf("injected headers parsed: %v", p.Header)
			}
			if strings.ContainsAny(p.Subject, "\r\n") {
				t.Errorf("subject has a line break: %q", p.Subject)
			}
			to, err := mail.ParseAddressList(p.Header.Get("To"))
			if err != nil || len(to) != 1 || to[0].Address != "zhangsan@example.org" || strings.ContainsAny(to[0].Name, "\r\n") {
				t.Errorf("To = %q (%v), want one recipient with a one-line name", p.Header.Get("To"), err)
			}
			for _, raw := range []string{"<script>", `alert("x")`, "<b>x</b>", "<i>", "javascript:", "<b>act</b>", "<b>立即</b>", "\u202e"} {
				if strings.Contains(p.HTML, raw) {
					t.Errorf("HTML contains %q unescaped", raw)
				}
			}
			for _, esc := range []string{"&lt;script&gt;", "&amp;", "&#39;Co&#39;", "&#34;x&#34;", "#607d8b"} {
				if !strings.Contains(p.HTML, esc) {
					t.Errorf("HTML lacks %q", esc)
				}
			}
			if strings.Contains(p.Text, "javascript:") || strings.Contains(p.Text, "Acknowledge:") || strings.Contains(p.Text, "确认收到") {
				t.Error("text part links to a javascript: acknowledge URL")
			}
			if strings.Contains(p.Text, "Evil\r\n") || strings.Contains(p.Text, "\nBcc: victim") {
				t.Error("text part has the firm name's line break")
			}
			if strings.Contains(p.Text, "\nX-Injected") || strings.Contains(p.Text, "\nBcc: x@") || strings.Contains(p.Text+p.HTML, "red;background") {
				t.Error("the level facts' line breaks or colour reached the email")
			}
		})
	}
}

func TestChartInline(t *testing.T) {
	r := newTestRenderer(t)
	n := readNotification(t, "testdata/alert_en")
	m, err := r.Render(n, "alerts@example.org")
	if err != nil {
		t.Fatal(err)
	}
	p := parseMsg(t, m)
	if len(p.Images) != 1 {
		t.Fatalf("got %d images, want 1", len(p.Images))
	}
	for cid, b := range p.Images {
		if !strings.Contains(p.HTML, `src="cid:`+cid+`"`) {
			t.Errorf("HTML does not reference cid:%s", cid)
		}
		img, format, err := image.Decode(bytes.NewReader(b))
		if err != nil || format != "png" {
			t.Fatalf("chart: %v (format %q)", err, format)
		}
		if got := img.Bounds().Size(); got != (image.Point{X: ChartWidth, Y: ChartHeight}) {
			t.Errorf("chart size %v, want %dx%d", got, ChartWidth, ChartHeight)
		}
	}

	// No series, no chart.
	n.Items[0].Series = nil
	m, err = r.Render(n, "alerts@example.org")
	if err != nil {
		t.Fatal(err)
	}
	p = parseMsg(t, m)
	if len(p.Images) != 0 || strings.Contains(p.HTML, "cid:") {
		t.Errorf("chart without a series: %d images", len(p.Images))
	}
}

func TestChartEdgeCases(t *testing.T) {
	tests := []struct {
		name   string
		series []Point
	}{
		{name: "one point", series: []Point{{Period: "2026-03", Headcount: 10}}},
		{name: "flat zero", series: []Point{{Period: "2026-02"}, {Period: "2026-03"}}},
		{name: "non-ASCII period", series: []Point{{Period: "二〇二六年", Headcount: 5}, {Period: "2026-03", Headcount: 1}}},
		{name: "alert month absent", series: []Point{{Period: "2025-01", Headcount: 5}, {Period: "2025-02", Headcount: 9}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := drawChart(LangZh, tt.series, "2026-03", parseColorOrGrey("#d32f2f"))
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if img.Bounds().Dx() != ChartWidth || img.Bounds().Dy() != ChartHeight {
				t.Errorf("size %v", img.Bounds())
			}
		})
	}
}

func parseColorOrGrey(s string) color.RGBA {
	c, _ := parseColor(s)
	return c
}

func base64Reader(r io.Reader) io.Reader { return base64.NewDecoder(base64.StdEncoding, r) }

func utf8Valid(s string) bool { return utf8.ValidString(s) }

func TestRenderErrors(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct {
		name   string
		change func(*Notification)
		from   string
		want   string
	}{
		{name: "message id with brackets", change: func(n *Notification) { n.MessageID = "<a@b>" }, want: "message id"},
		{name: "message id with CRLF", change: func(n *Notification) { n.MessageID = "a@b\r\nBcc: x@y" }, want: "message id"},
		{name: "message id without @", change: func(n *Notification) { n.MessageID = "abc" }, want: "message id"},
		{name: "unknown kind", change: func(n *Notification) { n.Kind = "page" }, want: `unknown kind "page"`},
		{name: "no items", change: func(n *Notification) { n.Items = nil }, want: "no items"},
		{name: "no time", change: func(n *Notification) { n.Now = time.Time{} }, want: "now"},
		{name: "bad recipient", change: func(n *Notification) { n.To.Email = "not an address" }, want: "to:"},
		{name: "bad sender", from: "alerts@example.org\r\nBcc: x@y", want: "from:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := Sample(KindAlert, LangZh, true)
			if tt.change != nil {
				tt.change(&n)
			}
			from := tt.from
			if from == "" {
				from = "alerts@example.org"
			}
			_, err := r.Render(n, from)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestNewRendererTemplateDir(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // relative path → content
		want  string            // error substring; "" = success
	}{
		{name: "empty dir uses defaults", files: map[string]string{}},
		{name: "one override", files: map[string]string{"en/subject.txt": "{{.Top.LevelLabel}} custom {{.Top.Place}}"}},
		{name: "readme is ignored", files: map[string]string{"README.md": "notes", ".git/config": "x"}},
		{name: "syntax error", files: map[string]string{"zh-CN/body.html": "<p>{{.To</p>"}, want: filepath.Join("zh-CN", "body.html")},
		{name: "unknown field", files: map[string]string{"en/body.txt": "{{.Nope}}"}, want: filepath.Join("en", "body.txt")},
		{name: "field only in some data", files: map[string]string{"en/body.txt": "{{range .Items}}{{if .Folded}}{{.Nope}}{{end}}{{end}}"}, want: filepath.Join("en", "body.txt")},
		{name: "empty subject", files: map[string]string{"zh-CN/subject.txt": "  "}, want: "empty subject"},
		{name: "runaway output", files: map[string]string{"en/body.txt": "{{range 100000}}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{{end}}"}, want: "output too long"},
		{name: "misspelt file", files: map[string]string{"en/body.htm": "x"}, want: filepath.Join("en", "body.htm")},
		{name: "unknown language", files: map[string]string{"fr/body.txt": "x"}, want: "fr"},
		{name: "stray file", files: map[string]string{"body.html": "x"}, want: "body.html"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				path := filepath.Join(dir, filepath.FromSlash(name))
				if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			r, err := NewRenderer(dir)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(tt.name, "override") {
					s := subject(t, r, Sample(KindAlert, LangEn, true))
					if !strings.Contains(s, " custom ") {
						t.Errorf("override not used: %q", s)
					}
					if zh := subject(t, r, Sample(KindAlert, LangZh, true)); strings.Contains(zh, "custom") {
						t.Errorf("override leaked into zh-CN: %q", zh)
					}
				}
				return
			}
			if err == nil {
				t.Fatalf("NewRenderer succeeded, want an error naming %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not name %q", err, tt.want)
			}
			if strings.Contains(tt.want, string(filepath.Separator)) && !strings.Contains(err.Error(), dir) {
				t.Errorf("error %q does not give the full path under %s", err, dir)
			}
		})
	}
	if _, err := NewRenderer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing dir: no error")
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRenderer(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as dir: %v", err)
	}
}

func TestValueRows(t *testing.T) {
	r := newTestRenderer(t)
	raw := json.RawMessage(`{"zeta":1,"rate":0.30051,"loss":1500,"alpha":"<x>","has_3m":true,"mom_change":-0.0174,"vacancy_mean_6m":12.333,"n":null,"big":-1234567}`)
	got := valueRows(raw, r.labels, r.order, LangZh)
	want := []valueRow{
		{Name: "loss", Label: "减员人数", Value: "1,500"},
		{Name: "rate", Label: "减员比例", Value: "30.1%"},
		{Name: "vacancy_mean_6m", Label: "前六个月平均岗位空缺", Value: "12.33"},
		{Name: "mom_change", Label: "环比变化", Value: "-1.7%"},
		{Name: "has_3m", Label: "有三个月前报送", Value: "是"},
		{Name: "alpha", Label: "alpha", Value: "<x>"},
		{Name: "big", Label: "big", Value: "-1,234,567"},
		{Name: "n", Label: "n", Value: "—"},
		{Name: "zeta", Label: "zeta", Value: "1"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows %v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if en := valueRows(json.RawMessage(`{"has_3m":false,"loss":2}`), r.labels, r.order, LangEn); en[0].Label != "job loss" || en[1].Value != "no" {
		t.Errorf("en rows = %+v", en)
	}
	for _, bad := range []string{``, `null`, `[1,2]`, `{"a":`, `"x"`} {
		if rows := valueRows(json.RawMessage(bad), r.labels, r.order, LangEn); len(rows) != 0 {
			t.Errorf("values %q gave rows %v", bad, rows)
		}
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{coverage(12, 15, LangZh), "12/15 家企业已报送 (80%)"},
		{coverage(12, 15, LangEn), "12 of 15 firms reported (80%)"},
		{coverage(0, 0, LangZh), ""},
		{duration(2*time.Hour, LangZh), "2小时"},
		{duration(90*time.Minute, LangZh), "1小时30分钟"},
		{duration(30*time.Minute, LangZh), "30分钟"},
		{duration(time.Hour, LangEn), "1 hour"},
		{duration(12*time.Hour+time.Minute, LangEn), "12 hours 1 minute"},
		{formatNumber(0), "0"},
		{formatNumber(999), "999"},
		{formatNumber(1000), "1,000"},
		{formatNumber(-76450), "-76,450"},
		{formatPct(0.1), "10.0%"},
		{industryName("C", LangZh), "C 制造业"},
		{industryName("Z", LangEn), "Z"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestRegionNames(t *testing.T) {
	r := newTestRenderer(t)
	tests := []struct{ code, lang, want string }{
		{"620102", LangZh, "兰州市城关区"},
		{"620102", LangEn, "Chengguan, Lanzhou"},
		{"620100", LangZh, "兰州市"},
		{"620000", LangEn, "Gansu"},
		{"999999", LangZh, "999999"},
		{"", LangZh, ""},
	}
	for _, tt := range tests {
		if got := r.regionName(tt.code, tt.lang); got != tt.want {
			t.Errorf("regionName(%q, %s) = %q, want %q", tt.code, tt.lang, got, tt.want)
		}
	}
}

func TestLanguage(t *testing.T) {
	for in, want := range map[string]string{"": LangZh, "zh-CN": LangZh, "zh": LangZh, "en": LangEn, "en-GB": LangEn, "EN": LangEn, "fr": LangZh} {
		if got := language(in); got != want {
			t.Errorf("language(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHeaderText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\r\nBcc: x", "a Bcc: x"},
		{"  lead  and   trail \t", "lead and trail"},
		{"nul\x00esc\x1bdel\x7f", "nul esc del"},
		{"bidi\u202egnp.exe", "bidi gnp.exe"},
		{"line\u2028sep", "line sep"},
		{"bad\xffutf8", "bad utf8"},
		{"兰州市城关区", "兰州市城关区"},
		{strings.Repeat("长", 300), strings.Repeat("长", maxHeaderRunes-1) + "…"},
	}
	for _, tt := range tests {
		if got := headerText(tt.in); got != tt.want {
			t.Errorf("headerText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// FuzzHeaderText checks that nothing reaches a header with a line break
// or a control character, and that the result is stable.
func FuzzHeaderText(f *testing.F) {
	for _, s := range []string{"", "a\r\nb", "兰州\x00市", "\u202e", strings.Repeat("x ", 300), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := headerText(s)
		if !utf8Valid(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		for _, r := range got {
			if unsafeRune(r) || r == '\r' || r == '\n' {
				t.Fatalf("headerText(%q) = %q keeps %U", s, got, r)
			}
		}
		if again := headerText(got); again != got {
			t.Fatalf("not stable: %q → %q", got, again)
		}
		if n := len([]rune(got)); n > maxHeaderRunes {
			t.Fatalf("%d runes", n)
		}
	})
}

// FuzzTemplate loads an edited template: the loader must never panic, and a
// template it accepts must render every sample.
// longLoops reports whether src's numbers could make loops of more than a
// million turns (ranges over them, nested): the fuzzer would wait on them
// rather than find bugs. Numbers in other notations (0x…, 1e9) count as
// large.
func longLoops(src string) bool {
	if otherNotation.MatchString(src) {
		return true
	}
	product := 1.0
	for _, m := range digits.FindAllString(src, -1) {
		if n, err := strconv.ParseFloat(strings.ReplaceAll(m, "_", ""), 64); err == nil && n > 1 {
			product *= n
		}
	}
	return product > 1e6
}

var (
	digits        = regexp.MustCompile(`[0-9][0-9_]*`)
	otherNotation = regexp.MustCompile(`0[xXbBoO]|[0-9][eEpP]`)
)

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"{{.Top.Place}}",
		"{{range .Items}}{{.Title}}{{end}}",
		"{{template \"x\"}}",
		"{{define \"x\"}}{{.}}{{end}}{{template \"x\" .Kind}}",
		"{{.Items.Nope}}",
		"{{index .Items 5}}",
		"{{",
		"{{range 100000}}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{{end}}",
	} {
		f.Add("en/subject.txt", s)
		f.Add("zh-CN/body.html", s)
	}
	f.Fuzz(func(t *testing.T, name, src string) {
		if longLoops(src) {
			// an operator's template runs as written: a range over a
			// billion loops a billion times (text/template has no
			// budget), which is slow, not wrong
			t.Skip()
		}
		fsys := fstest.MapFS{name: &fstest.MapFile{Data: []byte(src)}}
		r, err := newRenderer(fsys, "fuzz")
		if err != nil {
			return
		}
		// What the start-up check accepted renders the samples again (without
		// charts, which do not depend on templates).
		for _, lang := range languages() {
			for _, kind := range kinds() {
				for _, full := range []bool{true, false} {
					v, err := r.buildView(Sample(kind, lang, full), false)
					if err != nil {
						t.Fatal(err)
					}
					subject, _, _, err := r.langs[lang].execute(v)
					if err != nil {
						t.Fatalf("accepted template fails on a sample %s/%s: %v", lang, kind, err)
					}
					if strings.ContainsAny(subject, "\r\n") {
						t.Fatalf("subject %q", subject)
					}
				}
			}
		}
	})
}

// An event decoded by alertevent renders (the wire format is the input),
// quoting the level facts it carries; one without facts renders with the
// level's numeral alone.
func TestRenderDecodedEvent(t *testing.T) {
	r := newTestRenderer(t)
	const wire = `{"alert_id":"x1","version":1,"event":"firing","rule":"art41","scope":"firm","key":"91620102MA71ABCD1X","period":"2026-03","level":"IV",%s"values":{"loss":25,"rate":0.05},"region":"620102","prefecture":"620100","subject":"某公司","title_zh":"经济性裁员","title_en":"Layoff","summary_zh":"减员25人（5.0%%）","summary_en":"cut 25 staff (5.0%%)","at":"2026-04-06T01:30:00Z"}`
	tests := []struct {
		name, facts, subject string
		text, notText        []string
	}{
		{name: "with facts",
			facts:   `"level_facts":{"name_zh":"蓝色","name_en":"navy","color":"#123456","action_zh":"核实","action_en":"Check the figures.","response_seconds":5400},`,
			subject: "[Warning digest] 1 warning for 2026-03 (highest: Level IV navy warning): 某公司",
			text:    []string{"Check the figures.", "Response time: 1 hour 30 minutes, respond by 2026-04-06 11:00", "loss rate: 5.0%"}},
		{name: "without facts",
			subject: "[Warning digest] 1 warning for 2026-03 (highest: Level IV warning): 某公司",
			text:    []string{"==== Level IV warning: Layoff ====", "loss rate: 5.0%"},
			notText: []string{"What the plan says", "Response time"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := alertevent.Decode([]byte(fmt.Sprintf(wire, tt.facts)))
			if err != nil {
				t.Fatal(err)
			}
			n := Notification{MessageID: "x1.1@layoffwatch", Kind: KindDigest, To: Recipient{Email: "a@example.org", Language: "en"},
				Items: []Item{{Event: e}}, Now: time.Date(2026, 4, 6, 2, 0, 0, 0, time.UTC)}
			m, err := r.Render(n, "alerts@example.org")
			if err != nil {
				t.Fatal(err)
			}
			p := parseMsg(t, m)
			if p.Subject != tt.subject {
				t.Errorf("subject %q, want %q", p.Subject, tt.subject)
			}
			for _, want := range tt.text {
				if !strings.Contains(p.Text, want) {
					t.Errorf("text lacks %q:\n%s", want, p.Text)
				}
			}
			for _, not := range tt.notText {
				if strings.Contains(p.Text, not) {
					t.Errorf("text has %q:\n%s", not, p.Text)
				}
			}
		})
	}
}

// TestSummary: a summary of old warnings tells no deadline, links no
// acknowledgement, is not marked important, counts every warning by level
// and group, and lists at most maxSummaryLines of them one by one.
func TestSummary(t *testing.T) {
	r := newTestRenderer(t)
	n := Sample(KindSummary, LangZh, true)
	m, err := r.Render(n, "alerts@example.org")
	if err != nil {
		t.Fatal(err)
	}
	p := parseMsg(t, m)
	for _, part := range []string{p.Text, p.HTML} {
		for _, not := range []string{"响应时限", "前响应", "确认收到", "/ack"} {
			if strings.Contains(part, not) {
				t.Errorf("the summary says %q", not)
			}
		}
		for _, e := range n.Items {
			if !strings.Contains(part, e.Event.ID) || !strings.Contains(part, e.Event.Key) {
				t.Errorf("the summary does not name alert %s (%s)", e.Event.ID, e.Event.Key)
			}
		}
	}
	if p.Header.Get("Importance") != "" || p.Header.Get("X-Priority") != "" {
		t.Errorf("a summary of level I warnings is marked important: %v", p.Header)
	}
	if got := p.Header.Get("X-Layoffwatch-Kind"); got != KindSummary {
		t.Errorf("X-Layoffwatch-Kind %q", got)
	}

	// hostile names stay on one line and escaped
	evil := n
	evil.Items = append([]Item(nil), n.Items...)
	evil.Items[0].Event.Subject = "Evil\r\nBcc: victim@example.org <script>alert(1)</script>"
	evil.Items[0].Event.SummaryZh = "减员<b>51</b>人\nX-Injected: yes"
	evil.Items[0].DashboardURL = "javascript:alert(1)"
	m, err = r.Render(evil, "alerts@example.org")
	if err != nil {
		t.Fatal(err)
	}
	p = parseMsg(t, m)
	for _, raw := range []string{"<script>", "<b>51</b>", "javascript:"} {
		if strings.Contains(p.HTML, raw) {
			t.Errorf("the summary's HTML contains %q", raw)
		}
	}
	if !strings.Contains(p.HTML, "&lt;script&gt;") || strings.Contains(p.Text, "\nBcc: victim") || strings.Contains(p.Text, "\nX-Injected") {
		t.Errorf("hostile text reached the summary:\n%s", p.Text)
	}

	// many warnings: all counted, the first maxSummaryLines listed
	big := n
	big.Items = nil
	for i := range maxSummaryLines + 30 {
		e := n.Items[i%2].Event // III and IV, one county each
		e.Key = fmt.Sprintf("K%05d", i)
		e.ID = alertevent.ID(e.Rule, e.Scope, e.Key, e.Period)
		big.Items = append(big.Items, Item{Event: e})
	}
	v, err := r.buildView(big, false)
	if err != nil {
		t.Fatal(err)
	}
	listed, counted := 0, 0
	for _, g := range v.Groups {
		listed += len(g.Lines)
		counted += g.Count
		if g.Count != len(g.Lines)+g.More {
			t.Errorf("group %s/%s: %d warnings, %d listed, %d more", g.Level, g.Rule, g.Count, len(g.Lines), g.More)
		}
	}
	if listed != maxSummaryLines || counted != len(big.Items) || v.Unlisted != 30 || v.Count != len(big.Items) {
		t.Errorf("listed %d, counted %d, unlisted %d of %d", listed, counted, v.Unlisted, len(big.Items))
	}
	if _, text, _, err := r.langs[LangZh].execute(v); err != nil || !strings.Contains(text, "共有30条预警未逐条列出") {
		t.Errorf("unlisted warnings not said (%v)", err)
	}
}
