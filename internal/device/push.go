package device

import (
	"context"
	"errors"

	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/ratelimit"
)

// Sender sends server frames to a group on every hub instance (the hub's
// Bus).
type Sender interface {
	SendToGroup(ctx context.Context, userID int, f ws.Frame) error
}

// Pusher sends messages from the server (REST) to a device's group.
type Pusher struct {
	sender   Sender
	presence *Presence
	guard    *ratelimit.Guard
}

// NewPusher returns the pusher.
func NewPusher(sender Sender, presence *Presence, guard *ratelimit.Guard) *Pusher {
	return &Pusher{sender: sender, presence: presence, guard: guard}
}

// Push validates a message as a hub frame (asyncapi.yaml's schemas, through
// gen/ws), sends it to the owner's group and reports whether the device
// is online. raw is the {type, message} JSON. Pushes are rate-limited per
// owner and per device (user and admin pushes alike).
func (p *Pusher) Push(ctx context.Context, owner int, mac string, raw []byte) (online bool, err error) {
	if err := p.guard.Push(ctx, owner, mac); err != nil {
		return false, err
	}
	f, err := ws.ParseFrame(raw)
	if err != nil {
		var pe *ws.ParseError
		if errors.As(err, &pe) {
			return false, apperr.Field("message", "Invalid "+string(pe.Type)+" payload: "+pe.Err.Error())
		}
		return false, apperr.BadRequest("Invalid message: " + err.Error())
	}
	if d, ok := ws.DirectionOf(f.Type); !ok || !d.ServerMaySend() {
		return false, apperr.Field("type", "The server may not send "+string(f.Type)+" frames.")
	}
	if err := p.sender.SendToGroup(ctx, owner, f); err != nil {
		return false, err
	}
	return p.presence.Online(ctx, mac)
}
