package hub

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/apperr"
	"paradise/internal/auth"
	"paradise/internal/logging"
)

var (
	errClosing     = errors.New("hub: shutting down")
	errRateLimited = errors.New("hub: rate limit exceeded")
)

// maxOverLimit is how many frames in a row a client may send over its rate
// limit (each answered with rate_limited) before it is disconnected.
const maxOverLimit = 50

// ServeHTTP upgrades /ws/device/token/{token}/ and /ws/device/ (token in
// the Authorization header) to a hub session.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if token == "" {
		token, _ = auth.ParseHeader(r.Header.Get("Authorization"))
	}
	wsc, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{
		// Devices and apps are not browsers; Origin checks protect browser
		// sessions, which this token-authenticated endpoint does not use.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has already answered the client.
		return
	}
	wsc.SetReadLimit(h.cfg.ReadLimit)

	// Close codes only exist once the socket is open, so auth failures
	// upgrade first and then close with 4001.
	ctx := context.WithoutCancel(r.Context())
	p, err := h.accounts.Authenticate(ctx, auth.User, token)
	if err != nil {
		var ae *apperr.Error
		if !errors.As(err, &ae) {
			logging.From(r.Context(), h.log).Error("Authenticate hub session", zap.Error(err))
			_ = wsc.Close(websocket.StatusInternalError, "internal error")
			return
		}
		_ = wsc.Close(ws.CloseInvalidToken, "invalid token")
		return
	}
	mac := p.Session.MAC
	if mac != "" {
		// A device token outlives a rebind: the device must belong to the
		// token's user now, or it would join its previous owner's group.
		owner, _, err := h.owners.ResolveOwner(ctx, mac)
		if err != nil || owner != p.User.ID {
			_ = wsc.Close(ws.CloseRebound, "device bound to another owner; log in again")
			return
		}
	}

	c := h.newConn(wsc, p.User.ID, mac, logging.RequestID(r.Context()))
	// The connected frame is queued before the session joins its group, so
	// it is the first frame, but written only once the device is marked
	// online: a client that has it may rely on both. Group frames that
	// arrive meanwhile queue behind it.
	c.queue.push(connectedFrame(c))
	if err := h.register(ctx, c); err != nil {
		_ = wsc.Close(websocket.StatusGoingAway, "server shutting down")
		c.cancel()
		return
	}
	if c.isDevice() {
		if err := h.presence.connect(ctx, c); err != nil {
			c.logger().Error("Presence connect", zap.Error(err))
		}
	}
	go c.drain()
	// The session outlives this handler: returning lets net/http release
	// the request and its goroutine, which idle connections would
	// otherwise hold for hours.
	go h.run(c)
}

// run serves a registered session until it ends, reading on this
// goroutine.
func (h *Hub) run(c *conn) {
	defer h.unregister(c)
	if c.isDevice() {
		defer func() {
			if err := h.presence.disconnect(context.Background(), c); err != nil {
				c.logger().Error("Presence disconnect", zap.Error(err))
			}
		}()
	}
	c.startPings(h.cfg.PingInterval, func() { h.touch(c) })
	defer c.stopPings()
	c.release(h.readLoop(c))
}

func (h *Hub) newConn(wsc *websocket.Conn, userID int, mac, requestID string) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &conn{
		id:        randomID(),
		userID:    userID,
		mac:       mac,
		requestID: requestID,
		ws:        wsc,
		log:       h.log,
		queue:     newSendQueue(h.cfg.SendQueue),
		ctx:       ctx,
		cancel:    cancel,
		limiter:   newBucket(h.cfg.Rate, h.cfg.Burst),
		closed:    h.metrics.HubClosed,
	}
	c.from = ws.Sender{Role: ws.RoleApp, MACAddress: ws.NilString{Null: true}, ConnectionID: c.id}
	if mac != "" {
		c.from = ws.Sender{Role: ws.RoleDevice, MACAddress: ws.NewNilString(mac), ConnectionID: c.id}
	}
	return c
}

func connectedFrame(c *conn) []byte {
	f := ws.NewConnectedFrame(ws.Connected{Message: ws.ConnectedPayload{
		ConnectionID: c.id,
		MACAddress:   c.from.MACAddress,
		Role:         c.from.Role,
		ServerTime:   time.Now().UTC().Truncate(time.Second),
		UserID:       int64(c.userID),
	}})
	b, _ := f.MarshalJSON()
	return b
}

