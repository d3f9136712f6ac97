package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-faster/jx"
	"github.com/ogen-go/ogen/ogenerrors"
	"github.com/ogen-go/ogen/validate"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/logging"
	"paradise/internal/metrics"
	"paradise/internal/paging"
)

// ogenRequest is a generated request body type.
type ogenRequest[T any] interface {
	*T
	Decode(d *jx.Decoder) error
	Validate() error
}

// decodeLikeOgen decodes and validates body the way ogen's generated
// request decoders do, and wraps a failure as the server hands it to the
// error handler.
func decodeLikeOgen[T any, P ogenRequest[T]](body string) error {
	var req T
	p := P(&req)
	err := func() error {
		d := jx.DecodeStr(body)
		if err := p.Decode(d); err != nil {
			return &ogenerrors.DecodeBodyError{ContentType: "application/json", Body: []byte(body), Err: err}
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("validate: %w", err)
		}
		return nil
	}()
	if err == nil {
		return nil
	}
	return &ogenerrors.DecodeRequestError{
		OperationContext: ogenerrors.OperationContext{Name: "Op", ID: "op"},
		Err:              err,
	}
}

func TestDecodeErrorValidation(t *testing.T) {
	ve := func(fields ...validate.FieldError) *validate.Error { return &validate.Error{Fields: fields} }
	fe := func(name string, err error) validate.FieldError { return validate.FieldError{Name: name, Error: err} }
	tests := []struct {
		name    string
		err     error
		message string
		fields  map[string][]string
	}{
		{
			name:    "required field",
			err:     ve(fe("password", validate.ErrFieldRequired)),
			message: "password: This field is required.",
			fields:  map[string][]string{"password": {"This field is required."}},
		},
		{
			name:    "several fields sorted",
			err:     ve(fe("username", validate.ErrFieldRequired), fe("password", validate.ErrFieldRequired)),
			message: "password: This field is required.; username: This field is required.",
			fields:  map[string][]string{"password": {"This field is required."}, "username": {"This field is required."}},
		},
		{
			name: "nested object field",
			err: ve(fe("device", ve(fe("name", fmt.Errorf("string: %w",
				&validate.MaxLengthError{Len: 70, MaxLength: 64}))))),
			message: "device.name: Ensure this field has no more than 64 characters.",
			fields:  map[string][]string{"device.name": {"Ensure this field has no more than 64 characters."}},
		},
		{
			name: "array elements",
			err: ve(fe("interests", ve(
				fe("[3]", fmt.Errorf("string: %w", &validate.MaxLengthError{Len: 33, MaxLength: 32})),
				fe("[5]", fmt.Errorf("string: %w", &validate.MinLengthError{Len: 0, MinLength: 1})),
			))),
			message: "interests[3]: Ensure this field has no more than 32 characters.; interests[5]: This field may not be blank.",
			fields: map[string][]string{
				"interests[3]": {"Ensure this field has no more than 32 characters."},
				"interests[5]": {"This field may not be blank."},
			},
		},
		{
			name:    "object inside array inside object",
			err:     ve(fe("data", ve(fe("results", ve(fe("[0]", ve(fe("name", validate.ErrFieldRequired)))))))),
			message: "data.results[0].name: This field is required.",
			fields:  map[string][]string{"data.results[0].name": {"This field is required."}},
		},
		{
			name:    "top-level array element",
			err:     ve(fe("[2]", validate.ErrFieldRequired)),
			message: "[2]: This field is required.",
			fields:  map[string][]string{"[2]": {"This field is required."}},
		},
		{
			name:    "nested error wrapped by ogen",
			err:     ve(fe("device", fmt.Errorf("validate: %w", ve(fe("mac_address", validate.ErrFieldRequired))))),
			message: "device.mac_address: This field is required.",
			fields:  map[string][]string{"device.mac_address": {"This field is required."}},
		},
		{
			name:    "two messages for one field",
			err:     ve(fe("password", &validate.MinLengthError{Len: 3, MinLength: 8}), fe("password", errors.New("too common"))),
			message: "password: Ensure this field has at least 8 characters. Too common.",
			fields:  map[string][]string{"password": {"Ensure this field has at least 8 characters.", "Too common."}},
		},
		{
			name:    "wrapped in DecodeRequestError",
			err:     &ogenerrors.DecodeRequestError{Err: fmt.Errorf("decode application/json: %w", ve(fe("username", validate.ErrFieldRequired)))},
			message: "username: This field is required.",
			fields:  map[string][]string{"username": {"This field is required."}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkAppErr(t, decodeError(tc.err), http.StatusBadRequest, tc.message, tc.fields)
		})
	}
}

