// Package channel delivers alert notifications over HTTP, beside email: a
// generic JSON webhook signed with HMAC-SHA256, the group robots of WeCom
// (企业微信) and DingTalk (钉钉, with its signing), and SMS through the
// bureau's own HTTP gateway. It owns one delivery attempt of one message
// to one endpoint, and says whether trying again makes sense.
//
//	Message ─Sender.Send─▶ webhook   POST JSON; X-Layoffwatch-Timestamp, X-Layoffwatch-Signature: v1=hex(HMAC-SHA256(secret, ts "." body))
//	                     ▶ wecom     POST {"msgtype":"markdown"} to …/cgi-bin/webhook/send?key=…; {"errcode":0}
//	                     ▶ dingtalk  POST {"msgtype":"markdown"} to …/robot/send?access_token=…&timestamp=…&sign=…; {"errcode":0}
//	                     ▶ sms       the gateway's URL and body templates, its auth header; 2xx (and success_pattern)
//
// It does not decide who is told what, when, or how often to retry, and
// it keeps no log: the alerts component routes, groups, escalates, renders
// the texts (alerts/email Chat) and records every delivery exactly once in
// its notification log, as it does for email.
package channel

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
	"github.com/layoffwatch/layoffwatch/internal/tlsconf"
)

// Types of channel.
const (
	TypeWebhook  = "webhook"
	TypeWeCom    = "wecom"
	TypeDingTalk = "dingtalk"
	TypeSMS      = "sms"
)

// Email is the name of the built-in email channel: a recipient's channels
// list it beside the names of the channels configured here.
const Email = "email"

// Headers of a generic webhook delivery (see Verify).
const (
	HeaderMessageID = "X-Layoffwatch-Message-Id"
	HeaderTimestamp = "X-Layoffwatch-Timestamp"
	HeaderSignature = "X-Layoffwatch-Signature"
)

// DefaultTimeout bounds one delivery attempt.
const DefaultTimeout = 10 * time.Second

// Config is one channel of the alerts config (channels: in
// deploy/alerts.yaml). Secrets — a robot's URL carries its key or token —
// may come from *_file paths.
type Config struct {
	Name string `yaml:"name"` // what recipients' channels: lists name it by
	Type string `yaml:"type"` // webhook, wecom, dingtalk or sms
	// URL is where to post: the webhook's endpoint, the robot's webhook
	// address (with its key or access_token), or for sms a text/template
	// with the fields of SMSData (e.g. ...?to={{urlquery .Phone}}).
	URL     string `yaml:"url"`
	URLFile string `yaml:"url_file"`
	// Secret signs the deliveries: the webhook's HMAC key (16+
	// characters, required), DingTalk's signing secret (SEC…, optional:
	// robots can rely on keywords or IP lists instead).
	Secret     string `yaml:"secret"`
	SecretFile string `yaml:"secret_file"`
	// MinLevel is the least severe level sent through the channel (default
	// IV: all): an SMS gateway for levels I–II only says "II".
	MinLevel     string        `yaml:"min_level"`
	Timeout      time.Duration `yaml:"timeout"`       // one attempt; default 10s
	CAFile       string        `yaml:"ca_file"`       // CA (PEM) of a receiver with a private certificate
	InsecureHTTP bool          `yaml:"insecure_http"` // allow http:// to a host that is not loopback

	// The SMS gateway's request.
	Method         string `yaml:"method"`       // POST (default) or GET
	ContentType    string `yaml:"content_type"` // default application/json
	Body           string `yaml:"body"`         // text/template with the fields of SMSData; json and urlquery escape
	AuthHeader     string `yaml:"auth_header"`  // e.g. Authorization
	AuthValue      string `yaml:"auth_value"`   // e.g. "Bearer …"
	AuthValueFile  string `yaml:"auth_value_file"`
	SuccessPattern string `yaml:"success_pattern"` // a regexp a 2xx answer's body must match, e.g. '"code":\s*"OK"'
}

// SMSData is what an SMS channel's url and body templates see.
type SMSData struct {
	Phone     string // the recipient's phone number, as configured
	Text      string // the message, at most email.MaxSMSRunes characters
	MessageID string // the same on every attempt: a gateway that deduplicates can use it
	Name      string // the recipient's name
	Level     string // the most severe level of the message: I … IV
	Kind      string // alert, digest, level_changed, resolved, escalation
}

