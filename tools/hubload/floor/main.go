// Command floor is hubload's floor: the least a WebSocket hub on this
// machine can do for hubload's one-instance scenarios, on the library the
// hub uses (github.com/coder/websocket). `hubload -floor` measures it in
// place of `paradise serve`, so that the report tells what any such hub
// pays here from what Paradise adds.
//
// A session opens on /ws/device/token/{token}/ with a token Paradise
// issued, resolved by Paradise's own token store (one Redis round trip, as
// the hub's), and gets a connected frame. Every text frame it sends is
// written, with a from spliced in, to the other sessions of its user on
// the reader's goroutine: no validation, queue, rate limit, presence,
// database, pub/sub, pings or second instance. Its socket buffers are the
// hub's sizes (1 KiB read, 2 KiB write), so that idle memory compares.
//
// It runs as loadenv.FloorMain says; its settings are paradise's
// (REDIS_URL, PARADISE_REDIS_PREFIX).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"paradise/internal/auth"
	"paradise/internal/config"
	"paradise/internal/redisdb"
	"paradise/tools/internal/loadenv"
)

func main() {
	loadenv.FloorMain("floor", func() (http.Handler, error) {
		cfg, err := config.FromEnv()
		if err != nil {
			return nil, err
		}
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return newFloor(auth.NewTokens(redis.NewClient(opt), redisdb.NewKeys(cfg.Redis), cfg.Auth)), nil
	})
}

// newFloor serves the hub's endpoint with tokens from the store.
func newFloor(tokens *auth.Tokens) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /ws/device/token/{token}/", &floor{tokens: tokens, groups: make(map[int][]*member)})
	return mux
}

type floor struct {
	tokens *auth.Tokens

	mu sync.Mutex
	// groups holds each user's sessions. A group's slice is replaced, never
	// changed in place, so readers use it without the lock.
	groups map[int][]*member
}

type member struct {
	c *websocket.Conn
	// from ends every frame the session sends: `,"from":{...}}`.
	from []byte
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(smallBuffers{w}, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return
	}
	ctx := context.Background()
	s, err := f.tokens.Lookup(ctx, auth.User, r.PathValue("token"))
	if err != nil {
		_ = c.Close(4001, "invalid token")
		return
	}
	role, mac := "app", "null"
	if s.IsDevice() {
		role, mac = "device", strconv.Quote(s.MAC)
	}
	m := &member{c: c, from: fmt.Appendf(nil, `,"from":{"role":%q,"mac_address":%s,"connection_id":"floor"}}`, role, mac)}
	connected := fmt.Appendf(nil, `{"type":"connected","message":{"user_id":%d,"role":%q,"mac_address":%s}}`, s.UserID, role, mac)
	if err := c.Write(ctx, websocket.MessageText, connected); err != nil {
		c.CloseNow()
		return
	}
	f.mu.Lock()
	f.groups[s.UserID] = append(slices.Clip(f.groups[s.UserID]), m)
	f.mu.Unlock()
	// Return, so net/http releases the request's goroutine, as the hub
	// does.
	go f.read(s.UserID, m)
}

// smallBuffers hands the library the hijacked socket with the hub's buffer
// sizes instead of net/http's 4 KiB each, which it would keep for the
// session's life.
type smallBuffers struct{ http.ResponseWriter }

func (w smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if brw.Reader.Buffered() > 0 {
		// A client that sent a frame before its handshake's answer: rare,
		// and not worth keeping for a floor.
		nc.Close()
		return nil, nil, errors.New("floor: bytes before the handshake's answer")
	}
	return nc, bufio.NewReadWriter(bufio.NewReaderSize(nc, 1<<10), bufio.NewWriterSize(nc, 2<<10)), nil
}

// read relays the session's frames until it ends, then removes it.
func (f *floor) read(userID int, m *member) {
	defer func() {
		f.mu.Lock()
		rest := slices.DeleteFunc(slices.Clone(f.groups[userID]), func(o *member) bool { return o == m })
		if len(rest) == 0 {
			delete(f.groups, userID)
		} else {
			f.groups[userID] = rest
		}
		f.mu.Unlock()
		m.c.CloseNow()
	}()
	ctx := context.Background()
	var out []byte
	for {
		typ, data, err := m.c.Read(ctx)
		if err != nil {
			return
		}
		if typ != websocket.MessageText || len(data) < 2 || data[len(data)-1] != '}' {
			continue
		}
		out = append(append(out[:0], data[:len(data)-1]...), m.from...)
		f.mu.Lock()
		group := f.groups[userID]
		f.mu.Unlock()
		for _, o := range group {
			if o != m {
				_ = o.c.Write(ctx, websocket.MessageText, out)
			}
		}
	}
}
