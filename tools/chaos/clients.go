package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"paradise/tools/internal/loadenv"
)

// endpoint is one hub client that behaves like firmware (a device) or the
// phone app: it holds a session to its instance, reconnects with
// exponential backoff whenever the session ends, logs in again only when
// the close code says so (4001, 4003, 4004), and sends sequence-numbered
// chat frames to its pair's other end.
type endpoint struct {
	pair   int
	role   string // "device" or "app"
	inst   *instance
	out    *stream // the chat frames it sends
	in     *stream // the chat frames its peer sends
	pushes *stream // devices: the REST pushes to it; nil for apps
	login  func(ctx context.Context) (string, error)
	rec    *recorder
	opts   *options
	http   *http.Client

	// hold, when set, makes the endpoint a churner: it closes each session
	// itself after hold (randomised down to half), as a device on flaky
	// Wi-Fi would, and reconnects at once, so that sessions open while the
	// faults last.
	hold time.Duration

	mu        sync.Mutex
	token     string
	conn      *websocket.Conn // nil while not connected
	relogs    int             // times it logged in again
	recycling bool            // the client itself is closing the session
}

// connected reports whether the endpoint holds an open session right now.
func (ep *endpoint) connected() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.conn != nil
}

func (ep *endpoint) setConn(c *websocket.Conn) {
	ep.mu.Lock()
	ep.conn = c
	ep.mu.Unlock()
}

// run keeps the endpoint connected until ctx ends. ready is called once,
// after the first session opened.
func (ep *endpoint) run(ctx context.Context, ready func()) {
	attempt := 0
	mustLogin := false
	for ctx.Err() == nil {
		if attempt > 0 && !loadenv.Sleep(ctx, backoff(attempt, ep.opts.backoffMin, ep.opts.backoffMax)) {
			return
		}
		attempt++
		if mustLogin {
			tok, err := ep.login(ctx)
			if err != nil {
				continue
			}
			ep.mu.Lock()
			ep.token, ep.relogs = tok, ep.relogs+1
			ep.mu.Unlock()
			mustLogin = false
		}
		c, code, reason := ep.open(ctx)
		if c == nil {
			if code != 0 { // the server accepted, then closed at once (4001, 1013, ...)
				ep.noteClose(ctx, code, reason)
				mustLogin = needsLogin(code)
			}
			continue
		}
		if ready != nil {
			ready()
			ready = nil
		}
		attempt = 1 // a session opened: the next reconnect starts with the shortest wait
		ep.setConn(c)
		var recycle *time.Timer
		if ep.hold > 0 {
			recycle = time.AfterFunc(ep.hold/2+rand.N(ep.hold/2), func() {
				ep.mu.Lock()
				ep.recycling = true
				ep.mu.Unlock()
				c.CloseNow()
			})
		}
		err := ep.readLoop(ctx, c)
		if recycle != nil {
			recycle.Stop()
		}
		ep.mu.Lock()
		ep.conn = nil
		// A close code from the server always counts, even if the
		// client was about to close the session itself.
		recycled := ep.recycling && websocket.CloseStatus(err) == -1
		ep.recycling = false
		ep.mu.Unlock()
		c.CloseNow()
		if recycled {
			attempt = 0 // reconnect at once
			continue
		}
		code, reason = closeCode(err)
		ep.noteClose(ctx, code, reason)
		mustLogin = needsLogin(code)
	}
}

// noteClose records a session's end, unless it ended because the load did.
func (ep *endpoint) noteClose(ctx context.Context, code int, reason string) {
	if ctx.Err() != nil {
		return
	}
	ep.rec.closed(closeEvent{at: ep.rec.now(), code: code, reason: reason, role: ep.role, server: ep.inst.name})
}

