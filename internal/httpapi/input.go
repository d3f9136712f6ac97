package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"paradise/internal/apperr"
	"paradise/internal/jsontext"
)

// Request header limits. net/http answers headers larger than
// http.Server.MaxHeaderBytes itself, in plain text; so the server reads up
// to serverMaxHeaderBytes and limitHeaders refuses anything above
// maxHeaderBytes with the envelope. Only headers above serverMaxHeaderBytes
// still get net/http's plain-text 431 (docs/reliability.md).
const (
	maxHeaderBytes       = 64 << 10
	serverMaxHeaderBytes = 2 << 20
)

// limitHeaders answers requests whose request line and headers exceed
// maxHeaderBytes with a 431 envelope.
func limitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := headerSize(r); n > maxHeaderBytes {
			// The connection may carry the rest of an abusive request;
			// do not reuse it.
			w.Header().Set("Connection", "close")
			writeError(w, &apperr.Error{Status: http.StatusRequestHeaderFieldsTooLarge, Code: http.StatusRequestHeaderFieldsTooLarge,
				Message: fmt.Sprintf("Request headers are larger than %d bytes.", maxHeaderBytes)})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// headerSize approximates the bytes of the request line and headers as
// they came over the wire.
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + len(r.Host) + 4
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + len(v) + 4 // ": " and CRLF
		}
	}
	return n
}

// checkInput refuses text the database cannot store before any handler
// sees it: Postgres rejects NUL characters and invalid UTF-8 in text with
// an error that would otherwise surface as a 500. It checks the path, every
// query parameter and JSON request bodies (including \u0000 escapes and
// lone UTF-16 surrogate escapes, which are not characters). It sits inside
// limitBody, so reading the body is bounded.
func checkInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if problem := textProblem(r.URL.Path); problem != "" {
			writeError(w, apperr.BadRequest("Request path: "+problem+"."))
			return
		}
		if err := checkQuery(r.URL.RawQuery); err != nil {
			writeError(w, err)
			return
		}
		if hasJSONBody(r) {
			body, err := io.ReadAll(r.Body)
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				// Let ogen's decoder meet the same error, so the 413 is
				// phrased in one place (classify).
				r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errorReader{err}))
				next.ServeHTTP(w, r)
				return
			case err != nil:
				writeError(w, apperr.BadRequest("Request body could not be read."))
				return
			}
			if problem, offset := jsontext.Problem(body); problem != "" {
				writeError(w, apperr.BadRequest(fmt.Sprintf("Request body: %s (at byte %d).", problem, offset)))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}

// errorReader is a reader that fails with err.
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) { return 0, e.err }

// hasJSONBody reports whether the request has a body ogen will decode as
// JSON: a JSON content type, or none at all.
func hasJSONBody(r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return false
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// checkQuery refuses a malformed query string and parameters holding NUL
// or invalid UTF-8, naming the parameter.
func checkQuery(raw string) *apperr.Error {
	if raw == "" {
		return nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return apperr.BadRequest("Malformed query string.")
	}
	fields := map[string][]string{}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		problem := textProblem(name)
		for _, v := range values[name] {
			if problem == "" {
				problem = textProblem(v)
			}
		}
		if problem != "" {
			fields[safeName(name)] = []string{capitalize(problem) + "."}
		}
	}
	if len(fields) > 0 {
		return apperr.Validation(fields)
	}
	return nil
}

// textProblem says what makes s unstorable as text, or "".
func textProblem(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "invalid UTF-8"
	case strings.IndexByte(s, 0) >= 0:
		return "null characters are not allowed"
	}
	return ""
}

// safeName makes a client-supplied name fit for the envelope: valid
// UTF-8, no NUL, bounded.
func safeName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", `\u0000`)
	return apperr.Truncate(s, 64)
}
