package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"paradise/internal/config"
	"paradise/internal/testenv"
)

// frame is a decoded hub frame.
type frame struct {
	Type    string          `json:"type"`
	Message json.RawMessage `json:"message"`
	From    *struct {
		Role         string  `json:"role"`
		MACAddress   *string `json:"mac_address"`
		ConnectionID string  `json:"connection_id"`
	} `json:"from"`
}

// client is a test WebSocket session.
type client struct {
	t    *testing.T
	c    *websocket.Conn
	info struct {
		ConnectionID string  `json:"connection_id"`
		Role         string  `json:"role"`
		MACAddress   *string `json:"mac_address"`
		UserID       int     `json:"user_id"`
	}
}

// hubConfig is a configuration with presence timings short enough for tests.
func hubConfig(t *testing.T, b testenv.Backend) config.Config {
	cfg := testenv.Config(t, b)
	cfg.Hub.PingInterval = 200 * time.Millisecond
	cfg.Presence.TTL = 2 * time.Second
	cfg.Presence.SweepInterval = 200 * time.Millisecond
	return cfg
}

func wsURL(s *testenv.Service, token string) string {
	return "ws" + strings.TrimPrefix(s.URL, "http") + "/ws/device/token/" + token + "/"
}

// dial opens a session with the token in the URL and reads its connected
// frame.
func dial(t *testing.T, s *testenv.Service, token string) *client {
	t.Helper()
	return dialWith(t, wsURL(s, token), nil)
}

func dialWith(t *testing.T, url string, opts *websocket.DialOptions) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { c.CloseNow() })
	cl := &client{t: t, c: c}
	f := cl.read()
	if f.Type != "connected" {
		t.Fatalf("first frame %s, want connected", f.Type)
	}
	if err := json.Unmarshal(f.Message, &cl.info); err != nil {
		t.Fatal(err)
	}
	return cl
}

func (cl *client) send(v any) {
	cl.t.Helper()
	data, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			cl.t.Fatal(err)
		}
		data = string(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := cl.c.Write(ctx, websocket.MessageText, []byte(data)); err != nil {
		cl.t.Fatalf("write: %v", err)
	}
}

func (cl *client) read() frame {
	cl.t.Helper()
	f, err := cl.tryRead(5 * time.Second)
	if err != nil {
		cl.t.Fatalf("read: %v", err)
	}
	return f
}

func (cl *client) tryRead(d time.Duration) (frame, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, data, err := cl.c.Read(ctx)
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return frame{}, fmt.Errorf("frame %q: %w", data, err)
	}
	return f, nil
}

// expectNothing checks that no frame arrives for a short while. Reading
// with a deadline closes a coder/websocket connection, so it is the last
// use of the client.
func (cl *client) expectNothing() {
	cl.t.Helper()
	if f, err := cl.tryRead(300 * time.Millisecond); err == nil {
		cl.t.Fatalf("unexpected frame %s %s", f.Type, f.Message)
	}
}

// expectClose reads until the server closes the connection with code, and
// returns the close reason.
func (cl *client) expectClose(code websocket.StatusCode) string {
	cl.t.Helper()
	for {
		_, err := cl.tryRead(10 * time.Second)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			cl.t.Fatalf("closed with %v, want %d", err, code)
		}
		return ce.Reason
	}
}

// pair is one user with a bound device and a device and an app session.
type pair struct {
	owner  testenv.Login
	device testenv.Login
	mac    string
	devID  int
}

func newPair(t *testing.T, s *testenv.Service) pair {
	t.Helper()
	owner := s.Register(t, "owner")
	mac := testenv.RandomID()
	id := s.Bind(t, owner.Token, mac)
	return pair{owner: owner, device: s.MacLogin(t, mac), mac: mac, devID: id}
}

func chat(text string) map[string]any {
	return map[string]any{"type": "chat", "message": map[string]any{"text": text}}
}

func forEachBackend(t *testing.T, fn func(t *testing.T, s *testenv.Service)) {
	for _, b := range testenv.Backends {
		t.Run(string(b), func(t *testing.T) {
			t.Parallel()
			fn(t, testenv.StartWith(t, hubConfig(t, b)))
		})
	}
}

func TestAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)

		app := dial(t, s, p.owner.Token)
		if app.info.Role != "app" || app.info.MACAddress != nil || app.info.UserID != p.owner.User.ID {
			t.Fatalf("app session: %+v", app.info)
		}
		dev := dialWith(t, "ws"+strings.TrimPrefix(s.URL, "http")+"/ws/device/", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Token " + p.device.Token}},
		})
		if dev.info.Role != "device" || dev.info.MACAddress == nil || *dev.info.MACAddress != p.device.Device.MACAddress {
			t.Fatalf("device session: %+v", dev.info)
		}

		for name, url := range map[string]string{
			"no header":     "ws" + strings.TrimPrefix(s.URL, "http") + "/ws/device/",
			"unknown token": wsURL(s, strings.Repeat("ab", 16)),
			"junk token":    wsURL(s, "not-a-token!"),
		} {
			t.Run(name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				c, _, err := websocket.Dial(ctx, url, nil)
				if err != nil {
					t.Fatal(err)
				}
				(&client{t: t, c: c}).expectClose(4001)
			})
		}
	})
}

func TestRelay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		other := newPair(t, s)
		app := dial(t, s, p.owner.Token)
		dev := dial(t, s, p.device.Token)
		otherApp := dial(t, s, other.owner.Token)
		otherDev := dial(t, s, other.device.Token)

		// App -> device, with who sent it.
		app.send(map[string]any{"type": "command", "message": map[string]any{"command_id": "c1", "name": "play_sound"}})
		f := dev.read()
		if f.Type != "command" || f.From == nil || f.From.Role != "app" || f.From.ConnectionID != app.info.ConnectionID || f.From.MACAddress != nil {
			t.Fatalf("device got %+v", f)
		}
		// Device -> app.
		dev.send(map[string]any{"type": "command_result", "message": map[string]any{"command_id": "c1", "ok": true}})
		f = app.read()
		if f.Type != "command_result" || f.From == nil || f.From.Role != "device" || f.From.MACAddress == nil || *f.From.MACAddress != p.device.Device.MACAddress {
			t.Fatalf("app got %+v", f)
		}
		// A client's own "from" is replaced.
		app.send(`{"type":"chat","message":{"text":"hi"},"from":{"role":"device","mac_address":"AA:AA:AA:AA:AA:AA","connection_id":"forged"}}`)
		f = dev.read()
		if f.From.Role != "app" || f.From.ConnectionID != app.info.ConnectionID {
			t.Fatalf("forged from kept: %+v", f.From)
		}
		// Heartbeats are answered, not relayed; nothing is echoed; nothing
		// crosses to another user.
		dev.send(map[string]any{"type": "heartbeat", "message": map[string]any{}})
		if f := dev.read(); f.Type != "pong" {
			t.Fatalf("heartbeat answered with %s", f.Type)
		}
		otherDev.send(chat("for my owner only"))
		if f := otherApp.read(); f.Type != "chat" {
			t.Fatalf("other app got %s", f.Type)
		}
		app.expectNothing()
		dev.expectNothing()
		otherDev.expectNothing()
	})
}

func TestInvalidFrames(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		app := dial(t, s, p.owner.Token)
		dev := dial(t, s, p.device.Token)
		tests := []struct {
			name, frame, code string
		}{
			{"not JSON", `{"type":`, "invalid_json"},
			{"unknown type", `{"type":"dance","message":{}}`, "unknown_type"},
			{"missing type", `{"message":{}}`, "unknown_type"},
			{"out of range", `{"type":"device_info","message":{"battery_level":120}}`, "invalid_payload"},
			{"missing field", `{"type":"command","message":{"name":"x"}}`, "invalid_payload"},
			{"server-only type", `{"type":"pong","message":{"ts":1}}`, "not_allowed"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				dev.send(tc.frame)
				f := dev.read()
				var e struct {
					Code   string `json:"code"`
					Detail string `json:"detail"`
				}
				_ = json.Unmarshal(f.Message, &e)
				if f.Type != "error" || e.Code != tc.code || e.Detail == "" {
					t.Fatalf("got %s %s, want error %s", f.Type, f.Message, tc.code)
				}
			})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := dev.c.Write(ctx, websocket.MessageBinary, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if f := dev.read(); f.Type != "error" {
			t.Fatalf("binary frame answered with %s", f.Type)
		}
		// The connection is still open and relays; nothing invalid reached
		// the app.
		dev.send(chat("still here"))
		if f := app.read(); f.Type != "chat" {
			t.Fatalf("app got %s %s", f.Type, f.Message)
		}

		// The hub's metrics saw the sessions, the frames and the rejects.
		res, err := http.Get(s.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		for _, want := range []string{
			`paradise_hub_connections{role="app"} 1`,
			`paradise_hub_connections{role="device"} 1`,
			`paradise_hub_frames_rejected_total{code="invalid_json"} 2`,
			`paradise_hub_frames_rejected_total{code="not_allowed"} 1`,
			`paradise_hub_frames_total{type="chat"} 1`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

func TestPresence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		dev := dial(t, s, p.device.Token)
		dev.send(map[string]any{"type": "device_info", "message": map[string]any{"battery_level": 85, "firmware_version": "1.2.3", "wifi_name": "MyWiFi"}})
		// Keep reading, so the client answers the hub's pings.
		dev.c.CloseRead(context.Background())

		// The row follows, and the device is online past the presence TTL
		// while its connection answers pings.
		d := waitDevice(t, s, p, func(d deviceState) bool {
			return d.Status == "connected" && d.BatteryLevel != nil && *d.BatteryLevel == 85
		})
		if d.FirmwareVersion != "1.2.3" || d.WifiName != "MyWiFi" || d.LastSeen == nil {
			t.Fatalf("device row: %+v", d)
		}
		if got := s.Redis.Get(context.Background(), s.Key("device:last_seen:"+p.device.Device.MACAddress)).Val(); got == "" {
			t.Fatal("no device:last_seen key")
		}
		time.Sleep(3 * s.Config.Presence.TTL / 2)
		if d := getDevice(t, s, p); d.Status != "connected" {
			t.Fatalf("live device marked %s", d.Status)
		}

		// Closing marks it disconnected.
		dev.c.CloseNow()
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "disconnected" })
	})
}

func TestPresenceExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		// A device whose instance died: connected in the database, no live
		// connection key. The sweeper marks it disconnected once its
		// last_seen is older than the TTL.
		p := newPair(t, s)
		dev := dial(t, s, p.device.Token)
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "connected" })
		// Drop the connection key as if its instance had vanished; the
		// open session would refresh it, so end the session first without
		// letting the hub mark it (the key is already gone).
		mac := p.device.Device.MACAddress
		s.Redis.Del(context.Background(), s.Key("device:conn:"+mac))
		dev.c.CloseNow()
		// The hub's own disconnect saw no key of its own and left the row.
		time.Sleep(200 * time.Millisecond)
		if d := getDevice(t, s, p); d.Status != "connected" {
			t.Fatalf("status %s before expiry", d.Status)
		}
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "disconnected" })
	})
}

func TestReconnectReplaces(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		app := dial(t, s, p.owner.Token)
		old := dial(t, s, p.device.Token)
		newer := dial(t, s, s.MacLogin(t, p.mac).Token)
		old.expectClose(4002)
		// The newer connection is the device now, and presence stays.
		app.send(chat("hello"))
		if f := newer.read(); f.Type != "chat" {
			t.Fatalf("newer connection got %s", f.Type)
		}
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "connected" })
	})
}

func TestRebindKicksOldOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		oldApp := dial(t, s, p.owner.Token)
		dev := dial(t, s, p.device.Token)

		thief := s.Register(t, "new_owner")
		s.Bind(t, thief.Token, p.mac)
		dev.expectClose(4003)

		// The old device token was revoked with the binding: it opens no
		// session and reads nothing on REST.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, wsURL(s, p.device.Token), nil)
		if err != nil {
			t.Fatal(err)
		}
		(&client{t: t, c: c}).expectClose(4001)
		if res := s.Do(t, http.MethodGet, "/api/user/profile/", p.device.Token, nil); res.Status != http.StatusUnauthorized {
			t.Fatalf("old device token on REST: %d %s", res.Status, res.Body)
		}

		// Logging in again joins the new owner's group.
		newApp := dial(t, s, thief.Token)
		dev2 := dial(t, s, s.MacLogin(t, p.mac).Token)
		if dev2.info.UserID != thief.User.ID {
			t.Fatalf("device joined user %d, want %d", dev2.info.UserID, thief.User.ID)
		}
		dev2.send(chat("new home"))
		if f := newApp.read(); f.Type != "chat" {
			t.Fatalf("new owner got %s", f.Type)
		}
		oldApp.expectNothing()
	})
}

// smallReceiveBuffer makes a dialer whose sockets have a tiny kernel
// receive buffer, so a client that stops reading backs up quickly.
func smallReceiveBuffer() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

