// Package apperr defines the errors services return to the API layer. Each
// carries the HTTP status and envelope code it becomes; anything else that
// reaches a client is an internal error.
package apperr

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// CodeDeviceNotBound is the business code of a MAC login for a device that
// is unknown or bound to nobody (kept from the Django system).
const CodeDeviceNotBound = 4010

// CodeBusy is the business code of a 503 the service answers when it is at
// a limit it protects itself with (concurrent password hashes): nothing is
// wrong with the request, so the client retries after Retry-After.
const CodeBusy = 5031

// Error is an error a client may see.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the envelope code: the status unless a business code applies.
	Code int
	// Message is safe to show to the client.
	Message string
	// Fields lists validation messages per request field, if any.
	Fields map[string][]string
	// Err is the cause, for logs; never shown to the client.
	Err error
	// RetryAfter, when positive, becomes the Retry-After header (whole
	// seconds, rounded up).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newError(status int, msg string) *Error {
	return &Error{Status: status, Code: status, Message: msg}
}

// BadRequest is a 400 without field detail.
func BadRequest(msg string) *Error { return newError(http.StatusBadRequest, msg) }

// Unauthorized is a 401: no, invalid, expired or revoked credentials.
func Unauthorized(msg string) *Error { return newError(http.StatusUnauthorized, msg) }

// Forbidden is a 403: authenticated but not allowed.
func Forbidden(msg string) *Error { return newError(http.StatusForbidden, msg) }

// NotFound is a 404. Resources the caller may not see are also 404, so
// their existence does not leak.
func NotFound(msg string) *Error { return newError(http.StatusNotFound, msg) }

// Conflict is a 409: the request clashes with the current state.
func Conflict(msg string) *Error { return newError(http.StatusConflict, msg) }

// DeviceNotBound is the 4010 answer of a MAC login.
func DeviceNotBound() *Error {
	return &Error{Status: http.StatusNotFound, Code: CodeDeviceNotBound, Message: "Device is not bound to any user."}
}

// CodeDependencyDown is the business code of a 503 the service answers
// while a service it depends on (the database, Redis) is unreachable. The
// request may be retried as is; nothing about it was wrong.
const CodeDependencyDown = 5032

// dependencyRetry is the Retry-After of CodeDependencyDown.
const dependencyRetry = 5 * time.Second

// DependencyDown is the 503 (code 5032) of a request that failed because
// the database or Redis is unreachable.
func DependencyDown() *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeDependencyDown,
		Message: "Service temporarily unavailable; try again shortly.", RetryAfter: dependencyRetry}
}

// Unavailable is a 503 with code 5031 (CodeBusy) telling the client to
// retry after retryAfter.
func Unavailable(msg string, retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeBusy, Message: msg, RetryAfter: retryAfter}
}

// CodeTooManyRequests is the business code of a 429: the caller is over a
// quota or rate limit (messages or tokens per day, concurrent streams,
// login attempts per minute, ...). Nothing is wrong with the request
// itself: the client may send it again after Retry-After.
const CodeTooManyRequests = 4291

// TooManyRequests is a 429 with code 4291 (CodeTooManyRequests) telling the
// client to retry after retryAfter. A 429 always carries Retry-After: a
// retryAfter under a second becomes one second.
func TooManyRequests(msg string, retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: msg,
		RetryAfter: max(retryAfter, time.Second)}
}

// Business codes of device credentials, claim codes and logins (issue
// "devices you can trust").
const (
	// CodeMACLoginRefused: bare MAC login is refused for this device (it
	// has a secret, an admin turned it off, or PARADISE_MAC_LOGIN=off);
	// HTTP 403. The device must use the challenge-response login.
	CodeMACLoginRefused = 4011
	// CodeDeviceAuthFailed: a challenge-response login failed (unknown or
	// used nonce, stale timestamp, wrong signature, no secret); HTTP 401.
	CodeDeviceAuthFailed = 4012
	// CodeClaimCodeInvalid: the claim code is unknown, expired or used;
	// HTTP 400.
	CodeClaimCodeInvalid = 4013
	// CodeBindByMACRefused: binding by bare MAC is off, or the device has
	// a secret and is bound by claim code only; HTTP 403.
	CodeBindByMACRefused = 4014
	// CodeLoginLocked: too many failed logins for this username from this
	// address; HTTP 429 with Retry-After.
	CodeLoginLocked = 4015
	// CodeDeviceSecretsUnavailable: device secrets cannot be stored or
	// read because PARADISE_DEVICE_SECRET_KEY is not set; HTTP 503.
	CodeDeviceSecretsUnavailable = 4016
)

