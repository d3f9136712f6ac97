package device

import (
	"context"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/hub"
)

// ClaimCodeHandler answers a device session's claim_code_request frame
// with a claim_code frame, as POST /api/device/claim-code/ answers a
// device token: for firmware that holds a hub session and no HTTP client.
func (c *Claims) ClaimCodeHandler() hub.FrameHandler {
	return hub.FrameHandler{Type: ws.ClaimCodeRequestFrame, Consume: true, Handle: c.claimCodeFrame}
}

func (c *Claims) claimCodeFrame(ctx context.Context, s *hub.Session, f *ws.Frame) error {
	reqID := f.ClaimCodeRequest.Message.RequestID
	if !s.IsDevice() {
		return refuseFrame(s, reqID, apperr.Forbidden("Only a device can ask for a claim code."))
	}
	code, ttl, err := c.Issue(ctx, s.MAC())
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil // the session ended
		}
		s.Logger().Error("Claim code not issued", zap.Error(err))
		return refuseFrame(s, reqID, apperr.Coded(http.StatusInternalServerError, http.StatusInternalServerError,
			"Could not issue a claim code."))
	}
	return s.Send(ws.NewClaimCodeFrame(ws.ClaimCode{Message: ws.ClaimCodePayload{
		Code: code, ExpiresIn: int(ttl / time.Second), RequestID: reqID}}))
}

// refuseFrame answers a frame standing for a REST operation with an error
// frame carrying the operation's business code for the same refusal.
func refuseFrame(s *hub.Session, reqID ws.OptRequestID, e *apperr.Error) error {
	p := ws.ErrorPayload{Code: ws.ErrorCodeInternalError, Detail: e.Bounded().Message, RequestID: reqID,
		BusinessCode: ws.NewOptInt(e.Code)}
	switch {
	case e.Status == http.StatusForbidden:
		p.Code = ws.ErrorCodeNotAllowed
	case e.Status == http.StatusNotFound:
		p.Code = ws.ErrorCodeNotFound
	case e.Status == http.StatusTooManyRequests:
		p.Code = ws.ErrorCodeRateLimited
	case e.Status == http.StatusServiceUnavailable:
		p.Code = ws.ErrorCodeUnavailable
	case e.Status < 500:
		p.Code = ws.ErrorCodeInvalidPayload
	}
	if e.RetryAfter > 0 {
		p.RetryAfter = ws.NewOptInt(int((e.RetryAfter + time.Second - 1) / time.Second))
	}
	return s.Send(ws.NewErrorFrame(ws.Error{Message: p}))
}