// TestDecodeErrorGenerated feeds errors from the generated decoders and
// validators, so a change in ogen's error shapes shows up here.
func TestDecodeErrorGenerated(t *testing.T) {
	tests := []struct {
		name    string
		decode  func() error
		message string
		fields  map[string][]string
	}{
		{
			name:    "register without password",
			decode:  func() error { return decodeLikeOgen[api.RegisterRequest](`{"username":"alice"}`) },
			message: "password: This field is required.",
			fields:  map[string][]string{"password": {"This field is required."}},
		},
		{
			name:    "register with empty object",
			decode:  func() error { return decodeLikeOgen[api.RegisterRequest](`{}`) },
			message: "password: This field is required.; username: This field is required.",
			fields:  map[string][]string{"password": {"This field is required."}, "username": {"This field is required."}},
		},
		{
			name: "profile with bad interests",
			decode: func() error {
				return decodeLikeOgen[api.ProfileUpdate](`{"interests":["ok","` + strings.Repeat("i", 33) + `","",""]}`)
			},
			message: "interests[1]: Ensure this field has no more than 32 characters.; " +
				"interests[2]: This field may not be blank.; interests[3]: This field may not be blank.",
			fields: map[string][]string{
				"interests[1]": {"Ensure this field has no more than 32 characters."},
				"interests[2]": {"This field may not be blank."},
				"interests[3]": {"This field may not be blank."},
			},
		},
		{
			name: "profile with too many interests",
			decode: func() error {
				return decodeLikeOgen[api.ProfileUpdate](`{"interests":[` + strings.TrimSuffix(strings.Repeat(`"x",`, 21), ",") + `]}`)
			},
			message: "interests: Ensure this field has no more than 20 elements.",
			fields:  map[string][]string{"interests": {"Ensure this field has no more than 20 elements."}},
		},
		{
			name: "profile with too long nickname",
			decode: func() error {
				return decodeLikeOgen[api.ProfileUpdate](`{"nickname":"` + strings.Repeat("n", 65) + `"}`)
			},
			message: "nickname: Ensure this field has no more than 64 characters.",
			fields:  map[string][]string{"nickname": {"Ensure this field has no more than 64 characters."}},
		},
		{
			name:    "wrong type",
			decode:  func() error { return decodeLikeOgen[api.RegisterRequest](`{"username":42,"password":"x"}`) },
			message: "username: Incorrect type or malformed value.",
			fields:  map[string][]string{"username": {"Incorrect type or malformed value."}},
		},
		{
			name:    "truncated JSON",
			decode:  func() error { return decodeLikeOgen[api.RegisterRequest](`{"username":"al`) },
			message: "Malformed JSON: unexpected end of input.",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.decode()
			if err == nil {
				t.Fatal("the generated decoder accepted the body")
			}
			checkAppErr(t, decodeError(err), http.StatusBadRequest, tc.message, tc.fields)
		})
	}
}

func TestDecodeErrorOther(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		message string
		fields  map[string][]string
	}{
		{"body required", &ogenerrors.DecodeRequestError{Err: validate.ErrBodyRequired}, "Request body is required.", nil},
		{"unexpected EOF", &ogenerrors.DecodeRequestError{Err: fmt.Errorf("decode RegisterRequest: %w", io.ErrUnexpectedEOF)},
			"Malformed JSON: unexpected end of input.", nil},
		{"decode field", errors.New(`decode RegisterRequest: callback: decode field "nickname": unexpected byte 110 'n'`),
			"nickname: Incorrect type or malformed value.", map[string][]string{"nickname": {"Incorrect type or malformed value."}}},
		{"ogen noise stripped", errors.New(`operation Register: decode request: decode application/json: decode RegisterRequest: unexpected trailing data`),
			"Malformed JSON: unexpected trailing data.", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkAppErr(t, decodeError(tc.err), http.StatusBadRequest, tc.message, tc.fields)
		})
	}
}

