package speech_test

import (
	"errors"
	"testing"
	"time"

	"paradise/internal/apperr"
	"paradise/internal/speech"
)

func tone(n int) []byte {
	b := make([]byte, n)
	for i := 1; i < n; i += 2 {
		b[i] = byte(i % 50)
	}
	return b
}

func TestCheck(t *testing.T) {
	limits := speech.Limits{MaxAudioBytes: 200000, MaxAudioSeconds: 5}
	wav := append(speech.WAVHeader(32000, 16000), tone(32000)...)
	for _, tc := range []struct {
		name string
		a    speech.Audio
		code int
		dur  time.Duration
	}{
		{"pcm one second", speech.Audio{Format: speech.PCM, SampleRate: 16000, Data: tone(32000)}, 0, time.Second},
		{"pcm default rate", speech.Audio{Format: speech.PCM, Data: tone(16000)}, 0, 500 * time.Millisecond},
		{"wav one second", speech.Audio{Format: speech.WAV, Data: wav}, 0, time.Second},
		{"mp3 unknown length", speech.Audio{Format: speech.MP3, Data: []byte{0xff, 0xfb, 1}}, 0, 0},
		{"empty", speech.Audio{Format: speech.PCM, Data: nil}, speech.CodeEmptyAudio, 0},
		{"silence", speech.Audio{Format: speech.PCM, Data: make([]byte, 32000)}, speech.CodeEmptyAudio, 0},
		{"too many bytes", speech.Audio{Format: speech.MP3, Data: make([]byte, 200001)}, speech.CodeAudioTooLong, 0},
		{"too long", speech.Audio{Format: speech.PCM, SampleRate: 8000, Data: tone(96000)}, speech.CodeAudioTooLong, 0},
		{"odd rate", speech.Audio{Format: speech.PCM, SampleRate: 44100, Data: tone(100)}, speech.CodeBadAudio, 0},
		{"not wav", speech.Audio{Format: speech.WAV, Data: []byte("hello world!!")}, speech.CodeBadAudio, 0},
		{"stereo wav", speech.Audio{Format: speech.WAV, Data: stereo(wav)}, speech.CodeBadAudio, 0},
		{"unknown format", speech.Audio{Format: "flac", Data: tone(10)}, speech.CodeUnsupportedFormat, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.a
			d, err := speech.Check(&a, limits)
			var ae *apperr.Error
			switch {
			case tc.code == 0 && err != nil:
				t.Fatalf("err = %v", err)
			case tc.code != 0 && (!errors.As(err, &ae) || ae.Code != tc.code):
				t.Fatalf("err = %v, want code %d", err, tc.code)
			case tc.code == 0 && d != tc.dur:
				t.Fatalf("duration %v, want %v", d, tc.dur)
			}
		})
	}
}

func stereo(wav []byte) []byte {
	b := append([]byte(nil), wav...)
	b[22] = 2
	return b
}

func TestParseFormat(t *testing.T) {
	for in, want := range map[string]speech.Format{
		"pcm": speech.PCM, "audio/wav": speech.WAV, "audio/mpeg": speech.MP3, "audio/ogg; codecs=opus": speech.OggOpus,
		"OGG_OPUS": speech.OggOpus, "application/octet-stream": speech.PCM, "audio/x-wav": speech.WAV,
	} {
		got, err := speech.ParseFormat(in)
		if err != nil || got != want {
			t.Fatalf("%q: %v %v", in, got, err)
		}
	}
	if _, err := speech.ParseFormat("audio/flac"); err == nil {
		t.Fatal("flac accepted")
	}
}
