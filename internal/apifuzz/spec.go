// Package apifuzz is a spec-driven fuzzer for the REST API: it reads every
// operation of openapi.yaml and generates requests inside the spec
// (boundary lengths counted in characters, boundary numbers, every enum
// value) and outside it (NUL, invalid UTF-8, lone surrogates, huge numbers,
// deep nesting, wrong types, oversized bodies and headers). The test in
// this package runs them against the whole service on every backend and
// checks the answers: never a 5xx, always the envelope, in-spec input
// accepted or refused with a status the operation documents, and error
// bodies of bounded size.
//
// The package holds only the generator; the service and the checks live
// in the test, so nothing outside tests imports it.
package apifuzz

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Security is what an operation needs in its Authorization header.
type Security string

const (
	// NoAuth operations take no token.
	NoAuth Security = ""
	// UserAuth operations take a user token (password or MAC login).
	UserAuth Security = "TokenAuth"
	// AdminAuth operations take an admin token.
	AdminAuth Security = "AdminTokenAuth"
)

// Param is a path or query parameter.
type Param struct {
	Name     string
	In       string // "path" or "query"
	Required bool
	Schema   *openapi3.Schema
}

// Operation is one REST operation as the fuzzer sees it.
type Operation struct {
	ID       string
	Method   string
	Path     string // template, e.g. /api/device/devices/{id}/
	Security Security
	Params   []Param
	// Body is the schema of the JSON request body, nil when there is none.
	Body         *openapi3.Schema
	BodyRequired bool
	// Examples are the request body examples the spec gives.
	Examples []any
	// Statuses are the documented response statuses.
	Statuses map[int]bool
	// Streams are the statuses whose response may also be a stream of
	// Server-Sent Events (text/event-stream) instead of the envelope.
	Streams map[int]bool
	// RawBody is set for operations whose body is raw bytes
	// (application/octet-stream: audio) rather than JSON.
	RawBody bool
	// Audio are the statuses whose response is audio (audio/*) instead
	// of the envelope.
	Audio map[int]bool
}

// Documents reports whether the operation documents the status.
func (op *Operation) Documents(status int) bool { return op.Statuses[status] }

// LoadOperations parses and validates an OpenAPI document and returns its
// operations sorted by path and method, so generation is deterministic.
func LoadOperations(spec []byte) ([]*Operation, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("apifuzz: load spec: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("apifuzz: invalid spec: %w", err)
	}
	var ops []*Operation
	paths := doc.Paths.Map()
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		item := paths[p]
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			o := item.GetOperation(method)
			if o == nil {
				continue
			}
			op, err := operation(doc, p, method, item, o)
			if err != nil {
				return nil, err
			}
			ops = append(ops, op)
		}
	}
	return ops, nil
}

func operation(doc *openapi3.T, path, method string, item *openapi3.PathItem, o *openapi3.Operation) (*Operation, error) {
	op := &Operation{ID: o.OperationID, Method: method, Path: path, Statuses: map[int]bool{}, Streams: map[int]bool{}, Audio: map[int]bool{}}
	sec := doc.Security
	if o.Security != nil {
		sec = *o.Security
	}
	for _, req := range sec {
		for name := range req {
			switch Security(name) {
			case UserAuth, AdminAuth:
				op.Security = Security(name)
			default:
				return nil, fmt.Errorf("apifuzz: %s: unknown security scheme %q", op.ID, name)
			}
		}
	}
	for _, list := range []openapi3.Parameters{item.Parameters, o.Parameters} {
		for _, ref := range list {
			p := ref.Value
			if p.In != openapi3.ParameterInPath && p.In != openapi3.ParameterInQuery {
				return nil, fmt.Errorf("apifuzz: %s: parameter %s in %s is not supported", op.ID, p.Name, p.In)
			}
			if p.Schema == nil || p.Schema.Value == nil {
				return nil, fmt.Errorf("apifuzz: %s: parameter %s has no schema", op.ID, p.Name)
			}
			op.Params = append(op.Params, Param{Name: p.Name, In: p.In, Required: p.Required, Schema: p.Schema.Value})
		}
	}
	if rb := o.RequestBody; rb != nil && rb.Value != nil {
		mt := rb.Value.Content.Get("application/json")
		switch {
		case mt == nil && rb.Value.Content.Get("application/octet-stream") != nil:
			op.RawBody, op.BodyRequired = true, rb.Value.Required
		case mt == nil || mt.Schema == nil:
			return nil, fmt.Errorf("apifuzz: %s: request body is not application/json", op.ID)
		default:
			op.Body, op.BodyRequired = mt.Schema.Value, rb.Value.Required
			if mt.Example != nil {
				op.Examples = append(op.Examples, mt.Example)
			}
			for _, name := range sortedKeys(mt.Examples) {
				if ex := mt.Examples[name]; ex != nil && ex.Value != nil {
					op.Examples = append(op.Examples, ex.Value.Value)
				}
			}
		}
	}
	for code := range o.Responses.Map() {
		if code == "default" {
			// The catch-all Error response documents no status; in-spec
			// requests must get one the operation lists explicitly.
			continue
		}
		n, err := strconv.Atoi(code)
		if err != nil {
			return nil, fmt.Errorf("apifuzz: %s: response %q is not a status; list statuses explicitly", op.ID, code)
		}
		op.Statuses[n] = true
		if r := o.Responses.Value(code); r != nil && r.Value != nil && r.Value.Content.Get("text/event-stream") != nil {
			op.Streams[n] = true
		}
		if r := o.Responses.Value(code); r != nil && r.Value != nil {
			for ct := range r.Value.Content {
				if strings.HasPrefix(ct, "audio/") {
					op.Audio[n] = true
				}
			}
		}
	}
	return op, nil
}

// Expand fills the path template with the (already escaped) path values.
func (op *Operation) Expand(values map[string]string) string {
	p := op.Path
	for name, v := range values {
		p = strings.ReplaceAll(p, "{"+name+"}", v)
	}
	return p
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
