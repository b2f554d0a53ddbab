// Package smtptest runs a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 for tests: the email sender's and the alert component's
// integration tests deliver to it and assert on exactly what arrived. It owns
// nothing else: no mail parsing beyond the headers, no delivery.
//
// Usage:
//
//	srv := smtptest.Start(t, smtptest.Options{})        // plain SMTP, no auth
//	// point the code under test at srv.Addr (or srv.Host, srv.Port)
//	msgs := srv.Messages()                               // everything accepted so far
//	m := srv.Wait(t, 1)                                  // or wait for asynchronous senders
//	m[0].MessageID, m[0].Header.Get("Subject"), m[0].Data
//
// Options:
//
//   - STARTTLS: offer STARTTLS with a self-signed certificate for
//     127.0.0.1 and localhost generated for the test (or Options.Cert);
//     srv.CertPool trusts it, or the client skips verification.
//   - ImplicitTLS: TLS from the first byte (SMTPS, "tls" mode).
//   - Username and Password: offer AUTH PLAIN and require it before MAIL.
//     Without TLS the server allows AUTH in the clear (it is a test).
//   - Fail: simulate a failing server. FailDown returns the address of a
//     port nothing listens on (connection refused); FailTemp answers RCPT TO
//     with 451 4.3.0; FailPerm with 550 5.1.1; FailStall accepts the
//     connection and greets but never answers EHLO, until the test ends.
//     FailCount limits the failure to the first FailCount transactions (0:
//     every one), so a retry can succeed.
//
// The server stops at the end of the test (t.Cleanup). Every method is safe
// for concurrent use.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Failure is a failure mode to simulate.
type Failure int

// Failure modes.
const (
	FailNone  Failure = iota
	FailDown          // nothing listens: connection refused
	FailTemp          // RCPT TO answered 451 4.3.0 (retry later)
	FailPerm          // RCPT TO answered 550 5.1.1 (permanent rejection)
	FailStall         // greets, then never answers EHLO
)

// Options configure the server. The zero value is plain SMTP without auth.
type Options struct {
	STARTTLS    bool             // offer STARTTLS
	ImplicitTLS bool             // TLS from the first byte
	Cert        *tls.Certificate // nil: a self-signed one for 127.0.0.1 and localhost
	Username    string           // non-empty: AUTH PLAIN required
	Password    string
	Fail        Failure
	FailCount   int // fail only the first FailCount transactions; 0: all
}

// Message is one accepted message.
type Message struct {
	From      string
	To        []string
	Data      []byte      // the message as received (CRLF line ends)
	Header    mail.Header // parsed header; nil if it did not parse
	MessageID string      // Message-ID without <>
	User      string      // the AUTH PLAIN user, "" without auth
	TLS       bool        // the session was encrypted
}

// Server is a running test server.
type Server struct {
	Addr string // host:port
	Host string // 127.0.0.1
	Port int

	opts     Options
	pool     *x509.CertPool
	srv      *smtp.Server
	stop     chan struct{}
	received chan Message

	mu       sync.Mutex
	msgs     []Message
	attempts int // transactions that reached RCPT TO
}

// Start starts a server on 127.0.0.1 at a random port and stops it when the
// test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{opts: o, stop: make(chan struct{}), received: make(chan Message, 1024)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtptest: listen: %v", err)
	}
	s.Addr = l.Addr().String()
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	if o.Fail == FailDown {
		// The port was free a moment ago and nothing listens now.
		_ = l.Close()
		return s
	}

	var tlsConf *tls.Config
	if o.STARTTLS || o.ImplicitTLS {
		cert := o.Cert
		if cert == nil {
			c, err := SelfSigned()
			if err != nil {
				t.Fatalf("smtptest: %v", err)
			}
			cert = &c
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			t.Fatalf("smtptest: parse certificate: %v", err)
		}
		s.pool = x509.NewCertPool()
		s.pool.AddCert(leaf)
		tlsConf = &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
	}

	srv := smtp.NewServer(backend{s})
	srv.Domain = "smtptest.local"
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	srv.MaxMessageBytes = 32 << 20
	srv.AllowInsecureAuth = true
	srv.ErrorLog = testLogger{t}
	if o.STARTTLS {
		srv.TLSConfig = tlsConf
	}
	if o.ImplicitTLS {
		l = tls.NewListener(l, tlsConf)
	}
	s.srv = srv
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l)
	}()
	t.Cleanup(func() {
		close(s.stop) // release stalled sessions first
		_ = srv.Close()
		<-done
	})
	return s
}

// CertPool trusts the server's certificate (nil without TLS).
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// Messages returns the messages accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Received delivers each accepted message once, in order, for tests of
// asynchronous senders. It is buffered (1024); Messages is unaffected.
func (s *Server) Received() <-chan Message { return s.received }

// Attempts counts the transactions that reached RCPT TO, accepted or not.
func (s *Server) Attempts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

// Wait waits until at least n messages were accepted and returns them all.
// It fails the test after 10 s: a limit for a broken test, not a timing
// assertion.
func (s *Server) Wait(t testing.TB, n int) []Message {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := s.Messages(); len(m) >= n {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("smtptest: waited for %d messages, got %d", n, len(s.Messages()))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// SelfSigned generates a certificate for 127.0.0.1, ::1 and localhost, valid
// from an hour ago for a day.
func SelfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// failNow counts a transaction and tells whether it must fail.
func (s *Server) failNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	return s.opts.FailCount == 0 || s.attempts <= s.opts.FailCount
}

type backend struct{ s *Server }

func (b backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if b.s.opts.Fail == FailStall {
		<-b.s.stop
		return nil, errors.New("stopped")
	}
	_, isTLS := c.TLSConnectionState()
	return &session{s: b.s, tls: isTLS}, nil
}

type session struct {
	s    *Server
	tls  bool
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || ss.s.opts.Username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch ss.s.opts.Fail {
	case FailTemp:
		if ss.s.failNow() {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Try again later"}
		}
	case FailPerm:
		if ss.s.failNow() {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
	default:
		ss.s.failNow()
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := Message{From: ss.from, To: append([]string(nil), ss.to...), Data: data, User: ss.user, TLS: ss.tls}
	if pm, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		m.Header = pm.Header
		m.MessageID = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(pm.Header.Get("Message-ID")), "<"), ">")
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	select {
	case ss.s.received <- m:
	default:
	}
	return nil
}

func (ss *session) Reset() { ss.from, ss.to = "", nil }

func (ss *session) Logout() error { return nil }

// testLogger sends the server's error log to the test log. It may be called
// after the test ended (a connection closing late): those lines are dropped.
type testLogger struct{ t testing.TB }

func (l testLogger) Printf(format string, v ...any) { l.log(format, v...) }
func (l testLogger) Println(v ...any)               { l.log(strings.Repeat("%v ", len(v)), v...) }

func (l testLogger) log(format string, v ...any) {
	defer func() { _ = recover() }() // t.Logf panics after the test ended
	l.t.Logf("smtptest: "+format, v...)
}
