package email

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/layoffwatch/layoffwatch/internal/smtptest"
)

func TestSMTPConfigValidate(t *testing.T) {
	ok := SMTPConfig{Host: "smtp.example.org", From: "layoffwatch <alerts@example.org>"}
	tests := []struct {
		name   string
		change func(*SMTPConfig)
		want   string // "" = valid
	}{
		{name: "defaults"},
		{name: "implicit tls", change: func(c *SMTPConfig) { c.TLS = TLSImplicit }},
		{name: "none with opt-out", change: func(c *SMTPConfig) { c.TLS, c.InsecureNoTLS = TLSNone, true }},
		{name: "auth", change: func(c *SMTPConfig) { c.Username, c.Password = "u", "p" }},
		{name: "auth from file", change: func(c *SMTPConfig) { c.Username, c.PasswordFile = "u", "/run/secrets/smtp" }},
		{name: "no host", change: func(c *SMTPConfig) { c.Host = "" }, want: "host: required"},
		{name: "host with scheme", change: func(c *SMTPConfig) { c.Host = "smtp://x" }, want: "host"},
		{name: "host with port", change: func(c *SMTPConfig) { c.Host = "x:25" }, want: "host"},
		{name: "bad port", change: func(c *SMTPConfig) { c.Port = 70000 }, want: "port"},
		{name: "none without opt-out", change: func(c *SMTPConfig) { c.TLS = TLSNone }, want: "insecure_no_tls"},
		{name: "opt-out without none", change: func(c *SMTPConfig) { c.InsecureNoTLS = true }, want: "insecure_no_tls"},
		{name: "unknown tls", change: func(c *SMTPConfig) { c.TLS = "ssl" }, want: `tls "ssl"`},
		{name: "two passwords", change: func(c *SMTPConfig) { c.Username, c.Password, c.PasswordFile = "u", "p", "f" }, want: "only one"},
		{name: "password without user", change: func(c *SMTPConfig) { c.Password = "p" }, want: "username"},
		{name: "user without password", change: func(c *SMTPConfig) { c.Username = "u" }, want: "password"},
		{name: "no from", change: func(c *SMTPConfig) { c.From = "" }, want: "from: required"},
		{name: "bad from", change: func(c *SMTPConfig) { c.From = "not an address" }, want: "from"},
		{name: "from with CRLF", change: func(c *SMTPConfig) { c.From = "a@example.org\r\nBcc: b@example.org" }, want: "from"},
		{name: "negative timeout", change: func(c *SMTPConfig) { c.Timeout = -time.Second }, want: "timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			if tt.change != nil {
				tt.change(&c)
			}
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSMTPConfigString(t *testing.T) {
	c := SMTPConfig{Host: "smtp.example.org", From: "a@example.org", Username: "u", Password: "s3cret"}
	if s := c.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "smtp.example.org:587") {
		t.Errorf("String() = %q", s)
	}
}

func TestNewSenderPasswordFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pw")
	if err := os.WriteFile(f, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := NewSender(SMTPConfig{Host: "h", From: "a@example.org", Username: "u", PasswordFile: f})
	if err != nil {
		t.Fatal(err)
	}
	if s.password != "s3cret" {
		t.Errorf("password %q", s.password)
	}
	if _, err := NewSender(SMTPConfig{Host: "h", From: "a@example.org", Username: "u", PasswordFile: filepath.Join(dir, "missing")}); err == nil {
		t.Error("missing password file: no error")
	}
	if _, err := NewSender(SMTPConfig{Host: "h"}); err == nil {
		t.Error("invalid config: no error")
	}
}

// testMessage renders a sample alert for delivery tests.
func testMessage(t *testing.T, id string) *gomail.Msg {
	t.Helper()
	r := newTestRenderer(t)
	n := Sample(KindAlert, LangZh, true)
	n.MessageID = id
	m, err := r.Render(n, "layoffwatch <alerts@example.org>")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sender(t *testing.T, srv *smtptest.Server, change func(*SMTPConfig)) *Sender {
	t.Helper()
	c := SMTPConfig{Host: srv.Host, Port: srv.Port, From: "alerts@example.org", Timeout: 5 * time.Second}
	if change != nil {
		change(&c)
	}
	s, err := NewSender(c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func plain(c *SMTPConfig) { c.TLS, c.InsecureNoTLS = TLSNone, true }

func TestSendPlain(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{})
	s := sender(t, srv, plain)
	retry, err := s.Send(context.Background(), testMessage(t, "plain.1@layoffwatch"))
	if err != nil {
		t.Fatalf("Send: %v (retry %v)", err, retry)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages", len(msgs))
	}
	m := msgs[0]
	if m.MessageID != "plain.1@layoffwatch" || m.From != "alerts@example.org" || len(m.To) != 1 || m.To[0] != "zhangsan@example.org" || m.TLS {
		t.Errorf("received %+v", m)
	}
	p := parseRaw(t, m.Data)
	if p.Subject != "[II级 橙色预警] 兰州市城关区：5家企业同月减员超过50人或30%" || len(p.Images) != 1 || p.Text == "" || p.HTML == "" {
		t.Errorf("received subject %q, %d images", p.Subject, len(p.Images))
	}
}

func TestSendSTARTTLSAuth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{STARTTLS: true, Username: "alerts", Password: "s3cret"})
	s := sender(t, srv, func(c *SMTPConfig) {
		c.Username, c.Password, c.InsecureSkipVerify = "alerts", "s3cret", true
	})
	if retry, err := s.Send(context.Background(), testMessage(t, "tls.1@layoffwatch")); err != nil {
		t.Fatalf("Send: %v (retry %v)", err, retry)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "alerts" || msgs[0].MessageID != "tls.1@layoffwatch" {
		t.Fatalf("received %+v", msgs)
	}
}

func TestSendImplicitTLS(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{ImplicitTLS: true, Username: "alerts", Password: "s3cret"})
	s := sender(t, srv, func(c *SMTPConfig) {
		c.TLS, c.Username, c.Password, c.InsecureSkipVerify = TLSImplicit, "alerts", "s3cret", true
	})
	if retry, err := s.Send(context.Background(), testMessage(t, "smtps.1@layoffwatch")); err != nil {
		t.Fatalf("Send: %v (retry %v)", err, retry)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "alerts" {
		t.Fatalf("received %+v", msgs)
	}
}

func TestSendFailures(t *testing.T) {
	tests := []struct {
		name   string
		opts   smtptest.Options
		config func(*SMTPConfig)
		retry  bool
		want   string
	}{
		{name: "STARTTLS required but not offered", opts: smtptest.Options{}, retry: false, want: "STARTTLS"},
		{name: "certificate not trusted", opts: smtptest.Options{STARTTLS: true}, retry: false, want: "certificate"},
		{name: "wrong password", opts: smtptest.Options{STARTTLS: true, Username: "alerts", Password: "right"},
			config: func(c *SMTPConfig) { c.Username, c.Password, c.InsecureSkipVerify = "alerts", "wrong", true }, retry: false, want: "535"},
		{name: "server down", opts: smtptest.Options{Fail: smtptest.FailDown}, config: plain, retry: true, want: "refused"},
		{name: "550", opts: smtptest.Options{Fail: smtptest.FailPerm}, config: plain, retry: false, want: "550"},
		{name: "451", opts: smtptest.Options{Fail: smtptest.FailTemp}, config: plain, retry: true, want: "451"},
		{name: "plain client, TLS server", opts: smtptest.Options{ImplicitTLS: true},
			config: func(c *SMTPConfig) { plain(c); c.Timeout = 300 * time.Millisecond }, retry: true, want: "i/o timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t, tt.opts)
			s := sender(t, srv, tt.config)
			retry, err := s.Send(context.Background(), testMessage(t, "fail.1@layoffwatch"))
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if retry != tt.retry {
				t.Errorf("retry = %v, want %v (err %v)", retry, tt.retry, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server accepted %d messages", n)
			}
		})
	}
}

func TestSendRetrySucceeds(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Fail: smtptest.FailTemp, FailCount: 1})
	s := sender(t, srv, plain)
	m := testMessage(t, "retry.1@layoffwatch")
	retry, err := s.Send(context.Background(), m)
	if err == nil || !retry {
		t.Fatalf("first attempt: retry %v, err %v", retry, err)
	}
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("second attempt: %v", err)
	}
	if msgs := srv.Messages(); len(msgs) != 1 || msgs[0].MessageID != "retry.1@layoffwatch" || srv.Attempts() != 2 {
		t.Fatalf("received %d messages in %d attempts", len(msgs), srv.Attempts())
	}
}

