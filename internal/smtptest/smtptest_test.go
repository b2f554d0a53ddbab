package smtptest

import (
	"crypto/tls"
	"net/smtp"
	"strings"
	"testing"
)

const testMsg = "From: a@example.org\r\nTo: b@example.org\r\nMessage-ID: <m1@test>\r\nSubject: hi\r\n\r\nbody\r\n"

func TestPlain(t *testing.T) {
	srv := Start(t, Options{})
	if err := smtp.SendMail(srv.Addr, nil, "a@example.org", []string{"b@example.org"}, []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	msgs := srv.Wait(t, 1)
	m := msgs[0]
	if m.MessageID != "m1@test" || m.From != "a@example.org" || m.To[0] != "b@example.org" || m.Header.Get("Subject") != "hi" || m.TLS || m.User != "" {
		t.Errorf("got %+v", m)
	}
	if got := <-srv.Received(); got.MessageID != "m1@test" {
		t.Errorf("Received() gave %q", got.MessageID)
	}
}

func TestSTARTTLSAuth(t *testing.T) {
	srv := Start(t, Options{STARTTLS: true, Username: "u", Password: "p"})
	c, err := smtp.Dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Mail("a@example.org"); err == nil || !strings.Contains(err.Error(), "530") {
		t.Errorf("MAIL before AUTH: %v, want 530", err)
	}
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: srv.CertPool()}); err != nil {
		t.Fatalf("STARTTLS with the server's pool: %v", err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "p", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	send(t, c)
	if m := srv.Messages(); len(m) != 1 || !m[0].TLS || m[0].User != "u" {
		t.Errorf("got %+v", m)
	}
}

func TestWrongPassword(t *testing.T) {
	srv := Start(t, Options{STARTTLS: true, Username: "u", Password: "p"})
	c, err := smtp.Dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1", RootCAs: srv.CertPool()}); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(smtp.PlainAuth("", "u", "wrong", "127.0.0.1")); err == nil || !strings.Contains(err.Error(), "535") {
		t.Errorf("wrong password: %v, want 535", err)
	}
}

func send(t *testing.T, c *smtp.Client) {
	t.Helper()
	if err := c.Mail("a@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("b@example.org"); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFailures(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{name: "temporary", opts: Options{Fail: FailTemp}, want: "451"},
		{name: "permanent", opts: Options{Fail: FailPerm}, want: "550"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := Start(t, tt.opts)
			err := smtp.SendMail(srv.Addr, nil, "a@example.org", []string{"b@example.org"}, []byte(testMsg))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %s", err, tt.want)
			}
			if len(srv.Messages()) != 0 || srv.Attempts() != 1 {
				t.Errorf("%d messages, %d attempts", len(srv.Messages()), srv.Attempts())
			}
		})
	}
	t.Run("fail count", func(t *testing.T) {
		srv := Start(t, Options{Fail: FailPerm, FailCount: 1})
		if err := smtp.SendMail(srv.Addr, nil, "a@example.org", []string{"b@example.org"}, []byte(testMsg)); err == nil {
			t.Fatal("first attempt succeeded")
		}
		if err := smtp.SendMail(srv.Addr, nil, "a@example.org", []string{"b@example.org"}, []byte(testMsg)); err != nil {
			t.Fatalf("second attempt: %v", err)
		}
	})
	t.Run("down", func(t *testing.T) {
		srv := Start(t, Options{Fail: FailDown})
		if _, err := smtp.Dial(srv.Addr); err == nil {
			t.Fatal("dial succeeded")
		}
	})
}
