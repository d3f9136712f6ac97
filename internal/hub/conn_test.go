package hub

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"paradise/gen/ws"
)

func TestSendQueue(t *testing.T) {
	q := newSendQueue(2)
	if ok, start := q.push([]byte("a")); !ok || !start {
		t.Fatalf("first push: ok=%t start=%t, want a new writer", ok, start)
	}
	if ok, start := q.push([]byte("b")); !ok || start {
		t.Fatalf("second push: ok=%t start=%t, want the running writer woken", ok, start)
	}
	select {
	case <-q.wake:
	default:
		t.Fatal("running writer was not woken")
	}
	if ok, _ := q.push([]byte("c")); ok {
		t.Fatal("push beyond the bound succeeded")
	}
	if got := q.take(); len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("take = %q, want [a b] in order", got)
	}
	if !q.idle() {
		t.Fatal("empty queue did not let the writer go")
	}
	if _, start := q.push([]byte("d")); !start {
		t.Fatal("push after the writer left did not start a new one")
	}
	if q.take(); q.idle() != true {
		t.Fatal("idle after take")
	}
	q.push([]byte("e"))
	if q.idle() {
		t.Fatal("idle with a frame queued")
	}
	q.shut()
	if ok, start := q.push([]byte("f")); !ok || start || len(q.take()) != 0 {
		t.Fatal("a shut queue must drop frames quietly")
	}
}

func TestBucket(t *testing.T) {
	now := time.Now()
	b := newBucket(10, 3)
	b.last = now
	for i := 0; i < 3; i++ {
		if !b.allow(now) {
			t.Fatalf("burst frame %d refused", i)
		}
	}
	if b.allow(now) {
		t.Fatal("frame over the burst allowed")
	}
	if !b.allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("a token should refill after 1/rate seconds")
	}
	if b.allow(now.Add(100 * time.Millisecond)) {
		t.Fatal("only one token refilled")
	}
}

