// Package console serves the admin web console (console/, built by `make
// console` into dist/ here and committed) at /admin/, from assets embedded
// in the binary: running it needs nothing but the binary, and no network
// beyond the service itself (no CDN).
package console

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"go.uber.org/fx"

	"paradise/internal/httpapi"
)

// Module contributes the console's routes.
var Module = fx.Module("console", fx.Provide(
	httpapi.AsRoute(Route),
	httpapi.AsRoute(Redirect),
))

//go:embed all:dist
var dist embed.FS

// noncePlaceholder is in the built index.html (console/index.html) where
// each answer puts its own CSP nonce, for the style elements the UI
// library inserts at run time.
const noncePlaceholder = "__CSP_NONCE__"

// policy is the Content-Security-Policy of every /admin/ answer: scripts,
// styles, images, fonts and requests from this origin only; style
// elements only from this origin or with the page's nonce; no frames,
// plugins or form posts elsewhere. %s is the nonce.
//
// No 'unsafe-inline' anywhere. The UI library's run-time <style> elements
// carry the nonce (console/src: ConfigProvider csp, and a shim giving
// rc-util's dynamicCSS the nonce for the two helpers ConfigProvider does
// not reach). Style attributes need no allowance: the console and its
// libraries set styles through the CSSOM (element.style), which CSP does
// not govern, never by writing a style attribute's text; the browser test
// fails on any violation.
const policy = "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-%s'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Route serves the console under /admin/: assets by path, and index.html
// for every other path (the console routes in the browser).
func Route() httpapi.Route {
	files, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return httpapi.Route{Pattern: "GET /admin/", Handler: Handler(files)}
}

// Redirect sends /admin to /admin/.
func Redirect() httpapi.Route {
	return httpapi.Route{Pattern: "GET /admin", Handler: http.RedirectHandler("/admin/", http.StatusMovedPermanently)}
}

// Handler serves the built console in files.
func Handler(files fs.FS) http.Handler {
	index, _ := fs.ReadFile(files, "index.html")
	assets := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/admin")
		name = strings.TrimPrefix(name, "/")
		if name != "" && name != "index.html" {
			if st, err := fs.Stat(files, name); err == nil && !st.IsDir() {
				h.Set("Content-Security-Policy", strings.Replace(policy, "'nonce-%s'", "'none'", 1))
				if strings.HasPrefix(name, "assets/") {
					// Built asset names carry a content hash.
					h.Set("Cache-Control", "public, max-age=31536000, immutable")
				}
				r2 := r.Clone(r.Context())
				r2.URL.Path = "/" + name
				assets.ServeHTTP(w, r2)
				return
			}
			if strings.HasPrefix(name, "assets/") {
				http.NotFound(w, r)
				return
			}
		}
		if index == nil {
			http.Error(w, "The console is not built: run make console.", http.StatusNotFound)
			return
		}
		nonce := newNonce()
		h.Set("Content-Security-Policy", strings.Replace(policy, "%s", nonce, 1))
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		_, _ = w.Write(bytes.ReplaceAll(index, []byte(noncePlaceholder), []byte(nonce)))
	})
}

func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}
