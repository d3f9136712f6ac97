package hub

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/go-faster/jx"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/auth"
	"paradise/internal/jsontext"
	"paradise/internal/logging"
)

var (
	errClosing     = errors.New("hub: shutting down")
	errRateLimited = errors.New("hub: rate limit exceeded")
	errBadText     = errors.New("hub: text frame is not valid UTF-8")
	errTooMany     = errors.New("hub: too many sessions for the user")
)

// maxOverLimit is how many frames in a row a client may send over its rate
// limit (each answered with rate_limited) before it is disconnected.
const maxOverLimit = 50

// hookTimeout bounds the work a session's end triggers (disconnect hooks,
// unsubscribing): the session is gone, nobody waits for it.
const hookTimeout = 5 * time.Second

// ServeHTTP upgrades /ws/device/token/{token}/ and /ws/device/ (token in
// the Authorization header) to a hub session.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	if token == "" {
		token, _ = auth.ParseHeader(r.Header.Get("Authorization"))
	}
	sb := &smallBuffers{ResponseWriter: w, readLimit: h.cfg.ReadLimit}
	wsc, err := websocket.Accept(sb, r, &websocket.AcceptOptions{
		// Devices and apps are not browsers; Origin checks protect browser
		// sessions, which this token-authenticated endpoint does not use.
		InsecureSkipVerify: true,
	})
	if err != nil {
		// Accept has already answered the client.
		return
	}
	wsc.SetReadLimit(h.cfg.ReadLimit)

	// Close codes only exist once the socket is open, so refusals upgrade
	// first and then close: 4001 for a bad token, 1013 when a dependency
	// is down (the client should retry, not log in again).
	ctx := context.WithoutCancel(r.Context())
	id, err := h.auth.AuthenticateSession(ctx, token)
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			_ = wsc.Close(ws.CloseInvalidToken, "invalid token")
			return
		}
		h.outages.Report("authenticate", err)
		_ = wsc.Close(websocket.StatusTryAgainLater, "service unavailable; try again later")
		return
	}

	c := h.newSession(wsc, sb.conn, id, logging.RequestID(r.Context()))
	for i, hk := range h.hooks {
		if hk.Connect == nil {
			continue
		}
		if err := hk.Connect(ctx, c); err != nil {
			// Undo what the hooks before this one did.
			h.disconnectHooks(c, h.hooks[:i])
			var rej *Reject
			if errors.As(err, &rej) {
				_ = wsc.Close(rej.Code, rej.Reason)
			} else {
				h.outages.Report(hk.Name+" connect", err)
				_ = wsc.Close(websocket.StatusTryAgainLater, "service unavailable; try again later")
			}
			c.cancel()
			return
		}
	}
	// The connected frame is queued before the session joins its group, so
	// it is the first frame; the connect hooks have run, so a client that
	// has it may rely on what they did (a device is online). Group frames
	// that arrive meanwhile queue behind it.
	c.queue.push(connectedFrame(c))
	if err := h.register(ctx, c); err != nil {
		h.disconnect(c)
		if errors.Is(err, errTooMany) {
			_ = wsc.Close(ws.CloseTooManySessions, "too many sessions for this user")
		} else {
			_ = wsc.Close(websocket.StatusGoingAway, "server shutting down")
		}
		c.cancel()
		return
	}
	go c.drain()
	for _, hk := range h.hooks {
		if hk.Joined != nil {
			hk.Joined(c.ctx, c)
		}
	}
	// The session outlives this handler: returning lets net/http release
	// the request and its goroutine, which idle connections would
	// otherwise hold for hours.
	go h.run(c)
}

// run serves a registered session until it ends, reading on this
// goroutine, then releases everything it held.
func (h *Hub) run(c *Session) {
	defer h.conns.Done()
	defer h.disconnect(c)
	defer h.unregister(c)
	c.startPings(h.cfg.PingInterval, func() { h.alive(c) })
	defer c.stopPings()
	c.release(h.readLoop(c))
}

