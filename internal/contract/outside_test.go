package contract_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/fx"

	"paradise"
)

// panicPath is a route the test adds to the service's mux that panics, to
// check the 500 envelope of the recovery middleware on the real server.
const panicPath = "/__contract__/panic"

const panicValue = "contract-test-panic-detail"

// TestOutsideOgen checks the responses the server produces outside the
// ogen router: unknown paths and methods, panics, health and docs. JSON
// bodies must be the envelope, errors matching the spec's Error schema.
func TestOutsideOgen(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fx.Decorate(func(mux *http.ServeMux) *http.ServeMux {
		mux.HandleFunc("GET "+panicPath, func(http.ResponseWriter, *http.Request) { panic(panicValue) })
		return mux
	}))
	tests := []struct {
		name, method, path string
		status             int
		contentType        string
		schema             string // component schema of a JSON body
		body               []byte // exact body, when set
		contains           string
		allow              []string // methods the Allow header must list
		check              func(t *testing.T, body []byte)
	}{
		{name: "unknown path", method: "GET", path: "/nope/", status: 404, contentType: "application/json", schema: "Error"},
		{name: "path without trailing slash", method: "GET", path: "/api/user/login", status: 404, contentType: "application/json", schema: "Error"},
		{name: "unknown API path", method: "POST", path: "/api/user/nope/", status: 404, contentType: "application/json", schema: "Error"},
		{name: "wrong method", method: "DELETE", path: "/api/user/profile/", status: 405, contentType: "application/json", schema: "Error", allow: []string{"GET", "PATCH"}},
		{name: "wrong method on admin", method: "PUT", path: "/api/v1/admin/device-types/1/", status: 405, contentType: "application/json", schema: "Error", allow: []string{"GET", "PATCH", "DELETE"}},
		{name: "wrong method on health", method: "POST", path: "/healthz", status: 404, contentType: "application/json", schema: "Error"},
		{name: "panic", method: "GET", path: panicPath, status: 500, contentType: "application/json", schema: "Error"},
		{name: "healthz", method: "GET", path: "/healthz", status: 200, contentType: "application/json", schema: "EmptyEnvelope"},
		// /readyz is outside openapi.yaml: the envelope with data the
		// details of the readiness group (README, "Health").
		{name: "readyz", method: "GET", path: "/readyz", status: 200, contentType: "application/json", check: readyDetails},
		{name: "openapi.yaml", method: "GET", path: "/openapi.yaml", status: 200, contentType: "application/yaml", body: paradise.OpenAPI},
		{name: "asyncapi.yaml", method: "GET", path: "/asyncapi.yaml", status: 200, contentType: "application/yaml", body: paradise.AsyncAPI},
		{name: "swagger", method: "GET", path: "/swagger/", status: 200, contentType: "text/html", contains: "swagger-ui-bundle.js"},
		{name: "redoc", method: "GET", path: "/redoc/", status: 200, contentType: "text/html", contains: "redoc.standalone.js"},
		{name: "unknown docs file", method: "GET", path: "/swagger/nope.js", status: 404, contentType: "application/json", schema: "Error"},
		{name: "websocket without upgrade", method: "GET", path: "/ws/device/", status: 426, contentType: "application/json", schema: "Error"},
		{name: "websocket token path without upgrade", method: "GET", path: "/ws/device/token/abc/", status: 426, contentType: "application/json", schema: "Error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, f.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			x := send(t, req, nil)
			if x.status != tc.status {
				t.Errorf("status %d, want %d: %.200s", x.status, tc.status, x.resp)
			}
			ct := x.header.Get("Content-Type")
			if !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("content type %q, want %s", ct, tc.contentType)
			}
			if tc.schema != "" {
				f.contract.validateSchema(t, tc.schema, x.resp)
				env := x.envelope(t)
				if env.Code != x.status || env.Success != (x.status < 300) {
					t.Errorf("status %d but envelope code %d success %t", x.status, env.Code, env.Success)
				}
			}
			if tc.body != nil && !bytes.Equal(x.resp, tc.body) {
				t.Errorf("body (%d bytes) differs from the embedded document (%d bytes)", len(x.resp), len(tc.body))
			}
			if tc.contains != "" && !strings.Contains(string(x.resp), tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			if tc.check != nil {
				tc.check(t, x.resp)
			}
			for _, m := range tc.allow {
				if allow := x.header.Get("Allow"); !strings.Contains(allow, m) {
					t.Errorf("Allow %q lacks %s", allow, m)
				}
			}
			if strings.Contains(string(x.resp), panicValue) {
				t.Errorf("the panic value leaked into the response: %s", x.resp)
			}
			if rid := x.header.Get("X-Request-ID"); rid == "" {
				t.Error("no X-Request-ID header")
			}
		})
	}

}

// readyDetails checks /readyz's body: the success envelope whose data
// maps each detail to a string, naming the active LLM provider.
func readyDetails(t *testing.T, body []byte) {
	t.Helper()
	var env struct {
		Success *bool              `json:"success"`
		Code    int                `json:"code"`
		Message *string            `json:"message"`
		Data    map[string]*string `json:"data"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		t.Fatalf("readyz body %s: %v", body, err)
	}
	if env.Success == nil || !*env.Success || env.Code != 200 || env.Message == nil {
		t.Errorf("readyz envelope %s", body)
	}
	if llm := env.Data["llm"]; llm == nil || !strings.Contains(*llm, "development") {
		t.Errorf("readyz data lacks the llm detail: %s", body)
	}
	for k, v := range env.Data {
		if v == nil {
			t.Errorf("readyz detail %q is null", k)
		}
	}
}