// Recipient is who a message is for.
type Recipient struct {
	Name     string `json:"name,omitempty"`
	Email    string `json:"email"`
	Phone    string `json:"-"`
	Language string `json:"language"`
}

// Message is one notification to one recipient through one channel.
type Message struct {
	ID        string // deterministic: the same for every attempt of one delivery
	Recipient Recipient
	Note      email.Notification // what it is about
	Chat      email.Chat         // the texts, in the recipient's language
}

// Sender delivers through one configured channel. It is safe for
// concurrent use.
type Sender struct {
	cfg      Config
	url      string // the URL (sms: its template's source)
	secret   string
	auth     string
	urlTmpl  *template.Template
	bodyTmpl *template.Template
	success  *regexp.Regexp
	minLevel alertevent.Level
	client   *http.Client
	now      func() time.Time // signing clock: the receivers compare it with theirs
}

var (
	nameRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	headerRe = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
)

// New checks c, reads the files it names and compiles its templates (an
// sms template is rendered once with sample data). It does no network I/O.
func New(c Config) (*Sender, error) {
	s := &Sender{cfg: c, now: time.Now}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("channel %s: "+format, append([]any{c.Name}, a...)...)
	}
	if !nameRe.MatchString(c.Name) || c.Name == Email {
		return nil, fmt.Errorf("channel name %q: want lower-case letters, digits, - and _ (and not %q, the built-in email channel)", c.Name, Email)
	}
	var err error
	if s.url, err = oneOf(c.URL, c.URLFile, "url"); err != nil {
		return nil, bad("%w", err)
	}
	if s.url == "" {
		return nil, bad("url (or url_file) is required")
	}
	if s.secret, err = oneOf(c.Secret, c.SecretFile, "secret"); err != nil {
		return nil, bad("%w", err)
	}
	if s.auth, err = oneOf(c.AuthValue, c.AuthValueFile, "auth_value"); err != nil {
		return nil, bad("%w", err)
	}
	s.minLevel = alertevent.LevelIV
	if c.MinLevel != "" {
		if s.minLevel, err = alertevent.ParseLevel(c.MinLevel); err != nil {
			return nil, bad("min_level: %w", err)
		}
	}
	if c.Timeout < 0 {
		return nil, bad("timeout must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
		s.cfg.Timeout = DefaultTimeout
	}
	sms := c.Type == TypeSMS
	if !sms && (c.Method != "" || c.ContentType != "" || c.Body != "" || c.AuthHeader != "" || s.auth != "" || c.SuccessPattern != "") {
		return nil, bad("method, content_type, body, auth_header, auth_value and success_pattern are for type sms only")
	}
	switch c.Type {
	case TypeWebhook:
		if len(s.secret) < 16 {
			return nil, bad("secret (or secret_file) of 16+ characters is required: it signs every delivery (X-Layoffwatch-Signature)")
		}
	case TypeDingTalk:
	case TypeWeCom, TypeSMS:
		if s.secret != "" {
			return nil, bad("secret is not used by type %s (a WeCom robot's key is in its url; an SMS gateway's credential goes in auth_value)", c.Type)
		}
	default:
		return nil, bad("type %q: want webhook, wecom, dingtalk or sms", c.Type)
	}
	if sms {
		if err := s.compileSMS(); err != nil {
			return nil, bad("%w", err)
		}
	} else if err := checkURL(s.url, c.InsecureHTTP); err != nil {
		return nil, bad("url: %w", err)
	}
	tc, err := tlsconf.Client{Enable: true, CAFile: c.CAFile}.Config("channel " + c.Name)
	if err != nil {
		return nil, err
	}
	s.client = &http.Client{
		Timeout: s.cfg.Timeout,
		Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: tc, TLSHandshakeTimeout: s.cfg.Timeout,
			ResponseHeaderTimeout: s.cfg.Timeout, MaxIdleConnsPerHost: 2, IdleConnTimeout: 90 * time.Second},
		// a redirect is a configuration error: the signed body is not sent on
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// oneOf returns the value, or the file's content without its trailing
// newline; setting both is an error.
func oneOf(value, file, key string) (string, error) {
	if value != "" && file != "" {
		return "", fmt.Errorf("set %s or %s_file, not both", key, key)
	}
	if file == "" {
		return value, nil
	}
	b, err := os.ReadFile(file) //nolint:gosec // a path the operator names
	if err != nil {
		return "", fmt.Errorf("%s_file: %w", key, err)
	}
	v := strings.TrimRight(string(b), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s_file %s is empty", key, file)
	}
	return v, nil
}

// checkURL wants https, or http to a loopback host (a test or a local
// relay) or with insecure_http.
func checkURL(raw string, insecureHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", redact(raw), err)
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%s has no host", redact(raw))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (insecureHTTP || loopback(u.Hostname())):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%s is plain http: the message and the key travel readable; use https, or set insecure_http: true", redact(raw))
	}
	return fmt.Errorf("%s: want an https:// URL", redact(raw))
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redact drops a URL's query (a robot's key or token), fragment and user
// information, for logs and errors.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	s := u.String()
	if strings.Contains(raw, "?") {
		s += "?…"
	}
	return s
}

