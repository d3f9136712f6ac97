package contract_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// answeredBy names client frame types the server answers to the sender
// instead of relaying them (asyncapi.yaml: "Every valid frame a client
// sends, except heartbeat, is relayed").
var answeredBy = map[string]string{"heartbeat": "pong"}

// wsClient is a hub session whose every received frame is validated
// against asyncapi.yaml.
type wsClient struct {
	t       *testing.T
	name    string
	conn    *websocket.Conn
	spec    *asyncSpec
	channel *asyncChannel
	seen    *wsCoverage
	info    struct {
		UserID       int     `json:"user_id"`
		Role         string  `json:"role"`
		MACAddress   *string `json:"mac_address"`
		ConnectionID string  `json:"connection_id"`
	}
}

// wsFrame is a received frame.
type wsFrame struct {
	Type    string          `json:"type"`
	Message json.RawMessage `json:"message"`
	From    *struct {
		Role         string  `json:"role"`
		MACAddress   *string `json:"mac_address"`
		ConnectionID string  `json:"connection_id"`
	} `json:"from"`
	raw []byte
}

// wsCoverage records which message types went which way.
type wsCoverage struct {
	sent     map[string]bool   // a client sent it and the server accepted it
	received map[string]bool   // the server sent it and it validated
	frames   map[string][]byte // the last frame of each type the server sent
	channels map[string]bool   // channels a session was opened on
}

func wsURL(base, path string) string {
	return "ws" + strings.TrimPrefix(base, "http") + path
}

// dial opens a session on the channel with the token and reads (and
// validates) its connected frame.
func dial(t *testing.T, f *fixture, spec *asyncSpec, seen *wsCoverage, channel, token, name string) *wsClient {
	t.Helper()
	ch := spec.channels[channel]
	path, opts := channelRequest(ch, token)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(f.URL, path), opts)
	if err != nil {
		t.Fatalf("%s: dial %s: %v", name, channel, err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	seen.channels[channel] = true
	c := &wsClient{t: t, name: name, conn: conn, spec: spec, channel: ch, seen: seen}
	fr := c.read()
	if fr.Type != "connected" {
		t.Fatalf("%s: first frame %s, want connected", name, fr.Type)
	}
	if err := json.Unmarshal(fr.Message, &c.info); err != nil {
		t.Fatal(err)
	}
	return c
}

// channelRequest is the path and dial options of a session on the channel.
func channelRequest(ch *asyncChannel, token string) (string, *websocket.DialOptions) {
	if ch.tokenInPath {
		return strings.ReplaceAll(ch.name, "{token}", token), nil
	}
	return ch.name, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Token " + token}}}
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			c.t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// read reads the next frame and validates it against the payload schema
// of its type, which must be a type the channel's subscribe operation
// declares.
func (c *wsClient) read() wsFrame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	typ, data, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("%s: read: %v", c.name, err)
	}
	if typ != websocket.MessageText {
		c.t.Fatalf("%s: binary frame from the server", c.name)
	}
	var f wsFrame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("%s: frame is not a JSON object: %v: %q", c.name, err, data)
	}
	f.raw = data
	if !c.channel.subscribe[f.Type] {
		c.t.Fatalf("%s: server sent a %q frame, which %s does not declare in subscribe (%v): %s",
			c.name, f.Type, c.channel.name, sortedTypes(c.channel.subscribe), data)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.spec.messages[f.Type].schema.Validate(v); err != nil {
		c.t.Fatalf("%s: %s frame does not match asyncapi.yaml: %v\nframe: %s", c.name, f.Type, err, data)
	}
	c.seen.received[f.Type] = true
	c.seen.frames[f.Type] = data
	return f
}

// expect reads the next frame and checks its type.
func (c *wsClient) expect(typ string) wsFrame {
	c.t.Helper()
	f := c.read()
	if f.Type != typ {
		c.t.Fatalf("%s: got %s frame %s, want %s", c.name, f.Type, f.raw, typ)
	}
	return f
}

