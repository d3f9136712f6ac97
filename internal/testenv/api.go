package testenv

import (
	"context"
	"errors"
	"testing"

	"github.com/ogen-go/ogen/ogenerrors"

	"paradise/gen/api"
)

// tokenSource is the ogen client's security source: every operation that
// takes a token gets "Authorization: Token <token>".
type tokenSource string

func (s tokenSource) header() (string, error) {
	if s == "" {
		// No header: the client then refuses an operation that needs one
		// (ogenerrors.ErrSecurityRequirementIsNotSatisfied) without sending
		// it; send requests without a token with Service.Do.
		return "", ogenerrors.ErrSkipClientSecurity
	}
	return "Token " + string(s), nil
}

func (s tokenSource) TokenAuth(context.Context, api.OperationName) (api.TokenAuth, error) {
	h, err := s.header()
	return api.TokenAuth{APIKey: h}, err
}

func (s tokenSource) AdminTokenAuth(context.Context, api.OperationName) (api.AdminTokenAuth, error) {
	h, err := s.header()
	return api.AdminTokenAuth{APIKey: h}, err
}

// API is a typed client of the service, the ogen client generated from
// openapi.yaml, that authenticates as token (a user, MAC or admin login's;
// empty for operations that take none). It decodes and validates every
// success response against the spec's schema; any other response comes
// back as an error, *api.ErrorStatusCode with the status and the error
// envelope (see APIError). Service.Do remains for requests the typed
// client cannot send: malformed input, other headers, no token.
func (s *Service) API(t testing.TB, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(s.URL, tokenSource(token))
	if err != nil {
		t.Fatalf("testenv: ogen client: %v", err)
	}
	return c
}

// APIError is the status and envelope of the error response a typed call
// got. It fails the test when err is nil (the call succeeded) or is not an
// error response (transport, encoding or decoding failure).
func APIError(t testing.TB, err error) *api.ErrorStatusCode {
	t.Helper()
	if err == nil {
		t.Fatal("the call succeeded, want an error response")
	}
	var e *api.ErrorStatusCode
	if !errors.As(err, &e) {
		t.Fatalf("want an error response, got %v", err)
	}
	return e
}

// ExpectAPIError checks that a typed call got an error response with the
// status and envelope code (and success false), and returns its envelope.
func ExpectAPIError(t testing.TB, err error, status, code int) api.Error {
	t.Helper()
	e := APIError(t, err)
	if e.StatusCode != status || e.Response.Code != code || e.Response.Success {
		t.Fatalf("got status %d code %d success %t (%q), want %d/%d", e.StatusCode, e.Response.Code, e.Response.Success, e.Response.Message, status, code)
	}
	return e.Response
}

// OK checks a typed call's success: no error, and an envelope with success
// true and the code. It returns the response.
func OK[R interface {
	GetSuccess() bool
	GetCode() int
}](t testing.TB, res R, err error, code int) R {
	t.Helper()
	if err != nil {
		t.Fatalf("want a %T with code %d, got %v", res, code, err)
	}
	if !res.GetSuccess() || res.GetCode() != code {
		t.Fatalf("%T: success %t code %d, want true/%d", res, res.GetSuccess(), res.GetCode(), code)
	}
	return res
}
