package kafkautil

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/layoffwatch/layoffwatch/internal/tlsconf"
)

// SASL mechanisms of Security.SASLMechanism.
const (
	SASLNone     = "none"
	SASLSCRAM256 = "SCRAM-SHA-256"
	SASLSCRAM512 = "SCRAM-SHA-512"
	SASLPlain    = "PLAIN" // only over TLS: the password travels as it is
)

// Security says how every Kafka connection of a component authenticates
// and encrypts: SASL (SCRAM-SHA-256/512, or PLAIN inside TLS) and TLS,
// with the secrets in files. The same settings serve the producer, the
// consumer group, the admin requests and the health check.
type Security struct {
	SASLMechanism    string `help:"Kafka SASL mechanism: none, SCRAM-SHA-256, SCRAM-SHA-512, or PLAIN (only with TLS)." default:"none" enum:"none,SCRAM-SHA-256,SCRAM-SHA-512,PLAIN" name:"kafka-sasl-mechanism"`
	SASLUser         string `help:"Kafka SASL user." name:"kafka-sasl-user"`
	SASLPassword     string `help:"Kafka SASL password (prefer --kafka-sasl-password-file: a flag shows in the process list)." name:"kafka-sasl-password"`
	SASLPasswordFile string `help:"File holding the Kafka SASL password (one trailing newline is dropped)." name:"kafka-sasl-password-file" type:"path"`

	TLS                   bool   `help:"Connect to Kafka over TLS (implied by any other --kafka-tls-* flag)." name:"kafka-tls"`
	TLSCAFile             string `help:"CA certificates (PEM) that sign the brokers' certificates; default: the system's." name:"kafka-tls-ca-file" type:"path"`
	TLSCertFile           string `help:"Client certificate (PEM) for brokers that require one (mutual TLS)." name:"kafka-tls-cert-file" type:"path"`
	TLSKeyFile            string `help:"Key (PEM) of --kafka-tls-cert-file." name:"kafka-tls-key-file" type:"path"`
	TLSServerName         string `help:"Name expected in the brokers' certificates, when it is not the host dialled." name:"kafka-tls-server-name"`
	TLSInsecureSkipVerify bool   `help:"INSECURE: accept any broker certificate (a test bench only; logged as a warning)." name:"kafka-tls-insecure-skip-verify"`
}

// tlsClient is the TLS part as tlsconf sees it.
func (s Security) tlsClient() tlsconf.Client {
	return tlsconf.Client{Enable: s.TLS, CAFile: s.TLSCAFile, CertFile: s.TLSCertFile, KeyFile: s.TLSKeyFile,
		ServerName: s.TLSServerName, InsecureSkipVerify: s.TLSInsecureSkipVerify}
}

// resolved is Security with its files read.
type resolved struct {
	tls  *tls.Config
	sasl sasl.Mechanism
}

func (r resolved) plain() bool { return r.tls == nil && r.sasl == nil }

// resolve checks the settings and reads the files they name.
func (s Security) resolve() (resolved, error) {
	var r resolved
	var err error
	if r.tls, err = s.tlsClient().Config("kafka"); err != nil {
		return r, err
	}
	mech := s.SASLMechanism
	if mech == "" {
		mech = SASLNone
	}
	if mech == SASLNone {
		if s.SASLUser != "" || s.SASLPassword != "" || s.SASLPasswordFile != "" {
			return r, errors.New("kafka sasl: a user or password is set but --kafka-sasl-mechanism is none; name the mechanism (SCRAM-SHA-512, SCRAM-SHA-256)")
		}
		return r, nil
	}
	if s.SASLUser == "" {
		return r, fmt.Errorf("kafka sasl %s: --kafka-sasl-user is required", mech)
	}
	if s.SASLPassword != "" && s.SASLPasswordFile != "" {
		return r, errors.New("kafka sasl: set --kafka-sasl-password or --kafka-sasl-password-file, not both")
	}
	pw := s.SASLPassword
	if s.SASLPasswordFile != "" {
		b, err := os.ReadFile(s.SASLPasswordFile)
		if err != nil {
			return r, fmt.Errorf("kafka sasl password file: %w", err)
		}
		pw = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	}
	if pw == "" {
		return r, fmt.Errorf("kafka sasl %s: the password is empty", mech)
	}
	switch mech {
	case SASLSCRAM256, SASLSCRAM512:
		algo := scram.SHA256
		if mech == SASLSCRAM512 {
			algo = scram.SHA512
		}
		if r.sasl, err = scram.Mechanism(algo, s.SASLUser, pw); err != nil {
			return r, fmt.Errorf("kafka sasl %s: %w", mech, err)
		}
	case SASLPlain:
		if r.tls == nil {
			return r, errors.New("kafka sasl PLAIN sends the password as it is: use it only with --kafka-tls (or choose SCRAM-SHA-512)")
		}
		r.sasl = plain.Mechanism{Username: s.SASLUser, Password: pw}
	default:
		return r, fmt.Errorf("kafka sasl mechanism %q: want none, SCRAM-SHA-256, SCRAM-SHA-512 or PLAIN", mech)
	}
	return r, nil
}

