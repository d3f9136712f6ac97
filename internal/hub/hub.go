// Package hub is the WebSocket device hub: devices and their owners' apps
// connect to it, join the group device_{user_id}, and every frame one
// member sends reaches the group's other members, on this instance directly
// and on other instances through Redis pub/sub.
package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/ent"
	"paradise/gen/ws"
	"paradise/internal/account"
	"paradise/internal/config"
	"paradise/internal/device"
	"paradise/internal/metrics"
	"paradise/internal/redisdb"
)

// Module provides the hub and runs it with the app.
var Module = fx.Module("hub", fx.Provide(New))

// Params are the hub's dependencies.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    config.Config
	DB        *ent.Client
	Redis     *redis.Client
	Keys      redisdb.Keys
	Accounts  *account.Service
	Devices   *device.Service
	Metrics   *metrics.Metrics
	Log       *zap.Logger
}

// Hub tracks this instance's connections by group and relays frames.
type Hub struct {
	cfg      config.Hub
	accounts *account.Service
	owners   *device.Service
	presence *presence
	broker   *broker
	metrics  *metrics.Metrics
	log      *zap.Logger
	instance string

	mu sync.RWMutex
	// groups holds the local connections of each user: a device and an app
	// or two, so a slice beats a map in memory and iteration.
	groups map[int][]*conn
	// byMAC holds the local connections of each device; normally one,
	// briefly two while a newer connection replaces an older one.
	byMAC   map[string][]*conn
	closing bool

	// conns counts running connection handlers, so stop can wait for them.
	conns    sync.WaitGroup
	stopOnce sync.Once
	stopped  chan struct{}
	sweeper  sync.WaitGroup
}

// New returns the hub, started and stopped with the app.
func New(p Params) *Hub {
	log := p.Log.Named("hub")
	instance := randomID()
	h := &Hub{
		cfg:      p.Config.Hub,
		accounts: p.Accounts,
		owners:   p.Devices,
		presence: &presence{db: p.DB, rdb: p.Redis, keys: p.Keys, ttl: p.Config.Hub.PresenceTTL},
		broker:   newBroker(p.Redis, p.Keys, instance, log),
		metrics:  p.Metrics,
		log:      log.With(zap.String("instance", instance)),
		instance: instance,
		groups:   make(map[int][]*conn),
		byMAC:    make(map[string][]*conn),
		stopped:  make(chan struct{}),
	}
	h.broker.onGroup = h.deliverRemote
	h.broker.onControl = h.applyControl
	p.Lifecycle.Append(fx.Hook{OnStart: h.start, OnStop: h.stop})
	return h
}

func (h *Hub) start(ctx context.Context) error {
	if err := h.broker.start(ctx); err != nil {
		return err
	}
	h.sweeper.Add(1)
	go h.sweep()
	return nil
}

// stop closes every connection with 1001, waits for their handlers to mark
// their devices disconnected, then stops relaying.
func (h *Hub) stop(ctx context.Context) error {
	h.stopOnce.Do(func() { close(h.stopped) })
	h.mu.Lock()
	h.closing = true
	var all []*conn
	for _, g := range h.groups {
		all = append(all, g...)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.close(websocket.StatusGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { h.conns.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("hub: %d connections still closing: %w", len(all), ctx.Err())
	}
	h.sweeper.Wait()
	h.broker.stop()
	h.log.Info("Hub stopped", zap.Int("closed", len(all)))
	return err
}

func (h *Hub) sweep() {
	defer h.sweeper.Done()
	t := time.NewTicker(h.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stopped:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), h.cfg.SweepInterval)
			n, err := h.presence.sweep(ctx)
			cancel()
			if err != nil {
				h.log.Warn("Presence sweep failed", zap.Error(err))
			} else if n > 0 {
				h.log.Info("Marked devices of dead instances disconnected", zap.Int("devices", n))
			}
		}
	}
}

// register adds c to its group and, for a device, closes its older local
// connections and tells other instances to do the same.
func (h *Hub) register(ctx context.Context, c *conn) error {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return errClosing
	}
	first := len(h.groups[c.userID]) == 0
	h.groups[c.userID] = append(h.groups[c.userID], c)
	var older []*conn
	if c.isDevice() {
		older = append(older, h.byMAC[c.mac]...)
		h.byMAC[c.mac] = append(h.byMAC[c.mac], c)
	}
	h.mu.Unlock()
	h.conns.Add(1)
	h.metrics.HubConnections.WithLabelValues(string(c.from.Role)).Inc()

	for _, o := range older {
		o.close(ws.CloseReplaced, "replaced by a newer connection")
	}
	if first {
		// Subscribing may race with the last member of a group leaving,
		// which unsubscribes; go-redis applies the two in order, and the
		// later join always subscribes again.
		if err := h.broker.subscribe(ctx, c.userID); err != nil {
			h.log.Error("Subscribe group", zap.Int("user_id", c.userID), zap.Error(err))
		}
	}
	if c.isDevice() {
		h.broker.publishControl(control{Kind: controlReplace, MAC: c.mac, Conn: c.id})
	}
	return nil
}

