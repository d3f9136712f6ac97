package console_test

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"paradise/internal/console"
)

var files = fstest.MapFS{
	"index.html":           {Data: []byte(`<meta name="csp-nonce" content="__CSP_NONCE__"><script src="/admin/assets/index-abc.js"></script>`)},
	"assets/index-abc.js":  {Data: []byte("console.log(1)")},
	"assets/index-abc.css": {Data: []byte("body{margin:0}")},
}

func get(t *testing.T, h http.Handler, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

var nonceRE = regexp.MustCompile(`'nonce-([^']+)'`)

// TestIndexNonce: every answer of the page has a fresh nonce, the same in
// its policy and its csp-nonce meta element, and the policy allows no
// inline script or style.
func TestIndexNonce(t *testing.T) {
	h := console.Handler(files)
	seen := map[string]bool{}
	for _, path := range []string{"/admin/", "/admin/devices/7", "/admin/index.html"} {
		t.Run(path, func(t *testing.T) {
			w := get(t, h, path)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			csp := w.Header().Get("Content-Security-Policy")
			m := nonceRE.FindStringSubmatch(csp)
			if m == nil || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self';") {
				t.Fatalf("policy %q", csp)
			}
			if !strings.Contains(w.Body.String(), `content="`+m[1]+`"`) || strings.Contains(w.Body.String(), "__CSP_NONCE__") {
				t.Fatalf("page %q does not carry the policy's nonce %s", w.Body.String(), m[1])
			}
			if seen[m[1]] {
				t.Fatalf("nonce %s reused", m[1])
			}
			seen[m[1]] = true
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Fatalf("Cache-Control %q", got)
			}
		})
	}
}

// TestAssets: built assets are served as they are, cached for good, with
// a policy that allows no nonce; a missing asset is a 404, not the page.
func TestAssets(t *testing.T) {
	h := console.Handler(files)
	for _, tc := range []struct {
		path, contentType string
	}{
		{"/admin/assets/index-abc.js", "text/javascript"},
		{"/admin/assets/index-abc.css", "text/css"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := get(t, h, tc.path)
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), tc.contentType) {
				t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
			}
			if !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
				t.Fatalf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
			if csp := w.Header().Get("Content-Security-Policy"); nonceRE.MatchString(csp) || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
				t.Fatalf("asset policy %q", csp)
			}
		})
	}
	if w := get(t, h, "/admin/assets/gone.js"); w.Code != http.StatusNotFound {
		t.Fatalf("missing asset: status %d", w.Code)
	}
}
