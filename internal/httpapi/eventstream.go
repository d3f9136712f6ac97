package httpapi

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"github.com/ogen-go/ogen/ogenerrors"

	"paradise/internal/apperr"
)

// Routes served in front of the ogen server (Server-Sent Events, raw
// audio bodies) authenticate and answer errors the way ogen's do; these
// are the pieces they share.

// Authenticate runs a security handler on the request's Authorization
// header, as the ogen server does for scheme (its name in openapi.yaml):
// the context with the principal, or false once the error envelope (401,
// or the handler's error) is written.
func (a *Errors) Authenticate(w http.ResponseWriter, r *http.Request, scheme string, auth func(ctx context.Context, header string) (context.Context, error)) (context.Context, bool) {
	header := r.Header.Get("Authorization")
	if header == "" {
		a.Write(w, r, apperr.Unauthorized("Authentication credentials were not provided."))
		return nil, false
	}
	ctx, err := auth(r.Context(), header)
	if err != nil {
		a.Write(w, r, &ogenerrors.SecurityError{Security: scheme, Err: err})
		return nil, false
	}
	return ctx, true
}

// AcceptsEventStream reports whether the request's Accept header lists
// text/event-stream.
func AcceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
				return true
			}
		}
	}
	return false
}

// StartEventStream answers 200 with the headers of a Server-Sent Events
// stream (no caching, no proxy buffering).
func StartEventStream(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
}
