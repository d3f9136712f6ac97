package hub_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"paradise/gen/ws"
	"paradise/internal/account"
	"paradise/internal/config"
	"paradise/internal/hub"
	"paradise/internal/testenv"
)

// hubConfig is a configuration with presence timings short enough for tests.
func hubConfig(t *testing.T, b testenv.Backend) config.Config {
	cfg := testenv.Config(t, b)
	cfg.Hub.PingInterval = 200 * time.Millisecond
	cfg.Hub.MaxSessionsPerUser = 64 // TestDroppedSessionsReleaseSockets opens 20
	cfg.Presence.TTL = 2 * time.Second
	cfg.Presence.SweepInterval = 200 * time.Millisecond
	return cfg
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

// forEachBackend runs fn on a service with hubConfig per backend.
func forEachBackend(t *testing.T, fn func(t *testing.T, s *testenv.Service)) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		fn(t, testenv.StartWith(t, hubConfig(t, b)))
	})
}

func TestAuth(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)

		app := s.Dial(t, p.owner.Token)
		if app.Info.Role != "app" || app.Info.MACAddress != nil || app.Info.UserID != p.owner.User.ID {
			t.Fatalf("app session: %+v", app.Info)
		}
		dev := testenv.DialURL(t, "ws"+strings.TrimPrefix(s.URL, "http")+"/ws/device/", &websocket.DialOptions{
			HTTPHeader: http.Header{"Authorization": {"Token " + p.device.Token}},
		})
		if dev.Info.Role != "device" || dev.Info.MACAddress == nil || *dev.Info.MACAddress != p.device.Device.MACAddress {
			t.Fatalf("device session: %+v", dev.Info)
		}

		for name, url := range map[string]string{
			"no header":     "ws" + strings.TrimPrefix(s.URL, "http") + "/ws/device/",
			"unknown token": s.WSURL(strings.Repeat("ab", 16)),
			"junk token":    s.WSURL("not-a-token!"),
		} {
			t.Run(name, func(t *testing.T) {
				testenv.DialRaw(t, url, nil).ExpectClose(4001)
			})
		}
	})
}

func TestRelay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		other := newPair(t, s)
		app := s.Dial(t, p.owner.Token)
		dev := s.Dial(t, p.device.Token)
		otherApp := s.Dial(t, other.owner.Token)
		otherDev := s.Dial(t, other.device.Token)

		// App -> device, with who sent it.
		app.Send(map[string]any{"type": "command", "message": map[string]any{"command_id": "c1", "name": "play_sound"}})
		f := dev.Read()
		if f.Type != "command" || f.From == nil || f.From.Role != "app" || f.From.ConnectionID != app.Info.ConnectionID || f.From.MACAddress != nil {
			t.Fatalf("device got %+v", f)
		}
		// Device -> app.
		dev.Send(map[string]any{"type": "command_result", "message": map[string]any{"command_id": "c1", "ok": true}})
		f = app.Read()
		if f.Type != "command_result" || f.From == nil || f.From.Role != "device" || f.From.MACAddress == nil || *f.From.MACAddress != p.device.Device.MACAddress {
			t.Fatalf("app got %+v", f)
		}
		// A client's own "from" is replaced.
		app.Send(`{"type":"chat","message":{"text":"hi"},"from":{"role":"device","mac_address":"AA:AA:AA:AA:AA:AA","connection_id":"forged"}}`)
		f = dev.Read()
		if f.From.Role != "app" || f.From.ConnectionID != app.Info.ConnectionID {
			t.Fatalf("forged from kept: %+v", f.From)
		}
		// Heartbeats are answered, not relayed; nothing is echoed; nothing
		// crosses to another user.
		dev.Send(map[string]any{"type": "heartbeat", "message": map[string]any{}})
		if f := dev.Read(); f.Type != "pong" {
			t.Fatalf("heartbeat answered with %s", f.Type)
		}
		otherDev.Send(chat("for my owner only"))
		if f := otherApp.Read(); f.Type != "chat" {
			t.Fatalf("other app got %s", f.Type)
		}
		app.ExpectNothing()
		dev.ExpectNothing()
		otherDev.ExpectNothing()
	})
}

