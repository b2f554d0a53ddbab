package email

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// TLS modes of SMTPConfig.TLS.
const (
	TLSStartTLS = "starttls" // the default: STARTTLS, required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // plain text; only with InsecureNoTLS
)

// DefaultSMTPTimeout bounds each network step of a delivery (connect, each
// command and its reply).
const DefaultSMTPTimeout = 10 * time.Second

// SMTPConfig is the SMTP delivery configuration.
type SMTPConfig struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"` // 0: 587 (starttls), 465 (tls), 25 (none)
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile is read once by NewSender; one trailing newline is
	// dropped. Only one of Password and PasswordFile may be set.
	PasswordFile string `yaml:"password_file"`
	From         string `yaml:"from"`
	// TLS is "starttls" (default: required), "tls" (implicit) or "none"
	// (only with InsecureNoTLS).
	TLS                string        `yaml:"tls"`
	InsecureNoTLS      bool          `yaml:"insecure_no_tls"` // explicit opt-out for a local catcher
	InsecureSkipVerify bool          `yaml:"insecure_skip_verify"`
	Timeout            time.Duration `yaml:"timeout"` // default 10s
}

// withDefaults fills the defaults; the one place they live.
func (c SMTPConfig) withDefaults() SMTPConfig {
	if c.TLS == "" {
		c.TLS = TLSStartTLS
	}
	if c.Port == 0 {
		switch c.TLS {
		case TLSImplicit:
			c.Port = 465
		case TLSNone:
			c.Port = 25
		default:
			c.Port = 587
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultSMTPTimeout
	}
	return c
}

// Validate checks the configuration (with defaults applied) without any
// network I/O.
func (c SMTPConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("smtp "+format, a...)) }
	switch {
	case c.Host == "":
		bad("host: required")
	case strings.ContainsAny(c.Host, " /:\r\n\t") && net.ParseIP(c.Host) == nil:
		bad("host %q: want a host name or IP address, without scheme or port", c.Host)
	}
	if c.Port < 1 || c.Port > 65535 {
		bad("port %d: want 1–65535", c.Port)
	}
	switch c.TLS {
	case TLSStartTLS, TLSImplicit:
		if c.InsecureNoTLS {
			bad("insecure_no_tls: set, but tls is %q; set tls: none to send in plain text", c.TLS)
		}
	case TLSNone:
		if !c.InsecureNoTLS {
			bad("tls: none sends mail and passwords in plain text; it needs insecure_no_tls: true")
		}
	default:
		bad("tls %q: want starttls, tls or none", c.TLS)
	}
	if c.Password != "" && c.PasswordFile != "" {
		bad("password and password_file: set only one")
	}
	hasPassword := c.Password != "" || c.PasswordFile != ""
	if c.Username == "" && hasPassword {
		bad("username: required with a password")
	}
	if c.Username != "" && !hasPassword {
		bad("password or password_file: required with a username")
	}
	if strings.ContainsAny(c.Username, "\r\n\x00") {
		bad("username: must not contain line breaks or NUL")
	}
	if c.From == "" {
		bad("from: required")
	} else if strings.ContainsAny(c.From, "\r\n") {
		bad("from: must not contain line breaks")
	} else if _, err := mail.ParseAddress(c.From); err != nil {
		bad("from %q: %v", c.From, err)
	}
	if c.Timeout < 0 {
		bad("timeout %s: must not be negative", c.Timeout)
	}
	return errors.Join(errs...)
}

// String describes the configuration with the password masked, for logs.
func (c SMTPConfig) String() string {
	c = c.withDefaults()
	pw := ""
	switch {
	case c.Password != "":
		pw = " password=***"
	case c.PasswordFile != "":
		pw = " password_file=" + c.PasswordFile
	}
	user := ""
	if c.Username != "" {
		user = " username=" + c.Username
	}
	return fmt.Sprintf("smtp://%s tls=%s from=%s%s%s timeout=%s",
		net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), c.TLS, c.From, user, pw, c.Timeout)
}

// Sender delivers messages over SMTP, one connection per message. It is
// safe for concurrent use.
type Sender struct {
	cfg      SMTPConfig
	password string
	tls      *tls.Config
}

// NewSender validates c and reads the password file. It does not connect.
func NewSender(c SMTPConfig) (*Sender, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	s := &Sender{cfg: c, password: c.Password}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp password_file: %w", err)
		}
		s.password = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if s.password == "" {
			return nil, fmt.Errorf("smtp password_file %s: empty", c.PasswordFile)
		}
	}
	s.tls = &tls.Config{
		ServerName:         c.Host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // an explicit, documented opt-in
	}
	return s, nil
}

