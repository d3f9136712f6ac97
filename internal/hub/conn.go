package hub

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"paradise/gen/ws"
)

// writeTimeout bounds one batch of writes; a client that cannot take its
// frames in this time is dead or hopelessly slow.
const writeTimeout = 10 * time.Second

// Session is one WebSocket session: a device's or an app's. Frame handlers
// and hooks get it to learn who is connected and to answer them.
//
// One goroutine reads for the session's whole life; writes happen on a goroutine that exists only while the
// session has traffic (at most one at a time, so frames keep their order),
// and pings on a timer's goroutine. Nobody else touches the socket except to close it.
//
// Idle connections dominate a hub's memory, so a session keeps nothing it does
// not need while idle: one goroutine, a send queue allocated on demand, a
// logger built only when something is logged, and small socket buffers.
type Session struct {
	id     string
	userID int
	// mac is set for device sessions (tokens from MAC login), empty for apps.
	mac string
	// token is the token the session was opened with.
	token     string
	requestID string
	ws        *websocket.Conn
	conn      *guardedConn // under ws: batches a burst's writes
	from      ws.Sender
	log       *zap.Logger // the hub's; see logger
	closed    *prometheus.CounterVec

	queue  sendQueue
	ctx    context.Context
	cancel context.CancelFunc
	ping   atomic.Pointer[time.Timer]

	closeOnce sync.Once

	// Reader-goroutine state.
	limiter   bucket
	overLimit int

	// binary receives the session's binary frames while a handler owns a
	// turn (SetBinaryHandler); nil outside one.
	binary atomic.Pointer[BinaryHandler]

	// aliveMu guards alive, the last time the Alive hooks ran: signs of
	// life come from the reader (frames) and the ping timer (pongs).
	aliveMu sync.Mutex
	alive   time.Time
}

// ID is the session's connection id (the connected frame's
// connection_id).
func (c *Session) ID() string { return c.id }

// UserID is the user whose group the session is in.
func (c *Session) UserID() int { return c.userID }

// MAC is the device's MAC address for a device session, empty for apps.
func (c *Session) MAC() string { return c.mac }

// IsDevice reports whether this is a device's session (MAC login).
func (c *Session) IsDevice() bool { return c.mac != "" }

// Logger returns a logger naming the session, built on demand.
func (c *Session) Logger() *zap.Logger {
	return c.log.With(zap.String("request_id", c.requestID), zap.String("conn", c.id),
		zap.Int("user_id", c.userID), zap.String("mac", c.mac))
}

// Send queues a frame from the server for this session only.
func (c *Session) Send(f ws.Frame) error {
	f.SetFrom(serverSender)
	b, err := f.MarshalJSON()
	if err != nil {
		return fmt.Errorf("hub: encode %s frame: %w", f.Type, err)
	}
	c.enqueue(b)
	return nil
}

// SetBinaryHandler hands the session's binary frames to h until it is
// called again (nil: binary frames are refused again, with an error frame
// as outside any turn). Frame handlers use it for turns that stream data,
// such as a voice recording.
func (c *Session) SetBinaryHandler(h BinaryHandler) {
	if h == nil {
		c.binary.Store(nil)
		return
	}
	c.binary.Store(&h)
}

// binaryMark starts a queued binary frame; queued text frames are JSON and
// never start with it. The writer strips it.
const binaryMark = 0x00

// SendBinary queues a binary frame for this session only (a copy of b),
// under the same bounded queue as text frames.
func (c *Session) SendBinary(b []byte) {
	frame := make([]byte, 1+len(b))
	frame[0] = binaryMark
	copy(frame[1:], b)
	c.enqueue(frame)
}

// enqueue hands a frame to the writer without blocking. A full queue means
// the client does not read: it is cut off so it cannot stall its group.
func (c *Session) enqueue(frame []byte) {
	ok, start := c.queue.push(frame)
	if !ok {
		c.close(websocket.StatusPolicyViolation, "slow consumer")
		return
	}
	if start {
		go c.drain()
	}
}

// writerLinger is how long a drain goroutine waits for more frames before
// it exits: busy sessions keep one writer, idle ones have none.
const writerLinger = 2 * time.Second

// drain writes queued frames, each batch under one deadline, until the
// queue has stayed empty for writerLinger.
func (c *Session) drain() {
	var linger *time.Timer
	for {
		if frames := c.queue.take(); len(frames) > 0 {
			if err := c.writeAll(frames); err != nil {
				c.queue.shut()
				c.close(websocket.StatusPolicyViolation, "write failed")
				return
			}
			continue
		}
		if linger == nil {
			linger = time.NewTimer(writerLinger)
			defer linger.Stop()
		} else {
			linger.Reset(writerLinger)
		}
		select {
		case <-c.queue.wake:
		case <-c.ctx.Done():
			return
		case <-linger.C:
			if c.queue.idle() {
				return
			}
		}
	}
}

