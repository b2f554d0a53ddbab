package tlsconf

import (
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/tlsconf/tlstest"
)

// TestReload: a renewed certificate is served once its files change, within
// the minute between checks; a half-written pair keeps the old one.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	a := tlstest.New(t, dir, "a", false)
	b := tlstest.New(t, dir, "b", false)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &reloader{cert: a.ServerCert, key: a.ServerKey, now: func() time.Time { return now }}
	if err := r.load(); err != nil {
		t.Fatal(err)
	}
	issuer := func() string {
		c, err := r.get(nil)
		if err != nil {
			t.Fatal(err)
		}
		x, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return x.Issuer.CommonName
	}
	if got := issuer(); got != "a test CA" {
		t.Fatalf("issuer %q", got)
	}
	copyFile := func(from, to string) {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Hour)
		_ = os.Chtimes(to, later, later)
	}
	// half renewed: the new certificate with the old key does not load
	copyFile(b.ServerCert, a.ServerCert)
	now = now.Add(2 * time.Minute)
	if got := issuer(); got != "a test CA" {
		t.Fatalf("half-written pair served: issuer %q", got)
	}
	copyFile(b.ServerKey, a.ServerKey)
	now = now.Add(30 * time.Second)
	if got := issuer(); got != "a test CA" {
		t.Fatalf("checked again within the minute: issuer %q", got)
	}
	now = now.Add(time.Minute)
	if got := issuer(); got != "b test CA" {
		t.Fatalf("renewed pair not served: issuer %q", got)
	}
}