func (s *Sender) compileSMS() error {
	c := s.cfg
	switch c.Method {
	case "", http.MethodPost:
		s.cfg.Method = http.MethodPost
		if c.Body == "" {
			return errors.New("body is required for method POST (a template with .Phone and .Text)")
		}
	case http.MethodGet:
		if c.Body != "" {
			return errors.New("body is not sent with method GET: put the fields in the url template")
		}
	default:
		return fmt.Errorf("method %q: want POST or GET", c.Method)
	}
	if s.cfg.ContentType == "" {
		s.cfg.ContentType = "application/json"
	}
	if (c.AuthHeader == "") != (s.auth == "") {
		return errors.New("auth_header and auth_value (or auth_value_file) go together")
	}
	if c.AuthHeader != "" && (!headerRe.MatchString(c.AuthHeader) || strings.ContainsAny(s.auth, "\r\n")) {
		return errors.New("auth_header must be a header name and auth_value one line")
	}
	funcs := template.FuncMap{"json": jsonString}
	var err error
	if s.urlTmpl, err = template.New("url").Option("missingkey=error").Funcs(funcs).Parse(s.url); err != nil {
		return fmt.Errorf("url template: %w", err)
	}
	if s.bodyTmpl, err = template.New("body").Option("missingkey=error").Funcs(funcs).Parse(c.Body); err != nil {
		return fmt.Errorf("body template: %w", err)
	}
	if c.SuccessPattern != "" {
		if s.success, err = regexp.Compile(c.SuccessPattern); err != nil {
			return fmt.Errorf("success_pattern: %w", err)
		}
	}
	sample := SMSData{Phone: "+8613800000000", Text: "【失业预警】样例 \"quoted\" & <tag>", MessageID: "sample@layoffwatch", Name: "张三", Level: "I", Kind: email.KindAlert}
	u, _, err := s.smsRequest(sample)
	if err != nil {
		return err
	}
	return checkURL(u, c.InsecureHTTP)
}

// jsonString is a string as a JSON literal, quotes included.
func jsonString(s string) (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}

func (s *Sender) smsRequest(d SMSData) (target string, body []byte, err error) {
	var u, b bytes.Buffer
	if err := s.urlTmpl.Execute(&u, d); err != nil {
		return "", nil, fmt.Errorf("url template: %w", err)
	}
	if err := s.bodyTmpl.Execute(&b, d); err != nil {
		return "", nil, fmt.Errorf("body template: %w", err)
	}
	return strings.TrimSpace(u.String()), b.Bytes(), nil
}

// Name is the channel's name.
func (s *Sender) Name() string { return s.cfg.Name }

// Type is the channel's type.
func (s *Sender) Type() string { return s.cfg.Type }

// Carries reports whether the channel takes a message whose most severe
// warning is at level l, of kind: levels at least as severe as the
// channel's min_level; an SMS never carries a summary of old warnings
// (history, not a page).
func (s *Sender) Carries(l alertevent.Level, kind string) bool {
	if s.cfg.Type == TypeSMS && kind == email.KindSummary {
		return false
	}
	return l.AtLeast(s.minLevel)
}

