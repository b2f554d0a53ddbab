package static_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/layoffwatch/layoffwatch/internal/static"
)

func TestHandler(t *testing.T) {
	fsys := fstest.MapFS{
		"style.css":    {Data: []byte("body{}")},
		"img/logo.svg": {Data: []byte("<svg/>")},
	}
	h := static.Handler("/static/", fsys)
	for _, tt := range []struct {
		path string
		want int
	}{
		{"/static/style.css", http.StatusOK},
		{"/static/img/logo.svg", http.StatusOK},
		{"/static/missing.css", http.StatusNotFound},
		{"/static/\x8ctyle.css", http.StatusNotFound}, // invalid UTF-8: http.FileServer says 500
		{"/static/", http.StatusNotFound},             // no listing
		{"/static/img/", http.StatusNotFound},
		{"/static/img", http.StatusNotFound},
		{"/static/a//b.css", http.StatusNotFound},
	} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = tt.path
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET %q: %d, want %d", tt.path, rec.Code, tt.want)
		}
	}
}

// TestNotFoundIsNotCached: a caller's caching headers for the files are not
// kept on a 404 (http.FileServer drops them on its own errors too).
func TestNotFoundIsNotCached(t *testing.T) {
	h := static.Handler("/static/", fstest.MapFS{"style.css": {Data: []byte("body{}")}})
	for _, path := range []string{"/static/", "/static/\x8c.css"} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = path
		rec := httptest.NewRecorder()
		rec.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusNotFound || rec.Header().Get("Cache-Control") != "" {
			t.Errorf("GET %q: %d, Cache-Control %q; want 404 without it", path, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}
