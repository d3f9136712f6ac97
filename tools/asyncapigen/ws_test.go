package main

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"paradise/gen/ws"
)

// loadSpec loads asyncapi.yaml the way the generator does.
func loadSpec(t testing.TB) *spec {
	t.Helper()
	doc, err := loadDocument(specPath)
	if err != nil {
		t.Fatal(err)
	}
	s, err := collect(doc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// Every example of asyncapi.yaml decodes, validates and encodes back to the
// same JSON.
func TestExamplesRoundTrip(t *testing.T) {
	s := loadSpec(t)
	seen := map[string]bool{}
	for _, m := range s.Messages {
		if len(m.Examples) == 0 {
			t.Errorf("message %q has no example", m.Name)
		}
		for _, ex := range m.Examples {
			t.Run(m.Name+"/"+ex.Name, func(t *testing.T) {
				var f ws.Frame
				if err := f.UnmarshalJSON(ex.Payload); err != nil {
					t.Fatalf("decode %s: %v", ex.Payload, err)
				}
				if string(f.Type) != m.Name {
					t.Fatalf("decoded type %q, want %q", f.Type, m.Name)
				}
				if err := f.Validate(); err != nil {
					t.Fatalf("validate %s: %v", ex.Payload, err)
				}
				out, err := f.MarshalJSON()
				if err != nil {
					t.Fatal(err)
				}
				if !jsonEqual(t, ex.Payload, out) {
					t.Fatalf("round trip changed the frame:\n in: %s\nout: %s", ex.Payload, out)
				}
				g, err := ws.ParseFrame(ex.Payload)
				if err != nil {
					t.Fatalf("ParseFrame: %v", err)
				}
				if !reflect.DeepEqual(g, f) {
					t.Fatalf("ParseFrame and UnmarshalJSON disagree")
				}
				_, hasFrom := f.GetFrom()
				if want := strings.Contains(string(ex.Payload), `"from"`); hasFrom != want {
					t.Fatalf("GetFrom ok = %v, want %v", hasFrom, want)
				}
				seen[m.Name] = true
			})
		}
	}
	for _, typ := range ws.MessageTypes {
		if !seen[string(typ)] {
			t.Errorf("no example of %q round-tripped", typ)
		}
	}
}

func TestUnknownTypeFailsDecoding(t *testing.T) {
	data := []byte(`{"type":"dance","message":{}}`)
	var f ws.Frame
	err := f.UnmarshalJSON(data)
	if err == nil {
		t.Fatal("a frame of unknown type decoded")
	}
	if !strings.Contains(err.Error(), "unknown type dance") {
		t.Fatalf("unclear error: %v", err)
	}
	_, err = ws.ParseFrame(data)
	var pe *ws.ParseError
	if !errors.As(err, &pe) || pe.Kind != ws.UnknownType || !strings.Contains(err.Error(), `"dance"`) {
		t.Fatalf("ParseFrame: %v", err)
	}
}

func TestBatteryLevelOutOfRangeFailsValidate(t *testing.T) {
	for _, level := range []string{"101", "-1", "1000"} {
		data := []byte(`{"type":"device_info","message":{"battery_level":` + level + `}}`)
		var f ws.Frame
		if err := f.UnmarshalJSON(data); err != nil {
			t.Fatalf("decode %s: %v", data, err)
		}
		err := f.Validate()
		if err == nil {
			t.Fatalf("battery_level %s passed Validate", level)
		}
		if !strings.Contains(err.Error(), "battery_level") {
			t.Fatalf("error does not name the field: %v", err)
		}
		_, err = ws.ParseFrame(data)
		var pe *ws.ParseError
		if !errors.As(err, &pe) || pe.Kind != ws.InvalidPayload || pe.Type != "device_info" {
			t.Fatalf("ParseFrame: %v", err)
		}
	}
	for _, level := range []string{"0", "100"} {
		if _, err := ws.ParseFrame([]byte(`{"type":"device_info","message":{"battery_level":` + level + `}}`)); err != nil {
			t.Fatalf("battery_level %s rejected: %v", level, err)
		}
	}
}

func TestParseFrameRejects(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name string
		data string
		kind ws.ParseErrorKind
	}{
		{"not json", `{"type":`, ws.InvalidJSON},
		{"garbage", `hello`, ws.InvalidJSON},
		{"array", `[{"type":"chat","message":{"text":"hi"}}]`, ws.InvalidJSON},
		{"trailing data", `{"type":"heartbeat","message":{}} {}`, ws.InvalidJSON},
		{"no type", `{"message":{}}`, ws.UnknownType},
		{"type not string", `{"type":7,"message":{}}`, ws.UnknownType},
		{"empty type", `{"type":"","message":{}}`, ws.UnknownType},
		{"no message", `{"type":"chat"}`, ws.InvalidPayload},
		{"message null", `{"type":"chat","message":null}`, ws.InvalidPayload},
		{"device_info not object", `{"type":"device_info","message":[]}`, ws.InvalidPayload},
		{"battery not integer", `{"type":"device_info","message":{"battery_level":"full"}}`, ws.InvalidPayload},
		{"firmware too long", `{"type":"device_info","message":{"firmware_version":"` + long(65) + `"}}`, ws.InvalidPayload},
		{"chat empty", `{"type":"chat","message":{"text":""}}`, ws.InvalidPayload},
		{"chat too long", `{"type":"chat","message":{"text":"` + long(4001) + `"}}`, ws.InvalidPayload},
		{"command no id", `{"type":"command","message":{"name":"reboot"}}`, ws.InvalidPayload},
		{"command name too long", `{"type":"command","message":{"command_id":"1","name":"` + long(65) + `"}}`, ws.InvalidPayload},
		{"command params not object", `{"type":"command","message":{"command_id":"1","name":"x","params":[1]}}`, ws.InvalidPayload},
		{"result no ok", `{"type":"command_result","message":{"command_id":"1"}}`, ws.InvalidPayload},
		{"notification level", `{"type":"notification","message":{"title":"t","body":"b","level":"panic"}}`, ws.InvalidPayload},
		{"notification title too long", `{"type":"notification","message":{"title":"` + long(101) + `","body":"b"}}`, ws.InvalidPayload},
		{"weather humidity", `{"type":"weather","message":{"condition":"sunny","temperature_c":20,"humidity":101}}`, ws.InvalidPayload},
		{"error code", `{"type":"error","message":{"code":"oops","detail":"d"}}`, ws.InvalidPayload},
		{"connected role", `{"type":"connected","message":{"user_id":1,"role":"admin","mac_address":null,"connection_id":"c","server_time":"2026-01-01T00:00:00Z"}}`, ws.InvalidPayload},
		{"from bad role", `{"type":"chat","message":{"text":"hi"},"from":{"role":"cat","mac_address":null,"connection_id":"c"}}`, ws.InvalidPayload},
		{"from bad mac", `{"type":"chat","message":{"text":"hi"},"from":{"role":"device","mac_address":"aa:bb","connection_id":"c"}}`, ws.InvalidPayload},
		{"from no connection", `{"type":"chat","message":{"text":"hi"},"from":{"role":"app","mac_address":null}}`, ws.InvalidPayload},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ws.ParseFrame([]byte(tc.data))
			var pe *ws.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, want a *ParseError", err)
			}
			if pe.Kind != tc.kind {
				t.Fatalf("kind %s, want %s (%v)", pe.Kind, tc.kind, err)
			}
		})
	}
}