// NeedsPhone reports whether recipients of the channel need a phone number.
func (s *Sender) NeedsPhone() bool { return s.cfg.Type == TypeSMS }

// Group reports whether the channel posts into one group chat (a robot):
// such a channel belongs to one recipient, or the group would read every
// message once per recipient.
func (s *Sender) Group() bool { return s.cfg.Type == TypeWeCom || s.cfg.Type == TypeDingTalk }

// String describes the channel for logs, without its secrets.
func (s *Sender) String() string {
	return fmt.Sprintf("%s %s %s min_level=%s", s.cfg.Type, s.cfg.Name, redact(s.url), s.minLevel)
}

// Send makes one delivery attempt. retry says whether trying again later
// makes sense: true for connection failures, timeouts, a cancelled ctx, 408,
// 429 and 5xx answers and the robots' "busy" and "too fast" codes; false
// for other answers (a wrong key or token, a refused signature, a message
// the receiver will not take), which fail the same way until someone
// changes the configuration.
func (s *Sender) Send(ctx context.Context, m Message) (retry bool, err error) {
	if err := ctx.Err(); err != nil {
		return true, fmt.Errorf("%s %s: %w", s.cfg.Type, s.cfg.Name, err)
	}
	var req *http.Request
	switch s.cfg.Type {
	case TypeWebhook:
		req, err = s.webhookRequest(ctx, m)
	case TypeWeCom:
		req, err = s.jsonRequest(ctx, s.url, map[string]any{"msgtype": "markdown", "markdown": map[string]string{"content": m.Chat.Markdown}})
	case TypeDingTalk:
		req, err = s.dingTalkRequest(ctx, m)
	case TypeSMS:
		req, err = s.smsHTTPRequest(ctx, m)
	}
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", s.cfg.Type, s.cfg.Name, err)
	}
	req.Header.Set("User-Agent", "layoffwatch")
	req.Header.Set(HeaderMessageID, m.ID)
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text holds the URL, and so the key
		}
		return true, fmt.Errorf("%s %s at %s: %w", s.cfg.Type, s.cfg.Name, redact(req.URL.String()), err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	retry, err = s.outcome(resp, body)
	if err != nil {
		return retry, fmt.Errorf("%s %s at %s: %w", s.cfg.Type, s.cfg.Name, redact(req.URL.String()), err)
	}
	return false, nil
}

// outcome reads the receiver's answer.
func (s *Sender) outcome(resp *http.Response, body []byte) (retry bool, err error) {
	snippet := strings.TrimSpace(string(body))
	if len(snippet) > 300 {
		snippet = snippet[:300] + "…"
	}
	switch code := resp.StatusCode; {
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		return true, fmt.Errorf("answered %s: %s", resp.Status, snippet)
	case code >= 300 && code < 400:
		return false, fmt.Errorf("answered %s to %s: configure the final URL", resp.Status, redact(resp.Header.Get("Location")))
	case code < 200 || code >= 300:
		return false, fmt.Errorf("answered %s: %s", resp.Status, snippet)
	}
	switch s.cfg.Type {
	case TypeWeCom, TypeDingTalk:
		var r struct {
			ErrCode *int   `json:"errcode"`
			ErrMsg  string `json:"errmsg"`
		}
		if err := json.Unmarshal(body, &r); err != nil || r.ErrCode == nil {
			return true, fmt.Errorf("answered %s without an errcode: %s", resp.Status, snippet)
		}
		if *r.ErrCode != 0 {
			return robotRetry(s.cfg.Type, *r.ErrCode), fmt.Errorf("errcode %d: %s", *r.ErrCode, r.ErrMsg)
		}
	case TypeSMS:
		if s.success != nil && !s.success.Match(body) {
			return false, fmt.Errorf("answered %s, but not success_pattern: %s", resp.Status, snippet)
		}
	}
	return false, nil
}

// robotRetry says which robot error codes pass: the system busy (-1) and
// the rate limits (20 messages a minute per robot): WeCom 45009, DingTalk
// 130101.
func robotRetry(typ string, code int) bool {
	switch {
	case code == -1:
		return true
	case typ == TypeWeCom:
		return code == 45009
	case typ == TypeDingTalk:
		return code == 130101
	}
	return false
}