// expectError reads an error frame with the code.
func (c *wsClient) expectError(code string) {
	c.t.Helper()
	f := c.expect("error")
	var p struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(f.Message, &p)
	if p.Code != code {
		c.t.Fatalf("%s: error code %q, want %q: %s", c.name, p.Code, code, f.raw)
	}
}

// checkFrom checks the server-set sender of a relayed frame.
func checkFrom(t *testing.T, f wsFrame, from *wsClient) {
	t.Helper()
	if f.From == nil {
		t.Fatalf("relayed %s frame has no from: %s", f.Type, f.raw)
	}
	if f.From.Role != from.info.Role || f.From.ConnectionID != from.info.ConnectionID ||
		!reflect.DeepEqual(f.From.MACAddress, from.info.MACAddress) {
		t.Fatalf("relayed %s frame: from %s, want the sender %+v", f.Type, f.raw, from.info)
	}
}

// sameJSON compares two JSON values semantically.
func sameJSON(t *testing.T, a json.RawMessage, b any) bool {
	t.Helper()
	var x, y any
	bb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(bb, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// TestWebSocket exercises every message type of asyncapi.yaml over real
// sockets, in the directions the spec declares, and validates every frame
// the server sends against its schema.
func TestWebSocket(t *testing.T) {
	t.Parallel()
	spec := loadAsyncAPI(t)
	f := newFixture(t)
	seen := &wsCoverage{sent: map[string]bool{}, received: map[string]bool{}, frames: map[string][]byte{}, channels: map[string]bool{}}

	// The device on one channel, its owner's app on the other(s).
	var devChannel, appChannel string
	for _, n := range sortedKeys(spec.channels) {
		if spec.channels[n].tokenInPath {
			devChannel = n
		} else {
			appChannel = n
		}
	}
	if devChannel == "" {
		devChannel = appChannel
	}
	if appChannel == "" {
		appChannel = devChannel
	}
	device := f.MacLogin(t, f.mac)
	dev := dial(t, f, spec, seen, devChannel, device.Token, "device")
	app := dial(t, f, spec, seen, appChannel, f.user.Token, "app")
	if dev.info.Role != "device" || dev.info.MACAddress == nil || app.info.Role != "app" || app.info.MACAddress != nil ||
		dev.info.UserID != f.user.User.ID || app.info.UserID != f.user.User.ID {
		t.Fatalf("sessions: device %+v, app %+v", dev.info, app.info)
	}

	// Every example of every message a client may send, both ways:
	// relayed to the other member of the group with the server's from, or
	// answered to the sender.
	t.Run("client frames", func(t *testing.T) {
		dev.t, app.t = t, t
		for _, typ := range sortedKeys(spec.messages) {
			m := spec.messages[typ]
			if !m.publish {
				continue
			}
			if len(m.examples) == 0 {
				t.Errorf("message %s has no example to send", typ)
				continue
			}
			for i, ex := range m.examples {
				for _, pair := range [][2]*wsClient{{dev, app}, {app, dev}} {
					from, to := pair[0], pair[1]
					from.send(ex)
					if answer, ok := answeredBy[typ]; ok {
						from.expect(answer)
					} else {
						got := to.expect(typ)
						checkFrom(t, got, from)
						if !sameJSON(t, got.Message, ex["message"]) {
							t.Errorf("%s example %d: relayed message %s, sent %v", typ, i, got.Message, ex["message"])
						}
					}
					seen.sent[typ] = true
				}
			}
		}
	})

	// Frames the server rejects are answered with an error frame; a type
	// clients may not send (declared in subscribe only) is not_allowed.
	t.Run("rejected frames", func(t *testing.T) {
		dev.t, app.t = t, t
		app.send([]byte("not json"))
		app.expectError("invalid_json")
		app.send(map[string]any{"type": "no_such_type", "message": map[string]any{}})
		app.expectError("unknown_type")
		dev.send(map[string]any{"type": "device_info", "message": map[string]any{"battery_level": 120}})
		dev.expectError("invalid_payload")
		for _, typ := range sortedKeys(spec.messages) {
			m := spec.messages[typ]
			if m.publish || len(m.examples) == 0 {
				continue
			}
			app.send(m.examples[0])
			app.expectError("not_allowed")
		}
	})

	// Frames the REST API pushes on the owner's behalf reach every session
	// of the group with from.connection_id "server".
	t.Run("pushed frames", func(t *testing.T) {
		dev.t, app.t = t, t
		msg := map[string]any{"title": "Dinner", "body": "Dinner is ready.", "level": "info"}
		f.must(t, "POST", fmt.Sprintf("/api/device/devices/%d/messages/", f.devID), f.user.Token,
			map[string]any{"type": "notification", "message": msg}, 200)
		for _, c := range []*wsClient{dev, app} {
			got := c.expect("notification")
			if got.From == nil || got.From.ConnectionID != "server" || got.From.Role != "app" || !sameJSON(t, got.Message, msg) {
				t.Fatalf("%s: pushed frame %s", c.name, got.raw)
			}
		}
	})

	// Nothing else is queued: a last chat each way arrives next.
	t.Run("no stray frames", func(t *testing.T) {
		dev.t, app.t = t, t
		for _, pair := range [][2]*wsClient{{dev, app}, {app, dev}} {
			pair[0].send(map[string]any{"type": "chat", "message": map[string]any{"text": "last from " + pair[0].name}})
			checkFrom(t, pair[1].expect("chat"), pair[0])
		}
	})

	// A session without a valid token is closed with 4001 on every channel.
	t.Run("invalid token", func(t *testing.T) {
		for _, name := range sortedKeys(spec.channels) {
			path, opts := channelRequest(spec.channels[name], strings.Repeat("ab", 16))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			conn, _, err := websocket.Dial(ctx, wsURL(f.URL, path), opts)
			if err != nil {
				cancel()
				t.Fatalf("%s: dial: %v", name, err)
			}
			_, _, err = conn.Read(ctx)
			cancel()
			conn.CloseNow()
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != 4001 {
				t.Errorf("%s: unknown token: %v, want close 4001", name, err)
			}
		}
	})

	// The validator itself must catch drift in what the server sends.
	t.Run("validator rejects drift", func(t *testing.T) {
		for _, typ := range []string{"connected", "device_info"} {
			raw := seen.frames[typ]
			if raw == nil {
				t.Fatalf("no %s frame received", typ)
			}
			for name, mutate := range map[string]func(map[string]any){
				"field in frame":   func(f map[string]any) { f["extra"] = true },
				"field in message": func(f map[string]any) { f["message"].(map[string]any)["extra"] = true },
				"wrong type":       func(f map[string]any) { f["type"] = "chat" },
				"no message":       func(f map[string]any) { delete(f, "message") },
			} {
				v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
				frame := v.(map[string]any)
				mutate(frame)
				if spec.messages[typ].schema.Validate(frame) == nil {
					t.Errorf("%s %s: validator accepted %v", typ, name, frame)
				}
			}
		}
	})

	// Coverage: every declared message type was exercised in a direction
	// it is declared for, and a session was opened on every channel.
	for _, typ := range sortedKeys(spec.messages) {
		m := spec.messages[typ]
		if !(m.publish && seen.sent[typ]) && !(m.subscribe && seen.received[typ]) {
			t.Errorf("message type %s (publish=%t, subscribe=%t) was never exercised: add a case to internal/contract", typ, m.publish, m.subscribe)
		}
	}
	for name := range spec.channels {
		if !seen.channels[name] {
			t.Errorf("channel %s was never opened", name)
		}
	}
	t.Logf("sent (publish): %v; received (subscribe): %v", sortedTypes(seen.sent), sortedTypes(seen.received))
}