// Business codes of request rate limits (HTTP 429 with Retry-After).
const (
	// CodeLoginRate: logins, admin logins or registrations per client IP
	// or per username.
	CodeLoginRate = 4294
	// CodeDeviceLoginRate: MAC logins, challenges and device logins per
	// client IP or per MAC.
	CodeDeviceLoginRate = 4295
	// CodeBindRate: binds and claims per user, claims per client IP.
	CodeBindRate = 4296
	// CodePushRate: pushes and commands per user or per device.
	CodePushRate = 4297
)

// Coded is an error with a business code of its own.
func Coded(status, code int, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// CodeAdminSelfAction is the business code of a 403 refusing staff an
// action on their own account that would lock them out of the admin
// (deleting it, removing their own staff or active flag).
const CodeAdminSelfAction = 4040

// SelfAction is the 403 (code 4040) of CodeAdminSelfAction.
func SelfAction(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeAdminSelfAction, Message: msg}
}

// CodeImportRejected is the business code of a 400 refusing a whole bulk
// import (the admin's CSV device import): its header or its shape cannot
// be read, so no row is trusted and nothing is imported. Bad rows of a
// readable file are reported per row instead.
const CodeImportRejected = 4041

// ImportRejected is the 400 (code 4041) of CodeImportRejected, naming the
// field that holds the file.
func ImportRejected(field, msg string) *Error {
	e := Field(field, msg)
	e.Code = CodeImportRejected
	return e
}

// Field is a 400 for one invalid field.
func Field(name, msg string) *Error {
	return Validation(map[string][]string{name: {msg}})
}

// Validation is a 400 listing messages per field; its Message flattens
// them ("password: This field is required.") in field order.
func Validation(fields map[string][]string) *Error {
	e := newError(http.StatusBadRequest, Flatten(fields))
	e.Fields = fields
	return e
}

// Flatten renders field messages as one readable line, fields sorted by
// name so the message is stable.
func Flatten(fields map[string][]string) string {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		msgs := strings.Join(fields[name], " ")
		if name == "" {
			parts = append(parts, msgs)
			continue
		}
		parts = append(parts, name+": "+msgs)
	}
	if len(parts) == 0 {
		return "Invalid input."
	}
	return strings.Join(parts, "; ")
}

// Bounds on what an error shows a client. Some messages quote the input
// (a decoder's error on a 100,000-deep JSON body ran to 70 KB); an answer
// must not grow with the request.
const (
	// MaxMessageBytes bounds the message and each field message.
	MaxMessageBytes = 512
	// MaxFields bounds the fields listed in data.
	MaxFields = 20
)

// Truncate shortens s to at most n bytes, cutting at a character boundary
// and marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := max(n-len(mark), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// Bounded returns the error as a client may see it: the message and every
// field message valid UTF-8 (messages may quote the input) and at most
// MaxMessageBytes, at most MaxFields fields (the first by name).
func (e *Error) Bounded() *Error {
	out := *e
	out.Message = clean(e.Message)
	if len(e.Fields) == 0 {
		return &out
	}
	names := make([]string, 0, len(e.Fields))
	for name := range e.Fields {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) > MaxFields {
		names = names[:MaxFields]
	}
	out.Fields = make(map[string][]string, len(names))
	for _, name := range names {
		msgs := make([]string, len(e.Fields[name]))
		for i, m := range e.Fields[name] {
			msgs[i] = clean(m)
		}
		out.Fields[clean(name)] = msgs
	}
	return &out
}

func clean(s string) string {
	return Truncate(strings.ToValidUTF8(s, "\uFFFD"), MaxMessageBytes)
}

// Business codes of voice rooms (internal/rtc).
const (
	// CodeRTCNoAgent: no voice agent runs in the caller's room (404).
	CodeRTCNoAgent = 4032
	// CodeRTCTaskKey: the agent's LLM endpoint got a wrong or expired
	// task key (401).
	CodeRTCTaskKey = 4033
	// CodeRTCNotYourDevice: the device is not the caller's, or a device
	// token named another device (403).
	CodeRTCNotYourDevice = 4034
	// CodeRTCNotConfigured: voice rooms are not configured (503).
	CodeRTCNotConfigured = 5050
	// CodeRTCVendorAuth: the voice service refused our credentials or
	// signature (502), an operator problem.
	CodeRTCVendorAuth = 5051
	// CodeRTCVendorBusy: the voice service is rate limiting us (503).
	CodeRTCVendorBusy = 5052
	// CodeRTCVendorDown: the voice service is unreachable or failing (503).
	CodeRTCVendorDown = 5053
	// CodeRTCVendorRejected: the voice service rejected the request (502).
	CodeRTCVendorRejected = 5054
)