// open dials the endpoint's instance and waits for the connected frame. It
// returns the connection, or the close code and reason if the server
// closed the session before the connected frame, or neither if the dial
// failed (recorded as a dial failure).
func (ep *endpoint) open(ctx context.Context) (*websocket.Conn, int, string) {
	ep.mu.Lock()
	token := ep.token
	ep.mu.Unlock()
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(dctx, "ws://"+ep.inst.addr+"/ws/device/token/"+token+"/", &websocket.DialOptions{HTTPClient: ep.http})
	if err != nil {
		if ctx.Err() == nil {
			reason := dialReason(err)
			if res != nil {
				reason = "HTTP " + strconv.Itoa(res.StatusCode)
			}
			ep.rec.dialFailed(reason)
		}
		return nil, 0, ""
	}
	c.SetReadLimit(1 << 20)
	_, first, err := c.Read(dctx)
	if err != nil {
		c.CloseNow()
		if ctx.Err() != nil {
			return nil, 0, ""
		}
		code, reason := closeCode(err)
		return nil, code, reason
	}
	if typ, _ := parseFrame(first); typ != "connected" {
		c.CloseNow()
		ep.rec.dialFailed("first frame was not connected")
		return nil, 0, ""
	}
	return c, 0, ""
}

// readLoop reads frames until the session ends and returns why it ended.
func (ep *endpoint) readLoop(ctx context.Context, c *websocket.Conn) error {
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return err
		}
		at := ep.rec.now()
		typ, id := parseFrame(data)
		switch typ {
		case "chat":
			if seq, ok := seqOf(id, "chaos "); ok {
				ep.in.received(seq, at)
			}
		case "command":
			if seq, ok := seqOf(id, "push-"); ok && ep.pushes != nil {
				ep.pushes.received(seq, at)
			}
		}
	}
}

// send sends chat frames at the endpoint's rate until ctx ends. A frame
// is only sent while a session is open; one whose write fails counts as
// never sent.
func (ep *endpoint) send(ctx context.Context, every time.Duration) {
	// Stagger the senders over one interval.
	if !loadenv.Sleep(ctx, time.Duration(rand.Int64N(int64(every)))) {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ep.mu.Lock()
		c := ep.conn
		ep.mu.Unlock()
		if c == nil {
			continue
		}
		seq := ep.out.next(ep.rec.now())
		msg := fmt.Sprintf(`{"type":"chat","message":{"text":"chaos %d"}}`, seq)
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.Write(wctx, websocket.MessageText, []byte(msg))
		cancel()
		if err != nil {
			ep.out.failed(seq)
		}
	}
}

// parseFrame returns a frame's type and the field that identifies the
// load's frames in it: a chat frame's text, a command's command_id.
func parseFrame(data []byte) (typ, id string) {
	var f struct {
		Type    string `json:"type"`
		Message struct {
			Text      string `json:"text"`
			CommandID string `json:"command_id"`
		} `json:"message"`
	}
	if json.Unmarshal(data, &f) != nil {
		return "", ""
	}
	if f.Type == "command" {
		return f.Type, f.Message.CommandID
	}
	return f.Type, f.Message.Text
}

// seqOf parses "<prefix><seq>".
func seqOf(s, prefix string) (int, bool) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil && n >= 0
}

// closeCode is the close code a session ended with (1006 when the
// connection ended without a close frame) and the reason.
func closeCode(err error) (int, string) {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason
	}
	return codeAbnormal, dialReason(err)
}

// dialReason shortens a transport error for the report.
func dialReason(err error) string {
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "connection refused"
	case strings.Contains(s, "connection reset"):
		return "connection reset"
	case strings.Contains(s, "deadline exceeded"), strings.Contains(s, "timeout"):
		return "timeout"
	case strings.Contains(s, "EOF"):
		return "EOF"
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// backoff is the wait before reconnect attempt n (n >= 1): min doubled
// per attempt up to max, times a random factor in [0.5, 1) so that clients
// do not reconnect in lockstep.
func backoff(n int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for i := 1; i < n && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return time.Duration(float64(d) * (0.5 + rand.Float64()/2))
}