// TestSendTimeout: a server that never answers EHLO. The configured timeout
// ends the attempt; the 30 s guard only catches a hang.
func TestSendTimeout(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Fail: smtptest.FailStall})
	s := sender(t, srv, func(c *SMTPConfig) { plain(c); c.Timeout = 200 * time.Millisecond })
	retry, err := sendGuarded(context.Background(), t, s)
	if err == nil || !retry {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	var ne interface{ Timeout() bool }
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("error %v is not a timeout", err)
	}
}

// TestSendCancel: cancelling ctx aborts a delivery stuck on the server, long
// before the configured timeout.
func TestSendCancel(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Options{Fail: smtptest.FailStall})
	s := sender(t, srv, func(c *SMTPConfig) { plain(c); c.Timeout = time.Hour })
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	retry, err := sendGuarded(ctx, t, s)
	if err == nil || !retry || !errors.Is(err, context.Canceled) {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	if retry, err := s.Send(ctx, testMessage(t, "cancelled@layoffwatch")); err == nil || !retry {
		t.Fatalf("cancelled ctx: retry %v, err %v", retry, err)
	}
}

func sendGuarded(ctx context.Context, t *testing.T, s *Sender) (bool, error) {
	t.Helper()
	m := testMessage(t, "stall.1@layoffwatch")
	type result struct {
		retry bool
		err   error
	}
	done := make(chan result, 1)
	go func() {
		retry, err := s.Send(ctx, m)
		done <- result{retry, err}
	}()
	select {
	case r := <-done:
		return r.retry, r.err
	case <-time.After(30 * time.Second):
		t.Fatal("Send did not return: timeout or cancellation not honoured")
	}
	return false, nil
}