// LogValue shows the settings in logs with the password masked.
func (s Security) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("sasl", s.mechanism()), slog.String("tls", s.tlsClient().String())}
	if s.SASLUser != "" {
		attrs = append(attrs, slog.String("sasl_user", s.SASLUser))
	}
	switch {
	case s.SASLPassword != "":
		attrs = append(attrs, slog.String("sasl_password", "***"))
	case s.SASLPasswordFile != "":
		attrs = append(attrs, slog.String("sasl_password_file", s.SASLPasswordFile))
	}
	return slog.GroupValue(attrs...)
}

// String is LogValue as text.
func (s Security) String() string { return s.LogValue().String() }

func (s Security) mechanism() string {
	if s.SASLMechanism == "" {
		return SASLNone
	}
	return s.SASLMechanism
}

// LogValue shows the options in logs with secrets masked.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("brokers", strings.Join(o.Brokers, ",")), slog.Any("security", o.Security))
}

// warn logs, once per client built, what weakens security.
func (s Security) warn(log *slog.Logger) {
	if w := s.tlsClient().Warning("kafka"); w != "" && log != nil {
		log.Warn(w)
	}
}

// transport is the round-tripper of writers and admin clients: nil (kafka-go's
// shared default) without TLS or SASL. Should the files have become
// unreadable since Validate, every request fails with the reason.
func (o Options) transport(log *slog.Logger) kafka.RoundTripper {
	r, err := o.resolve()
	if err == nil && r.plain() {
		return nil
	}
	o.warn(log)
	t := &kafka.Transport{DialTimeout: 10 * time.Second, TLS: r.tls, SASL: r.sasl, ClientID: "layoffwatch"}
	if err != nil {
		t.Dial = func(context.Context, string, string) (net.Conn, error) { return nil, err }
	}
	return t
}

// dialer is the dialer of consumer readers: nil (kafka-go's default)
// without TLS or SASL.
func (o Options) dialer(log *slog.Logger) *kafka.Dialer {
	r, err := o.resolve()
	if err == nil && r.plain() {
		return nil
	}
	o.warn(log)
	d := &kafka.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: r.tls, SASLMechanism: r.sasl, ClientID: "layoffwatch"}
	if err != nil {
		d.DialFunc = func(context.Context, string, string) (net.Conn, error) { return nil, err }
	}
	return d
}

// client is an admin client; done closes what it opened.
func (o Options) client(timeout time.Duration) (*kafka.Client, func(), error) {
	r, err := o.resolve()
	if err != nil {
		return nil, nil, err
	}
	c := &kafka.Client{Addr: kafka.TCP(o.Brokers...), Timeout: timeout}
	if r.plain() {
		return c, func() {}, nil
	}
	t := &kafka.Transport{DialTimeout: timeout, TLS: r.tls, SASL: r.sasl, ClientID: "layoffwatch"}
	c.Transport = t
	return c, t.CloseIdleConnections, nil
}

// String is LogValue as text.
func (o Options) String() string { return o.LogValue().String() }

// explain adds what an error most likely means when SASL is on: a broker
// that refuses a user or password answers SASL_AUTHENTICATION_FAILED, or
// (some brokers, kfake) just closes the connection, which kafka-go reports
// as an EOF.
func (s Security) explain(err error) error {
	if err == nil || s.mechanism() == SASLNone {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, kafka.SASLAuthenticationFailed) {
		hint := "check the user and password"
		if !s.tlsClient().Enabled() {
			hint += ", and whether the broker's listener expects TLS (--kafka-tls)"
		}
		return fmt.Errorf("%w (SASL %s as %q: the broker closed the connection or refused the login; %s)", err, s.mechanism(), s.SASLUser, hint)
	}
	return err
}