func TestInvalidFrames(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		app := s.Dial(t, p.owner.Token)
		dev := s.Dial(t, p.device.Token)
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
				dev.Send(tc.frame)
				f := dev.Read()
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
		if err := dev.Conn.Write(ctx, websocket.MessageBinary, []byte("{}")); err != nil {
			t.Fatal(err)
		}
		if f := dev.Read(); f.Type != "error" {
			t.Fatalf("binary frame answered with %s", f.Type)
		}
		// The connection is still open and relays; nothing invalid reached
		// the app.
		dev.Send(chat("still here"))
		if f := app.Read(); f.Type != "chat" {
			t.Fatalf("app got %s %s", f.Type, f.Message)
		}

		// The hub's metrics saw the sessions, the frames and the rejects.
		res, err := http.Get(s.MetricsURL + "/metrics")
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
		dev := s.Dial(t, p.device.Token)
		dev.Send(map[string]any{"type": "device_info", "message": map[string]any{"battery_level": 85, "firmware_version": "1.2.3", "wifi_name": "MyWiFi"}})
		// Keep reading, so the client answers the hub's pings.
		dev.Conn.CloseRead(context.Background())

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
		// Answered pings refresh the connection key before it expires:
		// watch its TTL go back up instead of sleeping past it.
		connKey := s.Key("device:conn:" + p.device.Device.MACAddress)
		low := s.Redis.PTTL(context.Background(), connKey).Val()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			ttl := s.Redis.PTTL(context.Background(), connKey).Val()
			if ttl <= 0 {
				t.Fatalf("connection key of a live device expired (PTTL %v)", ttl)
			}
			if ttl > low {
				break
			}
			low = ttl
			if time.Now().After(deadline) {
				t.Fatalf("connection key never refreshed (PTTL %v)", ttl)
			}
		}
		if d := getDevice(t, s, p); d.Status != "connected" {
			t.Fatalf("live device marked %s", d.Status)
		}

		// Closing marks it disconnected.
		dev.Conn.CloseNow()
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "disconnected" })
	})
}

// TestPresenceLastWords: a device that sends a frame and closes at once is
// disconnected for good. Signs of life are written a few times a second;
// the frame's, written after the close, must not bring the device's
// connection key back.
func TestPresenceLastWords(t *testing.T) {
	s := testenv.StartWith(t, hubConfig(t, testenv.Postgres))
	p := newPair(t, s)
	dev := s.Dial(t, p.device.Token)
	time.Sleep(1100 * time.Millisecond) // signs of life count from a second after the connect
	dev.Send(chat("bye"))
	dev.ExpectNothing() // the chat was handled: its sign of life is noted
	dev.Conn.CloseNow()
	waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "disconnected" })
	connKey := s.Key("device:conn:" + p.device.Device.MACAddress)
	for range 10 { // 1 s: four flushes at the test's TTL of 2 s
		if n := s.Redis.Exists(context.Background(), connKey).Val(); n != 0 {
			t.Fatal("a closed device's connection key came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestPresenceExpiry(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		// A device whose instance died: connected in the database, no live
		// connection key. The sweeper marks it disconnected once its
		// last_seen is older than the TTL.
		p := newPair(t, s)
		dev := s.Dial(t, p.device.Token)
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "connected" })
		// Drop the connection key as if its instance had vanished; the
		// open session would refresh it, so end the session first without
		// letting the hub mark it (the key is already gone).
		mac := p.device.Device.MACAddress
		s.Redis.Del(context.Background(), s.Key("device:conn:"+mac))
		dev.Conn.CloseNow()
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
		app := s.Dial(t, p.owner.Token)
		old := s.Dial(t, p.device.Token)
		newer := s.Dial(t, s.MacLogin(t, p.mac).Token)
		old.ExpectClose(4002)
		// The newer connection is the device now, and presence stays.
		app.Send(chat("hello"))
		if f := newer.Read(); f.Type != "chat" {
			t.Fatalf("newer connection got %s", f.Type)
		}
		waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "connected" })
	})
}

