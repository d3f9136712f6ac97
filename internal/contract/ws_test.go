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

	"paradise/internal/testenv"
)

// answeredBy names client frame types the server answers to the sender
// instead of relaying them (asyncapi.yaml: "Every valid frame a client
// sends, except heartbeat, chat_request and the rtc_agent_* requests, is
// relayed"); chat_request is answered to the whole group
// (expectChatReply), rtc_agent_start and rtc_agent_stop to the group or
// the sender (expectAgentAnswer).
var answeredBy = map[string]string{"heartbeat": "pong"}

// wsClient is a hub session (testenv's one client) whose every received
// frame is validated against asyncapi.yaml: its type must be one the
// channel's subscribe operation declares, and it must match that message's
// payload schema. Validated frames are recorded in the coverage.
type wsClient struct {
	*testenv.WS
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
	ws := testenv.DialRaw(t, wsURL(f.URL, path), opts)
	seen.channels[channel] = true
	ws.Name = name
	ws.Check = func(t testing.TB, fr testenv.Frame) {
		t.Helper()
		if !ch.subscribe[fr.Type] {
			t.Fatalf("%s: server sent a %q frame, which %s does not declare in subscribe (%v): %s",
				name, fr.Type, ch.name, sortedTypes(ch.subscribe), fr.Raw)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(fr.Raw))
		if err != nil {
			t.Fatal(err)
		}
		if err := spec.messages[fr.Type].schema.Validate(v); err != nil {
			t.Fatalf("%s: %s frame does not match asyncapi.yaml: %v\nframe: %s", name, fr.Type, err, fr.Raw)
		}
		seen.received[fr.Type] = true
		seen.frames[fr.Type] = fr.Raw
	}
	ws.Connected()
	return &wsClient{WS: ws}
}

// channelRequest is the path and dial options of a session on the channel.
func channelRequest(ch *asyncChannel, token string) (string, *websocket.DialOptions) {
	if ch.tokenInPath {
		return strings.ReplaceAll(ch.name, "{token}", token), nil
	}
	return ch.name, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Token " + token}}}
}

// expectChatReply reads the answer to a chat_request: chat_delta frames
// and a chat_done on both sessions of the group, or an error frame with
// the request id to the sender alone (the example's conversation may not
// exist).
func expectChatReply(t *testing.T, from, to *wsClient, ex map[string]any) {
	t.Helper()
	requestID := ex["message"].(map[string]any)["request_id"]
	var first testenv.Frame
	for _, c := range []*wsClient{from, to} {
		for {
			got := c.Read()
			var p struct {
				RequestID string `json:"request_id"`
			}
			_ = json.Unmarshal(got.Message, &p)
			if p.RequestID != requestID {
				t.Fatalf("%s: %s frame for another request: %s", c.Name, got.Type, got.Raw)
			}
			if c == from && got.Type == "error" {
				return // refused: nothing reaches the group
			}
			if got.Type == "chat_done" {
				if c == from {
					first = got
				} else if !sameJSON(t, got.Message, json.RawMessage(first.Message)) {
					t.Fatalf("chat_done differs between sessions: %s and %s", first.Raw, got.Raw)
				}
				break
			}
			if got.Type != "chat_delta" {
				t.Fatalf("%s: got %s frame answering chat_request: %s", c.Name, got.Type, got.Raw)
			}
		}
	}
}

// expectAgentAnswer reads the answer to rtc_agent_start or
// rtc_agent_stop: an rtc_agent_state frame on both sessions of the group
// (the agent started or stopped), or an error frame to the sender alone
// (the example names a device that is not the user's, no agent runs).
func expectAgentAnswer(t *testing.T, from, to *wsClient) {
	t.Helper()
	got := from.Read()
	switch got.Type {
	case "error":
	case "rtc_agent_state":
		if other := to.Expect("rtc_agent_state"); !sameJSON(t, other.Message, json.RawMessage(got.Message)) {
			t.Fatalf("rtc_agent_state differs between sessions: %s and %s", got.Raw, other.Raw)
		}
	default:
		t.Fatalf("%s: got %s frame answering a voice agent request: %s", from.Name, got.Type, got.Raw)
	}
}

