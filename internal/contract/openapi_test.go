package contract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"paradise"
)

// loadOpenAPI loads and validates openapi.yaml (the copy the binary embeds
// and serves, which is the file in the repository root).
func loadOpenAPI(t testing.TB) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(paradise.OpenAPI)
	if err != nil {
		t.Fatalf("openapi.yaml: load: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml: invalid document: %v", err)
	}
	return doc
}

// strictOpenAPI is a separately loaded copy of openapi.yaml in which every
// object schema that lists its properties and says nothing about others
// forbids them (additionalProperties: false). kin-openapi, like JSON Schema,
// lets undocumented fields through by default; the contract is that every
// field the server sends is documented. The copy's only server is base, so
// the router matches the service under test.
func strictOpenAPI(t testing.TB, base string) *openapi3.T {
	t.Helper()
	doc := loadOpenAPI(t)
	forbidUndocumentedFields(doc)
	doc.Servers = openapi3.Servers{{URL: base}}
	return doc
}

// forbidUndocumentedFields closes every object schema reachable from the
// document that has properties and no additionalProperties of its own.
// Schemas that say additionalProperties (true or a schema) keep it.
func forbidUndocumentedFields(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walkAll := func(refs []*openapi3.SchemaRef) {
		for _, r := range refs {
			walk(r)
		}
	}
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		ap := s.AdditionalProperties
		if s.Properties != nil && ap.Has == nil && ap.Schema == nil {
			s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
		}
		for _, name := range sortedKeys(s.Properties) {
			walk(s.Properties[name])
		}
		walk(s.Items)
		walk(s.Not)
		walk(ap.Schema)
		walkAll(s.AllOf)
		walkAll(s.AnyOf)
		walkAll(s.OneOf)
	}
	walkContent := func(c openapi3.Content) {
		for _, mt := range c {
			if mt != nil {
				walk(mt.Schema)
			}
		}
	}
	walkResponse := func(r *openapi3.ResponseRef) {
		if r != nil && r.Value != nil {
			walkContent(r.Value.Content)
		}
	}
	if doc.Components != nil {
		for _, name := range sortedKeys(doc.Components.Schemas) {
			walk(doc.Components.Schemas[name])
		}
		for _, r := range doc.Components.Responses {
			walkResponse(r)
		}
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Responses == nil {
				continue
			}
			for _, r := range op.Responses.Map() {
				walkResponse(r)
			}
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// operation is one operation of the spec.
type operation struct {
	id, method, path string
	op               *openapi3.Operation
}

// operations lists every operation of the document, by operationId.
func operations(t testing.TB, doc *openapi3.T) map[string]operation {
	t.Helper()
	ops := map[string]operation{}
	for _, path := range doc.Paths.InMatchingOrder() {
		for method, op := range doc.Paths.Value(path).Operations() {
			if op.OperationID == "" {
				t.Errorf("openapi.yaml: %s %s has no operationId", method, path)
				continue
			}
			ops[op.OperationID] = operation{id: op.OperationID, method: method, path: path, op: op}
		}
	}
	return ops
}

// contract validates exchanges with the service against the strict copy
// of openapi.yaml.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

func newContract(t testing.TB, base string) *contract {
	t.Helper()
	doc := strictOpenAPI(t, base)
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("kin-openapi router: %v", err)
	}
	return &contract{doc: doc, router: router}
}

// exchange is one request sent and the response it got.
type exchange struct {
	req    *http.Request
	body   []byte // request body
	status int
	header http.Header
	resp   []byte // response body
}

// envelope is the part of every response body the tests read.
type envelope struct {
	Success bool            `json:"success"`
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data"`
}

func (x *exchange) envelope(t testing.TB) envelope {
	t.Helper()
	var e envelope
	if err := json.Unmarshal(x.resp, &e); err != nil {
		t.Fatalf("%s %s: status %d, body is not JSON: %q", x.req.Method, x.req.URL.RequestURI(), x.status, x.resp)
	}
	return e
}

// send performs the request and reads the whole response.
func send(t testing.TB, req *http.Request, body []byte) *exchange {
	t.Helper()
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.RequestURI(), err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &exchange{req: req, body: body, status: res.StatusCode, header: res.Header, resp: data}
}

