package volcengine_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"paradise/internal/speech"
	"paradise/internal/speech/volcengine"
	"paradise/internal/speech/volcengine/volctest"
)

func TestRecognizeAndSynthesize(t *testing.T) {
	fake := volctest.New(t)
	c := volcengine.New(fake.Config(), http.DefaultClient)
	ctx := context.Background()
	tr, err := c.Recognize(ctx, speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: bytes.Repeat([]byte{1, 2}, 16000)})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Text != fake.Transcript || tr.Duration.Milliseconds() != 1000 || tr.Provider != "volcengine" {
		t.Fatalf("transcript %+v", tr)
	}
	for i := 0; i < 2; i++ { // a fresh reqid each time, or the fake answers 3006
		syn, err := c.Synthesize(ctx, speech.SynthesisRequest{Text: "你好", Format: speech.MP3, Voice: "BV700_streaming"})
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(syn.Body)
		if !bytes.Equal(got, volctest.Audio("你好")) || fake.LastVoice() != "BV700_streaming" {
			t.Fatalf("audio %d bytes, voice %s", len(got), fake.LastVoice())
		}
	}
}

func TestErrors(t *testing.T) {
	audio := speech.Audio{Format: speech.WAV, SampleRate: 16000, Data: []byte("RIFF....")}
	t.Run("bad token", func(t *testing.T) {
		fake := volctest.New(t)
		cfg := fake.Config()
		cfg.AccessToken = "wrong-token"
		c := volcengine.New(cfg, http.DefaultClient)
		_, err := c.Synthesize(context.Background(), speech.SynthesisRequest{Text: "hi", Format: speech.PCM})
		var se *speech.Error
		if !errors.As(err, &se) || se.Kind != speech.KindAuth {
			t.Fatalf("tts err = %v", err)
		}
		_, err = c.Recognize(context.Background(), audio)
		if !errors.As(err, &se) || se.Kind != speech.KindAuth {
			t.Fatalf("asr err = %v", err)
		}
		if bytes.Contains([]byte(err.Error()), []byte("wrong-token")) {
			t.Fatal("the error carries the token")
		}
	})
	for _, tc := range []struct {
		tts, asr int
		kind     speech.Kind
	}{
		{tts: 3003, kind: speech.KindRateLimited},
		{tts: 3011, kind: speech.KindBadText},
		{tts: 3031, kind: speech.KindUnavailable},
		{tts: 3030, kind: speech.KindTimeout},
		{asr: 45000151, kind: speech.KindBadAudio},
		{asr: 20000003, kind: speech.KindEmpty},
		{asr: 55000031, kind: speech.KindRateLimited},
		{asr: 55000000, kind: speech.KindUnavailable},
	} {
		fake := volctest.New(t)
		c := volcengine.New(fake.Config(), http.DefaultClient)
		var err error
		if tc.tts != 0 {
			fake.FailTTS(tc.tts)
			_, err = c.Synthesize(context.Background(), speech.SynthesisRequest{Text: "hi", Format: speech.PCM})
		} else {
			fake.FailASR(tc.asr)
			_, err = c.Recognize(context.Background(), audio)
		}
		var se *speech.Error
		if !errors.As(err, &se) || se.Kind != tc.kind {
			t.Fatalf("%+v: err = %v", tc, err)
		}
	}
}

// TestSynthesizeStreams: PCM, MP3 and Ogg Opus come over the streaming
// WebSocket, a response at a time; WAV, which cannot stream, over V1 HTTP.
func TestSynthesizeStreams(t *testing.T) {
	fake := volctest.New(t)
	c := volcengine.New(fake.Config(), http.DefaultClient)
	text := "今天天气很好"
	want := volctest.Audio(text)
	for _, f := range []speech.Format{speech.PCM, speech.MP3, speech.OggOpus, speech.WAV} {
		syn, err := c.Synthesize(context.Background(), speech.SynthesisRequest{Text: text, Format: f})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		first := make([]byte, len(want))
		n, err := syn.Body.Read(first)
		if err != nil {
			t.Fatalf("%s: first read: %v", f, err)
		}
		rest, err := io.ReadAll(syn.Body)
		syn.Body.Close()
		if err != nil || !bytes.Equal(append(first[:n], rest...), want) {
			t.Fatalf("%s: %d+%d bytes, %v", f, n, len(rest), err)
		}
		// Streamed audio arrives one audio-only response at a time.
		streamed := f != speech.WAV
		if chunk := (len(want) + volctest.TTSChunks - 1) / volctest.TTSChunks; streamed != (n == chunk) {
			t.Fatalf("%s: first read %d bytes of %d, streamed %t", f, n, len(want), streamed)
		}
	}
}
