package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"paradise/internal/testenv"
)

func TestOutsideOgen(t *testing.T) {
	e := start(t, testenv.Embedded)

	expect(t, e.Do(t, http.MethodGet, "/nope/", "", nil), http.StatusNotFound, 404)
	expect(t, e.Do(t, http.MethodGet, "/api/user/login", "", nil), http.StatusNotFound, 404)
	res := e.Do(t, http.MethodDelete, "/api/user/profile/", "", nil)
	expect(t, res, http.StatusMethodNotAllowed, 405)
	if allow := res.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "PATCH") {
		t.Fatalf("Allow %q", allow)
	}
	expect(t, e.Do(t, http.MethodGet, "/healthz", "", nil), http.StatusOK, 200)
	ready := e.Do(t, http.MethodGet, "/readyz", "", nil)
	expect(t, ready, http.StatusOK, 200)
	// The readiness group's details: which model provider answers.
	var details map[string]string
	ready.Decode(t, &details)
	if !strings.Contains(details["llm"], "development") {
		t.Fatalf("readyz details %s lack the development LLM provider", ready.Body)
	}

	// Request ids are echoed or made up.
	req, _ := http.NewRequest(http.MethodGet, e.URL+"/healthz", nil)
	req.Header.Set("X-Request-ID", "abc-123")
	if got := e.Send(t, req).Header.Get("X-Request-ID"); got != "abc-123" {
		t.Fatalf("X-Request-ID %q", got)
	}
	if got := e.Do(t, http.MethodGet, "/healthz", "", nil).Header.Get("X-Request-ID"); len(got) < 8 {
		t.Fatalf("X-Request-ID %q", got)
	}
}

func TestDocs(t *testing.T) {
	e := start(t, testenv.Embedded)
	tests := []struct {
		path, contentType, contains string
	}{
		{"/openapi.yaml", "application/yaml", "openapi: 3.0.3"},
		{"/asyncapi.yaml", "application/yaml", "asyncapi: 2.6.0"},
		{"/swagger/", "text/html", "swagger-ui-bundle.js"},
		{"/swagger/swagger-ui-bundle.js", "javascript", "SwaggerUIBundle"},
		{"/swagger/swagger-ui.css", "text/css", ".swagger-ui"},
		{"/redoc/", "text/html", "redoc.standalone.js"},
		{"/redoc/redoc.standalone.js", "javascript", "Redoc"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res, err := http.Get(e.URL + tc.path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), tc.contentType) || !strings.Contains(string(body), tc.contains) {
				t.Fatalf("status %d, type %q, %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
			}
			// Offline: the pages load nothing from a CDN.
			if strings.HasSuffix(tc.path, "/") && strings.Contains(string(body), "https://") {
				t.Fatalf("page references an external URL")
			}
		})
	}
	expect(t, e.Do(t, http.MethodGet, "/swagger/index.html", "", nil), http.StatusNotFound, 404)
}

func TestMetrics(t *testing.T) {
	e := start(t, testenv.Embedded)
	a := e.register(t, "metered")
	expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", a.Token, nil), http.StatusOK, 200)
	expect(t, e.Do(t, http.MethodGet, "/api/user/profile/", "", nil), http.StatusUnauthorized, 401)
	expect(t, e.Do(t, http.MethodGet, "/nope/", "", nil), http.StatusNotFound, 404)
	// Not on the public API port.
	expect(t, e.Do(t, http.MethodGet, "/metrics", "", nil), http.StatusNotFound, 404)

	res, err := http.Get(e.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`paradise_http_requests_total{method="GET",route="getProfile",status="200"} 1`,
		`paradise_http_requests_total{method="GET",route="getProfile",status="401"} 1`,
		`paradise_http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`paradise_http_requests_total{method="POST",route="registerUser",status="201"} 1`,
		`paradise_http_request_duration_seconds_bucket{route="getProfile"`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
