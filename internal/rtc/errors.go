package rtc

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"paradise/internal/apperr"
)

func errNotConfigured() error {
	return &apperr.Error{Status: http.StatusServiceUnavailable, Code: apperr.CodeRTCNotConfigured,
		Message: "Voice rooms are not configured on this server."}
}

func errAgentNotConfigured() error {
	return &apperr.Error{Status: http.StatusServiceUnavailable, Code: apperr.CodeRTCNotConfigured,
		Message: "The voice agent is not configured on this server."}
}

func errNoAgent() error {
	return &apperr.Error{Status: http.StatusNotFound, Code: apperr.CodeRTCNoAgent,
		Message: "No voice agent is running in your room."}
}

func errTaskKey() error {
	return &apperr.Error{Status: http.StatusUnauthorized, Code: apperr.CodeRTCTaskKey,
		Message: "Invalid or expired task key."}
}

func errNotYourDevice(msg string) error {
	return &apperr.Error{Status: http.StatusForbidden, Code: apperr.CodeRTCNotYourDevice, Message: msg}
}

// vendorRetry is the Retry-After of a rate-limited or failing vendor.
const vendorRetry = 5 * time.Second

// vendorError maps the voice service's failures (vendors.md §2d) to the
// envelope: our credentials (an operator problem) 502/5051; its rate limit
// 503/5052; it being down 503/5053; anything else it refused 502/5054. The
// vendor's message is not shown, only its code.
func vendorError(err error) error {
	var ve *VendorError
	if !errors.As(err, &ve) {
		return err
	}
	e := &apperr.Error{Err: err}
	switch {
	case ve.Status == 0 || ve.Code == "InternalError" || ve.Code == "ServiceUnavailableTemp" || ve.Status >= 500:
		e.Status, e.Code, e.RetryAfter = http.StatusServiceUnavailable, apperr.CodeRTCVendorDown, vendorRetry
		e.Message = "The voice service is unavailable; try again shortly."
	case ve.Code == "FlowLimitExceeded" || ve.Status == http.StatusTooManyRequests:
		e.Status, e.Code, e.RetryAfter = http.StatusServiceUnavailable, apperr.CodeRTCVendorBusy, vendorRetry
		e.Message = "The voice service is busy; try again shortly."
	case authCodes[ve.Code]:
		e.Status, e.Code = http.StatusBadGateway, apperr.CodeRTCVendorAuth
		e.Message = fmt.Sprintf("The voice service refused our credentials (%s).", ve.Code)
	default:
		e.Status, e.Code = http.StatusBadGateway, apperr.CodeRTCVendorRejected
		e.Message = fmt.Sprintf("The voice service rejected the request (%s).", ve.Code)
	}
	return e
}

// authCodes are the gateway codes that mean our credentials, signature or
// clock are wrong.
var authCodes = map[string]bool{
	"MissingAuthenticationToken": true, "MissingSignature": true, "InvalidTimestamp": true,
	"InvalidAccessKey": true, "SignatureDoesNotMatch": true, "AccessDenied": true, "MissingRequestInfo": true,
}