func TestSendNil(t *testing.T) {
	s, err := NewSender(SMTPConfig{Host: "h", From: "a@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := s.Send(context.Background(), nil); err == nil || retry {
		t.Errorf("nil message: retry %v, err %v", retry, err)
	}
}

// TestPing: Ping says whether the server answers, in each TLS mode, and
// names the server when it does not.
func TestPing(t *testing.T) {
	tests := []struct {
		name   string
		opts   smtptest.Options
		change func(*SMTPConfig)
		ok     bool
	}{
		{name: "plain", change: plain, ok: true},
		{name: "starttls", opts: smtptest.Options{STARTTLS: true}, change: func(c *SMTPConfig) { c.InsecureSkipVerify = true }, ok: true},
		{name: "implicit tls", opts: smtptest.Options{ImplicitTLS: true}, change: func(c *SMTPConfig) { c.TLS, c.InsecureSkipVerify = TLSImplicit, true }, ok: true},
		{name: "down", opts: smtptest.Options{Fail: smtptest.FailDown}, change: plain},
		{name: "implicit tls against a plain server", change: func(c *SMTPConfig) { c.TLS, c.InsecureSkipVerify = TLSImplicit, true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := smtptest.Start(t, tt.opts)
			s := sender(t, srv, tt.change)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := s.Ping(ctx)
			if (err == nil) != tt.ok {
				t.Fatalf("Ping: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), srv.Addr) {
				t.Errorf("error %q does not name %s", err, srv.Addr)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("Ping sent %d messages", n)
			}
		})
	}
}