func TestFrameGuard(t *testing.T) {
	// Client frames are masked: 0x80 in the second byte, 4 mask bytes.
	small := append([]byte{0x81, 0x80 | 5, 0, 0, 0, 0}, "hello"...)
	medium := append([]byte{0x81, 0x80 | 126, 0x01, 0x00, 0, 0, 0, 0}, make([]byte, 256)...)
	tests := []struct {
		name   string
		stream []byte
		chunk  int // bytes per read, to split headers across reads
		limit  int64
		tooBig bool
	}{
		{"small frames", append(append([]byte{}, small...), small...), 1 << 10, 10, false},
		{"split header", append(append([]byte{}, small...), small...), 1, 10, false},
		{"16-bit length within limit", medium, 3, 256, false},
		{"16-bit length over limit", medium, 3, 255, true},
		{"64-bit length 2^62", []byte{0x81, 0x80 | 127, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1 << 10, 1 << 16, true},
		{"64-bit length with the top bit set", []byte{0x81, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, 2, 1 << 16, true},
		{"over limit after a good frame", append(append([]byte{}, small...), 0x81, 0x80|126, 0xff, 0xff), 4, 100, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := &frameGuard{limit: tc.limit}
			var tooBig bool
			for b := tc.stream; len(b) > 0 && !tooBig; {
				n := min(tc.chunk, len(b))
				tooBig = g.scan(b[:n])
				b = b[n:]
			}
			if tooBig != tc.tooBig {
				t.Fatalf("too big = %t, want %t", tooBig, tc.tooBig)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	noop := func(context.Context, *Session, *ws.Frame) error { return nil }
	rt, err := newRoutes([]FrameHandler{{Type: "device_info", Handle: noop}})
	if err != nil {
		t.Fatal(err)
	}
	if r := rt["device_info"]; r == nil || !r.relay || len(r.handlers) != 1 {
		t.Fatalf("device_info route = %+v, want relayed and handled", r)
	}
	if r := rt["chat"]; r == nil || !r.relay || len(r.handlers) != 0 {
		t.Fatalf("chat route = %+v, want relayed only", r)
	}
	if _, ok := rt["pong"]; ok {
		t.Fatal("server-only type pong has a route")
	}
	if err := rt.add(FrameHandler{Type: "chat", Consume: true, Handle: noop}); err != nil || rt["chat"].relay {
		t.Fatalf("consuming handler: err %v, relay %t", err, rt["chat"].relay)
	}
	for name, fh := range map[string]FrameHandler{
		"server-only type": {Type: "pong", Handle: noop},
		"unknown type":     {Type: "dance", Handle: noop},
		"no func":          {Type: "chat"},
	} {
		if _, err := newRoutes([]FrameHandler{fh}); err == nil {
			t.Errorf("%s: newRoutes accepted %+v", name, fh)
		}
	}
}

func TestSelector(t *testing.T) {
	dev := &Session{userID: 1, mac: "AA", token: "t1"}
	app := &Session{userID: 1, token: "t2"}
	tests := []struct {
		name string
		sel  Selector
		want []bool // dev, app
	}{
		{"user", Selector{UserID: 1}, []bool{true, true}},
		{"other user", Selector{UserID: 2}, []bool{false, false}},
		{"token", Selector{UserID: 1, Token: "t2"}, []bool{false, true}},
		{"except token", Selector{UserID: 1, ExceptToken: "t2"}, []bool{true, false}},
		{"device", Selector{MAC: "AA"}, []bool{true, false}},
		{"device of another owner", Selector{MAC: "AA", ExceptUserID: 1}, []bool{false, false}},
		{"device rebound", Selector{MAC: "AA", ExceptUserID: 2}, []bool{true, false}},
		{"empty selects nothing", Selector{}, []bool{false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := []bool{tc.sel.matches(dev), tc.sel.matches(app)}; got[0] != tc.want[0] || got[1] != tc.want[1] {
				t.Fatalf("matches = %v, want %v", got, tc.want)
			}
		})
	}
}

// countingConn records the writes that reach the socket.
type countingConn struct {
	net.Conn
	mu       sync.Mutex
	writes   [][]byte
	deadline time.Time
	fail     error
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return nil
}

func TestCorkedWrites(t *testing.T) {
	under := &countingConn{}
	c := &guardedConn{Conn: under}

	// Uncorked, every write goes straight to the socket.
	for _, s := range []string{"a", "b"} {
		if _, err := c.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if len(under.writes) != 2 {
		t.Fatalf("uncorked: %d socket writes, want 2", len(under.writes))
	}

	// Corked, a burst leaves in one write, in order, within the deadline.
	deadline := time.Now().Add(time.Minute)
	c.cork(deadline)
	if !under.deadline.Equal(deadline) {
		t.Fatalf("write deadline %v while corked, want %v", under.deadline, deadline)
	}
	var want []byte
	for i := range 10 {
		p := []byte(fmt.Sprintf("frame %d;", i))
		want = append(want, p...)
		if n, err := c.Write(p); err != nil || n != len(p) {
			t.Fatalf("corked write: n=%d err=%v", n, err)
		}
	}
	if len(under.writes) != 2 {
		t.Fatalf("corked: %d socket writes before uncork, want none new", len(under.writes)-2)
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	if len(under.writes) != 3 || !bytes.Equal(under.writes[2], want) {
		t.Fatalf("uncork wrote %q, want one write of %q", under.writes[2:], want)
	}
	if !under.deadline.IsZero() {
		t.Fatalf("write deadline %v after uncork, want none", under.deadline)
	}
	if c.wbuf != nil {
		t.Fatal("an uncorked connection still holds a buffer")
	}

	// A burst longer than corkLimit leaves in corkLimit-sized writes.
	c.cork(deadline)
	big := bytes.Repeat([]byte("x"), corkLimit/4)
	for range 6 {
		if _, err := c.Write(big); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.uncork(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, w := range under.writes[3:] {
		total += len(w)
	}
	if n := len(under.writes) - 3; n != 2 || total != 6*len(big) {
		t.Fatalf("long burst: %d writes of %d bytes, want 2 of %d", n, total, 6*len(big))
	}

	// A failing socket fails the uncork (the session then closes).
	c.cork(deadline)
	_, _ = c.Write([]byte("lost"))
	under.fail = errors.New("broken pipe")
	if err := c.uncork(); err == nil {
		t.Fatal("uncork on a broken socket succeeded")
	}
}