// checkFrom checks the server-set sender of a relayed frame.
func checkFrom(t *testing.T, f testenv.Frame, from *wsClient) {
	t.Helper()
	if f.From == nil {
		t.Fatalf("relayed %s frame has no from: %s", f.Type, f.Raw)
	}
	if f.From.Role != from.Info.Role || f.From.ConnectionID != from.Info.ConnectionID ||
		!reflect.DeepEqual(f.From.MACAddress, from.Info.MACAddress) {
		t.Fatalf("relayed %s frame: from %s, want the sender %+v", f.Type, f.Raw, from.Info)
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
	if dev.Info.Role != "device" || dev.Info.MACAddress == nil || app.Info.Role != "app" || app.Info.MACAddress != nil ||
		dev.Info.UserID != f.user.User.ID || app.Info.UserID != f.user.User.ID {
		t.Fatalf("sessions: device %+v, app %+v", dev.Info, app.Info)
	}

	// Every example of every message a client may send, both ways:
	// relayed to the other member of the group with the server's from, or
	// answered to the sender.
	t.Run("client frames", func(t *testing.T) {
		dev.SetT(t)
		app.SetT(t)
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
					from.Send(ex)
					if typ == "chat_request" {
						expectChatReply(t, from, to, ex)
					} else if typ == "rtc_agent_start" || typ == "rtc_agent_stop" {
						expectAgentAnswer(t, from, to)
					} else if typ == "voice_end" {
						// No turn is recording (the example's audio never came).
						from.ExpectError("invalid_payload")
					} else if typ == "claim_code_request" {
						// Answered to a device with its claim code; refused to an app.
						if from == dev {
							from.Expect("claim_code")
						} else {
							from.ExpectError("not_allowed")
						}
					} else if typ == "voice_start" || typ == "abort" {
						// Answered by nothing: a turn opens, or nothing is left to stop
						// ("no stray frames" below checks nothing came).
					} else if answer, ok := answeredBy[typ]; ok {
						from.Expect(answer)
					} else {
						got := to.Expect(typ)
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

	// A voice turn: binary audio between voice_start and voice_end,
	// answered with stt, the reply's text to the group, and its audio
	// (tts_start, binary frames, tts_end) to the device.
	t.Run("voice turn", func(t *testing.T) {
		dev.SetT(t)
		app.SetT(t)
		dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "c-1", "format": "pcm", "sample_rate": 16000}})
		if err := dev.Conn.Write(t.Context(), websocket.MessageBinary, speechPCM()); err != nil {
			t.Fatal(err)
		}
		dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "c-1"}})
		audio, doneDev, endTTS := 0, false, false
		for !doneDev || !endTTS {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			typ, data, err := dev.Conn.Read(ctx)
			cancel()
			if err != nil {
				t.Fatalf("device: %v", err)
			}
			if typ == websocket.MessageBinary {
				audio += len(data)
				continue
			}
			var fr testenv.Frame
			if err := json.Unmarshal(data, &fr); err != nil {
				t.Fatal(err)
			}
			fr.Raw = data
			dev.Check(t, fr)
			doneDev = doneDev || fr.Type == "chat_done"
			endTTS = endTTS || fr.Type == "tts_end"
		}
		if audio == 0 || !seen.received["stt"] || !seen.received["tts_start"] {
			t.Fatalf("voice turn: %d bytes of audio, stt %t, tts_start %t", audio, seen.received["stt"], seen.received["tts_start"])
		}
		app.Expect("stt")
		for got := app.Read(); got.Type != "chat_done"; got = app.Read() {
			if got.Type != "chat_delta" {
				t.Fatalf("app: %s during a voice turn", got.Raw)
			}
		}
	})

	// Frames the server rejects are answered with an error frame; a type
	// clients may not send (declared in subscribe only) is not_allowed.
	t.Run("rejected frames", func(t *testing.T) {
		dev.SetT(t)
		app.SetT(t)
		app.Send([]byte("not json"))
		app.ExpectError("invalid_json")
		app.Send(map[string]any{"type": "no_such_type", "message": map[string]any{}})
		app.ExpectError("unknown_type")
		dev.Send(map[string]any{"type": "device_info", "message": map[string]any{"battery_level": 120}})
		dev.ExpectError("invalid_payload")
		for _, typ := range sortedKeys(spec.messages) {
			m := spec.messages[typ]
			if m.publish || len(m.examples) == 0 {
				continue
			}
			app.Send(m.examples[0])
			app.ExpectError("not_allowed")
		}
	})

	// Frames the REST API pushes on the owner's behalf reach every session
	// of the group with from.connection_id "server".
	t.Run("pushed frames", func(t *testing.T) {
		dev.SetT(t)
		app.SetT(t)
		msg := map[string]any{"title": "Dinner", "body": "Dinner is ready.", "level": "info"}
		f.must(t, "POST", fmt.Sprintf("/api/device/devices/%d/messages/", f.devID), f.user.Token,
			map[string]any{"type": "notification", "message": msg}, 200)
		for _, c := range []*wsClient{dev, app} {
			got := c.Expect("notification")
			if got.From == nil || got.From.ConnectionID != "server" || got.From.Role != "app" || !sameJSON(t, got.Message, msg) {
				t.Fatalf("%s: pushed frame %s", c.Name, got.Raw)
			}
		}
	})

	// A persistent command goes to the device alone; the app follows its
	// state with command_status frames.
	t.Run("persistent commands", func(t *testing.T) {
		dev.SetT(t)
		app.SetT(t)
		res := f.must(t, "POST", fmt.Sprintf("/api/device/devices/%d/commands/", f.devID), f.user.Token,
			map[string]any{"name": "set_volume", "params": map[string]any{"level": 40}}, 201)
		var c struct {
			ID int `json:"id"`
		}
		res.Decode(t, &c)
		cmd := dev.Expect("command")
		if !strings.Contains(string(cmd.Message), fmt.Sprintf(`"command_id":"%d"`, c.ID)) {
			t.Fatalf("command frame %s, want command_id %d", cmd.Raw, c.ID)
		}
		app.Expect("command_status")
		app.Expect("command_status")
		dev.Send(map[string]any{"type": "command_result", "message": map[string]any{"command_id": fmt.Sprint(c.ID), "ok": true}})
		app.Expect("command_result")
		app.Expect("command_status")
	})

	// Nothing else is queued: a last chat each way arrives next.
	t.Run("no stray frames", func(t *testing.T) {
		dev.SetT(t)
		app.SetT(t)
		for _, pair := range [][2]*wsClient{{dev, app}, {app, dev}} {
			pair[0].Send(map[string]any{"type": "chat", "message": map[string]any{"text": "last from " + pair[0].Name}})
			checkFrom(t, pair[1].Expect("chat"), pair[0])
		}
	})

	// A session without a valid token is closed with 4001 on every channel.
	t.Run("invalid token", func(t *testing.T) {
		for _, name := range sortedKeys(spec.channels) {
			path, opts := channelRequest(spec.channels[name], strings.Repeat("ab", 16))
			ws := testenv.DialRaw(t, wsURL(f.URL, path), opts)
			ws.Name = name
			_, err := ws.TryRead(10 * time.Second)
			ws.Conn.CloseNow()
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
