package obs_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/layoffwatch/layoffwatch/internal/obs"
	"github.com/layoffwatch/layoffwatch/internal/tlsconf/tlstest"
)

// TestServeTLS: with a certificate the server speaks HTTPS only; with a
// client CA it also requires a client certificate of that CA.
func TestServeTLS(t *testing.T) {
	pki := tlstest.New(t, t.TempDir(), "http", false)
	for _, mutual := range []bool{false, true} {
		st := obs.ServerTLS{TLSCert: pki.ServerCert, TLSKey: pki.ServerKey}
		if mutual {
			st.TLSClientCA = pki.CAFile
		}
		if err := st.Validate(); err != nil {
			t.Fatal(err)
		}
		tc, err := st.Config()
		if err != nil {
			t.Fatal(err)
		}
		ln, err := obs.Listen("127.0.0.1:0", tc)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- obs.ServeListener(ctx, ln, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
				slog.New(slog.DiscardHandler))
		}()
		addr := ln.Addr().String()
		get := func(c *tls.Config, scheme string) (string, error) {
			cl := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: c}}
			resp, err := cl.Get(scheme + "://" + addr + "/")
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b), nil
		}
		withClient := &tls.Config{RootCAs: pki.Pool, MinVersion: tls.VersionTLS12}
		if mutual {
			cert, err := tls.LoadX509KeyPair(pki.ClientCert, pki.ClientKey)
			if err != nil {
				t.Fatal(err)
			}
			withClient.Certificates = []tls.Certificate{cert}
		}
		if body, err := get(withClient, "https"); err != nil || body != "ok" {
			t.Fatalf("mutual=%v: https: %q %v", mutual, body, err)
		}
		if body, err := get(nil, "http"); err == nil && body == "ok" {
			t.Fatalf("mutual=%v: plain http answered", mutual)
		}
		if _, err := get(&tls.Config{MinVersion: tls.VersionTLS12}, "https"); err == nil || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("mutual=%v: a client without the CA: %v", mutual, err)
		}
		if mutual {
			if _, err := get(&tls.Config{RootCAs: pki.Pool, MinVersion: tls.VersionTLS12}, "https"); err == nil {
				t.Fatal("no client certificate, yet served")
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if err := (obs.ServerTLS{TLSCert: pki.ServerCert}).Validate(); err == nil {
		t.Fatal("a certificate without its key validated")
	}
	if err := (obs.ServerTLS{TLSClientCA: pki.CAFile}).Validate(); err == nil {
		t.Fatal("a client CA without a certificate validated")
	}
}
