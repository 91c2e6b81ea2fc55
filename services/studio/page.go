package studio

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// staticFiles are the studio page: plain HTML, CSS and JavaScript, served
// as they are (no build step).
//
//go:embed static
var staticFiles embed.FS

// pageHandler serves /studio (the page) and /studio/<file> (its assets).
func pageHandler(static fs.FS) http.Handler {
	files := http.FileServerFS(static)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		name := strings.TrimPrefix(req.URL.Path, PathPage)
		name = strings.TrimPrefix(name, "/")
		if name == "" {
			name = "studio.html"
		}
		if _, err := fs.Stat(static, name); err != nil || strings.Contains(name, "/") {
			http.NotFound(w, req)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' https: data:; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		r := req.Clone(req.Context())
		r.URL.Path = "/" + name
		files.ServeHTTP(w, r)
	})
}
