// Package static serves a web UI's embedded assets (the gateway's report
// form, the console).
package static

import (
	"io/fs"
	"net/http"
	"strings"
)

// Handler serves the files of fsys under prefix ("/static/"). A name that
// is not a file path fsys can hold — invalid UTF-8, an empty or ".."
// element, the bare prefix (a directory listing) — is 404 Not Found:
// http.FileServer answers 500 for a name its file system refuses as
// invalid, and lists directories.
func Handler(prefix string, fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.StripPrefix(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" || name == "." || !fs.ValidPath(name) {
			notFound(w, r)
			return
		}
		if info, err := fs.Stat(fsys, name); err == nil && info.IsDir() {
			notFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
}

// notFound answers 404 without the caching headers a caller set for the
// files (as http.FileServer does on its errors).
func notFound(w http.ResponseWriter, r *http.Request) {
	for _, h := range []string{"Cache-Control", "Etag", "Last-Modified"} {
		w.Header().Del(h)
	}
	http.NotFound(w, r)
}