// writeAll writes a batch of queued frames. The library flushes every
// frame to the socket; a batch of several is corked instead, so that the
// burst leaves in one write rather than one per frame.
func (c *Session) writeAll(frames [][]byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	corked := len(frames) > 1 && c.conn != nil
	if corked {
		c.conn.cork(time.Now().Add(writeTimeout))
	}
	var err error
	for _, f := range frames {
		typ := websocket.MessageText
		if len(f) > 0 && f[0] == binaryMark {
			typ, f = websocket.MessageBinary, f[1:]
		}
		if err = c.ws.Write(ctx, typ, f); err != nil {
			break
		}
	}
	if corked {
		// Always: a close frame the library wrote meanwhile is in there.
		if uerr := c.conn.uncork(); err == nil {
			err = uerr
		}
	}
	return err
}

// startPings pings the client every interval until the session ends; a
// peer that does not answer in time is dead. The timer runs the ping on
// its own goroutine, so idle sessions need none for it.
func (c *Session) startPings(every time.Duration, onPong func()) {
	t := time.AfterFunc(every, func() {
		ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			if c.ctx.Err() == nil {
				c.close(websocket.StatusPolicyViolation, "ping timeout")
			}
			return
		}
		onPong()
		if c.ctx.Err() == nil {
			c.ping.Load().Reset(every)
		}
	})
	c.ping.Store(t)
}

func (c *Session) stopPings() {
	if t := c.ping.Load(); t != nil {
		t.Stop()
	}
}

// close ends the session with a close code, once. It does not block: the
// close handshake runs on its own goroutine, and cancelling ctx afterwards
// unblocks the reader and the writer.
func (c *Session) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.closed.WithLabelValues(strconv.Itoa(int(code))).Inc()
		c.queue.shut()
		if ce := c.log.Check(zap.DebugLevel, "Closing connection"); ce != nil {
			ce.Write(zap.String("conn", c.id), zap.Int("code", int(code)), zap.String("reason", reason))
		}
		go func() {
			_ = c.ws.Close(code, reason)
			c.cancel()
		}()
	})
}

// release closes the socket once the reader has stopped, unless a close
// is already under way, and ends the session's context. A peer that
// vanished without a close frame (EOF, reset: a device losing Wi-Fi) ends
// the read with the socket still open; nothing else would ever close it,
// and its descriptor would sit in CLOSE_WAIT for the life of the process.
func (c *Session) release(readErr error) {
	c.closeOnce.Do(func() {
		code := websocket.CloseStatus(readErr)
		if code == -1 {
			code = websocket.StatusAbnormalClosure
		}
		c.closed.WithLabelValues(strconv.Itoa(int(code))).Inc()
		c.queue.shut()
		// No handshake: the peer either sent its close frame (the library
		// answered it) or is gone.
		_ = c.ws.CloseNow()
		c.cancel()
	})
	// Otherwise close is under way and cancels ctx once its handshake is
	// done: cancelling earlier would make the library drop the socket
	// under a write in flight, and the close frame with it.
}

// sendQueue is a bounded FIFO of encoded frames for one connection. Its
// slice exists only while frames wait.
type sendQueue struct {
	mu     sync.Mutex
	frames [][]byte
	max    int
	// writing is true while a drain goroutine owns the socket's writes.
	writing bool
	// shutDown drops frames once writing has failed.
	shutDown bool
	// wake tells a lingering drain goroutine that frames arrived; it has
	// room for one signal, so none is lost while the writer is busy.
	wake chan struct{}
}

func newSendQueue(max int) sendQueue {
	return sendQueue{max: max, wake: make(chan struct{}, 1)}
}

// push appends a frame. ok is false when the queue is full; start is true
// when the caller must start a drain goroutine.
func (q *sendQueue) push(frame []byte) (ok, start bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.shutDown:
		return true, false
	case len(q.frames) >= q.max:
		return false, false
	}
	q.frames = append(q.frames, frame)
	if !q.writing {
		q.writing = true
		return true, true
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true, false
}

// take removes and returns every queued frame.
func (q *sendQueue) take() [][]byte {
	q.mu.Lock()
	frames := q.frames
	q.frames = nil
	q.mu.Unlock()
	return frames
}

// idle marks the writer gone if nothing is queued, and reports whether it
// did; otherwise the writer must go on.
func (q *sendQueue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) > 0 {
		return false
	}
	q.writing = false
	return true
}

// shut drops queued frames and refuses new ones.
func (q *sendQueue) shut() {
	q.mu.Lock()
	q.frames, q.shutDown = nil, true
	q.mu.Unlock()
}