func TestFieldMessage(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"required", validate.ErrFieldRequired, "This field is required."},
		{"required wrapped", fmt.Errorf("decode: %w", validate.ErrFieldRequired), "This field is required."},
		{"blank", &validate.MinLengthError{Len: 0, MinLength: 1}, "This field may not be blank."},
		{"too short", &validate.MinLengthError{Len: 2, MinLength: 3}, "Ensure this field has at least 3 characters."},
		{"too long", fmt.Errorf("string: %w", &validate.MaxLengthError{Len: 151, MaxLength: 150}),
			"Ensure this field has no more than 150 characters."},
		{"too many elements", fmt.Errorf("array: %w", &validate.MaxLengthError{Len: 21, MaxLength: 20}),
			"Ensure this field has no more than 20 elements."},
		{"too few elements", fmt.Errorf("array: %w", &validate.MinLengthError{Len: 1, MinLength: 2}),
			"Ensure this field has at least 2 elements."},
		{"regex", &validate.NoRegexMatchError{}, "Enter a valid value."},
		{"other: innermost cause, capitalized", fmt.Errorf("decode X: callback: %w", errors.New("invalid enum value")),
			"Invalid enum value."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := fieldMessage(tc.err); got != tc.want {
				t.Fatalf("fieldMessage(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	a := NewErrors(zap.New(core))
	tests := []struct {
		name    string
		err     error
		status  int
		code    int
		message string
		fields  map[string][]string
		logged  bool
	}{
		{"app error passes through", fmt.Errorf("svc: %w", apperr.DeviceNotBound()), 404, 4010, "Device is not bound to any user.", nil, false},
		{"security error", &ogenerrors.SecurityError{Security: "TokenAuth", Err: errors.New("missing header")},
			401, 401, "Authentication credentials were not provided.", nil, false},
		{"content type", &ogenerrors.DecodeRequestError{Err: validate.InvalidContentType("text/plain")},
			415, 415, `Unsupported media type "text/plain" in request.`, nil, false},
		{"body too big", &ogenerrors.DecodeRequestError{Err: &http.MaxBytesError{Limit: 1 << 20}},
			413, 413, "Request body is larger than 1048576 bytes.", nil, false},
		{"query parameter", &ogenerrors.DecodeParamsError{Err: &ogenerrors.DecodeParamError{Name: "page", Err: errors.New("invalid: page (int expected)")}},
			400, 400, "page: Invalid: page (int expected).", map[string][]string{"page": {"Invalid: page (int expected)."}}, false},
		{"request body", &ogenerrors.DecodeRequestError{Err: &validate.Error{Fields: []validate.FieldError{{Name: "password", Error: validate.ErrFieldRequired}}}},
			400, 400, "password: This field is required.", map[string][]string{"password": {"This field is required."}}, false},
		{"busy passes through", fmt.Errorf("account: login user 7: %w", apperr.Unavailable("Busy.", time.Second)),
			503, 5031, "Busy.", nil, false},
		{"internal error leaks nothing", errors.New("pq: password authentication failed for user secret_db_user"),
			500, 500, "Internal server error.", nil, true},
		// Redis down while the security handler looks the token up: the
		// token may be fine, so no 401 (clients would log out).
		{"token lookup with Redis down", &ogenerrors.SecurityError{Security: "TokenAuth",
			Err: fmt.Errorf("auth: lookup token: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})},
			503, 5032, "Service temporarily unavailable; try again shortly.", nil, true},
		{"database down", fmt.Errorf("account: login: %w", io.ErrUnexpectedEOF),
			503, 5032, "Service temporarily unavailable; try again shortly.", nil, false}, // logged once a minute: already logged above
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := logs.Len()
			ae := a.classify(context.Background(), tc.err)
			checkAppErr(t, ae, tc.status, tc.message, tc.fields)
			if ae.Code != tc.code {
				t.Fatalf("Code = %d, want %d", ae.Code, tc.code)
			}
			if logged := logs.Len() > before; logged != tc.logged {
				t.Fatalf("logged = %v, want %v", logged, tc.logged)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	a := NewErrors(zap.NewNop())
	tests := []struct {
		name   string
		err    error
		want   string // Retry-After; empty: no header
		status int    // of the envelope, with its code
		code   int
	}{
		{"no retry after", apperr.BadRequest("Nope."), "", 400, 400},
		{"whole seconds", apperr.Unavailable("Busy.", 2*time.Second), "2", 503, 5031},
		{"rounded up", apperr.Unavailable("Busy.", 1500*time.Millisecond), "2", 503, 5031},
		{"under a second is one", apperr.Unavailable("Busy.", 10*time.Millisecond), "1", 503, 5031},
		{"wrapped", fmt.Errorf("account: login: %w", apperr.Unavailable("Busy.", time.Second)), "1", 503, 5031},
		{"too many requests", apperr.TooManyRequests("Slow down.", 12*time.Second), "12", 429, 4291},
		{"too many requests until tomorrow", fmt.Errorf("chat: %w", apperr.TooManyRequests("Daily limit.", 5*time.Hour+100*time.Millisecond)), "18001", 429, 4291},
		{"too many requests without a delay", apperr.TooManyRequests("Slow down.", 0), "1", 429, 4291},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/writeError", func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, a.classify(context.Background(), tc.err))
			if got := w.Header().Get("Retry-After"); got != tc.want {
				t.Fatalf("Retry-After = %q, want %q", got, tc.want)
			}
			if w.Code != tc.status || !strings.Contains(w.Body.String(), fmt.Sprintf(`"code":%d`, tc.code)) {
				t.Fatalf("response = %d %s, want %d with code %d", w.Code, w.Body.String(), tc.status, tc.code)
			}
		})
		t.Run(tc.name+"/NewError", func(t *testing.T) {
			// ogen calls NewError with the request's context and then
			// writes the envelope to the same response.
			w := httptest.NewRecorder()
			var res *api.ErrorStatusCode
			exposeHeader(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
				res = a.NewError(r.Context(), tc.err)
			})).ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/api/user/login/", nil))
			if got := w.Header().Get("Retry-After"); got != tc.want {
				t.Fatalf("Retry-After = %q, want %q", got, tc.want)
			}
			if res.StatusCode != tc.status || res.Response.Code != tc.code || res.Response.Success {
				t.Fatalf("envelope = %d %+v, want %d with code %d", res.StatusCode, res.Response, tc.status, tc.code)
			}
		})
	}
}

func checkAppErr(t *testing.T, ae *apperr.Error, status int, message string, fields map[string][]string) {
	t.Helper()
	if ae == nil {
		t.Fatal("nil *apperr.Error")
	}
	if ae.Status != status || ae.Message != message {
		t.Fatalf("got %d %q, want %d %q", ae.Status, ae.Message, status, message)
	}
	if (len(ae.Fields) != 0 || len(fields) != 0) && !reflect.DeepEqual(ae.Fields, fields) {
		t.Fatalf("Fields = %#v, want %#v", ae.Fields, fields)
	}
}

// countingWriter records every WriteHeader and Write.
type countingWriter struct {
	header       http.Header
	writeHeaders []int
	body         strings.Builder
}

func (w *countingWriter) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *countingWriter) WriteHeader(code int) { w.writeHeaders = append(w.writeHeaders, code) }

func (w *countingWriter) Write(b []byte) (int, error) {
	if len(w.writeHeaders) == 0 {
		w.writeHeaders = append(w.writeHeaders, http.StatusOK)
	}
	return w.body.Write(b)
}

const panicSecret = "s3cr3t-panic-detail"

func TestMiddlewarePanic(t *testing.T) {
	const envelope500 = `{"success":false,"code":500,"message":"Internal server error.","data":null}`
	tests := []struct {
		name        string
		handler     http.HandlerFunc
		wantHeaders []int
		wantBody    string
	}{
		{
			name:        "panic before writing",
			handler:     func(http.ResponseWriter, *http.Request) { panic(panicSecret) },
			wantHeaders: []int{500},
			wantBody:    envelope500,
		},
		{
			name:        "panic with an error value",
			handler:     func(http.ResponseWriter, *http.Request) { panic(errors.New(panicSecret)) },
			wantHeaders: []int{500},
			wantBody:    envelope500,
		},
		{
			name: "panic after WriteHeader",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				panic(panicSecret)
			},
			wantHeaders: []int{202},
			wantBody:    "",
		},
		{
			name: "panic after a partial body",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"success":true,`))
				panic(panicSecret)
			},
			wantHeaders: []int{200},
			wantBody:    `{"success":true,`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			w := &countingWriter{}
			r := httptest.NewRequest(http.MethodGet, "/api/user/profile/", nil)
			func() {
				defer func() {
					if v := recover(); v != nil {
						t.Fatalf("middleware let the panic through: %v", v)
					}
				}()
				middleware(tc.handler, metrics.New(), zap.New(core), nil).ServeHTTP(w, r)
			}()
			if !reflect.DeepEqual(w.writeHeaders, tc.wantHeaders) {
				t.Fatalf("WriteHeader calls = %v, want %v", w.writeHeaders, tc.wantHeaders)
			}
			if got := w.body.String(); got != tc.wantBody {
				t.Fatalf("body = %q, want %q", got, tc.wantBody)
			}
			if strings.Contains(w.body.String(), panicSecret) {
				t.Fatal("panic value leaked to the client")
			}
			if tc.wantHeaders[0] == 500 {
				if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type = %q", ct)
				}
				var env map[string]any
				if err := json.Unmarshal([]byte(w.body.String()), &env); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
			}
			// The panic is logged, with the request id, and so is the request.
			panics := logs.FilterMessage("Panic serving request").AllUntimed()
			if len(panics) != 1 || panics[0].Level != zapcore.ErrorLevel {
				t.Fatalf("panic log entries = %v, want one at error level", panics)
			}
			rid := w.Header().Get("X-Request-ID")
			if rid == "" || panics[0].ContextMap()["request_id"] != rid {
				t.Fatalf("panic log request_id = %v, response X-Request-ID = %q", panics[0].ContextMap()["request_id"], rid)
			}
			reqs := logs.FilterMessage("Request").AllUntimed()
			if len(reqs) != 1 {
				t.Fatalf("request log entries = %d, want 1", len(reqs))
			}
			if got := reqs[0].ContextMap()["status"]; got != int64(tc.wantHeaders[0]) {
				t.Fatalf("logged status = %v, want %d", got, tc.wantHeaders[0])
			}
		})
	}

	t.Run("ErrAbortHandler is re-panicked", func(t *testing.T) {
		h := middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }), metrics.New(), zap.NewNop(), nil)
		w := &countingWriter{}
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Fatalf("recovered %v, want http.ErrAbortHandler", v)
			}
			if len(w.writeHeaders) != 0 {
				t.Fatalf("WriteHeader calls = %v, want none for an aborted request", w.writeHeaders)
			}
		}()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	})
}

func TestMiddlewareRequestContext(t *testing.T) {
	tests := []struct {
		name       string
		incomingID string
		keepID     bool
	}{
		{"valid request id kept", "abc-123_X.y", true},
		{"no request id", "", false},
		{"request id with spaces replaced", "abc 123", false},
		{"request id with newline replaced", "abc\n123", false},
		{"overlong request id replaced", strings.Repeat("a", 65), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.InfoLevel)
			log := zap.New(core)
			var (
				ctxID  string
				ctxURL string
			)
			h := middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ctxID = logging.RequestID(r.Context())
				logging.From(r.Context(), log).Info("from handler")
				if u := paging.URL(r.Context()); u != nil {
					ctxURL = u.String()
				}
				w.WriteHeader(http.StatusNoContent)
			}), metrics.New(), log, nil)
			r := httptest.NewRequest(http.MethodGet, "http://api.example.com/api/device/types/?page=2", nil)
			if tc.incomingID != "" {
				r.Header.Set("X-Request-ID", tc.incomingID)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			rid := w.Header().Get("X-Request-ID")
			if tc.keepID && rid != tc.incomingID {
				t.Fatalf("X-Request-ID = %q, want the incoming %q", rid, tc.incomingID)
			}
			if !tc.keepID && (rid == tc.incomingID || !validRequestID(rid)) {
				t.Fatalf("X-Request-ID = %q, want a fresh valid id", rid)
			}
			if ctxID != rid {
				t.Fatalf("request id in the context = %q, want %q", ctxID, rid)
			}
			if got := logs.FilterMessage("from handler").AllUntimed(); len(got) != 1 || got[0].ContextMap()["request_id"] != rid {
				t.Fatalf("handler log entry lacks request_id %q: %v", rid, got)
			}
			if ctxURL != "http://api.example.com/api/device/types/?page=2" {
				t.Fatalf("paging URL = %q", ctxURL)
			}
			req := logs.FilterMessage("Request").AllUntimed()
			if len(req) != 1 {
				t.Fatalf("request log entries = %d, want 1", len(req))
			}
			if m := req[0].ContextMap(); m["status"] != int64(204) || m["method"] != "GET" || m["request_id"] != rid {
				t.Fatalf("request log = %v", m)
			}
		})
	}
}

func TestMiddlewareRedactsTokenPath(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	targets := []string{
		"/ws/device/token/" + token + "/",
		"/ws//device/token/" + token + "/",
		"/ws/device/token//" + token,
		"/ws/device/token%2F" + token + "/",
		"/ws/device/token/x/../" + token + "/",
	}
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			h := middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
			}), metrics.New(), zap.New(core), nil)
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, target, nil))
			if logs.Len() == 0 {
				t.Fatal("nothing logged")
			}
			for _, e := range logs.AllUntimed() {
				if strings.Contains(e.Message, token) || strings.Contains(fmt.Sprint(e.ContextMap()), token) {
					t.Fatalf("token in log entry %q: %v", e.Message, e.ContextMap())
				}
			}
		})
	}
}

func TestRedactPath(t *testing.T) {
	const tok = "0123456789abcdef0123456789abcdef" // the shape of our tokens
	const django = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
	tests := []struct {
		name, path, want string
	}{
		{"token path", "/ws/device/token/abc123/", "/ws/device/token/[redacted]/"},
		{"token without trailing slash", "/ws/device/token/abc123", "/ws/device/token/[redacted]/"},
		{"anything after the token", "/ws/device/token/abc/def/", "/ws/device/token/[redacted]/"},
		{"no token", "/ws/device/token/", "/ws/device/token/"},
		{"only slashes after token", "/ws/device/token//", "/ws/device/token//"},
		{"header-auth websocket", "/ws/device/", "/ws/device/"},
		{"rest path", "/api/user/login/", "/api/user/login/"},
		{"rest path with id", "/api/device/devices/42/messages/", "/api/device/devices/42/messages/"},
		{"rest path with query-like segment", "/api/device/rtc-token/get_by_mac/", "/api/device/rtc-token/get_by_mac/"},
		{"similar prefix", "/ws/device/tokens/abc/", "/ws/device/tokens/abc/"},
		{"double slash before", "/ws//device/token/" + tok + "/", "/ws//device/token/[redacted]/"},
		{"double slash after token", "/ws/device/token//" + tok + "/", "/ws/device/token/[redacted]/"},
		{"leading double slash", "//ws/device/token/" + tok, "//ws/device/token/[redacted]/"},
		{"dot segments after token", "/ws/device/token/./x/../" + tok + "/", "/ws/device/token/[redacted]/"},
		{"dot segments before token", "/ws/device/x/../token/" + tok + "/", "/ws/device/x/../token/[redacted]/"},
		{"token segment in capitals", "/ws/device/TOKEN/" + tok + "/", "/ws/device/TOKEN/[redacted]/"},
		{"encoded slash", "/ws/device/token%2F" + tok + "/", "/ws/device/token/[redacted]/"},
		{"lower-case encoded slash", "/ws/device/token%2f" + tok, "/ws/device/token/[redacted]/"},
		{"double-encoded slash", "/ws/device/token%252F" + tok + "/", "/ws/device/token/[redacted]/"},
		{"encoded token segment name", "/ws/device/%74oken/" + tok + "/", "/ws/device/token/[redacted]/"},
		{"malformed escape does not stop decoding", "/ws/device/token%2F" + tok + "%zz/", "/ws/device/token/[redacted]/"},
		{"backslash separator", `/ws/device/token\` + tok, "/ws/device/token/[redacted]/"},
		{"token-looking segment elsewhere", "/ws/device/" + tok + "/", "/ws/device/[redacted]/"},
		{"django token elsewhere", "/api/" + django, "/api/[redacted]"},
		{"token run inside a segment", "/ws/device/t=" + tok + ";x/", "/ws/device/[redacted]/"},
		{"long word without digits kept", "/api/authorization_required_here/", "/api/authorization_required_here/"},
		{"long number kept", "/api/device/devices/12345678901234567890/", "/api/device/devices/12345678901234567890/"},
		{"short hex kept", "/api/x/" + tok[:19] + "/", "/api/x/" + tok[:19] + "/"},
		{"deeply encoded slash", "/ws/device/token%" + strings.Repeat("25", 7) + "2F" + tok, "/ws/device/token/[redacted]/"},
		{"over-encoded path hidden entirely", "/ws/device/token%" + strings.Repeat("25", 8) + "2F" + tok, "[redacted]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := redactPath(tc.path)
			if got != tc.want {
				t.Fatalf("redactPath(%q) = %q, want %q", tc.path, got, tc.want)
			}
			for _, secret := range []string{tok, django} {
				if strings.Contains(got, secret) {
					t.Fatalf("redactPath(%q) = %q still holds a token", tc.path, got)
				}
			}
		})
	}
}

func TestAbsoluteURL(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::1/128")}
	forwarded := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "paradise.example.com"}
	tests := []struct {
		name    string
		target  string
		tls     bool
		peer    string // r.RemoteAddr
		trusted []netip.Prefix
		headers map[string]string
		want    string
	}{
		{"plain http", "http://api.example.com/api/device/types/?page=2", false, "203.0.113.9:5000", nil, nil,
			"http://api.example.com/api/device/types/?page=2"},
		{"tls", "https://api.example.com/api/device/types/", true, "203.0.113.9:5000", nil, nil,
			"https://api.example.com/api/device/types/"},
		{"no trusted proxies: forwarded headers ignored", "http://10.0.0.5:8000/api/v1/admin/users/?search=bob", false,
			"10.0.0.2:5000", nil, forwarded, "http://10.0.0.5:8000/api/v1/admin/users/?search=bob"},
		{"untrusted peer: forwarded headers ignored", "http://api.example.com/api/device/types/?page=2", false,
			"203.0.113.9:5000", proxies, map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"},
			"http://api.example.com/api/device/types/?page=2"},
		{"untrusted peer cannot downgrade tls", "https://api.example.com/x/", true,
			"203.0.113.9:5000", proxies, map[string]string{"X-Forwarded-Proto": "http"}, "https://api.example.com/x/"},
		{"trusted IPv4 proxy: forwarded proto", "http://10.0.0.5:8000/api/device/types/?page_size=5", false,
			"10.0.0.2:5000", proxies, map[string]string{"X-Forwarded-Proto": "https"},
			"https://10.0.0.5:8000/api/device/types/?page_size=5"},
		{"trusted IPv4 proxy: forwarded proto and host", "http://10.0.0.5:8000/api/v1/admin/users/?search=bob", false,
			"10.0.0.2:5000", proxies, forwarded, "https://paradise.example.com/api/v1/admin/users/?search=bob"},
		{"trusted IPv6 proxy", "http://[fd00::5]:8000/x/", false,
			"[fd00::1]:5000", proxies, forwarded, "https://paradise.example.com/x/"},
		{"IPv6 peer next to the trusted one", "http://[fd00::5]:8000/x/", false,
			"[fd00::2]:5000", proxies, forwarded, "http://[fd00::5]:8000/x/"},
		{"IPv4-mapped peer matches an IPv4 proxy", "http://10.0.0.5:8000/x/", false,
			"[::ffff:10.0.0.2]:5000", proxies, forwarded, "https://paradise.example.com/x/"},
		{"first of several forwarded hosts", "http://10.0.0.5:8000/x/", false,
			"10.0.0.2:5000", proxies, map[string]string{"X-Forwarded-Host": " paradise.example.com , inner.local"},
			"http://paradise.example.com/x/"},
		{"empty forwarded host keeps Host", "http://10.0.0.5:8000/x/", false,
			"10.0.0.2:5000", proxies, map[string]string{"X-Forwarded-Host": " "}, "http://10.0.0.5:8000/x/"},
		{"forwarded http behind a trusted tls terminator", "https://api.example.com/x/", true,
			"10.0.0.2:5000", proxies, map[string]string{"X-Forwarded-Proto": "http"}, "http://api.example.com/x/"},
		{"bogus forwarded proto ignored", "http://api.example.com/x/", false,
			"10.0.0.2:5000", proxies, map[string]string{"X-Forwarded-Proto": "javascript"}, "http://api.example.com/x/"},
		{"unparsable peer is untrusted", "http://api.example.com/x/", false,
			"pipe", proxies, forwarded, "http://api.example.com/x/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.target, nil)
			r.RemoteAddr = tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			if got := absoluteURL(r, tc.trusted).String(); got != tc.want {
				t.Fatalf("absoluteURL = %q, want %q", got, tc.want)
			}
		})
	}
}