func TestRebindKicksOldOwner(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		p := newPair(t, s)
		oldApp := s.Dial(t, p.owner.Token)
		dev := s.Dial(t, p.device.Token)

		thief := s.Register(t, "new_owner")
		s.Bind(t, thief.Token, p.mac)
		dev.ExpectClose(4003)

		// The old device token was revoked with the binding: it opens no
		// session and reads nothing on REST.
		testenv.DialRaw(t, s.WSURL(p.device.Token), nil).ExpectClose(4001)
		if res := s.Do(t, http.MethodGet, "/api/user/profile/", p.device.Token, nil); res.Status != http.StatusUnauthorized {
			t.Fatalf("old device token on REST: %d %s", res.Status, res.Body)
		}

		// Logging in again joins the new owner's group.
		newApp := s.Dial(t, thief.Token)
		dev2 := s.Dial(t, s.MacLogin(t, p.mac).Token)
		if dev2.Info.UserID != thief.User.ID {
			t.Fatalf("device joined user %d, want %d", dev2.Info.UserID, thief.User.ID)
		}
		dev2.Send(chat("new home"))
		if f := newApp.Read(); f.Type != "chat" {
			t.Fatalf("new owner got %s", f.Type)
		}
		oldApp.ExpectNothing()
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
	dev := s.Dial(t, p.device.Token)
	reader := s.Dial(t, p.owner.Token)
	stalled := testenv.DialURL(t, s.WSURL(p.owner.Token), &websocket.DialOptions{HTTPClient: smallReceiveBuffer()})

	// The reader drains in the background and counts; the sender stays at
	// most a few frames ahead of it, as a healthy group member would.
	const total = 2000
	var received atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for received.Load() < total {
			if _, err := reader.TryRead(20 * time.Second); err != nil {
				return
			}
			received.Add(1)
		}
	}()
	// Once the server has cut the stalled member off, it reads again, so
	// the close frame the server queued behind its backlog can arrive
	// before the server's close handshake gives up on it.
	stalledEnd := make(chan error, 1)
	draining := false
	text := strings.Repeat("x", 3000)
	for i := 0; i < total; i++ {
		dev.Send(chat(text))
		for deadline := time.Now().Add(10 * time.Second); int64(i)-received.Load() > 4; {
			if time.Now().After(deadline) {
				t.Fatalf("reader stuck at %d of %d frames", received.Load(), i)
			}
			time.Sleep(time.Millisecond)
		}
		if !draining && i%20 == 0 && metricValue(t, s, `paradise_hub_closed_total{code="1008"}`) >= 1 {
			draining = true
			go func() {
				for {
					if _, err := stalled.TryRead(20 * time.Second); err != nil {
						stalledEnd <- err
						return
					}
				}
			}()
		}
	}
	<-done
	if n := received.Load(); n != total {
		t.Fatalf("reading member got %d of %d frames", n, total)
	}
	if !draining {
		t.Fatal("the stalled member was never cut off")
	}
	// The stalled member was cut off with 1008 (after the frames it did
	// take before its buffers filled).
	var ce websocket.CloseError
	if err := <-stalledEnd; !errors.As(err, &ce) || ce.Code != websocket.StatusPolicyViolation || ce.Reason != "slow consumer" {
		t.Fatalf("stalled member closed with %v, want 1008 slow consumer", err)
	}
}