// Send delivers one message. retry says whether trying again later makes
// sense: true for connection failures, timeouts, a cancelled ctx and 4xx
// replies; false for 5xx replies (permanent rejection, failed
// authentication), a bad address, and TLS that cannot be had (STARTTLS not
// offered, a certificate that does not verify) — those fail the same way
// until someone changes the configuration or the recipient.
//
// Each network step is bounded by the configured timeout; cancelling ctx
// aborts the delivery at once.
func (s *Sender) Send(ctx context.Context, m *gomail.Msg) (retry bool, err error) {
	if m == nil {
		return false, errors.New("smtp send: no message")
	}
	if err := ctx.Err(); err != nil {
		return true, fmt.Errorf("smtp send: %w", err)
	}
	if len(m.GetFromString()) == 0 {
		if err := m.From(s.cfg.From); err != nil {
			return false, fmt.Errorf("smtp send: from: %w", err)
		}
	}

	// Our own dialer keeps the connection, so that cancelling ctx can close
	// it in the middle of a command: go-mail only watches ctx while dialing.
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		d := net.Dialer{Timeout: s.cfg.Timeout}
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		conns = append(conns, conn)
		mu.Unlock()
		if s.cfg.TLS != TLSImplicit {
			return conn, nil
		}
		tc := tls.Client(conn, s.tls)
		hctx, cancel := context.WithTimeout(dctx, s.cfg.Timeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		return tc, nil
	}
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	defer stop()

	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithDialContextFunc(dial),
		gomail.WithTLSConfig(s.tls),
	}
	switch s.cfg.TLS {
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default: // implicit: the dialer did TLS; none: no TLS at all
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if s.cfg.Username != "" {
		mechs := []gomail.SMTPAuthType{gomail.SMTPAuthPlain, gomail.SMTPAuthLogin}
		if s.cfg.TLS == TLSNone {
			mechs = []gomail.SMTPAuthType{gomail.SMTPAuthPlainNoEnc, gomail.SMTPAuthLoginNoEnc}
		}
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(mechs...),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.password))
	}
	client, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return false, fmt.Errorf("smtp client: %w", err)
	}
	err = client.DialAndSendWithContext(ctx, m)
	if err == nil {
		return false, nil
	}
	if ctx.Err() != nil {
		return true, fmt.Errorf("smtp send to %s: %w (%w)", s.addr(), ctx.Err(), err)
	}
	return retryable(err), fmt.Errorf("smtp send to %s: %w", s.addr(), err)
}

// Ping checks that the SMTP server answers: it connects (with TLS from the
// first byte in implicit mode), reads the 220 greeting and says QUIT. It
// sends nothing and does not log in. It is the alert component's readiness
// check.
func (s *Sender) Ping(ctx context.Context) error {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	conn, err := d.DialContext(ctx, "tcp", s.addr())
	if err != nil {
		return fmt.Errorf("smtp at %s: %w", s.addr(), err)
	}
	defer conn.Close()
	deadline := time.Now().Add(s.cfg.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	if s.cfg.TLS == TLSImplicit {
		tc := tls.Client(conn, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("smtp at %s: tls: %w", s.addr(), err)
		}
		conn = tc
	}
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("smtp at %s: greeting: %w", s.addr(), err)
	}
	if id, err := tp.Cmd("QUIT"); err == nil {
		tp.StartResponse(id)
		_, _, _ = tp.ReadResponse(221)
		tp.EndResponse(id)
	}
	return nil
}

func (s *Sender) addr() string { return net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)) }

// retryable classifies a delivery error: see Send.
func retryable(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return false // the message itself is wrong
		}
		if code := se.ErrorCode(); code != 0 {
			return code/100 == 4
		}
		return true // no reply code: the connection broke mid-transaction
	}
	var te *textproto.Error // a reply while connecting, STARTTLS or AUTH
	if errors.As(err, &te) {
		return te.Code/100 == 4
	}
	var (
		unknownAuthority x509.UnknownAuthorityError
		hostname         x509.HostnameError
		invalid          x509.CertificateInvalidError
		verify           *tls.CertificateVerificationError
		recordHeader     tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return false
	case errors.As(err, &recordHeader):
		return false // TLS spoken to a plain-text server (wrong port or mode)
	case strings.Contains(err.Error(), "does not support STARTTLS"):
		return false // go-mail's TLSMandatory error, which has no type
	case errors.Is(err, gomail.ErrNoSupportedAuthDiscovered), errors.Is(err, gomail.ErrPlainAuthNotSupported),
		errors.Is(err, gomail.ErrLoginAuthNotSupported), strings.Contains(err.Error(), "does not support SMTP AUTH"):
		return false // we have credentials the server will not take
	}
	// Refused, reset, unreachable, timed out (net.Error, io.EOF), or
	// unknown: a later attempt may succeed, and the caller bounds retries.
	return true
}
