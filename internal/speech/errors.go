package speech

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"paradise/internal/apperr"
)

// Business codes of speech answers (documented in openapi.yaml).
const (
	// CodeBadAudio: the audio could not be read (a corrupt header, a
	// vendor refusing its encoding).
	CodeBadAudio = 4020
	// CodeUnsupportedFormat: no configured provider takes the format.
	CodeUnsupportedFormat = 4021
	// CodeAudioTooLong: over the size or duration cap.
	CodeAudioTooLong = 4022
	// CodeEmptyAudio: no audio, or nothing but silence.
	CodeEmptyAudio = 4023
	// CodeTextTooLong: text to synthesize over the cap.
	CodeTextTooLong = 4025

	// CodeEngineMissing: no provider can serve the request (the
	// development engines are not installed).
	CodeEngineMissing = 5040
	// CodeVendorError: every provider failed.
	CodeVendorError = 5041
	// CodeVendorTimeout: the provider did not answer in time.
	CodeVendorTimeout = 5042
	// CodeVendorBusy: the provider is rate limiting us.
	CodeVendorBusy = 5043
)

// Kind classifies a vendor failure, which decides failover and the
// client's answer.
type Kind int

// The kinds of speech failures.
const (
	// KindUnavailable is the vendor failing (5xx, network, busy): the
	// next provider is tried.
	KindUnavailable Kind = iota
	// KindTimeout is the vendor not answering in time: next provider.
	KindTimeout
	// KindRateLimited is the vendor refusing for load or quota: next
	// provider.
	KindRateLimited
	// KindAuth is our credentials being refused (a bad key, an expired
	// token that a fresh one did not fix): next provider, and an
	// operator's problem.
	KindAuth
	// KindBadAudio is the audio being unreadable: no failover, 400.
	KindBadAudio
	// KindEmpty is silence or no audio: no failover, 400.
	KindEmpty
	// KindBadText is text the vendor refuses: no failover, 400.
	KindBadText
)

// Error is a vendor's failure. Code and Message are the vendor's (for
// logs and the errors-by-code metric); they never carry credentials.
type Error struct {
	Provider string
	Kind     Kind
	// Code is the vendor's error code ("40000001", "3011",
	// "AuthFailure.SignatureFailure", "http_503").
	Code    string
	Message string
	Err     error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("speech: %s: %s %s", e.Provider, e.Code, e.Message)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Failover reports whether another provider may succeed where this one
// failed: the vendor's trouble, not the input's.
func (e *Error) Failover() bool {
	switch e.Kind {
	case KindBadAudio, KindEmpty, KindBadText:
		return false
	}
	return true
}

// AsAppError turns a speech failure into what the client sees; other
// errors are returned as they are.
func AsAppError(err error) error {
	var se *Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Kind {
	case KindBadAudio:
		return &apperr.Error{Status: http.StatusBadRequest, Code: CodeBadAudio,
			Message: "The audio could not be recognized: it is corrupt or not in the format given.", Err: err}
	case KindEmpty:
		return EmptyAudio()
	case KindBadText:
		return &apperr.Error{Status: http.StatusBadRequest, Code: http.StatusBadRequest,
			Message: "text: The speech engine refused this text.", Fields: map[string][]string{"text": {"The speech engine refused this text."}}, Err: err}
	case KindTimeout:
		return &apperr.Error{Status: http.StatusGatewayTimeout, Code: CodeVendorTimeout,
			Message: "The speech service did not answer in time; try again.", RetryAfter: 2 * time.Second, Err: err}
	case KindRateLimited:
		return &apperr.Error{Status: http.StatusServiceUnavailable, Code: CodeVendorBusy,
			Message: "The speech service is busy; try again shortly.", RetryAfter: 5 * time.Second, Err: err}
	}
	return &apperr.Error{Status: http.StatusBadGateway, Code: CodeVendorError,
		Message: "The speech service failed; try again shortly.", RetryAfter: 5 * time.Second, Err: err}
}

// EmptyAudio is the 400 (code 4023) of audio with nothing to hear.
func EmptyAudio() *apperr.Error {
	return &apperr.Error{Status: http.StatusBadRequest, Code: CodeEmptyAudio,
		Message: "The audio is empty or silent.", Fields: map[string][]string{"audio": {"The audio is empty or silent."}}}
}

// EngineMissing is the 503 (code 5040) when no provider can serve: what
// names the missing engine.
func EngineMissing(what string) *apperr.Error {
	return &apperr.Error{Status: http.StatusServiceUnavailable, Code: CodeEngineMissing,
		Message: "Speech is unavailable: " + what}
}
