package hub

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/redisdb"
)

// Bus sends frames to sessions and closes sessions on every hub instance,
// this one included, from anywhere in the service: REST handlers, frame
// handlers, background work. It only needs Redis, so domain packages can
// depend on it without depending on the hub (which depends on their
// hooks and handlers).
type Bus struct {
	rdb  *redis.Client
	keys redisdb.Keys
	log  *zap.Logger
}

// NewBus returns the bus.
func NewBus(rdb *redis.Client, keys redisdb.Keys, log *zap.Logger) *Bus {
	return &Bus{rdb: rdb, keys: keys, log: log.Named("hub.bus")}
}

// serverSender is the from of frames the server sends on its own behalf.
var serverSender = ws.Sender{Role: ws.RoleApp, MACAddress: ws.NilString{Null: true}, ConnectionID: "server"}

// SendToGroup sends a frame from the server to every session of the
// user's group.
func (b *Bus) SendToGroup(ctx context.Context, userID int, f ws.Frame) error {
	return b.send(ctx, userID, "", f)
}

// SendToDevice sends a frame from the server to the sessions of the device
// with this MAC (normalised, as stored: AA:BB:CC:00:00:01) in the user's
// group.
func (b *Bus) SendToDevice(ctx context.Context, userID int, mac string, f ws.Frame) error {
	return b.send(ctx, userID, mac, f)
}

// appsTarget is the target of frames for a group's app sessions only
// (never a MAC: those are hex digits and colons).
const appsTarget = "*apps"

// SendToApps sends a frame from the server to the app sessions (not the
// devices) of the user's group.
func (b *Bus) SendToApps(ctx context.Context, userID int, f ws.Frame) error {
	return b.send(ctx, userID, appsTarget, f)
}

// AppFrame is a frame for the app sessions of one user's group.
type AppFrame struct {
	UserID int
	Frame  ws.Frame
}

// SendToAppsBatch sends each frame to the app sessions of its user's
// group, as SendToApps does, in one Redis round trip (a pipeline): for
// callers that produce many frames at once. It stamps each frame's from.
func (b *Bus) SendToAppsBatch(ctx context.Context, frames []AppFrame) error {
	if len(frames) == 0 {
		return nil
	}
	pipe := b.rdb.Pipeline()
	for i := range frames {
		f := &frames[i].Frame // a ws.Frame is large (3 KiB): no copies
		f.SetFrom(serverSender)
		frame, err := f.MarshalJSON()
		if err != nil {
			return fmt.Errorf("hub: encode %s frame: %w", f.Type, err)
		}
		pipe.Publish(ctx, b.keys.HubGroup(frames[i].UserID), encodeGroup("", groupMessage{target: appsTarget, frame: frame}))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("hub: send %d frames to app sessions: %w", len(frames), err)
	}
	return nil
}

func (b *Bus) send(ctx context.Context, userID int, target string, f ws.Frame) error {
	f.SetFrom(serverSender)
	frame, err := f.MarshalJSON()
	if err != nil {
		return fmt.Errorf("hub: encode %s frame: %w", f.Type, err)
	}
	payload := encodeGroup("", groupMessage{target: target, frame: frame})
	if err := b.rdb.Publish(ctx, b.keys.HubGroup(userID), payload).Err(); err != nil {
		return fmt.Errorf("hub: send %s frame to group %d: %w", f.Type, userID, err)
	}
	return nil
}

// CloseSessions closes the selected sessions on every instance with a
// close code declared in asyncapi.yaml.
func (b *Bus) CloseSessions(ctx context.Context, sel Selector, code websocket.StatusCode, reason string) error {
	payload, err := json.Marshal(control{Kind: controlClose, Select: sel, Code: int(code), Reason: reason})
	if err != nil {
		return fmt.Errorf("hub: encode close event: %w", err)
	}
	if err := b.rdb.Publish(ctx, b.keys.HubControl(), payload).Err(); err != nil {
		return fmt.Errorf("hub: publish close event: %w", err)
	}
	return nil
}