// readLoop reads and handles frames until the connection ends, and
// returns the error that ended it.
func (h *Hub) readLoop(c *conn) error {
	for {
		// No context: coder/websocket would arm a timer per read for it.
		// Every way a session ends closes the socket, which ends the read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			if status := websocket.CloseStatus(err); status == -1 && !errors.Is(err, context.Canceled) {
				if ce := c.log.Check(zap.DebugLevel, "Read ended"); ce != nil {
					ce.Write(zap.String("conn", c.id), zap.Error(err))
				}
			}
			return err
		}
		if !c.limiter.allow(time.Now()) {
			c.overLimit++
			if c.overLimit > maxOverLimit {
				c.close(websocket.StatusPolicyViolation, "rate limit exceeded")
				return errRateLimited
			}
			h.sendError(c, ws.ErrorCodeRateLimited, "Too many frames; this one was dropped.")
			continue
		}
		c.overLimit = 0
		if typ != websocket.MessageText {
			h.sendError(c, ws.ErrorCodeInvalidJSON, "Binary frames are not supported; send JSON text frames.")
			continue
		}
		h.handleFrame(c, data)
	}
}

// handleFrame validates one inbound frame and acts on it.
func (h *Hub) handleFrame(c *conn, data []byte) {
	f, err := ws.ParseFrame(data)
	if err != nil {
		var pe *ws.ParseError
		code := ws.ErrorCodeInvalidJSON
		if errors.As(err, &pe) {
			code = ws.ErrorCode(pe.Kind)
		}
		h.sendError(c, code, err.Error())
		return
	}
	if d, ok := ws.DirectionOf(f.Type); !ok || !d.ClientMaySend() {
		h.sendError(c, ws.ErrorCodeNotAllowed, "Clients may not send "+string(f.Type)+" frames.")
		return
	}
	h.metrics.HubFrames.WithLabelValues(string(f.Type)).Inc()
	if f.Type == ws.HeartbeatFrame {
		// Answered, not relayed.
		pong, _ := ws.NewPongFrame(ws.Pong{Message: ws.PongPayload{Ts: time.Now().UnixMilli()}}).MarshalJSON()
		c.enqueue(pong)
	} else {
		f.SetFrom(c.from)
		out, err := f.MarshalJSON()
		if err != nil {
			c.logger().Error("Encode relayed frame", zap.Error(err))
			h.sendError(c, ws.ErrorCodeInternalError, "Could not relay the frame.")
			return
		}
		h.publish(c.userID, c, out)
	}
	// Presence work comes after the relay, so frames do not wait for it.
	if !c.isDevice() {
		return
	}
	if f.Type == ws.DeviceInfoFrame {
		c.presenceMu.Lock()
		err := h.presence.deviceInfo(c.ctx, c, f.DeviceInfo.Message)
		c.presenceMu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) {
			c.logger().Error("Store device_info", zap.Error(err))
			h.sendError(c, ws.ErrorCodeInternalError, "Could not store device_info; it was still relayed.")
		}
	}
	h.touch(c)
}

// touch refreshes a device's presence on its frames and answered pings, at
// most once a second: device:last_seen:{mac} holds unix seconds, so a
// second refresh within the same second could not change it.
func (h *Hub) touch(c *conn) {
	if !c.isDevice() {
		return
	}
	c.presenceMu.Lock()
	defer c.presenceMu.Unlock()
	now := time.Now()
	if now.Sub(c.touched) < time.Second {
		return
	}
	c.touched = now
	if err := h.presence.touch(c.ctx, c); err != nil && !errors.Is(err, context.Canceled) {
		c.logger().Warn("Presence refresh", zap.Error(err))
	}
}

func (h *Hub) sendError(c *conn, code ws.ErrorCode, detail string) {
	h.metrics.HubRejected.WithLabelValues(string(code)).Inc()
	b, _ := ws.NewErrorFrame(ws.Error{Message: ws.ErrorPayload{Code: code, Detail: detail}}).MarshalJSON()
	c.enqueue(b)
}