func TestSlowConsumerDropped(t *testing.T) {
	cfg := hubConfig(t, testenv.Embedded)
	cfg.Hub.SendQueue = 8
	cfg.Hub.Rate = 100000
	cfg.Hub.Burst = 100000
	s := testenv.StartWith(t, cfg)
	p := newPair(t, s)
	dev := dial(t, s, p.device.Token)
	reader := dial(t, s, p.owner.Token)
	stalled := dialWith(t, wsURL(s, p.owner.Token), &websocket.DialOptions{HTTPClient: smallReceiveBuffer()})

	// The reader drains in the background and counts; the sender stays at
	// most a few frames ahead of it, as a healthy group member would.
	const total = 2000
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for received.Load() < total {
			if _, err := reader.tryRead(20 * time.Second); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	text := strings.Repeat("x", 3000)
	for i := 0; i < total; i++ {
		dev.send(chat(text))
		for deadline := time.Now().Add(10 * time.Second); int64(i)-received.Load() > 4; {
			if time.Now().After(deadline) {
				t.Fatalf("reader stuck at %d of %d frames", received.Load(), i)
			}
			time.Sleep(time.Millisecond)
		}
	}
	<-done
	if n := received.Load(); n != total {
		t.Fatalf("reading member got %d of %d frames", n, total)
	}
	// The stalled member was cut off with 1008 (after the frames it did
	// take before its buffers filled).
	if reason := stalled.expectClose(websocket.StatusPolicyViolation); reason != "slow consumer" {
		t.Fatalf("stalled member closed for %q", reason)
	}
}

func TestLimits(t *testing.T) {
	cfg := hubConfig(t, testenv.Embedded)
	cfg.Hub.ReadLimit = 1024
	cfg.Hub.Rate = 1
	cfg.Hub.Burst = 3
	s := testenv.StartWith(t, cfg)
	p := newPair(t, s)

	dev := dial(t, s, p.device.Token)
	limited := 0
	for i := 0; i < 6; i++ {
		dev.send(map[string]any{"type": "heartbeat", "message": map[string]any{}})
	}
	for i := 0; i < 6; i++ {
		f := dev.read()
		if f.Type == "error" && strings.Contains(string(f.Message), "rate_limited") {
			limited++
		}
	}
	if limited < 2 {
		t.Fatalf("%d of 6 frames rate limited, want at least 2", limited)
	}

	big := dial(t, s, p.owner.Token)
	big.send(chat(strings.Repeat("y", 2000)))
	big.expectClose(websocket.StatusMessageTooBig)
}

func TestPush(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		path := fmt.Sprintf("/api/device/devices/%d/messages/", p.devID)
		body := map[string]any{"type": "notification", "message": map[string]any{"title": "Hi", "body": "Dinner is ready"}}

		res := s.Do(t, http.MethodPost, path, p.owner.Token, body)
		var out struct {
			Online bool `json:"online"`
		}
		res.Decode(t, &out)
		if res.Status != 200 || out.Online {
			t.Fatalf("offline push: %d %s", res.Status, res.Body)
		}

		dev := dial(t, s, p.device.Token)
		app := dial(t, s, p.owner.Token)
		res = s.Do(t, http.MethodPost, path, p.owner.Token, body)
		res.Decode(t, &out)
		if res.Status != 200 || !out.Online {
			t.Fatalf("online push: %d %s", res.Status, res.Body)
		}
		for _, cl := range []*client{dev, app} {
			f := cl.read()
			if f.Type != "notification" || f.From == nil || f.From.ConnectionID != "server" {
				t.Fatalf("got %+v", f)
			}
		}

		bad := map[string]any{"type": "command", "message": map[string]any{"name": "no id"}}
		if res := s.Do(t, http.MethodPost, path, p.owner.Token, bad); res.Status != 400 || !strings.HasPrefix(res.Message, "message: ") {
			t.Fatalf("invalid payload: %d %s", res.Status, res.Body)
		}
		if res := s.Do(t, http.MethodPost, path, p.owner.Token, map[string]any{"type": "pong", "message": map[string]any{}}); res.Status != 400 {
			t.Fatalf("server-only type: %d %s", res.Status, res.Body)
		}
		stranger := s.Register(t, "stranger")
		if res := s.Do(t, http.MethodPost, path, stranger.Token, body); res.Status != 404 {
			t.Fatalf("stranger push: %d %s", res.Status, res.Body)
		}
	})
}

func TestShutdownClosesSessions(t *testing.T) {
	s := testenv.StartWith(t, hubConfig(t, testenv.Postgres))
	p := newPair(t, s)
	dev := dial(t, s, p.device.Token)
	waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "connected" })

	// A second instance to read the row after the first stops.
	other := testenv.StartWith(t, s.Config)
	// Read while the service stops, so the close handshake completes.
	closed := make(chan error, 1)
	go func() {
		_, err := dev.tryRead(10 * time.Second)
		closed <- err
	}()
	s.Stop()
	if code := websocket.CloseStatus(<-closed); code != websocket.StatusGoingAway {
		t.Fatalf("closed with %d, want 1001", code)
	}
	res := other.Do(t, http.MethodGet, fmt.Sprintf("/api/device/devices/%d/", p.devID), p.owner.Token, nil)
	var d deviceState
	res.Decode(t, &d)
	if d.Status != "disconnected" {
		t.Fatalf("after shutdown the device is %s", d.Status)
	}
}