// disconnect runs the disconnect hooks of an ended session.
func (h *Hub) disconnect(c *Session) { h.disconnectHooks(c, h.hooks) }

func (h *Hub) disconnectHooks(c *Session, hooks []Hooks) {
	ctx, cancel := context.WithTimeout(context.Background(), hookTimeout)
	defer cancel()
	for _, hk := range hooks {
		if hk.Disconnect != nil {
			hk.Disconnect(ctx, c)
		}
	}
}

func (h *Hub) newSession(wsc *websocket.Conn, conn *guardedConn, id Identity, requestID string) *Session {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Session{
		id:        randomID(),
		userID:    id.UserID,
		mac:       id.MAC,
		token:     id.Token,
		requestID: requestID,
		ws:        wsc,
		conn:      conn,
		log:       h.log,
		queue:     newSendQueue(h.cfg.SendQueue),
		ctx:       ctx,
		cancel:    cancel,
		limiter:   newBucket(h.cfg.Rate, h.cfg.Burst),
		closed:    h.metrics.HubClosed,
		// The connect hooks record the session's first sign of life, so
		// the Alive hooks wait a second from here like from any other.
		alive: time.Now(),
	}
	c.from = ws.Sender{Role: ws.RoleApp, MACAddress: ws.NilString{Null: true}, ConnectionID: c.id}
	if id.MAC != "" {
		c.from = ws.Sender{Role: ws.RoleDevice, MACAddress: ws.NewNilString(id.MAC), ConnectionID: c.id}
	}
	return c
}

func connectedFrame(c *Session) []byte {
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
func (h *Hub) readLoop(c *Session) error {
	for {
		// No context: coder/websocket would arm a timer per read for it.
		// Every way a session ends closes the socket, which ends the read.
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			if errors.Is(err, errFrameTooBig) {
				c.close(websocket.StatusMessageTooBig, "frame larger than the read limit")
				return err
			}
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
			if bh := c.binary.Load(); bh != nil {
				h.metrics.HubFrames.WithLabelValues("binary").Inc()
				if err := (*bh)(c.ctx, data); err != nil {
					h.handlerFailed(c, &route{}, "binary", err)
				}
				h.alive(c)
				continue
			}
			h.sendError(c, ws.ErrorCodeInvalidJSON, "Binary frames are not supported; send JSON text frames.")
			continue
		}
		if !utf8.Valid(data) {
			// RFC 6455 section 8.1: invalid UTF-8 in a text frame fails the
			// connection with 1007; it is never relayed.
			c.close(websocket.StatusInvalidFramePayloadData, "text frame is not valid UTF-8")
			return errBadText
		}
		h.handleFrame(c, data)
	}
}

// framePool holds the frames inbound frames are parsed into. A ws.Frame
// holds every variant (over 3 KiB); parsed into a fresh one, it escaped to
// the heap on every frame, since handlers get a pointer to it.
var framePool = sync.Pool{New: func() any { return new(ws.Frame) }}

// encodeRelayed stamps the frame's from and encodes it for relaying. The
// client's frame plus its from is about the encoded size: a buffer of that
// size up front saves the encoder growing it step by step.
func encodeRelayed(f *ws.Frame, from ws.Sender, clientSize int) []byte {
	f.SetFrom(from)
	var e jx.Encoder
	e.Grow(clientSize + relayedFromSize)
	f.Encode(&e)
	return e.Bytes()
}

// relayedFromSize is room for the from a relayed frame gains:
// {"role":"device","mac_address":"AA:BB:CC:DD:EE:FF","connection_id":"<16 hex>"}
// with its key.
const relayedFromSize = 128

