package voice_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/coder/websocket"

	"paradise/internal/config"
	"paradise/internal/testenv"
)

// hubFrame is a frame read raw: text (decoded) or binary.
type hubFrame struct {
	binary []byte
	testenv.Frame
}

func readAny(t *testing.T, c *testenv.WS) hubFrame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	typ, data, err := c.Conn.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if typ == websocket.MessageBinary {
		return hubFrame{binary: data}
	}
	var f hubFrame
	if err := json.Unmarshal(data, &f.Frame); err != nil {
		t.Fatalf("frame %q: %v", data, err)
	}
	f.Raw = data
	return f
}

func sendBinary(t *testing.T, c *testenv.WS, b []byte) {
	t.Helper()
	if err := c.Conn.Write(t.Context(), websocket.MessageBinary, b); err != nil {
		t.Fatal(err)
	}
}

func field(t *testing.T, f testenv.Frame, name string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.Message, &m); err != nil {
		t.Fatal(err)
	}
	return m[name]
}

// TestHubVoiceTurn: a device speaks over the hub; it hears the reply's
// audio while the whole group sees the transcript and the text.
func TestHubVoiceTurn(t *testing.T) {
	testenv.ForEachBackend(t, func(t *testing.T, b testenv.Backend) {
		svc, v := start(t, b, func(s *config.Speech) { s.MaxAudioBytes = 96000 })
		owner := svc.Register(t, "voice")
		mac := "AA:BB:CC:00:09:" + testenv.RandomID()[:2]
		svc.Bind(t, owner.Token, mac)
		dev := svc.Dial(t, svc.MacLogin(t, mac).Token)
		app := svc.Dial(t, owner.Token)

		// Outside a turn, binary frames are refused as before.
		sendBinary(t, dev, speechPCM(0.1))
		dev.ExpectError("invalid_json")
		dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "nope"}})
		dev.ExpectError("invalid_payload")

		dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "v1", "format": "pcm", "sample_rate": 16000}})
		for i := 0; i < 5; i++ {
			sendBinary(t, dev, speechPCM(0.2))
		}
		dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "v1"}})

		// The device: stt, text and audio interleaved, tts_end and chat_done.
		var audio, deltas int
		var sawStart, sawEnd, sawDone bool
		f := readAny(t, dev)
		if f.Type != "stt" || field(t, f.Frame, "text") != v.aliyun.Transcript || field(t, f.Frame, "duration_ms").(float64) != 1000 {
			t.Fatalf("first frame %s %q", f.Type, f.Raw)
		}
		for !sawEnd || !sawDone {
			f := readAny(t, dev)
			switch {
			case f.binary != nil:
				if !sawStart || sawEnd {
					t.Fatal("audio outside tts_start/tts_end")
				}
				audio += len(f.binary)
			case f.Type == "tts_start":
				sawStart = field(t, f.Frame, "format") == "mp3"
			case f.Type == "tts_end":
				sawEnd = true
				if field(t, f.Frame, "interrupted") != false || int(field(t, f.Frame, "bytes").(float64)) != audio {
					t.Fatalf("tts_end %s after %d bytes", f.Raw, audio)
				}
			case f.Type == "chat_delta":
				deltas++
			case f.Type == "chat_done":
				sawDone = field(t, f.Frame, "request_id") == "v1"
			default:
				t.Fatalf("unexpected %s", f.Raw)
			}
		}
		if !sawStart || audio == 0 || deltas == 0 {
			t.Fatalf("tts_start %t, %d bytes of audio, %d deltas", sawStart, audio, deltas)
		}
		// The app sees the transcript and the text, not the audio.
		if f := app.Expect("stt"); field(t, f, "turn_id") != "v1" {
			t.Fatalf("app stt %s", f.Raw)
		}
		for {
			f := readAny(t, app)
			if f.binary != nil || f.Type == "tts_start" || f.Type == "tts_end" {
				t.Fatalf("the app got the device's audio: %s", f.Raw)
			}
			if f.Type == "chat_done" {
				break
			}
		}

		// An abort while the reply is being spoken interrupts it.
		v.aliyun.Delay = 2 * time.Second
		dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "v2", "format": "pcm"}})
		sendBinary(t, dev, speechPCM(0.5))
		dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "v2"}})
		for f := readAny(t, dev); f.Type != "tts_start"; f = readAny(t, dev) {
		}
		dev.Send(map[string]any{"type": "abort", "message": map[string]any{"turn_id": "v2"}})
		for {
			f := readAny(t, dev)
			if f.Type == "tts_end" {
				if field(t, f.Frame, "interrupted") != true {
					t.Fatalf("tts_end %s, want interrupted", f.Raw)
				}
				break
			}
		}
		v.aliyun.Delay = 0

		// Over the turn's limit: dropped, and binary frames refused again.
		dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "v3", "format": "pcm"}})
		sendBinary(t, dev, speechPCM(2))
		sendBinary(t, dev, speechPCM(2))
		for f := readAny(t, dev); f.Type != "error"; f = readAny(t, dev) {
			if f.Type != "chat_done" && f.Type != "chat_delta" {
				t.Fatalf("unexpected %s", f.Raw)
			}
		}
		sendBinary(t, dev, speechPCM(0.1))
		for f := readAny(t, dev); ; f = readAny(t, dev) {
			if f.Type == "error" {
				if field(t, f.Frame, "code") != "invalid_json" {
					t.Fatalf("%s", f.Raw)
				}
				break
			}
		}

		// Silence: an error frame with the turn id.
		dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "v4", "format": "pcm"}})
		sendBinary(t, dev, make([]byte, 3200))
		dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "v4"}})
		f = readAny(t, dev)
		if f.Type != "error" || field(t, f.Frame, "request_id") != "v4" || field(t, f.Frame, "code") != "invalid_payload" {
			t.Fatalf("silence: %s", f.Raw)
		}
	})
}
