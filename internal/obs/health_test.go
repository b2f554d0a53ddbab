package obs

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHealthEndpoints(t *testing.T) {
	var chErr error
	h := &Health{}
	h.Check("clickhouse", func(context.Context) error { return chErr })
	h.Check("kafka", func(context.Context) error { return nil })
	mux := http.NewServeMux()
	h.Register(mux)

	tests := []struct {
		name       string
		ready      bool
		chErr      error
		wantStatus int
		want       []string
		notWant    []string
	}{
		{name: "not started", ready: false, wantStatus: 503, want: []string{"FAIL started: not started, or stopping", "ok   clickhouse", "ok   kafka"}},
		{name: "started, all reachable", ready: true, wantStatus: 200, want: []string{"ok   clickhouse", "ok   kafka"}, notWant: []string{"FAIL"}},
		{name: "clickhouse down", ready: true, chErr: errors.New("dial tcp 127.0.0.1:9000:\nconnection refused"), wantStatus: 503,
			want: []string{"FAIL clickhouse: dial tcp 127.0.0.1:9000: connection refused", "ok   kafka"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.SetReady(tt.ready)
			chErr = tt.chErr
			code, body := get(t, mux, "/readyz")
			if code != tt.wantStatus {
				t.Errorf("/readyz %d, want %d:\n%s", code, tt.wantStatus, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w+"\n") {
					t.Errorf("/readyz lacks line %q:\n%s", w, body)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(body, w) {
					t.Errorf("/readyz has %q:\n%s", w, body)
				}
			}
			// alive whatever the dependencies do
			if code, body := get(t, mux, "/healthz"); code != 200 || body != "ok\n" {
				t.Errorf("/healthz %d %q", code, body)
			}
		})
	}
}

// TestHealthCheckThatHangs: a dependency that never answers (a frozen
// server) fails its check after CheckTimeout, even if the check ignores its
// context, and does not hold the others.
func TestHealthCheckThatHangs(t *testing.T) {
	h := &Health{}
	h.SetReady(true)
	block := make(chan struct{})
	defer close(block)
	h.Check("frozen", func(context.Context) error { <-block; return nil })
	h.Check("fine", func(context.Context) error { return nil })
	start := time.Now()
	res := h.Ready(context.Background())
	if len(res) != 2 || res[0].Name != "frozen" || res[0].Err == nil || res[1].Name != "fine" || res[1].Err != nil {
		t.Fatalf("results %+v", res)
	}
	if !strings.Contains(res[0].Err.Error(), "no answer within") {
		t.Errorf("frozen check error %q does not say it timed out", res[0].Err)
	}
	if waited := time.Since(start); waited < CheckTimeout {
		t.Errorf("returned after %s, before the check timed out", waited)
	}
}

// TestHealthInclude: a stack is ready when each of its components is, and
// says which one is not.
func TestHealthInclude(t *testing.T) {
	ingest, detect, all := &Health{}, &Health{}, &Health{}
	ingest.Check("clickhouse", func(context.Context) error { return errors.New("refused") })
	detect.Check("last pass", func(context.Context) error { return nil })
	all.Include("ingest", ingest)
	all.Include("detector", detect)
	ingest.SetReady(true)
	all.SetReady(true)
	var got []string
	for _, r := range all.Ready(context.Background()) {
		got = append(got, r.Name+"="+map[bool]string{true: "ok", false: "fail"}[r.Err == nil])
	}
	want := "ingest clickhouse=fail detector started=fail detector last pass=ok"
	if strings.Join(got, " ") != want {
		t.Fatalf("got  %s\nwant %s", strings.Join(got, " "), want)
	}
}
