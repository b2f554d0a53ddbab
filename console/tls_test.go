package console

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/tlsconf/tlstest"
)

// TestTLS: with --tls-cert the officials' port speaks HTTPS only: an
// official signs in and works over it, every cookie is Secure, a client
// that does not trust the CA is refused and plain HTTP gets no page; with
// --tls-client-ca only clients holding a certificate of that CA are
// served. --tls-cert with an http:// --base-url is refused.
func TestTLS(t *testing.T) {
	h := newHarness(t)
	pki := tlstest.New(t, t.TempDir(), "console", false)
	h.opts.TLS = obs.ServerTLS{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey}
	if err := h.opts.Validate(); err == nil || !strings.Contains(err.Error(), "--base-url must be https://") {
		t.Fatalf("TLS with base URL %s: %v", h.opts.BaseURL, err)
	}
	h.opts.BaseURL = "https://console.bureau.example"
	if err := h.opts.Validate(); err != nil {
		t.Fatal(err)
	}
	h.tls = &tls.Config{RootCAs: pki.Pool, MinVersion: tls.VersionTLS12}
	h.start()
	if !strings.HasPrefix(h.url, "https://") {
		t.Fatalf("url %s", h.url)
	}
	addr := strings.TrimPrefix(h.url, "https://")

	c := h.client()
	c.signIn("cg")
	if code, body := c.get("/inbox"); code != http.StatusOK || !strings.Contains(body, "兰州示例机械有限公司") {
		t.Fatalf("inbox over https: %d", code)
	}

	get := func(cl *http.Client, url string) (*http.Response, error) {
		resp, err := cl.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		return resp, err
	}
	trusting := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: h.tls}}
	resp, err := get(trusting, h.url+"/signin")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /signin: %v %v", resp, err)
	}
	if len(resp.Cookies()) == 0 {
		t.Fatal("the sign-in page set no cookie")
	}
	for _, ck := range resp.Cookies() {
		if !ck.Secure || !ck.HttpOnly {
			t.Errorf("cookie %s: Secure=%v HttpOnly=%v", ck.Name, ck.Secure, ck.HttpOnly)
		}
	}
	if resp, err := get(&http.Client{Timeout: 30 * time.Second}, "http://"+addr+"/signin"); err == nil && resp.StatusCode == http.StatusOK {
		t.Fatal("plain http served the sign-in page")
	}
	untrusting := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	if _, err := get(untrusting, h.url+"/signin"); err == nil || !strings.Contains(err.Error(), "unknown authority") {
		t.Fatalf("a client without the CA: %v", err)
	}

	// Mutual TLS: a client certificate of the CA or nothing.
	h.opts.TLS.TLSClientCA = pki.CAFile
	h.start()
	if _, err := get(trusting, h.url+"/healthz"); err == nil {
		t.Fatal("mutual TLS: served a client without a certificate")
	}
	cert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	h.tls = &tls.Config{RootCAs: pki.Pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	c = h.client()
	c.signIn("cg")
}
