package hub

import (
	"fmt"

	"paradise/gen/ws"
)

// heartbeatType is the hub's own keep-alive frame, answered with pong.
const heartbeatType ws.FrameType = "heartbeat"

// route is what the hub does with a client frame of one type.
type route struct {
	// relay: the frame goes to the other members of the group.
	relay bool
	// appsOnly: a device's frame goes to the group's app sessions only.
	appsOnly bool
	handlers []FrameHandler
}

// routes maps every frame type a client may send (asyncapi.yaml's
// direction table) to its route. Types missing from it are refused.
type routes map[ws.FrameType]*route

// newRoutes builds the table: every client-sendable type is relayed,
// handled by its handlers, or both.
func newRoutes(handlers []FrameHandler) (routes, error) {
	rt := routes{}
	for _, m := range ws.Messages {
		if m.Direction.ClientMaySend() {
			rt[m.Type] = &route{relay: true}
		}
	}
	for _, fh := range handlers {
		if err := rt.add(fh); err != nil {
			return nil, err
		}
	}
	return rt, nil
}

// add registers a handler. A handler for a type clients may not send
// could never run, so it is a wiring mistake.
func (rt routes) add(fh FrameHandler) error {
	r, ok := rt[fh.Type]
	if !ok {
		return fmt.Errorf("hub: handler for %q: clients may not send that type (asyncapi.yaml)", fh.Type)
	}
	if fh.Handle == nil {
		return fmt.Errorf("hub: handler for %q has no Handle func", fh.Type)
	}
	if fh.Consume {
		r.relay = false
	}
	if fh.RelayToApps {
		r.appsOnly = true
	}
	r.handlers = append(r.handlers, fh)
	return nil
}
