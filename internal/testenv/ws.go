package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// Frame is a hub frame as a client receives it.
type Frame struct {
	Type    string          `json:"type"`
	Message json.RawMessage `json:"message"`
	From    *struct {
		Role         string  `json:"role"`
		MACAddress   *string `json:"mac_address"`
		ConnectionID string  `json:"connection_id"`
	} `json:"from"`
	// Raw is the frame as received.
	Raw []byte `json:"-"`
}

// SessionInfo is the payload of a session's connected frame.
type SessionInfo struct {
	ConnectionID string  `json:"connection_id"`
	Role         string  `json:"role"`
	MACAddress   *string `json:"mac_address"`
	UserID       int     `json:"user_id"`
}

// WS is the test suites' one hub client: a WebSocket session that fails
// its test on anything unexpected.
type WS struct {
	t    testing.TB
	Conn *websocket.Conn
	// Info is the session's connected frame.
	Info SessionInfo
	// Check, when set, vets every frame read (the contract suite
	// validates them against asyncapi.yaml).
	Check func(t testing.TB, f Frame)
	// Name, when set, prefixes the session's failure messages.
	Name string
}

// SetT makes the session fail t from now on (a subtest's), instead of the
// test that dialed it.
func (c *WS) SetT(t testing.TB) { c.t = t }

func (c *WS) fatalf(format string, args ...any) {
	c.t.Helper()
	if c.Name != "" {
		format = c.Name + ": " + format
	}
	c.t.Fatalf(format, args...)
}

// WSURL is the hub URL with the token in the path.
func (s *Service) WSURL(token string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/ws/device/token/" + token + "/"
}

// Dial opens a hub session with the token in the URL and reads its
// connected frame.
func (s *Service) Dial(t testing.TB, token string) *WS {
	t.Helper()
	return DialURL(t, s.WSURL(token), nil)
}

// DialHeader opens a hub session with the token in the Authorization
// header.
func (s *Service) DialHeader(t testing.TB, token string) *WS {
	t.Helper()
	return DialURL(t, "ws"+strings.TrimPrefix(s.URL, "http")+"/ws/device/", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Token " + token}},
	})
}

// DialURL opens a hub session and reads its connected frame.
func DialURL(t testing.TB, url string, opts *websocket.DialOptions) *WS {
	t.Helper()
	c := DialRaw(t, url, opts)
	c.Connected()
	return c
}

// Connected reads the session's first frame, which must be connected, into
// Info. DialURL calls it; after DialRaw, set Check first to vet it too.
func (c *WS) Connected() {
	c.t.Helper()
	f := c.Read()
	if f.Type != "connected" {
		c.fatalf("first frame %s, want connected", f.Type)
	}
	if err := json.Unmarshal(f.Message, &c.Info); err != nil {
		c.fatalf("connected frame %s: %v", f.Raw, err)
	}
}

// DialRaw opens a WebSocket and reads nothing: for sessions the server
// refuses after the upgrade.
func DialRaw(t testing.TB, url string, opts *websocket.DialOptions) *WS {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &WS{t: t, Conn: c}
}

// Send writes a frame: a string or []byte as is, anything else as JSON.
func (c *WS) Send(v any) {
	c.t.Helper()
	var data []byte
	switch b := v.(type) {
	case string:
		data = []byte(b)
	case []byte:
		data = b
	default:
		var err error
		if data, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, data); err != nil {
		c.fatalf("write: %v", err)
	}
}

// Read reads the next frame, failing the test if none comes.
func (c *WS) Read() Frame {
	c.t.Helper()
	f, err := c.TryRead(5 * time.Second)
	if err != nil {
		c.fatalf("read: %v", err)
	}
	return f
}

// Expect reads the next frame and checks its type.
func (c *WS) Expect(typ string) Frame {
	c.t.Helper()
	f := c.Read()
	if f.Type != typ {
		c.fatalf("got %s frame %s, want %s", f.Type, f.Raw, typ)
	}
	return f
}

// ExpectError reads an error frame with the code.
func (c *WS) ExpectError(code string) Frame {
	c.t.Helper()
	f := c.Expect("error")
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(f.Message, &p)
	if p.Code != code {
		c.fatalf("error code %q, want %q: %s", p.Code, code, f.Raw)
	}
	return f
}

// TryRead reads the next frame within d.
func (c *WS) TryRead(d time.Duration) (Frame, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	typ, data, err := c.Conn.Read(ctx)
	if err != nil {
		return Frame{}, err
	}
	if typ != websocket.MessageText {
		return Frame{}, fmt.Errorf("binary frame from the server: %q", data)
	}
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return Frame{}, fmt.Errorf("frame %q: %w", data, err)
	}
	f.Raw = data
	if c.Check != nil {
		c.Check(c.t, f)
	}
	return f, nil
}

// ExpectNothing checks that nothing is waiting for the session: it sends a
// heartbeat, whose pong the server queues behind every frame already
// queued for the session, and the pong must be the next frame. Frames a
// remote instance has yet to deliver can still come later; the caller
// makes them due first (e.g. by waiting for a frame of the same publisher
// elsewhere).
func (c *WS) ExpectNothing() {
	c.t.Helper()
	c.Send(map[string]any{"type": "heartbeat", "message": map[string]any{}})
	if f := c.Read(); f.Type != "pong" {
		c.fatalf("unexpected frame %s %s", f.Type, f.Raw)
	}
}

// ExpectClose reads until the server closes the session with code, and
// returns the close reason.
func (c *WS) ExpectClose(code websocket.StatusCode) string {
	c.t.Helper()
	for {
		_, err := c.TryRead(10 * time.Second)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			c.fatalf("closed with %v, want %d", err, code)
		}
		return ce.Reason
	}
}

// ForEachBackend runs fn as a parallel subtest per backend.
func ForEachBackend(t *testing.T, fn func(t *testing.T, b Backend)) {
	for _, b := range Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}
