package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-faster/jx"
	"github.com/ogen-go/ogen/ogenerrors"
	"github.com/ogen-go/ogen/validate"
	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/apperr"
	"paradise/internal/logging"
	"paradise/internal/outage"
)

// Errors is the part of api.Handler that httpapi owns: the error envelope.
// internal/app embeds it in the composed handler.
type Errors struct {
	log     *zap.Logger
	outages *outage.Log
}

// NewErrors returns the envelope writer.
func NewErrors(log *zap.Logger) *Errors {
	log = log.Named("http")
	return &Errors{log: log, outages: outage.NewLog(log)}
}

// NewError turns any error ogen hands over into the error envelope:
// handler errors and, with convenient errors, security failures too.
// Errors that are not *apperr.Error are internal: logged here, once, and
// answered with a generic 500 that leaks nothing.
func (a *Errors) NewError(ctx context.Context, err error) *api.ErrorStatusCode {
	ae := a.classify(ctx, err)
	if h, ok := ctx.Value(responseHeaderKey{}).(http.Header); ok {
		setRetryAfter(h, ae)
	}
	return errorStatus(ae)
}

type responseHeaderKey struct{}

// exposeHeader puts the response headers in the request context for
// NewError: ogen hands it only a context and encodes the envelope itself,
// yet a 503 must carry Retry-After.
func exposeHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), responseHeaderKey{}, w.Header())))
	})
}

// setRetryAfter sets Retry-After, in whole seconds rounded up, on errors
// that ask the client to come back later.
func setRetryAfter(h http.Header, ae *apperr.Error) {
	if ae.RetryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64((ae.RetryAfter+time.Second-1)/time.Second), 10))
	}
}

func errorStatus(ae *apperr.Error) *api.ErrorStatusCode {
	ae = ae.Bounded()
	body := api.Error{Success: false, Code: ae.Code, Message: ae.Message, Data: api.NilErrorData{Null: true}}
	if len(ae.Fields) > 0 {
		body.Data = api.NilErrorData{Value: ae.Fields}
	}
	return &api.ErrorStatusCode{StatusCode: ae.Status, Response: body}
}

// writeError writes an error envelope outside ogen's response encoders:
// decode and security failures, 404/405, panics.
func writeError(w http.ResponseWriter, ae *apperr.Error) {
	res := errorStatus(ae)
	e := jx.GetEncoder()
	defer jx.PutEncoder(e)
	res.Response.Encode(e)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	setRetryAfter(w.Header(), ae)
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(e.Bytes())
}

// Write answers a request with the envelope of err, outside ogen: for
// routes that serve part of the REST API themselves (Route.Intercept).
// err is classified as NewError does (apperr, outages, security and
// decoding errors; anything else a logged 500).
func (a *Errors) Write(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, a.classify(r.Context(), err))
}

// handleOgenError is ogen's ErrorHandler: request decoding and validation
// failures get the same envelope as handler errors.
func (a *Errors) handleOgenError(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, a.classify(ctx, err))
}

func (a *Errors) classify(ctx context.Context, err error) *apperr.Error {
	var (
		ae      *apperr.Error
		secErr  *ogenerrors.SecurityError
		ctErr   *validate.InvalidContentTypeError
		reqErr  *ogenerrors.DecodeRequestError
		parErr  *ogenerrors.DecodeParamsError
		oneParm *ogenerrors.DecodeParamError
		tooBig  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &tooBig):
		return &apperr.Error{Status: http.StatusRequestEntityTooLarge, Code: http.StatusRequestEntityTooLarge,
			Message: fmt.Sprintf("Request body is larger than %d bytes.", tooBig.Limit)}
	case errors.As(err, &ctErr):
		return &apperr.Error{Status: http.StatusUnsupportedMediaType, Code: http.StatusUnsupportedMediaType,
			Message: fmt.Sprintf("Unsupported media type %q in request.", ctErr.ContentType)}
	case errors.As(err, &oneParm):
		return apperr.Validation(map[string][]string{oneParm.Name: {fieldMessage(oneParm.Err)}})
	case errors.As(err, &reqErr), errors.As(err, &parErr):
		// Decoding reads the client's body: its EOF is the client's.
		return decodeError(err)
	case outage.Is(err) && ctx.Err() == nil:
		// Before the security error case: a token lookup that could not
		// reach Redis says nothing about the token, and a 401 would log
		// the client out.
		a.outages.Report("request", err)
		return apperr.DependencyDown()
	case errors.As(err, &secErr):
		return apperr.Unauthorized("Authentication credentials were not provided.")
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		// The client went away mid-request; nobody reads this answer, and
		// it is not a server fault worth an error log.
		return &apperr.Error{Status: statusClientClosed, Code: statusClientClosed, Message: "Client closed request."}
	default:
		logging.From(ctx, a.log).Error("Internal error", zap.Error(err))
		return &apperr.Error{Status: http.StatusInternalServerError, Code: http.StatusInternalServerError,
			Message: "Internal server error."}
	}
}

