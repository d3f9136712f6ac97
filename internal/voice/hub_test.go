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
		// stt and the text come through the group's bus, tts_start and
		// the audio straight to the session, so their order is not fixed
		// (nor, on the embedded Redis, that of the bus's frames).
		var audio, deltas int
		var sawStt, sawStart, sawEnd, sawDone bool
		for !sawStt || !sawEnd || !sawDone {
			f := readAny(t, dev)
			switch {
			case f.Type == "stt":
				if sawStt || field(t, f.Frame, "text") != v.aliyun.Transcript || field(t, f.Frame, "duration_ms").(float64) != 1000 {
					t.Fatalf("stt %q", f.Raw)
				}
				sawStt = true
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
		if !sawStt || !sawStart || audio == 0 || deltas == 0 {
			t.Fatalf("stt %t, tts_start %t, %d bytes of audio, %d deltas", sawStt, sawStart, audio, deltas)
		}
		// The app sees the transcript and the text, not the audio.
		appStt, appDone := false, false
		for !appStt || !appDone {
			f := readAny(t, app)
			if f.binary != nil || f.Type == "tts_start" || f.Type == "tts_end" {
				t.Fatalf("the app got the device's audio: %s", f.Raw)
			}
			if f.Type == "stt" {
				appStt = field(t, f.Frame, "turn_id") == "v1"
			}
			appDone = appDone || f.Type == "chat_done"
		}

		// An abort while the reply is being spoken interrupts it.
		v.aliyun.SetDelay(2 * time.Second)
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
		v.aliyun.SetDelay(0)

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
		// The aborted turn's last text may still come through the bus.
		f := readAny(t, dev)
		for f.Type == "chat_delta" || f.Type == "chat_done" {
			f = readAny(t, dev)
		}
		if f.Type != "error" || field(t, f.Frame, "request_id") != "v4" || field(t, f.Frame, "code") != "invalid_payload" {
			t.Fatalf("silence: %s", f.Raw)
		}
	})
}
