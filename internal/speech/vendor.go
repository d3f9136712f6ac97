package speech

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// TransportError classifies a failure to reach a vendor: a deadline is
// KindTimeout, anything else KindUnavailable. ctx's own cancellation (the
// client went away) is returned as is.
func TransportError(ctx context.Context, provider string, err error) error {
	if ctx.Err() == context.Canceled {
		return ctx.Err()
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &Error{Provider: provider, Kind: KindTimeout, Code: "timeout", Message: "no answer in time", Err: err}
	}
	return &Error{Provider: provider, Kind: KindUnavailable, Code: "network", Message: "unreachable", Err: err}
}

// StatusKind classifies a vendor's HTTP status when its body says no more.
func StatusKind(status int) Kind {
	switch {
	case status == http.StatusTooManyRequests:
		return KindRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return KindAuth
	case status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout:
		return KindTimeout
	}
	return KindUnavailable
}

// HTTPError is a vendor's HTTP failure without a readable body.
func HTTPError(provider string, status int) *Error {
	return &Error{Provider: provider, Kind: StatusKind(status), Code: "http_" + strconv.Itoa(status), Message: http.StatusText(status)}
}
