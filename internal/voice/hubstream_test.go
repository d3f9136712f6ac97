package voice_test

import (
	"strings"
	"testing"

	"paradise/internal/speech/volcengine/volctest"
	"paradise/internal/testenv"
)

// voiceDevice registers an owner, binds a device and dials both.
func voiceDevice(t *testing.T, svc *testenv.Service) (dev, app *testenv.WS) {
	owner := svc.Register(t, "voice")
	mac := "AA:BB:CC:00:0A:" + testenv.RandomID()[:2]
	svc.Bind(t, owner.Token, mac)
	return svc.Dial(t, svc.MacLogin(t, mac).Token), svc.Dial(t, owner.Token)
}

// untilFinalStt reads frames up to the turn's final transcript and
// returns the partial transcripts seen before it, and the final frame.
func untilFinalStt(t *testing.T, c *testenv.WS, skip ...string) ([]string, hubFrame) {
	t.Helper()
	var partials []string
	for {
		f := readAny(t, c)
		switch {
		case f.Type == "stt" && field(t, f.Frame, "partial") == true:
			partials = append(partials, field(t, f.Frame, "text").(string))
		case f.Type == "stt":
			return partials, f
		case f.binary == nil && strings.Contains(strings.Join(skip, ","), f.Type):
		default:
			t.Fatalf("unexpected %s before the final stt", f.Raw)
		}
	}
}

// untilTtsEnd reads the reply up to tts_end and returns its audio size.
func untilTtsEnd(t *testing.T, c *testenv.WS) int {
	t.Helper()
	audio := 0
	for {
		f := readAny(t, c)
		switch {
		case f.binary != nil:
			audio += len(f.binary)
		case f.Type == "tts_end":
			if field(t, f.Frame, "interrupted") != false || int(field(t, f.Frame, "bytes").(float64)) != audio {
				t.Fatalf("tts_end %s after %d bytes", f.Raw, audio)
			}
			return audio
		case f.Type == "error":
			t.Fatalf("error %s", f.Raw)
		}
	}
}

// TestHubVoiceStreaming: with Volcengine, a hub voice turn's audio goes to
// streaming ASR as it arrives, and the group sees partial transcripts
// while the device speaks; a stream that fails falls back to one-shot
// recognition.
func TestHubVoiceStreaming(t *testing.T) {
	fake := volctest.New(t)
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.Speech = fake.Speech(cfg.Speech)
	svc := testenv.StartWith(t, cfg)
	dev, app := voiceDevice(t, svc)

	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "s1", "format": "pcm", "sample_rate": 16000, "language": "zh-CN"}})
	// Partials come while the device is still speaking: 800 ms of audio
	// go out as four 200 ms packets, the last held back for the
	// last-packet flag, so three are answered before voice_end.
	for range 4 {
		sendBinary(t, dev, speechPCM(0.2))
	}
	var partials []string
	for range 3 {
		f := app.Expect("stt")
		if field(t, f, "partial") != true || field(t, f, "provider") != "volcengine" || field(t, f, "turn_id") != "s1" {
			t.Fatalf("partial %s", f.Raw)
		}
		partials = append(partials, field(t, f, "text").(string))
	}
	if strings.Join(partials, ",") != "明,明天,明天会" {
		t.Fatalf("partials %q", partials)
	}
	dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "s1"}})
	_, final := untilFinalStt(t, app)
	if field(t, final.Frame, "text") != fake.Transcript || field(t, final.Frame, "duration_ms").(float64) != 800 || field(t, final.Frame, "partial") != nil {
		t.Fatalf("final stt %s", final.Raw)
	}
	devPartials, _ := untilFinalStt(t, dev)
	if len(devPartials) != 3 {
		t.Fatalf("device saw partials %q", devPartials)
	}
	if untilTtsEnd(t, dev) == 0 {
		t.Fatal("no reply audio")
	}
	if fake.Streams.Load() != 1 || fake.Refused.Load() != 0 {
		t.Fatalf("%d streams, %d refused", fake.Streams.Load(), fake.Refused.Load())
	}

	// The vendor refusing the stream mid-way: the whole recording is
	// recognized one-shot (flash) instead, and the turn is answered.
	fake.FailStream(55000031)
	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "s2", "format": "pcm"}})
	for range 3 {
		sendBinary(t, dev, speechPCM(0.2))
	}
	dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "s2"}})
	_, final = untilFinalStt(t, dev, "chat_delta", "chat_done")
	if field(t, final.Frame, "text") != fake.Transcript || field(t, final.Frame, "turn_id") != "s2" {
		t.Fatalf("final stt after the stream failed %s", final.Raw)
	}
	if untilTtsEnd(t, dev) == 0 || fake.Refused.Load() != 1 {
		t.Fatalf("refused %d", fake.Refused.Load())
	}

	// Only changes of the partial text reach the group: 2 s of audio are
	// nine answered packets, and the fake's text stops growing after six.
	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "s4", "format": "pcm"}})
	for range 10 {
		sendBinary(t, dev, speechPCM(0.2))
	}
	// The app still has the earlier turns' frames queued: take s4's.
	s4 := func(f hubFrame) bool { return f.Type == "stt" && field(t, f.Frame, "turn_id") == "s4" }
	for n := 0; n < 6; {
		if f := readAny(t, app); s4(f) {
			if field(t, f.Frame, "partial") != true {
				t.Fatalf("final before the partials: %s", f.Raw)
			}
			n++
		}
	}
	dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "s4"}})
	for {
		f := readAny(t, app)
		if !s4(f) {
			continue
		}
		if field(t, f.Frame, "partial") == true {
			t.Fatalf("a seventh partial: %s", f.Raw)
		}
		break
	}
	untilFinalStt(t, dev, "chat_delta", "chat_done")
	untilTtsEnd(t, dev)

	// 8 kHz PCM does not stream (the vendor takes 16 kHz only).
	streams := fake.Streams.Load()
	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "s3", "format": "pcm", "sample_rate": 8000}})
	sendBinary(t, dev, speechPCM(0.3))
	dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "s3"}})
	if partials, _ := untilFinalStt(t, dev, "chat_delta", "chat_done", "tts_start", "tts_end"); len(partials) != 0 || fake.Streams.Load() != streams {
		t.Fatalf("8 kHz streamed: partials %q", partials)
	}
}