// metricValue reads one sample of the service's metrics, 0 if absent.
func metricValue(t *testing.T, s *testenv.Service, sample string) float64 {
	t.Helper()
	res, err := http.Get(s.MetricsURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

func TestLimits(t *testing.T) {
	cfg := hubConfig(t, testenv.Embedded)
	cfg.Hub.ReadLimit = 1024
	cfg.Hub.Rate = 1
	cfg.Hub.Burst = 3
	s := testenv.StartWith(t, cfg)
	p := newPair(t, s)

	dev := s.Dial(t, p.device.Token)
	limited := 0
	for i := 0; i < 6; i++ {
		dev.Send(map[string]any{"type": "heartbeat", "message": map[string]any{}})
	}
	for i := 0; i < 6; i++ {
		f := dev.Read()
		if f.Type == "error" && strings.Contains(string(f.Message), "rate_limited") {
			limited++
		}
	}
	if limited < 2 {
		t.Fatalf("%d of 6 frames rate limited, want at least 2", limited)
	}

	big := s.Dial(t, p.owner.Token)
	big.Send(chat(strings.Repeat("y", 2000)))
	big.ExpectClose(websocket.StatusMessageTooBig)
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

		dev := s.Dial(t, p.device.Token)
		app := s.Dial(t, p.owner.Token)
		res = s.Do(t, http.MethodPost, path, p.owner.Token, body)
		res.Decode(t, &out)
		if res.Status != 200 || !out.Online {
			t.Fatalf("online push: %d %s", res.Status, res.Body)
		}
		for _, cl := range []*testenv.WS{dev, app} {
			f := cl.Read()
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
	dev := s.Dial(t, p.device.Token)
	waitDevice(t, s, p, func(d deviceState) bool { return d.Status == "connected" })

	// A second instance to read the row after the first stops.
	other := testenv.StartWith(t, s.Config)
	// Read while the service stops, so the close handshake completes.
	closed := make(chan error, 1)
	go func() {
		_, err := dev.TryRead(10 * time.Second)
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

	dev := a.Dial(t, p.device.Token)
	app := b.Dial(t, p.owner.Token)
	otherApp := b.Dial(t, other.owner.Token)

	dev.Send(chat("from instance a"))
	if f := app.Read(); f.Type != "chat" || f.From.Role != "device" {
		t.Fatalf("b got %+v", f)
	}
	app.Send(map[string]any{"type": "command", "message": map[string]any{"command_id": "x", "name": "wave"}})
	if f := dev.Read(); f.Type != "command" || f.From.Role != "app" {
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
	if f := dev.Read(); f.Type != "weather" {
		t.Fatalf("a got %s", f.Type)
	}
	if f := app.Read(); f.Type != "weather" {
		t.Fatalf("b got %s", f.Type)
	}
	// A device reconnecting on the other instance replaces the old session.
	dev2 := b.Dial(t, a.MacLogin(t, p.mac).Token)
	dev.ExpectClose(4002)
	app.Send(chat("where are you"))
	if f := dev2.Read(); f.Type != "chat" {
		t.Fatalf("replacement got %s", f.Type)
	}
	// Rebinding through instance a kicks the device session on b.
	thief := a.Register(t, "thief")
	a.Bind(t, thief.Token, p.mac)
	dev2.ExpectClose(4003)
	otherApp.ExpectNothing()
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
		testenv.DialURL(t, s.WSURL(p.device.Token), opts)
		for i := 0; i < 19; i++ {
			testenv.DialURL(t, s.WSURL(p.owner.Token), opts)
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

// TestRevocationClosesSessions proves that revoking tokens reaches open
// WebSockets on every instance: logout closes the sessions of that token,
// a password change those of the user's other tokens, disabling a user all
// of theirs (4004), and unbinding a device its sessions (4003).
func TestRevocationClosesSessions(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	var accounts *account.Service
	a := testenv.StartWith(t, cfg, fx.Populate(&accounts))
	b := testenv.StartWith(t, cfg)
	login := func(t *testing.T, username string) string {
		t.Helper()
		res := a.Do(t, http.MethodPost, "/api/user/login/", "", map[string]string{"username": username, "password": "correct-horse-battery"})
		var l testenv.Login
		res.Decode(t, &l)
		return l.Token
	}

	t.Run("logout", func(t *testing.T) {
		p := newPair(t, a)
		other := login(t, p.owner.User.Username)
		onA, onB := a.Dial(t, p.owner.Token), b.Dial(t, p.owner.Token)
		kept := b.Dial(t, other)
		a.Do(t, http.MethodPost, "/api/user/logout/", p.owner.Token, nil)
		onA.ExpectClose(ws.CloseTokenRevoked)
		onB.ExpectClose(ws.CloseTokenRevoked)
		kept.ExpectNothing()
	})

	t.Run("password change", func(t *testing.T) {
		p := newPair(t, a)
		other := login(t, p.owner.User.Username)
		dev := b.Dial(t, p.device.Token)
		otherApp := b.Dial(t, other)
		caller := a.Dial(t, p.owner.Token)
		res := a.Do(t, http.MethodPost, "/api/user/password/", p.owner.Token,
			map[string]string{"old_password": "correct-horse-battery", "new_password": "another-horse-battery"})
		if res.Status != http.StatusOK {
			t.Fatalf("password change: %d %s", res.Status, res.Body)
		}
		dev.ExpectClose(ws.CloseTokenRevoked)
		otherApp.ExpectClose(ws.CloseTokenRevoked)
		// The caller's own token stays valid, and so do its sessions.
		caller.ExpectNothing()
	})

	t.Run("disable", func(t *testing.T) {
		p := newPair(t, a)
		staff := testenv.Name("staff")
		if _, err := accounts.CreateSuperuser(context.Background(), staff, "correct-horse-battery"); err != nil {
			t.Fatal(err)
		}
		res := a.Do(t, http.MethodPost, "/api/v1/admin/login/", "", map[string]string{"username": staff, "password": "correct-horse-battery"})
		var admin testenv.Login
		res.Decode(t, &admin)
		onA, dev := a.Dial(t, p.owner.Token), b.Dial(t, p.device.Token)
		res = a.Do(t, http.MethodPost, fmt.Sprintf("/api/v1/admin/users/%d/disable/", p.owner.User.ID), admin.Token, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("disable: %d %s", res.Status, res.Body)
		}
		onA.ExpectClose(ws.CloseTokenRevoked)
		dev.ExpectClose(ws.CloseTokenRevoked)
	})

	t.Run("unbind", func(t *testing.T) {
		p := newPair(t, a)
		app := a.Dial(t, p.owner.Token)
		dev := b.Dial(t, p.device.Token)
		res := a.Do(t, http.MethodPost, "/api/device/unbind/", p.owner.Token, map[string]string{"mac_address": p.mac})
		if res.Status != http.StatusOK {
			t.Fatalf("unbind: %d %s", res.Status, res.Body)
		}
		dev.ExpectClose(ws.CloseRebound)
		app.ExpectNothing()
		// The device's token went with the binding.
		testenv.DialRaw(t, a.WSURL(p.device.Token), nil).ExpectClose(ws.CloseInvalidToken)
	})
}

// TestMalformedFrames: invalid UTF-8 closes with 1007 without being
// relayed, and a frame header announcing more than the read limit closes
// with 1009 at once, before any of its payload.
func TestMalformedFrames(t *testing.T) {
	s := testenv.StartWith(t, hubConfig(t, testenv.Embedded))
	p := newPair(t, s)

	app := s.Dial(t, p.owner.Token)
	dev := s.Dial(t, p.device.Token)
	dev.Send([]byte("{\"type\":\"chat\",\"message\":{\"text\":\"\xff\xfe\"}}"))
	dev.ExpectClose(websocket.StatusInvalidFramePayloadData)
	app.ExpectNothing()

	// A hand-made client frame: FIN + text, masked, 127 = 64-bit length
	// of 2^62, a zero mask, and no payload at all.
	conn := rawSession(t, s, p.owner.Token)
	header := []byte{0x81, 0x80 | 127, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if _, err := conn.Write(header); err != nil {
		t.Fatal(err)
	}
	if code := readCloseCode(t, conn); code != websocket.StatusMessageTooBig {
		t.Fatalf("closed with %d, want 1009", code)
	}
}

// rawSession opens a hub session over a bare TCP connection, so the test
// can write frames no WebSocket library would, and skips the handshake
// response and the connected frame.
func rawSession(t *testing.T, s *testenv.Service, token string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET /ws/device/token/" + token + "/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	if op, payload := readFrame(t, br); op != 1 || !strings.Contains(string(payload), `"connected"`) {
		t.Fatalf("first frame op %d %q", op, payload)
	}
	return &bufferedConn{Conn: conn, r: br}
}

type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// readFrame reads one unmasked server frame.
func readFrame(t *testing.T, r io.Reader) (opcode byte, payload []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		t.Fatalf("read frame: %v", err)
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		_, _ = io.ReadFull(r, ext[:])
		n = int(ext[0])<<8 | int(ext[1])
	case 127:
		t.Fatal("unexpectedly large server frame")
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		t.Fatalf("read frame payload: %v", err)
	}
	return h[0] & 0x0f, payload
}

// readCloseCode reads frames until a close frame and returns its code.
func readCloseCode(t *testing.T, r io.Reader) websocket.StatusCode {
	t.Helper()
	for {
		op, payload := readFrame(t, r)
		if op == 8 {
			if len(payload) < 2 {
				t.Fatal("close frame without a code")
			}
			return websocket.StatusCode(int(payload[0])<<8 | int(payload[1]))
		}
	}
}

// TestDeadInstancePresence: an instance that died without closing its
// sessions (kill -9) stops beating; another instance's sweeper marks its
// devices disconnected and retires it, and leaves live devices alone.
func TestDeadInstancePresence(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s *testenv.Service) {
		ctx := context.Background()
		live := newPair(t, s)
		s.Dial(t, live.device.Token)
		waitDevice(t, s, live, func(d deviceState) bool { return d.Status == "connected" })

		// The dead instance's last beat was 20 s ago; its device still has
		// its connection key and a connected row, as a crash leaves them.
		dead := newPair(t, s)
		dev := s.Dial(t, dead.device.Token)
		waitDevice(t, s, dead, func(d deviceState) bool { return d.Status == "connected" })
		mac := dead.device.Device.MACAddress
		const ghost = "deadbeefdeadbeef"
		// Take the device over for the ghost: the session's own key and
		// list entry go, so only the ghost's remain once it closes.
		if err := s.Redis.Set(ctx, s.Key("device:conn:"+mac), ghost+"/s1", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		dev.Conn.CloseNow()
		s.Redis.ZAdd(ctx, s.Key("presence:instances"), redis.Z{Score: float64(time.Now().Add(-20 * time.Second).UnixMilli()), Member: ghost})
		s.Redis.SAdd(ctx, s.Key("presence:devices:"+ghost), mac)

		waitDevice(t, s, dead, func(d deviceState) bool { return d.Status == "disconnected" })
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if s.Redis.ZScore(ctx, s.Key("presence:instances"), ghost).Err() == redis.Nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("dead instance never retired")
			}
		}
		if n := s.Redis.Exists(ctx, s.Key("device:conn:"+mac)).Val(); n != 0 {
			t.Fatal("dead instance's connection key kept")
		}
		if d := getDevice(t, s, live); d.Status != "connected" {
			t.Fatalf("live device marked %s", d.Status)
		}
	})
}

// TestSessionCap: a user holds at most PARADISE_WS_MAX_SESSIONS_PER_USER
// sessions on an instance; one more is refused with 4005, a device's
// reconnect replacing its own session still works, and a freed slot can be
// taken again.
func TestSessionCap(t *testing.T) {
	cfg := hubConfig(t, testenv.Embedded)
	cfg.Hub.MaxSessionsPerUser = 3
	s := testenv.StartWith(t, cfg)
	p := newPair(t, s)
	dev := s.Dial(t, p.device.Token)
	app1 := s.Dial(t, p.owner.Token)
	s.Dial(t, p.owner.Token)
	testenv.DialRaw(t, s.WSURL(p.owner.Token), nil).ExpectClose(ws.CloseTooManySessions)

	// The device reconnecting replaces its session: no slot needed.
	s.Dial(t, s.MacLogin(t, p.mac).Token)
	dev.ExpectClose(ws.CloseReplaced)

	// Another user is not affected.
	other := s.Register(t, "other")
	s.Dial(t, other.Token)

	// Closing a session frees its slot.
	app1.Conn.Close(websocket.StatusNormalClosure, "")
	eventually(t, "slot freed", func() bool {
		c := testenv.DialRaw(t, s.WSURL(p.owner.Token), nil)
		f, err := c.TryRead(5 * time.Second)
		return err == nil && f.Type == "connected"
	})
}

// TestCloseFramesArrive: the close frame of a 1007 or 1009 reaches the
// client every time, also while frames are still being written to it and
// when the client is still sending (the hub fuzzer saw EOF or a reset
// instead, now and then).
func TestCloseFramesArrive(t *testing.T) {
	cfg := hubConfig(t, testenv.Embedded)
	cfg.Hub.ReadLimit = 1024
	s := testenv.StartWith(t, cfg)
	p := newPair(t, s)
	for i := 0; i < 50; i++ {
		app := s.Dial(t, p.owner.Token)
		app.Send(map[string]any{"type": "heartbeat", "message": map[string]any{}}) // a pong in flight
		app.Send([]byte("{\"type\":\"chat\",\"message\":{\"text\":\"\xed\xa0\x80\"}}"))
		app.ExpectClose(websocket.StatusInvalidFramePayloadData)
		app.Conn.CloseNow()

		big := s.Dial(t, p.owner.Token)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// The write may fail once the server has closed; the close frame
		// must arrive all the same.
		_ = big.Conn.Write(ctx, websocket.MessageBinary, make([]byte, 1025))
		cancel()
		big.ExpectClose(websocket.StatusMessageTooBig)
		big.Conn.CloseNow()
	}
}

// TestBusSends: server frames sent through the Bus on one instance reach
// sessions on another: SendToGroup every member of the group,
// SendToDevice only that device's sessions.
func TestBusSends(t *testing.T) {
	cfg := hubConfig(t, testenv.Postgres)
	var bus *hub.Bus
	a := testenv.StartWith(t, cfg, fx.Populate(&bus))
	b := testenv.StartWith(t, cfg)
	p := newPair(t, a)
	dev := b.Dial(t, p.device.Token)
	app := b.Dial(t, p.owner.Token)
	weather := func(city string) ws.Frame {
		return ws.NewWeatherFrame(ws.Weather{Message: ws.WeatherPayload{City: ws.NewOptString(city), Condition: "rain", TemperatureC: 12}})
	}
	ctx := context.Background()

	if err := bus.SendToDevice(ctx, p.owner.User.ID, p.device.Device.MACAddress, weather("Lyon")); err != nil {
		t.Fatal(err)
	}
	if f := dev.Read(); f.Type != "weather" || f.From == nil || f.From.ConnectionID != "server" {
		t.Fatalf("device got %+v", f)
	}
	if err := bus.SendToGroup(ctx, p.owner.User.ID, weather("Nice")); err != nil {
		t.Fatal(err)
	}
	// Frames of one publisher on one channel arrive in order: the app's
	// next frame is the group one, so the device-only one never reached it.
	if f := app.Read(); f.Type != "weather" || !strings.Contains(string(f.Message), "Nice") {
		t.Fatalf("app got %s %s, want only the group frame", f.Type, f.Message)
	}
	if f := dev.Read(); !strings.Contains(string(f.Message), "Nice") {
		t.Fatalf("device got %s", f.Message)
	}

	// A batch for two users: each user's app sessions, on both instances,
	// get that user's frames in order; devices get none.
	other := a.Register(t, "other")
	otherApp := b.Dial(t, other.Token)
	localApp := a.Dial(t, p.owner.Token)
	batch := []hub.AppFrame{
		{UserID: p.owner.User.ID, Frame: weather("b1")},
		{UserID: other.User.ID, Frame: weather("o1")},
		{UserID: p.owner.User.ID, Frame: weather("b2")},
		{UserID: p.owner.User.ID, Frame: weather("b3")},
	}
	if err := bus.SendToAppsBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	expect := func(c *testenv.WS, cities ...string) {
		t.Helper()
		for _, city := range cities {
			f := c.Read()
			if f.Type != "weather" || !strings.Contains(string(f.Message), `"`+city+`"`) || f.From == nil || f.From.ConnectionID != "server" {
				t.Fatalf("got %s %s from %+v, want the weather of %s from the server", f.Type, f.Message, f.From, city)
			}
		}
	}
	expect(app, "b1", "b2", "b3")
	expect(localApp, "b1", "b2", "b3")
	expect(otherApp, "o1")
	dev.ExpectNothing()
	otherApp.ExpectNothing()
}