// A relayed frame: the hub decodes a client's frame and sets from.
func TestRelayedFrameWithFrom(t *testing.T) {
	in := []byte(`{"type":"chat","message":{"text":"hi"},"from":{"role":"app","mac_address":null,"connection_id":"spoofed"}}`)
	f, err := ws.ParseFrame(in)
	if err != nil {
		t.Fatal(err)
	}
	ok := f.SetFrom(ws.Sender{
		Role:         ws.RoleDevice,
		MACAddress:   ws.NewNilString("AA:BB:CC:00:00:01"),
		ConnectionID: "c-1",
	})
	if !ok {
		t.Fatal("SetFrom on chat reported no from")
	}
	out, err := f.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"chat","message":{"text":"hi"},"from":{"role":"device","mac_address":"AA:BB:CC:00:00:01","connection_id":"c-1"}}`
	if !jsonEqual(t, out, []byte(want)) {
		t.Fatalf("got %s\nwant %s", out, want)
	}
	// An app sender has a null MAC address.
	f.SetFrom(ws.Sender{Role: ws.RoleApp, MACAddress: ws.NilString{Null: true}, ConnectionID: "c-2"})
	out, _ = f.MarshalJSON()
	if !strings.Contains(string(out), `"mac_address":null`) {
		t.Fatalf("app from: %s", out)
	}
	f.ClearFrom()
	if _, ok := f.GetFrom(); ok {
		t.Fatal("ClearFrom left a from")
	}
	out, _ = f.MarshalJSON()
	if strings.Contains(string(out), "from") {
		t.Fatalf("cleared frame still has from: %s", out)
	}

	// Building a frame from scratch.
	g := ws.NewDeviceInfoFrame(ws.DeviceInfo{Message: ws.DeviceInfoPayload{BatteryLevel: ws.NewOptInt(85)}})
	out, _ = g.MarshalJSON()
	if !jsonEqual(t, out, []byte(`{"type":"device_info","message":{"battery_level":85}}`)) {
		t.Fatalf("built frame: %s", out)
	}
}

// The table follows the publish/subscribe operations of asyncapi.yaml.
func TestMessageTable(t *testing.T) {
	s := loadSpec(t)
	var names []string
	for _, m := range s.Messages {
		names = append(names, m.Name)
	}
	var got []string
	for _, typ := range ws.MessageTypes {
		got = append(got, string(typ))
	}
	if !slices.Equal(got, names) || !slices.IsSorted(got) {
		t.Fatalf("MessageTypes %v, want %v", got, names)
	}
	want := map[string]ws.Direction{
		"heartbeat":   ws.ClientToServer,
		"pong":        ws.ServerToClient,
		"connected":   ws.ServerToClient,
		"error":       ws.ServerToClient,
		"device_info": ws.BothDirections,
		"chat":        ws.BothDirections,
		"command":     ws.BothDirections,
	}
	for typ, dir := range want {
		if d, ok := ws.DirectionOf(ws.FrameType(typ)); !ok || d != dir {
			t.Errorf("DirectionOf(%s) = %s, %v; want %s", typ, d, ok, dir)
		}
	}
	for i, m := range ws.Messages {
		if m.Type != ws.MessageTypes[i] {
			t.Errorf("Messages[%d] = %s, want %s", i, m.Type, ws.MessageTypes[i])
		}
		if d, _ := ws.DirectionOf(m.Type); d != m.Direction {
			t.Errorf("%s: table says %s, DirectionOf %s", m.Type, m.Direction, d)
		}
	}
	if _, ok := ws.DirectionOf("dance"); ok {
		t.Error("DirectionOf accepts an unknown type")
	}
	if !ws.ClientToServer.ClientMaySend() || ws.ServerToClient.ClientMaySend() || !ws.BothDirections.ServerMaySend() {
		t.Error("Direction helpers")
	}
	if ws.CloseInvalidToken != 4001 || ws.CloseReplaced != 4002 || ws.CloseRebound != 4003 ||
		ws.ClosePolicyViolation != 1008 || ws.CloseMessageTooBig != 1009 || ws.CloseGoingAway != 1001 {
		t.Error("close codes")
	}
}

// FuzzParseFrame: ParseFrame never panics, and whatever it accepts encodes
// to a frame it accepts again, unchanged.
func FuzzParseFrame(f *testing.F) {
	for _, m := range loadSpec(f).Messages {
		for _, ex := range m.Examples {
			f.Add([]byte(ex.Payload))
		}
	}
	f.Add([]byte(`{"type":"dance","message":{}}`))
	f.Add([]byte(`{"type":"device_info","message":{"battery_level":101}}`))
	f.Add([]byte(`{"type":"chat","message":{"text":"\u00e9\ud83d\ude00"},"x":[1,{"y":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := ws.ParseFrame(data)
		if err != nil {
			var pe *ws.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error is not a *ParseError: %v", err)
			}
			return
		}
		out, err := fr.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ws.ParseFrame(out)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", out, err)
		}
		out2, _ := again.MarshalJSON()
		if string(out2) != string(out) {
			t.Fatalf("encoding not stable:\n%s\n%s", out, out2)
		}
	})
}