// route finds the operation the request resolves to in the spec.
func (c *contract) route(t testing.TB, req *http.Request) (*routers.Route, map[string]string) {
	t.Helper()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: no operation in openapi.yaml: %v", req.Method, req.URL.RequestURI(), err)
	}
	return route, params
}

// requireToken is the AuthenticationFunc for request validation: an
// operation that declares a security requirement must get a token.
func requireToken(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.RequestValidationInput.Request.Header.Get("Authorization") == "" {
		return fmt.Errorf("no Authorization header for %s", in.SecuritySchemeName)
	}
	return nil
}

// validateRequest checks that a request the test sends as a success case
// conforms to the spec, so success cases exercise documented inputs only.
func (c *contract) validateRequest(t testing.TB, x *exchange, route *routers.Route, params map[string]string) {
	t.Helper()
	req := x.req.Clone(context.Background())
	if x.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(x.body))
	}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: requireToken, MultiError: true},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("request %s %s does not conform to openapi.yaml: %v", x.req.Method, x.req.URL.RequestURI(), err)
	}
}

// validateResponse checks status, content type and body of the response
// against the operation's documented responses with kin-openapi.
func (c *contract) validateResponse(t testing.TB, x *exchange, route *routers.Route, params map[string]string) {
	t.Helper()
	op := route.Operation
	documented := op.Responses.Status(x.status) != nil
	if x.status < 400 && !documented {
		// A success must be one the operation lists, not the default.
		t.Errorf("%s: status %d is not documented (documented: %v)", op.OperationID, x.status, slices.Sorted(maps.Keys(op.Responses.Map())))
	}
	if ct := x.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") && !(x.status < 300 && isAudio(ct)) {
		t.Errorf("%s: content type %q, want application/json (or audio for a success)", op.OperationID, ct)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: x.req, PathParams: params, Route: route,
		},
		Status: x.status,
		Header: x.header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	in.SetBodyBytes(x.resp)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s: response %d does not conform to openapi.yaml: %s\nbody: %s", op.OperationID, x.status, describe(err), x.resp)
	}
}

// accepts reports whether kin-openapi accepts the response, without
// failing the test (to check the validator catches drift).
func (c *contract) accepts(x *exchange, route *routers.Route, params map[string]string) bool {
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: x.req, PathParams: params, Route: route},
		Status:                 x.status,
		Header:                 x.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	in.SetBodyBytes(x.resp)
	return openapi3filter.ValidateResponse(context.Background(), in) == nil
}

// validateSchema validates a JSON body against a named component schema
// of the strict spec (for responses outside any operation).
func (c *contract) validateSchema(t testing.TB, name string, body []byte) {
	t.Helper()
	ref := c.doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("openapi.yaml has no schema %s", name)
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Errorf("body is not JSON: %v: %q", err, body)
		return
	}
	if err := ref.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.VisitAsResponse()); err != nil {
		t.Errorf("body does not match schema %s: %s\nbody: %s", name, describe(err), body)
	}
}

// describe flattens kin-openapi's (multi) errors into readable lines.
func describe(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		var lines []string
		for _, e := range me {
			lines = append(lines, describe(e))
		}
		return strings.Join(lines, "\n  ")
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		where := "/" + strings.Join(se.JSONPointer(), "/")
		return fmt.Sprintf("at %s: %s", where, se.Reason)
	}
	var re *openapi3filter.ResponseError
	if errors.As(err, &re) && re.Err != nil {
		return re.Reason + ": " + describe(re.Err)
	}
	return err.Error()
}

// absolute joins a path (with query) to the base URL.
func absolute(base, path string) string {
	u, err := url.Parse(base + path)
	if err != nil {
		panic(err)
	}
	return u.String()
}

// isAudio reports an audio content type (the speech operations' binary
// successes).
func isAudio(ct string) bool { return strings.HasPrefix(ct, "audio/") }

// kin-openapi decodes only the body types it knows; the speech
// operations' audio is opaque bytes, checked as a binary string.
func init() {
	for _, ct := range []string{"audio/mpeg", "audio/wav", "audio/pcm", "audio/ogg"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}
