package main

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
)

// webFiles are the page at GET / and what it loads, under /ui/: everything is in the binary, so the
// page works without a network beyond the server itself. The example images are synthetic birds of
// pipeline/synth (docs/serving.md says how they were made).
//
//go:embed web
var webFiles embed.FS

// page serves GET / (web/index.html) and GET /ui/FILE (web/FILE); folders are not listed.
func (s *server) page(w http.ResponseWriter, r *http.Request) {
	name := "index.html"
	if r.URL.Path != "/" {
		name = r.PathValue("file")
	}
	name = path.Join("web", name)
	if st, err := fs.Stat(webFiles, name); err != nil || st.IsDir() || !fs.ValidPath(name) {
		writeError(w, errorf(http.StatusNotFound, "no such file: %s", r.URL.Path))
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, webFiles, name)
}