func (s *Sender) jsonRequest(ctx context.Context, target string, v any) (*http.Request, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request: %w", unwrapURL(err))
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	return req, nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// webhookRequest is the generic JSON delivery, signed: see Verify.
func (s *Sender) webhookRequest(ctx context.Context, m Message) (*http.Request, error) {
	body, err := json.Marshal(NewPayload(m))
	if err != nil {
		return nil, fmt.Errorf("encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request: %w", unwrapURL(err))
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign([]byte(s.secret), ts, body))
	return req, nil
}

// Sign is the X-Layoffwatch-Signature of body sent at timestamp (Unix
// seconds, as sent in X-Layoffwatch-Timestamp): "v1=" and the lower-case
// hex HMAC-SHA256, keyed with the channel's secret, of the timestamp, a
// full stop and the body bytes exactly as received.
func Sign(secret []byte, timestamp string, body []byte) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(timestamp))
	h.Write([]byte{'.'})
	h.Write(body)
	return "v1=" + hex.EncodeToString(h.Sum(nil))
}

// Errors of Verify.
var (
	ErrBadSignature = errors.New("webhook signature does not match")
	ErrStale        = errors.New("webhook timestamp too far from now")
)

// Verify is what a receiver of the generic webhook does with a delivery:
// the signature must be Sign's (compared in constant time) and the
// timestamp within tolerance of now (five minutes is usual), so a captured
// delivery cannot be replayed later. Receivers also keep the
// X-Layoffwatch-Message-Id of what they accepted: a delivery retried after
// an answer that was lost carries the same id.
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return ErrBadSignature
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, timestamp, body))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// dingTalkRequest posts Markdown; with a secret, the URL carries
// timestamp (milliseconds) and sign = base64(HMAC-SHA256(secret,
// timestamp "\n" secret)), URL-encoded, as DingTalk's signing requires.
func (s *Sender) dingTalkRequest(ctx context.Context, m Message) (*http.Request, error) {
	target := s.url
	if s.secret != "" {
		u, err := url.Parse(s.url)
		if err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
		ts := strconv.FormatInt(s.now().UnixMilli(), 10)
		q := u.Query()
		q.Set("timestamp", ts)
		q.Set("sign", DingTalkSign(s.secret, ts))
		u.RawQuery = q.Encode() // URL-encodes the base64 signature
		target = u.String()
	}
	title := m.Chat.Subject
	return s.jsonRequest(ctx, target, map[string]any{"msgtype": "markdown", "markdown": map[string]string{"title": title, "text": m.Chat.Markdown}})
}

// DingTalkSign is the sign parameter before URL encoding:
// base64(HMAC-SHA256(key secret, timestamp "\n" secret)).
func DingTalkSign(secret, timestamp string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(timestamp + "\n" + secret))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func (s *Sender) smsHTTPRequest(ctx context.Context, m Message) (*http.Request, error) {
	if m.Recipient.Phone == "" {
		return nil, errors.New("the recipient has no phone")
	}
	if m.Chat.SMS == "" {
		return nil, errors.New("no text message to send")
	}
	level := ""
	if len(m.Note.Items) > 0 {
		top := m.Note.Items[0].Event.Level
		for _, it := range m.Note.Items {
			if it.Event.Level.Rank() < top.Rank() {
				top = it.Event.Level
			}
		}
		level = top.String()
	}
	target, body, err := s.smsRequest(SMSData{Phone: m.Recipient.Phone, Text: m.Chat.SMS, MessageID: m.ID, Name: m.Recipient.Name,
		Level: level, Kind: m.Note.Kind})
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if s.cfg.Method == http.MethodPost {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, s.cfg.Method, target, rd)
	if err != nil {
		return nil, fmt.Errorf("request: %w", unwrapURL(err))
	}
	if rd != nil {
		req.Header.Set("Content-Type", s.cfg.ContentType)
	}
	if s.cfg.AuthHeader != "" {
		req.Header.Set(s.cfg.AuthHeader, s.auth)
	}
	return req, nil
}
