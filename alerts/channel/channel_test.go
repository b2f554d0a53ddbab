package channel_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/alerts/channel"
	"github.com/layoffwatch/layoffwatch/alerts/email"
	"github.com/layoffwatch/layoffwatch/internal/alertevent"
)

func message(t *testing.T) channel.Message {
	t.Helper()
	r, err := email.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	n := email.Sample(email.KindAlert, email.LangZh, true)
	chat, err := r.Chat(n)
	if err != nil {
		t.Fatal(err)
	}
	return channel.Message{ID: "abc@oa.layoffwatch", Note: n, Chat: chat,
		Recipient: channel.Recipient{Name: "张三", Email: "zhangsan@example.org", Phone: "13800000000", Language: "zh-CN"}}
}

// TestOutcomes: what each answer of a receiver means — taken, worth a
// retry, or refused for good — and errors never show a robot's key.
func TestOutcomes(t *testing.T) {
	m := message(t)
	cases := []struct {
		name   string
		typ    string
		status int
		body   string
		retry  bool
		ok     bool
	}{
		{"webhook 204", channel.TypeWebhook, 204, "", false, true},
		{"webhook 503", channel.TypeWebhook, 503, "busy", true, false},
		{"webhook 429", channel.TypeWebhook, 429, "", true, false},
		{"webhook 408", channel.TypeWebhook, 408, "", true, false},
		{"webhook 401", channel.TypeWebhook, 401, "bad signature", false, false},
		{"webhook 302", channel.TypeWebhook, 302, "", false, false},
		{"wecom ok", channel.TypeWeCom, 200, `{"errcode":0,"errmsg":"ok"}`, false, true},
		{"wecom rate limit", channel.TypeWeCom, 200, `{"errcode":45009,"errmsg":"api freq out of limit"}`, true, false},
		{"wecom busy", channel.TypeWeCom, 200, `{"errcode":-1,"errmsg":"system busy"}`, true, false},
		{"wecom bad key", channel.TypeWeCom, 200, `{"errcode":93000,"errmsg":"invalid webhook url"}`, false, false},
		{"wecom no errcode", channel.TypeWeCom, 200, `<html>proxy</html>`, true, false},
		{"dingtalk ok", channel.TypeDingTalk, 200, `{"errcode":0,"errmsg":"ok"}`, false, true},
		{"dingtalk too fast", channel.TypeDingTalk, 200, `{"errcode":130101,"errmsg":"send too fast"}`, true, false},
		{"dingtalk sign refused", channel.TypeDingTalk, 200, `{"errcode":310000,"errmsg":"sign not match"}`, false, false},
		{"sms ok", channel.TypeSMS, 200, `{"code":"OK"}`, false, true},
		{"sms refused in a 200", channel.TypeSMS, 200, `{"code":"isv.MOBILE_NUMBER_ILLEGAL"}`, false, false},
		{"sms 500", channel.TypeSMS, 500, ``, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if c.status == 302 {
					w.Header().Set("Location", "https://elsewhere.example/hook?token=leak")
				}
				w.WriteHeader(c.status)
				_, _ = io.WriteString(w, c.body)
			}))
			defer srv.Close()
			cfg := channel.Config{Name: "x", Type: c.typ, URL: srv.URL + "/send?key=SECRETKEY"}
			switch c.typ {
			case channel.TypeWebhook:
				cfg.Secret = "0123456789abcdef0123"
			case channel.TypeSMS:
				cfg.URL = srv.URL + "/send?to={{urlquery .Phone}}&key=SECRETKEY"
				cfg.Body = `{"text":{{json .Text}}}`
				cfg.SuccessPattern = `"code":\s*"OK"`
			}
			s, err := channel.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			retry, err := s.Send(context.Background(), m)
			if (err == nil) != c.ok || retry != c.retry {
				t.Fatalf("Send = retry %v, %v; want retry %v, ok %v", retry, err, c.retry, c.ok)
			}
			if err != nil && (strings.Contains(err.Error(), "SECRETKEY") || strings.Contains(err.Error(), "leak")) {
				t.Fatalf("the error shows the key: %v", err)
			}
		})
	}
	t.Run("nothing listens", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		s, err := channel.New(channel.Config{Name: "x", Type: channel.TypeWeCom, URL: "http://" + addr + "/send?key=SECRETKEY"})
		if err != nil {
			t.Fatal(err)
		}
		retry, err := s.Send(context.Background(), m)
		if err == nil || !retry || strings.Contains(err.Error(), "SECRETKEY") {
			t.Fatalf("Send = %v, %v", retry, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(2 * time.Second) }))
		defer srv.Close()
		s, err := channel.New(channel.Config{Name: "x", Type: channel.TypeWeCom, URL: srv.URL + "/send?key=k", Timeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if retry, err := s.Send(context.Background(), m); err == nil || !retry {
			t.Fatalf("Send = %v, %v", retry, err)
		}
	})
}