// statusClientClosed is nginx's de-facto status for a request its client
// abandoned; it only reaches logs.
const statusClientClosed = 499

// decodeField finds the field a JSON decoding error happened in; ogen
// wraps such errors as `decode field "name"`.
var decodeField = regexp.MustCompile(`decode field "([^"]+)"`)

// decodeNoise is ogen's wrapping of decoding errors, stripped from the
// message a client sees.
var decodeNoise = regexp.MustCompile(`^(operation \w+: decode request: )?((decode [^:]+|callback|alias): )*`)

// decodeError flattens a request decoding failure into a 400 with per-field
// messages where the field is known.
func decodeError(err error) *apperr.Error {
	var verr *validate.Error
	switch {
	case errors.As(err, &verr):
		fields := map[string][]string{}
		collectFields(fields, "", verr)
		return apperr.Validation(fields)
	case errors.Is(err, validate.ErrBodyRequired):
		return apperr.BadRequest("Request body is required.")
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.HasSuffix(err.Error(), "unexpected EOF"):
		return apperr.BadRequest("Malformed JSON: unexpected end of input.")
	}
	if m := decodeField.FindAllStringSubmatch(err.Error(), -1); len(m) > 0 {
		return apperr.Field(m[len(m)-1][1], "Incorrect type or malformed value.")
	}
	return apperr.BadRequest("Malformed JSON: " + decodeNoise.ReplaceAllString(err.Error(), "") + ".")
}

// collectFields walks nested validation errors, naming fields by path
// ("device.name").
func collectFields(into map[string][]string, prefix string, verr *validate.Error) {
	for _, f := range verr.Fields {
		name := f.Name
		if prefix != "" && !strings.HasPrefix(name, "[") {
			name = prefix + "." + name
		} else {
			name = prefix + name // array elements: interests[3]
		}
		var nested *validate.Error
		if errors.As(f.Error, &nested) {
			collectFields(into, name, nested)
			continue
		}
		into[name] = append(into[name], fieldMessage(f.Error))
	}
}

// fieldMessage phrases a field error the way the Django system did.
func fieldMessage(err error) string {
	var (
		minLen *validate.MinLengthError
		maxLen *validate.MaxLengthError
		regex  *validate.NoRegexMatchError
	)
	switch {
	case errors.Is(err, validate.ErrFieldRequired):
		return "This field is required."
	case errors.As(err, &minLen):
		if isArray(err) {
			return fmt.Sprintf("Ensure this field has at least %d elements.", minLen.MinLength)
		}
		if minLen.Len == 0 {
			return "This field may not be blank."
		}
		return fmt.Sprintf("Ensure this field has at least %d characters.", minLen.MinLength)
	case errors.As(err, &maxLen):
		if isArray(err) {
			return fmt.Sprintf("Ensure this field has no more than %d elements.", maxLen.MaxLength)
		}
		return fmt.Sprintf("Ensure this field has no more than %d characters.", maxLen.MaxLength)
	case errors.As(err, &regex):
		return "Enter a valid value."
	default:
		return capitalize(innermost(err)) + "."
	}
}

// isArray reports whether a length error is about an array's items:
// ogen wraps those as "array: ..." (string lengths as "string: ...").
func isArray(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if strings.HasPrefix(err.Error(), "array: ") {
			return true
		}
	}
	return false
}

// innermost is the message of the deepest wrapped error: the cause without
// ogen's "decode X: callback:" chain.
func innermost(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// notFound answers unknown paths.
func notFound(w http.ResponseWriter, _ *http.Request) {
	writeError(w, apperr.NotFound("Not found."))
}

// methodNotAllowed answers known paths called with the wrong method.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed string) {
	w.Header().Set("Allow", allowed)
	if r.Method == http.MethodOptions {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeError(w, &apperr.Error{Status: http.StatusMethodNotAllowed, Code: http.StatusMethodNotAllowed,
		Message: fmt.Sprintf("Method %q not allowed.", r.Method)})
}
