package hub

import (
	"bufio"
	"bytes"
	"context"
	"errors"
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

// conn is one WebSocket session. One goroutine reads for the session's
// whole life; writes happen on a goroutine that exists only while the
// session has traffic (at most one at a time, so frames keep their order),
// and pings on a timer's goroutine. Nobody else touches the socket except to close it.
//
// Idle connections dominate a hub's memory, so a conn keeps nothing it does
// not need while idle: one goroutine, a send queue allocated on demand, a
// logger built only when something is logged, and small socket buffers.
type conn struct {
	id     string
	userID int
	// mac is set for device sessions (tokens from MAC login), empty for apps.
	mac       string
	requestID string
	ws        *websocket.Conn
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

	// Presence refreshes come from the reader (frames) and the writer
	// (answered pings).
	presenceMu sync.Mutex
	touched    time.Time // last presence refresh
	dbTouched  time.Time // last last_seen column write
}

func (c *conn) isDevice() bool { return c.mac != "" }

// logger returns a logger naming the connection, built on demand.
func (c *conn) logger() *zap.Logger {
	return c.log.With(zap.String("request_id", c.requestID), zap.String("conn", c.id),
		zap.Int("user_id", c.userID), zap.String("mac", c.mac))
}

// enqueue hands a frame to the writer without blocking. A full queue means
// the client does not read: it is cut off so it cannot stall its group.
func (c *conn) enqueue(frame []byte) {
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
func (c *conn) drain() {
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

func (c *conn) writeAll(frames [][]byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	for _, f := range frames {
		if err := c.ws.Write(ctx, websocket.MessageText, f); err != nil {
			return err
		}
	}
	return nil
}

// startPings pings the client every interval until the session ends; a
// peer that does not answer in time is dead. The timer runs the ping on
// its own goroutine, so idle sessions need none for it.
func (c *conn) startPings(every time.Duration, onPong func()) {
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

func (c *conn) stopPings() {
	if t := c.ping.Load(); t != nil {
		t.Stop()
	}
}

// close ends the session with a close code, once. It does not block: the
// close handshake runs on its own goroutine, and cancelling ctx afterwards
// unblocks the reader and the writer.
func (c *conn) close(code websocket.StatusCode, reason string) {
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
func (c *conn) release(readErr error) {
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
	})
	c.cancel()
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
// buffers instead of net/http's.
type smallBuffers struct {
	http.ResponseWriter
}

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hub: response writer cannot hijack")
	}
	nc, brw, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// Keep bytes the client sent right after its handshake.
	var r io.Reader = nc
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ := brw.Reader.Peek(n)
		r = io.MultiReader(bytes.NewReader(bytes.Clone(pending)), nc)
	}
	return nc, bufio.NewReadWriter(bufio.NewReaderSize(r, readBufferSize), bufio.NewWriterSize(nc, writeBufferSize)), nil
}