// TestVerify: what a webhook receiver checks; Sign is its recipe.
func TestVerify(t *testing.T) {
	secret := []byte("0123456789abcdef")
	body := []byte(`{"version":1}`)
	now := time.Unix(1_800_000_000, 0)
	ts := "1800000000"
	sig := channel.Sign(secret, ts, body)
	if !strings.HasPrefix(sig, "v1=") || len(sig) != 3+64 {
		t.Fatalf("signature %q", sig)
	}
	if err := channel.Verify(secret, ts, sig, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"other body":   channel.Verify(secret, ts, sig, []byte(`{"version":2}`), now, 5*time.Minute),
		"other secret": channel.Verify([]byte("another-secret-0000"), ts, sig, body, now, 5*time.Minute),
		"other time":   channel.Verify(secret, "1800000001", sig, body, now, 5*time.Minute),
		"no time":      channel.Verify(secret, "", sig, body, now, 5*time.Minute),
	} {
		if !errors.Is(err, channel.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if err := channel.Verify(secret, ts, sig, body, now.Add(10*time.Minute), 5*time.Minute); !errors.Is(err, channel.ErrStale) {
		t.Errorf("replayed later: %v, want ErrStale", err)
	}
	// the value DingTalk's published Python sample (hmac.new(secret,
	// f"{timestamp}\n{secret}", sha256), base64) gives for these inputs
	if got := channel.DingTalkSign("SECabc", "1577262236757"); got != "I5TKCOTTj6fad4sJ4q9RsIffw0PAChVQZQGTdtRbNEQ=" {
		t.Errorf("DingTalkSign = %s", got)
	}
}

// TestNewRefuses: a channel that cannot work is refused at start-up, naming
// what is wrong, before any network I/O.
func TestNewRefuses(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := channel.Config{Name: "oa", Type: channel.TypeWebhook, URL: "https://oa.example/hook", Secret: "0123456789abcdef"}
	cases := []struct {
		name   string
		change func(c *channel.Config)
		want   string
	}{
		{"bad name", func(c *channel.Config) { c.Name = "OA Hook" }, "channel name"},
		{"email is taken", func(c *channel.Config) { c.Name = "email" }, "built-in email"},
		{"unknown type", func(c *channel.Config) { c.Type = "fax" }, "want webhook, wecom, dingtalk or sms"},
		{"no url", func(c *channel.Config) { c.URL = "" }, "url (or url_file) is required"},
		{"url and url_file", func(c *channel.Config) { c.URLFile = empty }, "not both"},
		{"empty url_file", func(c *channel.Config) { c.URL, c.URLFile = "", empty }, "is empty"},
		{"plain http", func(c *channel.Config) { c.URL = "http://oa.example/hook?token=T0KEN" }, "plain http"},
		{"no scheme", func(c *channel.Config) { c.URL = "oa.example/hook" }, "no host"},
		{"webhook without secret", func(c *channel.Config) { c.Secret = "" }, "16+ characters is required"},
		{"short secret", func(c *channel.Config) { c.Secret = "short" }, "16+ characters is required"},
		{"wecom with secret", func(c *channel.Config) { c.Type = channel.TypeWeCom }, "not used by type wecom"},
		{"body on a webhook", func(c *channel.Config) { c.Body = "{}" }, "for type sms only"},
		{"bad min_level", func(c *channel.Config) { c.MinLevel = "V" }, "min_level"},
		{"missing ca", func(c *channel.Config) { c.CAFile = filepath.Join(dir, "nope.pem") }, "ca file"},
		{"sms without body", func(c *channel.Config) { c.Type, c.Secret = channel.TypeSMS, "" }, "body is required"},
		{"sms bad template", func(c *channel.Config) { c.Type, c.Secret, c.Body = channel.TypeSMS, "", "{{.Nope}}" }, "body template"},
		{"sms auth half", func(c *channel.Config) {
			c.Type, c.Secret, c.Body, c.AuthHeader = channel.TypeSMS, "", "{{.Text}}", "Authorization"
		}, "go together"},
		{"sms bad pattern", func(c *channel.Config) {
			c.Type, c.Secret, c.Body, c.SuccessPattern = channel.TypeSMS, "", "{{.Text}}", "("
		}, "success_pattern"},
		{"sms get with body", func(c *channel.Config) { c.Type, c.Secret, c.Body, c.Method = channel.TypeSMS, "", "{{.Text}}", "GET" }, "not sent with method GET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.change(&cfg)
			_, err := channel.New(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "T0KEN") {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
	if _, err := channel.New(ok); err != nil {
		t.Fatal(err)
	}
	// loopback http is fine (a relay on the same host, the tests)
	local := ok
	local.URL = "http://127.0.0.1:8080/hook"
	if _, err := channel.New(local); err != nil {
		t.Fatal(err)
	}
}

// TestCarries: a channel's min_level, and no SMS for old warnings.
func TestCarries(t *testing.T) {
	sms, err := channel.New(channel.Config{Name: "sms", Type: channel.TypeSMS, MinLevel: "II", URL: "https://sms.example/send",
		Body: `{{json .Text}}`})
	if err != nil {
		t.Fatal(err)
	}
	if !sms.Carries(alertevent.LevelI, email.KindAlert) || sms.Carries(alertevent.LevelIII, email.KindDigest) ||
		sms.Carries(alertevent.LevelI, email.KindSummary) {
		t.Error("sms carries the wrong levels or kinds")
	}
	hook, err := channel.New(channel.Config{Name: "oa", Type: channel.TypeWebhook, URL: "https://oa.example/hook", Secret: "0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if !hook.Carries(alertevent.LevelIV, email.KindSummary) || strings.Contains(hook.String(), "0123456789abcdef") {
		t.Errorf("webhook: %s", hook)
	}
}
