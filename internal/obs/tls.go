package obs

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/layoffwatch/layoffwatch/internal/tlsconf"
)

// ServerTLS is the TLS of a component's HTTP server: embed it in the
// component's options (`embed:""`) to give it --tls-cert, --tls-key and
// --tls-client-ca (LAYOFFWATCH_TLS_* twins), the gateway's names. The alert
// component serves its acknowledge links, API and /metrics this way; the
// officials' console is meant to embed it too and serve through Listen and
// ServeListener.
type ServerTLS struct {
	TLSCert     string `help:"TLS certificate chain (PEM): serve HTTPS only (reloaded when the file changes)." type:"path" name:"tls-cert"`
	TLSKey      string `help:"TLS private key (PEM) of --tls-cert." type:"path" name:"tls-key"`
	TLSClientCA string `help:"CA (PEM) whose client certificates are required (mutual TLS, e.g. for a scraper or a proxy)." type:"path" name:"tls-client-ca"`
}

func (s ServerTLS) server() tlsconf.Server {
	return tlsconf.Server{CertFile: s.TLSCert, KeyFile: s.TLSKey, ClientCAFile: s.TLSClientCA}
}

// Enabled reports whether a certificate is configured.
func (s ServerTLS) Enabled() bool { return s.server().Enabled() }

// Validate loads the files once, without network I/O.
func (s ServerTLS) Validate() error { return s.server().Validate("http") }

// Config returns the server's TLS configuration; nil serves plain HTTP.
func (s ServerTLS) Config() (*tls.Config, error) { return s.server().Config("http") }

// Listen opens addr, speaking TLS when tc is not nil: what ServeListener
// serves on.
func Listen(addr string, tc *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}
