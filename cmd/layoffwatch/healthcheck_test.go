package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/layoffwatch/layoffwatch/internal/localstack"
	"github.com/layoffwatch/layoffwatch/internal/obs"
)

// TestHealthcheck runs the command against a real /readyz (internal/obs):
// exit 0 when ready, otherwise non-zero with the failing dependency named.
func TestHealthcheck(t *testing.T) {
	var clickhouse error
	h := &obs.Health{}
	h.Check("clickhouse", func(context.Context) error { return clickhouse })
	h.Check("kafka", func(context.Context) error { return nil })
	h.SetReady(true)
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	port, err := localstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name       string
		url        string
		clickhouse error
		wantCode   int
		wantErr    []string
	}{
		{name: "ready", url: srv.URL + "/readyz", wantCode: 0},
		{name: "clickhouse down", url: srv.URL + "/readyz", clickhouse: errors.New("dial tcp 127.0.0.1:9000: connection refused"), wantCode: 1,
			wantErr: []string{"503 Service Unavailable", "not ready: clickhouse: dial tcp 127.0.0.1:9000: connection refused"}},
		{name: "alive while clickhouse is down", url: srv.URL + "/healthz", clickhouse: errors.New("refused"), wantCode: 0},
		{name: "nothing listens", url: fmt.Sprintf("http://127.0.0.1:%d/readyz", port), wantCode: 1, wantErr: []string{"connection refused"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clickhouse = tt.clickhouse
			var stdout, stderr bytes.Buffer
			code := run([]string{"healthcheck", tt.url}, nil, &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.wantCode, stderr.String())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("stderr %q lacks %q", stderr.String(), w)
				}
			}
			if strings.Contains(stderr.String(), "kafka") {
				t.Errorf("stderr names kafka, which is fine: %q", stderr.String())
			}
		})
	}
}