// handleFrame validates one inbound frame and routes it: relayed to the
// group, handled on the server, or both, as the route table says.
func (h *Hub) handleFrame(c *Session, data []byte) {
	f := framePool.Get().(*ws.Frame)
	defer framePool.Put(f)
	if err := ws.ParseFrameInto(data, f); err != nil {
		var pe *ws.ParseError
		code := ws.ErrorCodeInvalidJSON
		if errors.As(err, &pe) {
			code = ws.ErrorCode(pe.Kind)
		}
		h.sendError(c, code, err.Error())
		return
	}
	// Strings may not carry NUL or lone surrogate escapes: the decoder
	// passes the first on (Postgres cannot store it) and silently turns
	// the second into U+FFFD.
	if problem, _ := jsontext.EscapeProblem(data); problem != "" {
		h.sendError(c, ws.ErrorCodeInvalidPayload, "Invalid "+string(f.Type)+" payload: "+problem+".")
		return
	}
	r, ok := h.routes[f.Type]
	if !ok {
		h.sendError(c, ws.ErrorCodeNotAllowed, "Clients may not send "+string(f.Type)+" frames.")
		return
	}
	h.metrics.HubFrames.WithLabelValues(string(f.Type)).Inc()
	if r.relay {
		// Relay first, so frames do not wait for server-side work.
		out := encodeRelayed(f, c.from, len(data))
		target := ""
		if r.appsOnly && c.mac != "" {
			target = appsTarget
		}
		h.relay(c, out, target)
	}
	for _, fh := range r.handlers {
		if err := fh.Handle(c.ctx, c, f); err != nil {
			h.handlerFailed(c, r, f.Type, err)
		}
	}
	h.alive(c)
}

// handlerFailed answers a frame a handler could not handle.
func (h *Hub) handlerFailed(c *Session, r *route, typ ws.FrameType, err error) {
	var fe *FrameError
	switch {
	case errors.As(err, &fe):
		h.sendError(c, fe.Code, fe.Detail)
	case errors.Is(err, context.Canceled):
		// The session ended meanwhile; nobody to answer.
	default:
		c.Logger().Error("Handle frame", zap.String("type", string(typ)), zap.Error(err))
		detail := "Could not process the " + string(typ) + " frame."
		if r.relay {
			detail += " It was still relayed."
		}
		h.sendError(c, ws.ErrorCodeInternalError, detail)
	}
}

// heartbeat answers a client's heartbeat frame with pong.
func (h *Hub) heartbeat(_ context.Context, c *Session, _ *ws.Frame) error {
	pong, err := ws.NewPongFrame(ws.Pong{Message: ws.PongPayload{Ts: time.Now().UnixMilli()}}).MarshalJSON()
	if err != nil {
		return err
	}
	c.enqueue(pong)
	return nil
}

// alive runs the Alive hooks on a session's sign of life, at most once a
// second.
func (h *Hub) alive(c *Session) {
	c.aliveMu.Lock()
	defer c.aliveMu.Unlock()
	now := time.Now()
	if now.Sub(c.alive) < time.Second {
		return
	}
	c.alive = now
	for _, hk := range h.hooks {
		if hk.Alive != nil {
			hk.Alive(c.ctx, c)
		}
	}
}

func (h *Hub) sendError(c *Session, code ws.ErrorCode, detail string) {
	h.metrics.HubRejected.WithLabelValues(string(code)).Inc()
	c.enqueue(errorFrame(code, detail))
}

// maxErrorFrame bounds an encoded error frame: its detail quotes client
// input (a parse error of a 64 KiB frame), and must stay far below the
// read limit of the client reading it.
const maxErrorFrame = 1 << 10

// errorFrame encodes an error frame of at most maxErrorFrame bytes. JSON
// escaping can multiply the detail's length, so the detail is cut until
// the encoded frame fits.
func errorFrame(code ws.ErrorCode, detail string) []byte {
	for n := maxErrorFrame / 2; ; n /= 2 {
		b, _ := ws.NewErrorFrame(ws.Error{Message: ws.ErrorPayload{Code: code, Detail: truncate(detail, n)}}).MarshalJSON()
		if len(b) <= maxErrorFrame || n < 16 {
			return b
		}
	}
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
