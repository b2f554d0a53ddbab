// Package tlstest makes certificates for tests: a throw-away CA, a server
// certificate for the loopback names signed by it, and a client
// certificate, written as PEM files into a directory.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PKI is a CA with a server and a client certificate, as files.
type PKI struct {
	CAFile                string // the CA's certificate
	ServerCert, ServerKey string // for 127.0.0.1, ::1 and localhost
	ClientCert, ClientKey string // CN "layoffwatch-client"
	Pool                  *x509.CertPool
	ServerPair            tls.Certificate
	ca                    *x509.Certificate
	caKey                 any
}

// New makes a PKI under dir (created when missing); name tells apart
// several in one directory. With rsaKeys the server key is RSA 2048 (old
// OpenSSL builds, such as ClickHouse 18.16's, take it most readily);
// otherwise every key is ECDSA P-256.
func New(t testing.TB, dir, name string, rsaKeys bool) *PKI {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &PKI{}
	caKey := newKey(t, false)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, publicKey(caKey), caKey)
	if err != nil {
		t.Fatal(err)
	}
	p.ca, _ = x509.ParseCertificate(caDER)
	p.caKey = caKey
	p.Pool = x509.NewCertPool()
	p.Pool.AddCert(p.ca)
	p.CAFile = write(t, dir, name+"-ca.pem", "CERTIFICATE", caDER)

	srvKey := newKey(t, rsaKeys)
	srvDER := p.sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, srvKey)
	p.ServerCert = write(t, dir, name+"-server.pem", "CERTIFICATE", srvDER)
	p.ServerKey = writeKey(t, dir, name+"-server-key.pem", srvKey)
	if p.ServerPair, err = tls.LoadX509KeyPair(p.ServerCert, p.ServerKey); err != nil {
		t.Fatal(err)
	}

	cliKey := newKey(t, false)
	cliDER := p.sign(t, &x509.Certificate{
		SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "layoffwatch-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, cliKey)
	p.ClientCert = write(t, dir, name+"-client.pem", "CERTIFICATE", cliDER)
	p.ClientKey = writeKey(t, dir, name+"-client-key.pem", cliKey)
	return p
}

// ServerConfig is a TLS server configuration with the server certificate.
func (p *PKI) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.ServerPair}, MinVersion: tls.VersionTLS12}
}

func (p *PKI) sign(t testing.TB, tmpl *x509.Certificate, key any) []byte {
	t.Helper()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, publicKey(key), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func newKey(t testing.TB, rsaKey bool) any {
	t.Helper()
	if rsaKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicKey(k any) any {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return &k.PublicKey
	case *ecdsa.PrivateKey:
		return &k.PublicKey
	}
	return nil
}

func write(t testing.TB, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeKey(t testing.TB, dir, name string, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return write(t, dir, name, "PRIVATE KEY", der)
}

// ClickHouseConfig is a config.d file for a ClickHouse server (18.16 and
// later) that serves the native protocol over TLS on port with the PKI's
// server certificate, and has a user with a password (profile and quota
// "default", loopback only).
func (p *PKI) ClickHouseConfig(port int, user, password string) string {
	esc := func(s string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(s))
		return b.String()
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<yandex>
  <tcp_port_secure>%d</tcp_port_secure>
  <openSSL>
    <server>
      <certificateFile>%s</certificateFile>
      <privateKeyFile>%s</privateKeyFile>
      <verificationMode>none</verificationMode>
      <loadDefaultCAFile>false</loadDefaultCAFile>
      <cacheSessions>true</cacheSessions>
      <disableProtocols>sslv2,sslv3,tlsv1,tlsv1_1</disableProtocols>
      <preferServerCiphers>true</preferServerCiphers>
    </server>
  </openSSL>
  <users>
    <%[4]s>
      <password>%[5]s</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </%[4]s>
  </users>
</yandex>
`, port, esc(p.ServerCert), esc(p.ServerKey), user, esc(password))
}
