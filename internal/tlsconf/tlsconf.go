// Package tlsconf turns PEM files named on the command line into TLS
// configurations: the client side of every connection layoffwatch opens to
// Kafka and ClickHouse (whom to trust, who we are), and the server side of
// the HTTP endpoints it serves. One home for the rules every component
// shares: TLS 1.2 at least, a CA file replaces the system pool, a client
// certificate needs its key, and skipping verification is allowed only when
// asked for by name — and then loudly (Warning).
//
// It does not choose flag names: each component's options struct has its
// own (--kafka-tls-ca-file, --clickhouse-tls-ca-file, --tls-cert) and
// converts to Client or Server.
package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Client says how a client checks its server and, optionally, proves who
// it is with a certificate of its own.
type Client struct {
	Enable             bool   // speak TLS
	CAFile             string // PEM bundle to trust instead of the system pool; empty: the system pool
	CertFile, KeyFile  string // client certificate and key (mutual TLS); both or neither
	ServerName         string // expected name in the server's certificate; empty: the host dialled
	InsecureSkipVerify bool   // accept any certificate: only for a test bench, never in production
}

// Enabled reports whether the client speaks TLS: asked for, or implied by
// any TLS file or setting.
func (c Client) Enabled() bool {
	return c.Enable || c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "" || c.InsecureSkipVerify
}

// Validate checks the settings and reads the files, so that a missing or
// malformed file is reported before any connection is tried. It does no
// network I/O. what names the connection in errors ("kafka", "clickhouse").
func (c Client) Validate(what string) error {
	_, err := c.Config(what)
	return err
}

// Config returns the TLS configuration, or nil when TLS is off.
func (c Client) Config(what string) (*tls.Config, error) {
	if !c.Enabled() {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.InsecureSkipVerify {
		if c.CAFile != "" {
			return nil, fmt.Errorf("%s tls: a CA file and skipping verification contradict each other; drop one", what)
		}
		conf.InsecureSkipVerify = true //nolint:gosec // asked for by name, and logged as a warning (Warning)
	}
	if c.CAFile != "" {
		pool, err := readPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%s tls: %w", what, err)
		}
		conf.RootCAs = pool
	}
	switch {
	case (c.CertFile == "") != (c.KeyFile == ""):
		return nil, fmt.Errorf("%s tls: a client certificate needs its key, and a key its certificate", what)
	case c.CertFile != "":
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%s tls: client certificate: %w", what, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf, nil
}

// Warning is the sentence to log, at warning level, when the settings
// weaken security; empty when they do not.
func (c Client) Warning(what string) string {
	if c.InsecureSkipVerify {
		return what + " tls: certificate verification is OFF (insecure skip verify): anyone between here and the server can read and change " +
			"everything, passwords included. Use a CA file instead; never run this way in production."
	}
	return ""
}

// String describes the settings for logs (there is nothing secret in them:
// the files hold certificates and the key stays in its file).
func (c Client) String() string {
	if !c.Enabled() {
		return "tls=off"
	}
	var b strings.Builder
	b.WriteString("tls=on")
	if c.CAFile != "" {
		b.WriteString(" ca=" + c.CAFile)
	}
	if c.CertFile != "" {
		b.WriteString(" client_cert=" + c.CertFile)
	}
	if c.ServerName != "" {
		b.WriteString(" server_name=" + c.ServerName)
	}
	if c.InsecureSkipVerify {
		b.WriteString(" INSECURE_SKIP_VERIFY")
	}
	return b.String()
}

func readPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file) //nolint:gosec // a path the operator names
	if err != nil {
		return nil, fmt.Errorf("ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("ca file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// Server is a server's certificate and key, and optionally the CA its
// clients must present certificates from (mutual TLS).
type Server struct {
	CertFile, KeyFile string
	ClientCAFile      string
}

// Enabled reports whether a certificate is configured.
func (s Server) Enabled() bool { return s.CertFile != "" || s.KeyFile != "" }

// Validate checks the settings and loads the files once, without network
// I/O.
func (s Server) Validate(what string) error {
	_, err := s.Config(what)
	return err
}

// Config returns the server's TLS configuration, or nil when none is
// configured. The certificate files are read again when they change (at
// most once a minute is checked), so a renewed certificate is served
// without a restart.
func (s Server) Config(what string) (*tls.Config, error) {
	if !s.Enabled() {
		if s.ClientCAFile != "" {
			return nil, fmt.Errorf("%s tls: a client CA needs a server certificate and key", what)
		}
		return nil, nil
	}
	if s.CertFile == "" || s.KeyFile == "" {
		return nil, fmt.Errorf("%s tls: the certificate and the key go together", what)
	}
	r := &reloader{cert: s.CertFile, key: s.KeyFile, now: time.Now}
	if err := r.load(); err != nil {
		return nil, fmt.Errorf("%s tls: %w", what, err)
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.get}
	if s.ClientCAFile != "" {
		pool, err := readPool(s.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%s tls: client %w", what, err)
		}
		conf.ClientCAs, conf.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return conf, nil
}

// reloader serves a certificate and reloads it when its files change.
type reloader struct {
	cert, key string
	now       func() time.Time

	mu      sync.Mutex
	current *tls.Certificate
	stamp   [2]time.Time // modification times of cert and key when loaded
	checked time.Time
}

func (r *reloader) load() error {
	c, err := tls.LoadX509KeyPair(r.cert, r.key)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	r.current, r.stamp = &c, r.mtimes()
	return nil
}

func (r *reloader) mtimes() [2]time.Time {
	var out [2]time.Time
	for i, f := range []string{r.cert, r.key} {
		if st, err := os.Stat(f); err == nil {
			out[i] = st.ModTime()
		}
	}
	return out
}

// get hands out the certificate; a renewed pair that does not load (half
// written) leaves the old one in place until the next check.
func (r *reloader) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= time.Minute {
		r.checked = now
		if r.mtimes() != r.stamp {
			_ = r.load()
		}
	}
	if r.current == nil {
		return nil, errors.New("no certificate")
	}
	return r.current, nil
}
