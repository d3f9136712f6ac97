package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
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

// EncodeEvent is one Server-Sent Event: "event: name", data as one line
// of JSON, and the blank line that dispatches it.
func EncodeEvent(name string, data any) ([]byte, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", name, err)
	}
	buf := make([]byte, 0, len("event: \ndata: \n\n")+len(name)+len(b))
	buf = append(buf, "event: "...)
	buf = append(buf, name...)
	buf = append(buf, "\ndata: "...)
	buf = append(buf, b...)
	return append(buf, "\n\n"...), nil
}

// WriteEvent writes one event (EncodeEvent) and flushes it, so that the
// client sees it now and not when a buffer fills.
func WriteEvent(w http.ResponseWriter, name string, data any) error {
	b, err := EncodeEvent(name, data)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return err
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	return nil
}
