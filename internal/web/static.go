package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// staticFiles serves the embedded assets under names that carry a hash of
// their content (portico.3f9a1c0d.css), so they can be cached for a year:
// a changed file gets a new name.
type staticFiles struct {
	byURLName map[string]staticFile // hashed name -> file
	urls      map[string]string     // logical name -> /static/hashed name
}

type staticFile struct {
	body        []byte
	contentType string
}

func loadStatic() (*staticFiles, error) {
	sf := &staticFiles{byURLName: map[string]staticFile{}, urls: map[string]string{}}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		name := path.Base(p)
		ext := path.Ext(name)
		sum := sha256.Sum256(body)
		hashed := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:12] + ext
		ctype := mime.TypeByExtension(ext)
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		sf.byURLName[hashed] = staticFile{body: body, contentType: ctype}
		sf.urls[name] = "/static/" + hashed
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("static files: %w", err)
	}
	return sf, nil
}

// url is the template function "asset": the cache-busting URL of a file.
func (sf *staticFiles) url(name string) (string, error) {
	u, ok := sf.urls[name]
	if !ok {
		return "", fmt.Errorf("no static file %q", name)
	}
	return u, nil
}

// serveStatic serves an embedded asset with a long, immutable cache.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) error {
	f, ok := s.static.byURLName[r.PathValue("name")]
	if !ok {
		return errNotFound
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	_, err := w.Write(f.body)
	return err
}

// favicon answers /favicon.ico, which browsers ask for whatever the page
// says: the site's SVG icon, cached for a day.
func (s *Server) favicon(w http.ResponseWriter, r *http.Request) error {
	f, ok := s.static.byURLName[strings.TrimPrefix(s.static.urls["favicon.svg"], "/static/")]
	if !ok {
		return errNotFound
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "public, max-age=86400")
	_, err := w.Write(f.body)
	return err
}
