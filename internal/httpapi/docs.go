package httpapi

import (
	_ "embed"
	"io/fs"
	"net/http"

	swaggerfiles "github.com/swaggo/files/v2"

	"paradise"
)

// Swagger UI comes from the swaggo/files module and ReDoc is vendored in
// assets/ (from the redoc npm package, see `make docs-assets`), so both
// work without a CDN.

//go:embed assets/redoc.standalone.js
var redocJS []byte

const swaggerPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Paradise API - Swagger UI</title>
<link rel="stylesheet" href="swagger-ui.css">
<link rel="icon" type="image/png" href="favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="swagger-ui-bundle.js"></script>
<script src="swagger-ui-standalone-preset.js"></script>
<script>
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "../openapi.yaml",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
};
</script>
</body>
</html>
`

const redocPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Paradise API - ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
</head>
<body>
<redoc spec-url="../openapi.yaml"></redoc>
<script src="redoc.standalone.js"></script>
</body>
</html>
`

// mountDocs serves the contracts and their viewers.
func mountDocs(mux *http.ServeMux) {
	mux.HandleFunc("GET /openapi.yaml", serveBytes("application/yaml", paradise.OpenAPI))
	mux.HandleFunc("GET /asyncapi.yaml", serveBytes("application/yaml", paradise.AsyncAPI))
	mux.HandleFunc("GET /swagger/{$}", serveBytes("text/html; charset=utf-8", []byte(swaggerPage)))
	mux.Handle("GET /swagger/", http.StripPrefix("/swagger/", swaggerAssets()))
	mux.HandleFunc("GET /redoc/{$}", serveBytes("text/html; charset=utf-8", []byte(redocPage)))
	mux.HandleFunc("GET /redoc/redoc.standalone.js", serveBytes("text/javascript; charset=utf-8", redocJS))
	mux.Handle("GET /swagger", http.RedirectHandler("/swagger/", http.StatusMovedPermanently))
	mux.Handle("GET /redoc", http.RedirectHandler("/redoc/", http.StatusMovedPermanently))
}

// swaggerAssets serves Swagger UI's static files, without the module's
// demo index page and initializer (which point at the petstore).
func swaggerAssets() http.Handler {
	files := http.FileServerFS(swaggerfiles.FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "index.html", "swagger-initializer.js":
			notFound(w, r)
			return
		}
		if _, err := fs.Stat(swaggerfiles.FS, r.URL.Path); err != nil {
			notFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func serveBytes(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(body)
	}
}