// unregister removes c after its session ended.
func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	last := removeConn(h.groups, c.userID, c)
	if c.isDevice() {
		removeConn(h.byMAC, c.mac, c)
	}
	h.mu.Unlock()
	h.metrics.HubConnections.WithLabelValues(string(c.from.Role)).Dec()
	if last {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := h.broker.unsubscribe(ctx, c.userID); err != nil {
			h.log.Warn("Unsubscribe group", zap.Int("user_id", c.userID), zap.Error(err))
		}
		cancel()
		// A member may have joined between the unlock and the unsubscribe.
		h.mu.RLock()
		rejoined := h.groups[c.userID] != nil
		h.mu.RUnlock()
		if rejoined {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := h.broker.subscribe(ctx, c.userID); err != nil {
				h.log.Error("Resubscribe group", zap.Int("user_id", c.userID), zap.Error(err))
			}
			cancel()
		}
	}
	h.conns.Done()
}

// publish sends an encoded frame to the group's members except the sender
// (nil for server pushes): local members directly, other instances through
// Redis.
func (h *Hub) publish(userID int, sender *conn, frame []byte) {
	h.deliverLocal(userID, sender, frame)
	senderID := ""
	if sender != nil {
		senderID = sender.id
	}
	h.broker.publishGroup(userID, senderID, frame)
}

func (h *Hub) deliverLocal(userID int, sender *conn, frame []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	// enqueue never blocks, so holding the read lock here is cheap.
	for _, c := range h.groups[userID] {
		if c != sender {
			c.enqueue(frame)
		}
	}
}

// deliverRemote delivers a frame published by another instance.
func (h *Hub) deliverRemote(userID int, senderID string, frame []byte) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, c := range h.groups[userID] {
		if c.id != senderID {
			c.enqueue(frame)
		}
	}
}

// applyControl acts on a control event, from this instance or another.
func (h *Hub) applyControl(ev control) {
	h.mu.RLock()
	var victims []*conn
	for _, c := range h.byMAC[ev.MAC] {
		switch ev.Kind {
		case controlReplace:
			if c.id != ev.Conn {
				victims = append(victims, c)
			}
		case controlRebound:
			if c.userID != ev.Owner {
				victims = append(victims, c)
			}
		}
	}
	h.mu.RUnlock()
	for _, c := range victims {
		if ev.Kind == controlReplace {
			c.close(ws.CloseReplaced, "replaced by a newer connection")
		} else {
			c.close(ws.CloseRebound, "device bound to another owner; log in again")
		}
	}
}

// DeviceRebound tells every instance that the device with this MAC now
// belongs to owner (0: nobody). Its connections in other groups are closed
// with 4003, so the previous owner stops receiving its frames.
func (h *Hub) DeviceRebound(mac string, owner int) {
	ev := control{Kind: controlRebound, MAC: mac, Owner: owner}
	h.applyControl(ev)
	h.broker.publishControl(ev)
}

// Push sends a frame from the server to the group of a device's owner and
// reports whether the device is online.
func (h *Hub) Push(ctx context.Context, userID int, mac string, f ws.Frame) (bool, error) {
	f.SetFrom(ws.Sender{Role: ws.RoleApp, MACAddress: ws.NilString{Null: true}, ConnectionID: "server"})
	frame, err := f.MarshalJSON()
	if err != nil {
		return false, fmt.Errorf("hub: encode push: %w", err)
	}
	h.publish(userID, nil, frame)
	return h.presence.online(ctx, mac)
}

// removeConn deletes c from m[k], dropping the key when it empties, and
// reports whether it did.
func removeConn[K comparable](m map[K][]*conn, k K, c *conn) (emptied bool) {
	list := m[k]
	for i, o := range list {
		if o == c {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = nil
			list = list[:last]
			break
		}
	}
	if len(list) == 0 {
		delete(m, k)
		return true
	}
	m[k] = list
	return false
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