// bucket is a token-bucket rate limiter for one reader goroutine (not
// safe for concurrent use).
type bucket struct {
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int) bucket {
	return bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

func (b *bucket) allow(now time.Time) bool {
	b.tokens += now.Sub(b.last).Seconds() * b.rate
	if b.tokens > b.burst {
		b.tokens = b.burst
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Socket buffer sizes. net/http hands a hijacked connection 4 KiB read and
// write buffers, which coder/websocket keeps for the connection's life; at
// 10,000 idle connections that is most of the hub's memory. Frames are
// small, and larger ones bypass or stream through the buffers.
const (
	readBufferSize  = 1 << 10
	writeBufferSize = 2 << 10
)

// smallBuffers gives the WebSocket library a hijacked connection with small
// buffers instead of net/http's, reading through a frameGuard. It keeps
// the connection it handed out for the session (conn).
type smallBuffers struct {
	http.ResponseWriter
	readLimit int64
	conn      *guardedConn
}

func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hub: response writer cannot hijack")
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Keep bytes the client sent right after its handshake. The library
	// re-points the reader at the returned net.Conn, so the frame guard
	// must sit in that net.Conn, not only in the bufio.Reader.
	var r io.Reader = nc
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ := brw.Reader.Peek(n)
		r = io.MultiReader(bytes.NewReader(bytes.Clone(pending)), nc)
	}
	hc := &guardedConn{Conn: nc, r: &frameGuard{r: r, limit: w.readLimit}}
	w.conn = hc
	return hc, bufio.NewReadWriter(bufio.NewReaderSize(hc, readBufferSize), bufio.NewWriterSize(hc, writeBufferSize)), nil
}

// guardedConn is a hijacked connection whose reads pass the frame guard
// and whose writes can be corked: held while the session's writer drains
// a burst of frames and sent together when it is done.
type guardedConn struct {
	net.Conn
	r io.Reader

	wmu    sync.Mutex
	corked bool
	wbuf   *[]byte // from corkBuffers while corked; idle sessions hold none
}

func (c *guardedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// corkLimit is how much a corked connection holds before it writes
// anyway: a long burst leaves in writes of this size.
const corkLimit = 32 << 10

var corkBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// Write sends p, or holds it while the connection is corked. Every write
// of the library (frames, pings, pongs, the close frame) comes here, one
// at a time.
func (c *guardedConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	*c.wbuf = append(*c.wbuf, p...)
	if len(*c.wbuf) >= corkLimit {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// cork holds writes until uncork; the writes it then sends must be done
// by deadline (a client that stopped reading fails them).
func (c *guardedConn) cork(deadline time.Time) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.corked {
		return
	}
	c.corked = true
	c.wbuf = corkBuffers.Get().(*[]byte)
	_ = c.Conn.SetWriteDeadline(deadline)
}

// uncork sends what was held, in one write.
func (c *guardedConn) uncork() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.corked {
		return nil
	}
	err := c.flushLocked()
	c.corked = false
	if cap(*c.wbuf) <= 4*corkLimit { // an outsized one goes to the collector
		corkBuffers.Put(c.wbuf)
	}
	c.wbuf = nil
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return err
}

func (c *guardedConn) flushLocked() error {
	if len(*c.wbuf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.wbuf)
	*c.wbuf = (*c.wbuf)[:0]
	return err
}

// errFrameTooBig fails the read of a frame whose header announces more
// than the read limit.
var errFrameTooBig = errors.New("hub: frame larger than the read limit")

// frameGuard watches the client's bytes for WebSocket frame headers
// (RFC 6455 section 5.2) and fails the read as soon as one announces a
// payload over the limit. The library enforces the limit only as payload
// bytes arrive, so a header announcing 2^62 bytes followed by silence
// would hold the session until the ping timeout instead of closing it
// with 1009 at once. Payload bytes are skipped by count, not inspected.
type frameGuard struct {
	r     io.Reader
	limit int64
	hdr   [14]byte
	have  int   // header bytes collected
	skip  int64 // payload bytes still to pass
	// tripped: the error was returned once; from then on bytes pass
	// unexamined, so the close handshake can read (and discard) what the
	// client still sends instead of resetting the connection under it.
	tripped bool
}

func (g *frameGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if !g.tripped && g.scan(p[:n]) {
		g.tripped = true
		return n, errFrameTooBig
	}
	return n, err
}

// scan consumes b and reports whether a frame over the limit began. The
// length is checked as soon as its bytes are in, before the masking key.
func (g *frameGuard) scan(b []byte) bool {
	for len(b) > 0 {
		if g.skip > 0 {
			k := int64(len(b))
			if k > g.skip {
				k = g.skip
			}
			b, g.skip = b[k:], g.skip-k
			continue
		}
		g.hdr[g.have] = b[0]
		g.have++
		b = b[1:]
		if g.have < 2 {
			continue
		}
		lenEnd := 2
		switch g.hdr[1] & 0x7f {
		case 126:
			lenEnd += 2
		case 127:
			lenEnd += 8
		}
		need := lenEnd
		if g.hdr[1]&0x80 != 0 {
			need += 4 // masking key
		}
		if g.have < lenEnd {
			continue
		}
		var length int64
		switch n := g.hdr[1] & 0x7f; n {
		case 126:
			length = int64(binary.BigEndian.Uint16(g.hdr[2:4]))
		case 127:
			length = int64(binary.BigEndian.Uint64(g.hdr[2:10]))
		default:
			length = int64(n)
		}
		if length < 0 || length > g.limit {
			return true
		}
		if g.have == need {
			g.skip, g.have = length, 0
		}
	}
	return false
}
