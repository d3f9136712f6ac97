// Package hub is the WebSocket device hub: devices and their owners' apps
// connect to it, join the group device_{user_id}, and every frame one
// member sends reaches the group's other members, on this instance directly
// and on other instances through Redis pub/sub.
//
// The hub is transport only. Who a token belongs to, what a frame means
// to the server and what a session's start and end change are decided by
// the domain packages that plug in through api.go's extension points.
package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/config"
	"paradise/internal/httpapi"
	"paradise/internal/metrics"
	"paradise/internal/outage"
	"paradise/internal/redisdb"
)

// Module provides the hub, its bus, and its two WebSocket routes.
var Module = fx.Module("hub",
	fx.Provide(New, NewBus),
	fx.Provide(
		httpapi.AsRoute(func(h *Hub) httpapi.Route {
			return httpapi.Route{Pattern: "GET /ws/device/{$}", Handler: httpapi.RequireUpgrade(h)}
		}),
		httpapi.AsRoute(func(h *Hub) httpapi.Route {
			return httpapi.Route{Pattern: "GET /ws/device/token/{token}/", Handler: httpapi.RequireUpgrade(h)}
		}),
	),
)

// Params are the hub's dependencies.
type Params struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    config.Hub
	Redis     *redis.Client
	Keys      redisdb.Keys
	Auth      Authenticator
	Handlers  []FrameHandler `group:"hub.handlers"`
	Hooks     []Hooks        `group:"hub.hooks"`
	Metrics   *metrics.Metrics
	Log       *zap.Logger
}

// Hub tracks this instance's connections by group and relays frames.
type Hub struct {
	cfg      config.Hub
	auth     Authenticator
	routes   routes
	hooks    []Hooks
	broker   *broker
	metrics  *metrics.Metrics
	log      *zap.Logger
	instance string
	outages  *outage.Log

	mu sync.RWMutex
	// groups holds the local connections of each user: a device and an app
	// or two, so a slice beats a map in memory and iteration.
	groups map[int][]*Session
	// byMAC holds the local connections of each device; normally one,
	// briefly two while a newer connection replaces an older one.
	byMAC map[string][]*Session
	// peers holds, for each group with local members, what is known of
	// the other instances' members (peers.go).
	peers   map[int]*peerState
	closing bool
	// links serialises each group's joins and leaves (peers.go).
	links links
	// conns counts registered sessions whose run has not finished, so
	// stop can wait for them. It is incremented under mu, with closing
	// checked, so stop cannot miss one.
	conns sync.WaitGroup
}

// New returns the hub, started and stopped with the app.
func New(p Params) (*Hub, error) {
	log := p.Log.Named("hub")
	instance := randomID()
	rt, err := newRoutes(p.Handlers)
	if err != nil {
		return nil, err
	}
	h := &Hub{
		cfg:      p.Config,
		auth:     p.Auth,
		routes:   rt,
		hooks:    p.Hooks,
		broker:   newBroker(p.Redis, p.Keys, instance, log, outage.NewLog(log)),
		metrics:  p.Metrics,
		log:      log.With(zap.String("instance", instance)),
		instance: instance,
		outages:  outage.NewLog(log),
		groups:   make(map[int][]*Session),
		byMAC:    make(map[string][]*Session),
		peers:    make(map[int]*peerState),
	}
	if err := h.routes.add(FrameHandler{Type: heartbeatType, Consume: true, Handle: h.heartbeat}); err != nil {
		return nil, err
	}
	h.broker.onGroup = h.deliverRemote
	h.broker.onControl = h.applyControl
	h.broker.onMember = h.onMember
	h.broker.onSubscribed = h.onSubscribed
	p.Lifecycle.Append(fx.Hook{OnStart: h.broker.start, OnStop: h.stop})
	return h, nil
}

// stop closes every connection with 1001, waits for their sessions to end
// (and their disconnect hooks to run), then stops relaying.
func (h *Hub) stop(ctx context.Context) error {
	h.mu.Lock()
	h.closing = true
	var all []*Session
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
	h.broker.stop()
	h.log.Info("Hub stopped", zap.Int("closed", len(all)))
	return err
}

// register adds c to its group and, for a device, closes its older local
// connections and tells other instances to do the same. The group's first
// local member joins it across instances first (peers.go).
func (h *Hub) register(ctx context.Context, c *Session) error {
	unlock := h.links.lock(c.userID)
	defer unlock()
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		return errClosing
	}
	if n := h.countLocked(c); n >= h.cfg.MaxSessionsPerUser {
		h.mu.Unlock()
		return errTooMany
	}
	h.conns.Add(1)
	var joining *peerState
	if len(h.groups[c.userID]) == 0 {
		joining = newPeerState(h.instance, h.cfg.LocalRelay)
		h.peers[c.userID] = joining
	}
	h.groups[c.userID] = append(h.groups[c.userID], c)
	var older []*Session
	if c.IsDevice() {
		older = append(older, h.byMAC[c.mac]...)
		h.byMAC[c.mac] = append(h.byMAC[c.mac], c)
	}
	h.mu.Unlock()
	h.metrics.HubConnections.WithLabelValues(string(c.from.Role)).Inc()

	for _, o := range older {
		o.close(ws.CloseReplaced, "replaced by a newer connection")
	}
	if joining != nil {
		h.joinGroup(ctx, c.userID, joining)
	}
	if c.IsDevice() {
		h.broker.publishControl(control{Kind: controlReplace, MAC: c.mac, Conn: c.id})
	}
	return nil
}