// TestHubEndOfSpeech: with end_silence_ms, the server ends the recording
// when the speaker falls silent, tells the device with voice_end and
// answers without the device's voice_end.
func TestHubEndOfSpeech(t *testing.T) {
	svc, v := start(t, testenv.Postgres, nil)
	dev, app := voiceDevice(t, svc)

	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "e1", "format": "pcm", "end_silence_ms": 400}})
	sendBinary(t, dev, make([]byte, 3200)) // the room before the user speaks
	for range 4 {
		sendBinary(t, dev, speechPCM(0.2))
	}
	// Silence in 100 ms frames: the turn ends after 400 ms of it; the
	// rest, sent before the device heard, is dropped without an error.
	for range 8 {
		sendBinary(t, dev, make([]byte, 3200))
	}
	if f := dev.Expect("voice_end"); field(t, f, "turn_id") != "e1" {
		t.Fatalf("voice_end %s", f.Raw)
	}
	_, final := untilFinalStt(t, dev)
	// What was recorded up to the end: 0.1 s + 0.8 s of speech + 0.4 s.
	if field(t, final.Frame, "text") != v.aliyun.Transcript || field(t, final.Frame, "duration_ms").(float64) != 1300 {
		t.Fatalf("stt %s", final.Raw)
	}
	if untilTtsEnd(t, dev) == 0 {
		t.Fatal("no reply audio")
	}
	if f := app.Expect("stt"); field(t, f, "turn_id") != "e1" {
		t.Fatalf("app stt %s", f.Raw)
	}

	// Without end_silence_ms, silence does not end the turn.
	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "e2", "format": "pcm"}})
	sendBinary(t, dev, speechPCM(0.5))
	sendBinary(t, dev, make([]byte, 32000))
	for {
		f, err := dev.TryRead(300 * 1e6)
		if err != nil {
			break // nothing more: still recording
		}
		if f.Type == "voice_end" || f.Type == "stt" {
			t.Fatalf("the turn ended on its own: %s", f.Raw)
		}
	}
}

// TestHubVoiceStreamingBudget: a user whose speech seconds are spent gets
// quota_exceeded for the turn, and no vendor stream is opened for it.
func TestHubVoiceStreamingBudget(t *testing.T) {
	fake := volctest.New(t)
	cfg := testenv.Config(t, testenv.Postgres)
	cfg.Speech = fake.Speech(cfg.Speech)
	cfg.Speech.SecondsPerDay = 2
	svc := testenv.StartWith(t, cfg)
	dev, _ := voiceDevice(t, svc)

	// The first turn spends the day's seconds: one heard, more spoken
	// (its reply may be cut short when they run out).
	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "b1", "format": "pcm"}})
	sendBinary(t, dev, speechPCM(0.5))
	dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "b1"}})
	untilFinalStt(t, dev)
	for f := readAny(t, dev); f.Type != "tts_end"; f = readAny(t, dev) {
	}
	if fake.Streams.Load() != 1 {
		t.Fatalf("%d streams", fake.Streams.Load())
	}

	dev.Send(map[string]any{"type": "voice_start", "message": map[string]any{"turn_id": "b2", "format": "pcm"}})
	sendBinary(t, dev, speechPCM(0.5))
	dev.Send(map[string]any{"type": "voice_end", "message": map[string]any{"turn_id": "b2"}})
	for {
		f := readAny(t, dev)
		if f.Type != "error" || field(t, f.Frame, "request_id") == "b1" {
			continue // the first turn's last frames
		}
		if field(t, f.Frame, "code") != "quota_exceeded" || field(t, f.Frame, "request_id") != "b2" {
			t.Fatalf("refusal %s", f.Raw)
		}
		break
	}
	if fake.Streams.Load() != 1 {
		t.Fatalf("a stream was opened for a user over budget: %d streams", fake.Streams.Load())
	}
}
