// Package httpapi serves the HTTP side of the service: the ogen server
// behind the envelope, logging and metrics middleware, the docs, health and
// readiness, and whatever routes other modules contribute. It owns no
// domain: the bounded contexts implement api.Handler's operations in their
// own packages (one handler struct each), composed in internal/app.
package httpapi

import (
	"context"
	"net/http"
	"time"

	"go.uber.org/fx"

	"paradise/gen/api"
	"paradise/internal/paging"
)

// Route is an HTTP route outside the ogen router (the hub's WebSocket
// endpoints, ...), contributed to the "httpapi.routes" group.
type Route struct {
	// Pattern is a net/http ServeMux pattern ("GET /ws/device/{$}").
	Pattern string
	Handler http.Handler
	// Intercept, instead of Handler, serves a path of the REST API in
	// front of the ogen server: it is given the ogen server and returns
	// the route's handler, which serves what ogen cannot (a streamed
	// response) and hands every other request on to the server. The
	// route runs behind the same input checks as the REST API (body
	// limit, text checks, the envelope's Retry-After), and its requests
	// are labelled with the operation's id.
	Intercept func(api http.Handler) http.Handler
}

// AsRoute annotates a constructor of a Route for the routes group.
func AsRoute(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"httpapi.routes"`))
}

// ReadinessCheck is one dependency /readyz checks, contributed to the
// "httpapi.readiness" group.
type ReadinessCheck struct {
	// Name is what /readyz reports when the check fails ("database"),
	// and the key of its Detail.
	Name string
	// Check, optional, fails when the dependency is unreachable.
	Check func(ctx context.Context) error
	// Detail, optional, describes the dependency for operators; a ready
	// /readyz lists the details in data, keyed by Name
	// ({"llm": "development (...)"}).
	Detail func() string
}

// AsReadinessCheck annotates a constructor of a ReadinessCheck for the
// readiness group.
func AsReadinessCheck(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"httpapi.readiness"`))
}

// OKMessage is the message of a plain successful answer.
const OKMessage = "OK"

// Page reads the page and page_size parameters.
func Page(number, size api.OptInt) paging.Page {
	return paging.New(number.Or(0), size.Or(0))
}

// Links builds next/previous for a page of the current request.
func Links(ctx context.Context, p paging.Page, count int) (next, prev api.NilString) {
	n, pr := paging.Links(paging.URL(ctx), p, count)
	return NilString(n), NilString(pr)
}

// NilString converts an optional string to the API's nullable string.
func NilString(s *string) api.NilString {
	if s == nil {
		return api.NilString{Null: true}
	}
	return api.NewNilString(*s)
}

// NilTime converts an optional time to the API's nullable date-time.
func NilTime(t *time.Time) api.NilDateTime {
	if t == nil {
		return api.NilDateTime{Null: true}
	}
	return api.NewNilDateTime(*t)
}

// MapSlice converts each element of in with f.
func MapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
