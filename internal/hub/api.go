package hub

import (
	"context"
	"errors"

	"github.com/coder/websocket"
	"go.uber.org/fx"

	"paradise/gen/ws"
)

// This file is the hub's extension surface. The hub authenticates,
// validates, relays, queues and fans out; domain packages plug in here,
// through fx value groups, and the hub imports none of them.

// Identity is who a session belongs to.
type Identity struct {
	UserID int
	// MAC is set for device sessions (tokens from MAC login).
	MAC string
	// Token is the token the session was opened with, so revoking it can
	// close the session.
	Token string
}

// ErrInvalidToken is what an Authenticator returns for a token that does
// not open a session (unknown, expired, revoked, or its user disabled):
// the session closes with 4001. Any other error is the authenticator
// failing, and the session closes with 1013 (try again later).
var ErrInvalidToken = errors.New("hub: invalid token")

// Authenticator resolves the token a session was opened with.
type Authenticator interface {
	AuthenticateSession(ctx context.Context, token string) (Identity, error)
}

// FrameHandler handles client frames of one type on the server. Whether a
// client may send the type at all is asyncapi.yaml's direction table
// (gen/ws), not the handler's business.
type FrameHandler struct {
	// Type is the frame type handled.
	Type ws.FrameType
	// Consume stops the hub relaying frames of this type to the group;
	// by default a handled frame is relayed too (before it is handled).
	Consume bool
	// RelayToApps relays the frames of this type that devices send to
	// the group's app sessions only, not to the group's other devices
	// (a device's command_result concerns its owner's apps, and a user
	// with many devices would otherwise copy every one to all of them).
	RelayToApps bool
	// Handle runs on the session's reader goroutine, so a session's
	// frames are handled in order; it should be quick. ctx ends with the
	// session. A *FrameError is sent to the client as is; any other error
	// is logged and answered with internal_error. f is only valid during
	// the call (the hub reuses it): copy what outlives it.
	Handle func(ctx context.Context, s *Session, f *ws.Frame) error
}

// BinaryHandler receives a session's binary frames inside a turn a frame
// handler opened (Session.SetBinaryHandler). It runs on the session's
// reader goroutine, in order with the text frames, and should be quick; a
// *FrameError is sent to the client, any other error is logged and
// answered with internal_error. data is only valid during the call.
type BinaryHandler func(ctx context.Context, data []byte) error

// FrameError is a handler's answer to a frame it refuses.
type FrameError struct {
	Code   ws.ErrorCode
	Detail string
}

func (e *FrameError) Error() string { return string(e.Code) + ": " + e.Detail }

// Hooks follow a session's life. Every field is optional.
type Hooks struct {
	// Name names the hooks in logs.
	Name string
	// Connect runs after authentication, before the session joins its
	// group and before its connected frame is written. An error refuses
	// the session: a *Reject closes it with its code, anything else with
	// 1013 (try again later).
	Connect func(ctx context.Context, s *Session) error
	// Joined runs once the session has joined its group and its
	// connected frame is queued, on the session's accepting goroutine
	// before it starts reading: frames it sends with Session.Send follow
	// the connected frame, and group frames sent from now on reach the
	// session. It cannot refuse the session; ctx ends with the session.
	Joined func(ctx context.Context, s *Session)
	// Disconnect runs once after the session ended; ctx is bounded.
	Disconnect func(ctx context.Context, s *Session)
	// Alive runs on a sign of life (a frame, an answered ping), at most
	// once a second per session, on the reader or the ping goroutine.
	Alive func(ctx context.Context, s *Session)
}

// Reject refuses a session in Hooks.Connect with a close code declared in
// asyncapi.yaml.
type Reject struct {
	Code   websocket.StatusCode
	Reason string
}

func (r *Reject) Error() string { return "hub: session refused: " + r.Reason }

// Selector picks sessions to close, on every instance. A session matches
// when it has every property set.
type Selector struct {
	// UserID picks the sessions in group device_{user_id}.
	UserID int `json:"user_id,omitempty"`
	// MAC picks the device sessions of this MAC address.
	MAC string `json:"mac,omitempty"`
	// Token picks the sessions opened with this token.
	Token string `json:"token,omitempty"`
	// ExceptToken spares the sessions opened with this token.
	ExceptToken string `json:"except_token,omitempty"`
	// ExceptUserID spares the sessions of this user (a device's new owner).
	ExceptUserID int `json:"except_user_id,omitempty"`
}

func (sel Selector) matches(s *Session) bool {
	switch {
	case sel.UserID != 0 && s.userID != sel.UserID,
		sel.MAC != "" && s.mac != sel.MAC,
		sel.Token != "" && s.token != sel.Token,
		sel.ExceptToken != "" && s.token == sel.ExceptToken,
		sel.ExceptUserID != 0 && s.userID == sel.ExceptUserID:
		return false
	}
	return sel.UserID != 0 || sel.MAC != "" || sel.Token != ""
}

// AsFrameHandler annotates a constructor of a FrameHandler for the hub's
// group: fx.Provide(hub.AsFrameHandler(newDeviceInfoHandler)).
func AsFrameHandler(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"hub.handlers"`))
}

// AsHooks annotates a constructor of Hooks for the hub's group.
func AsHooks(constructor any) any {
	return fx.Annotate(constructor, fx.ResultTags(`group:"hub.hooks"`))
}