func TestTwoInstances(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	a := testenv.StartWith(t, cfg)
	b := testenv.StartWith(t, cfg)
	p := newPair(t, a)
	other := newPair(t, a)

	dev := dial(t, a, p.device.Token)
	app := dial(t, b, p.owner.Token)
	otherApp := dial(t, b, other.owner.Token)

	dev.send(chat("from instance a"))
	if f := app.read(); f.Type != "chat" || f.From.Role != "device" {
		t.Fatalf("b got %+v", f)
	}
	app.send(map[string]any{"type": "command", "message": map[string]any{"command_id": "x", "name": "wave"}})
	if f := dev.read(); f.Type != "command" || f.From.Role != "app" {
		t.Fatalf("a got %+v", f)
	}
	// Server pushes through either instance reach both.
	res := b.Do(t, http.MethodPost, fmt.Sprintf("/api/device/devices/%d/messages/", p.devID), p.owner.Token,
		map[string]any{"type": "weather", "message": map[string]any{"city": "Paris", "condition": "rain", "temperature_c": 12}})
	var out struct {
		Online bool `json:"online"`
	}
	res.Decode(t, &out)
	if !out.Online {
		t.Fatalf("device on instance a not online through b: %s", res.Body)
	}
	if f := dev.read(); f.Type != "weather" {
		t.Fatalf("a got %s", f.Type)
	}
	if f := app.read(); f.Type != "weather" {
		t.Fatalf("b got %s", f.Type)
	}
	// A device reconnecting on the other instance replaces the old session.
	dev2 := dial(t, b, a.MacLogin(t, p.mac).Token)
	dev.expectClose(4002)
	app.send(chat("where are you"))
	if f := dev2.read(); f.Type != "chat" {
		t.Fatalf("replacement got %s", f.Type)
	}
	// Rebinding through instance a kicks the device session on b.
	thief := a.Register(t, "thief")
	a.Bind(t, thief.Token, p.mac)
	dev2.expectClose(4003)
	otherApp.expectNothing()
}

type deviceState struct {
	Status          string  `json:"status"`
	BatteryLevel    *int    `json:"battery_level"`
	FirmwareVersion string  `json:"firmware_version"`
	WifiName        string  `json:"wifi_name"`
	LastSeen        *string `json:"last_seen"`
}

func getDevice(t *testing.T, s *testenv.Service, p pair) deviceState {
	t.Helper()
	res := s.Do(t, http.MethodGet, fmt.Sprintf("/api/device/devices/%d/", p.devID), p.owner.Token, nil)
	if res.Status != 200 {
		t.Fatalf("get device: %d %s", res.Status, res.Body)
	}
	var d deviceState
	res.Decode(t, &d)
	return d
}

// waitDevice polls the device until ok holds (state changes are
// asynchronous); it fails after a generous deadline, which is a liveness
// check, not a timing assertion.
func waitDevice(t *testing.T, s *testenv.Service, p pair, ok func(deviceState) bool) deviceState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := getDevice(t, s, p)
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("device state never matched: %+v", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// rawConns is an HTTP client whose TCP connections the test can drop
// without a WebSocket close frame, as a device losing Wi-Fi would.
type rawConns struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (r *rawConns) client() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
		}
		return c, err
	}}}
}

func (r *rawConns) dropAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		_ = c.Close()
	}
}

// TestDroppedSessionsReleaseSockets drops sessions without a close frame
// and checks that the server closes its side of every one: a socket left
// in CLOSE_WAIT is a descriptor leaked for the life of the process.
func TestDroppedSessionsReleaseSockets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		var raw rawConns
		opts := &websocket.DialOptions{HTTPClient: raw.client()}
		dialWith(t, wsURL(s, p.device.Token), opts)
		for i := 0; i < 19; i++ {
			dialWith(t, wsURL(s, p.owner.Token), opts)
		}
		http.DefaultClient.CloseIdleConnections()
		raw.dropAll()

		deadline := time.Now().Add(10 * time.Second)
		for {
			counts := s.ServerSockets(t)
			if counts["CLOSE_WAIT"] == 0 && counts["ESTABLISHED"] == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server sockets left after the clients dropped: %v", counts)
			}
			time.Sleep(50 * time.Millisecond)
		}
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "disconnected" })
	})
}
