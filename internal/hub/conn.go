package hub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"paradise/gen/ws"
)

// writeTimeout bounds one write; a client that cannot take a frame in this
// time is dead or hopelessly slow.
const writeTimeout = 10 * time.Second

// conn is one WebSocket session. The HTTP handler goroutine reads; one
// writer goroutine owns all writes. Nobody else touches the socket except
// to close it.
type conn struct {
	id     string
	userID int
	// mac is set for device sessions (tokens from MAC login), empty for apps.
	mac  string
	ws   *websocket.Conn
	from ws.From

	// send holds encoded frames for the writer. It is never closed:
	// enqueue may race with the end of the connection, and the writer exits
	// on ctx instead.
	send   chan []byte
	ctx    context.Context
	cancel context.CancelFunc

	closeOnce sync.Once
	log       *zap.Logger

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

// enqueue hands a frame to the writer without blocking. A full queue means
// the client does not read: it is cut off so it cannot stall its group.
func (c *conn) enqueue(frame []byte) {
	select {
	case c.send <- frame:
	default:
		c.close(websocket.StatusPolicyViolation, "slow consumer")
	}
}

// close ends the session with a close code, once. It does not block: the
// close handshake runs on its own goroutine, and cancelling ctx unblocks
// the reader and the writer.
func (c *conn) close(code websocket.StatusCode, reason string) {
	c.closeOnce.Do(func() {
		c.log.Debug("Closing connection", zap.Int("code", int(code)), zap.String("reason", reason))
		go func() {
			_ = c.ws.Close(code, reason)
			c.cancel()
		}()
	})
}

// writeLoop writes queued frames and pings the client until ctx ends.
func (c *conn) writeLoop(pingEvery time.Duration, onPong func()) {
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case frame := <-c.send:
			if err := c.write(frame); err != nil {
				c.close(websocket.StatusPolicyViolation, "write failed")
				return
			}
		case <-ping.C:
			// Ping waits for the pong, which the reader receives; a peer
			// that does not answer is dead.
			ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
			err := c.ws.Ping(ctx)
			cancel()
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					c.close(websocket.StatusPolicyViolation, "ping timeout")
				}
				return
			}
			onPong()
		}
	}
}

func (c *conn) write(frame []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, frame)
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
