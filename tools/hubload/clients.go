package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"paradise/tools/internal/loadenv"
)

// dialTimeout bounds one WebSocket dial plus the wait for its connected
// frame.
const dialTimeout = 60 * time.Second

// wsClient is one WebSocket session of the load generator: a device or an
// app. One goroutine reads it for its whole life (so pings are answered);
// only the scenario's sender writes to it.
type wsClient struct {
	idx    int // index of the user (pair)
	device bool
	srv    *loadenv.Server
	c      *websocket.Conn

	done    chan struct{} // closed when the reader has returned
	readErr error         // why the reader returned; valid after done
	group   *clientGroup
}

// clientGroup is a scenario's set of connections, with what their readers
// saw that the scenario does not look at itself.
type clientGroup struct {
	clients []*wsClient
	// closing is set before the load generator closes the connections;
	// a reader that ends before is counted as closed by the server.
	closing atomic.Bool

	mu          sync.Mutex
	lost        int    // connections that ended before closing
	firstLost   string // how the first of them ended
	errorFrames int    // error frames received (e.g. rate_limited)
	firstError  string
	otherFrames int // frames of types the scenario did not expect
}

func (g *clientGroup) noteError(frame []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.errorFrames++
	if g.firstError == "" {
		g.firstError = string(truncate(frame, 300))
	}
}

func (g *clientGroup) noteOther() {
	g.mu.Lock()
	g.otherFrames++
	g.mu.Unlock()
}

// health summarises what went wrong with the connections, if anything.
type health struct {
	lost        int
	firstLost   string
	errorFrames int
	firstError  string
	otherFrames int
}

func (g *clientGroup) health() health {
	g.mu.Lock()
	defer g.mu.Unlock()
	return health{g.lost, g.firstLost, g.errorFrames, g.firstError, g.otherFrames}
}

// dialSpec is one connection to open.
type dialSpec struct {
	idx    int
	device bool
	srv    *loadenv.Server
	token  string
}

// dialStats is how opening the connections went.
type dialStats struct {
	opened   int
	failed   int
	firstErr string
	took     time.Duration
}

// handler handles one frame read by a client's reader. frame is only
// valid during the call.
type handler func(c *wsClient, frame []byte)

func newHTTPClient() *http.Client {
	// Proxy nil: HTTP_PROXY must not divert loopback traffic. The
	// transport never pools upgraded connections.
	return &http.Client{Transport: &http.Transport{
		Proxy:       nil,
		DialContext: (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
	}}
}

// dialAll opens the connections with workers concurrent dials, waits for
// each one's connected frame, and starts its reader with handle. A failed
// dial is counted, not retried.
func dialAll(ctx context.Context, specs []dialSpec, workers int, handle handler) (*clientGroup, dialStats) {
	g := &clientGroup{clients: make([]*wsClient, len(specs))}
	httpClient := newHTTPClient()
	start := time.Now()
	var st dialStats
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(specs)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(specs) {
					return
				}
				c, err := dial(ctx, httpClient, specs[i], g, handle)
				mu.Lock()
				if err != nil {
					st.failed++
					if st.firstErr == "" {
						st.firstErr = err.Error()
					}
				} else {
					g.clients[i] = c
					st.opened++
					if st.opened%2000 == 0 {
						logf("  %d/%d connections open", st.opened, len(specs))
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	st.took = time.Since(start)
	return g, st
}

func dial(ctx context.Context, httpClient *http.Client, s dialSpec, g *clientGroup, handle handler) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(s.srv, s.token), &websocket.DialOptions{HTTPClient: httpClient})
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	// The first frame is the server's connected frame.
	_, first, err := c.Read(ctx)
	if err != nil {
		c.CloseNow()
		return nil, fmt.Errorf("waiting for the connected frame: %w", err)
	}
	if !bytes.Equal(frameType(first), []byte("connected")) {
		c.CloseNow()
		return nil, fmt.Errorf("first frame is not connected: %s", truncate(first, 200))
	}
	w := &wsClient{idx: s.idx, device: s.device, srv: s.srv, c: c, done: make(chan struct{}), group: g}
	go w.readLoop(handle)
	return w, nil
}

// open reports whether the connection's reader is still running.
func (w *wsClient) open() bool {
	select {
	case <-w.done:
		return false
	default:
		return true
	}
}

// readLoop reads frames until the connection ends. It reads with a
// context that is never cancelled (no timer per read); closing the
// connection ends it.
func (w *wsClient) readLoop(handle handler) {
	defer close(w.done)
	var buf []byte
	for {
		_, r, err := w.c.Reader(context.Background())
		if err == nil {
			buf, err = readInto(buf[:0], r)
		}
		if err != nil {
			w.readErr = err
			if !w.group.closing.Load() {
				w.group.mu.Lock()
				w.group.lost++
				if w.group.firstLost == "" {
					w.group.firstLost = describeClose(err)
				}
				w.group.mu.Unlock()
			}
			return
		}
		handle(w, buf)
	}
}

// readInto reads r to EOF, appending to buf.
func readInto(buf []byte, r io.Reader) ([]byte, error) {
	if buf == nil {
		buf = make([]byte, 0, 256)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// closeAll closes every connection without the close handshake (the
// server sees the TCP connection end) and waits, boundedly, for the
// readers to return.
func (g *clientGroup) closeAll() {
	g.closing.Store(true)
	for _, c := range g.clients {
		if c != nil {
			c.c.CloseNow()
		}
	}
	deadline := time.After(30 * time.Second)
	for _, c := range g.clients {
		if c == nil {
			continue
		}
		select {
		case <-c.done:
		case <-deadline:
			logf("some readers did not return within 30s of closing their connections")
			return
		}
	}
}

func describeClose(err error) string {
	if code := websocket.CloseStatus(err); code != -1 {
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return fmt.Sprintf("close %d %q", int(code), ce.Reason)
		}
		return fmt.Sprintf("close %d", int(code))
	}
	return err.Error()
}

// frameType returns the value of the frame's "type" field, found by a
// plain scan (the hub writes "type" first), or nil.
func frameType(frame []byte) []byte {
	return stringField(frame, []byte(`"type":"`))
}

// stringField returns the value of the first string field whose quoted
// key and colon and opening quote are key, without unescaping it.
func stringField(frame, key []byte) []byte {
	i := bytes.Index(frame, key)
	if i < 0 {
		return nil
	}
	v := frame[i+len(key):]
	j := bytes.IndexByte(v, '"')
	if j < 0 {
		return nil
	}
	return v[:j]
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