// countLocked counts the sessions of c's user that c would add to: all of
// them but the device's own, which c replaces. The caller holds h.mu.
func (h *Hub) countLocked(c *Session) int {
	n := 0
	for _, o := range h.groups[c.userID] {
		if !c.IsDevice() || o.mac != c.mac {
			n++
		}
	}
	return n
}

// unregister removes c after its session ended; the group's last local
// member takes the instance out of it.
func (h *Hub) unregister(c *Session) {
	unlock := h.links.lock(c.userID)
	defer unlock()
	h.mu.Lock()
	last := removeConn(h.groups, c.userID, c)
	if last {
		delete(h.peers, c.userID)
	}
	if c.IsDevice() {
		removeConn(h.byMAC, c.mac, c)
	}
	h.mu.Unlock()
	h.metrics.HubConnections.WithLabelValues(string(c.from.Role)).Dec()
	if last {
		h.leaveGroup(c.userID)
	}
}

// relay sends a client's encoded frame to the other members of its group:
// local members directly, and other instances' through Redis when there
// are any.
// target narrows the members as a Bus target does ("" for all of them).
func (h *Hub) relay(sender *Session, frame []byte, target string) {
	m := groupMessage{exclude: sender.id, target: target, frame: frame}
	if h.deliver(sender.userID, m) {
		h.metrics.HubPublished.Inc()
		h.broker.publishGroup(sender.userID, m)
	}
}

// deliver enqueues a group message to this instance's members of the
// group, and reports whether other instances may have members too.
func (h *Hub) deliver(userID int, m groupMessage) (shared bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	h.enqueueLocked(userID, m)
	ps := h.peers[userID]
	return ps == nil || ps.shared()
}

// deliverRemote delivers a group message from Redis: another instance's
// relay (origin: that instance) or the Bus's (no origin). An instance
// that relays to the group has members of it, announced or not.
func (h *Hub) deliverRemote(userID int, origin string, m groupMessage) {
	h.mu.RLock()
	h.enqueueLocked(userID, m)
	unknown := false
	if ps := h.peers[userID]; ps != nil && origin != "" {
		_, known := ps.others[origin]
		unknown = !known
	}
	h.mu.RUnlock()
	if unknown {
		h.learnPeer(userID, origin)
	}
}

// enqueueLocked enqueues m to the group's local members it is for. The
// caller holds h.mu; enqueue never blocks, so holding it is cheap.
func (h *Hub) enqueueLocked(userID int, m groupMessage) {
	for _, c := range h.groups[userID] {
		if c.id != m.exclude && (m.target == "" || c.mac == m.target || m.target == appsTarget && c.mac == "") {
			c.enqueue(m.frame)
		}
	}
}

// applyControl acts on a control event, from this instance or another.
func (h *Hub) applyControl(ev control) {
	var victims []*Session
	h.mu.RLock()
	switch ev.Kind {
	case controlReplace:
		for _, c := range h.byMAC[ev.MAC] {
			if c.id != ev.Conn {
				victims = append(victims, c)
			}
		}
	case controlClose:
		victims = h.selectLocked(ev.Select)
	}
	h.mu.RUnlock()
	for _, c := range victims {
		if ev.Kind == controlReplace {
			c.close(ws.CloseReplaced, "replaced by a newer connection")
		} else {
			c.close(websocket.StatusCode(ev.Code), ev.Reason)
		}
	}
}

// selectLocked returns the local sessions the selector picks; the caller
// holds h.mu.
func (h *Hub) selectLocked(sel Selector) []*Session {
	var candidates []*Session
	switch {
	case sel.MAC != "":
		candidates = h.byMAC[sel.MAC]
	case sel.UserID != 0:
		candidates = h.groups[sel.UserID]
	default:
		for _, g := range h.groups {
			candidates = append(candidates, g...)
		}
	}
	var out []*Session
	for _, c := range candidates {
		if sel.matches(c) {
			out = append(out, c)
		}
	}
	return out
}

// removeConn deletes c from m[k], dropping the key when it empties, and
// reports whether it did.
func removeConn[K comparable](m map[K][]*Session, k K, c *Session) (emptied bool) {
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

var _ http.Handler = (*Hub)(nil)
