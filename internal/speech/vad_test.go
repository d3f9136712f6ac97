package speech_test

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"paradise/internal/speech"
)

// voiced is seconds of a 220 Hz tone (with harmonics, roughly voiced
// speech) at amplitude amp of 32767, at rate Hz.
func voiced(rate int, seconds, amp float64) []int16 {
	out := make([]int16, int(float64(rate)*seconds))
	for i := range out {
		t := float64(i) / float64(rate)
		v := math.Sin(2*math.Pi*220*t) + 0.5*math.Sin(2*math.Pi*440*t) + 0.25*math.Sin(2*math.Pi*880*t)
		out[i] = int16(amp * 32767 * v / 1.75)
	}
	return out
}

// hiss is seconds of white noise at RMS amp of 32767.
func hiss(rate int, seconds, amp float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]int16, int(float64(rate)*seconds))
	for i := range out {
		out[i] = int16(r.NormFloat64() * amp * 32767)
	}
	return out
}

func pcm16(parts ...[]int16) []byte {
	var out []byte
	for _, p := range parts {
		for _, s := range p {
			out = binary.LittleEndian.AppendUint16(out, uint16(s))
		}
	}
	return out
}

func TestEndOfSpeech(t *testing.T) {
	const rate = 16000
	silence := func(s float64) []int16 { return make([]int16, int(rate*s)) }
	tests := []struct {
		name  string
		audio []byte
		// endAt is where the end is detected, in seconds of audio; 0
		// means never.
		endAt float64
	}{
		{"speech then silence", pcm16(silence(0.3), voiced(rate, 1, 0.3), silence(1)), 1.3 + 0.6},
		{"speech then a noisy room", pcm16(hiss(rate, 0.3, 0.01, 1), voiced(rate, 1, 0.3), hiss(rate, 1, 0.01, 2)), 1.3 + 0.6},
		{"a pause shorter than the window", pcm16(voiced(rate, 0.5, 0.3), silence(0.4), voiced(rate, 0.5, 0.3), silence(1)), 1.4 + 0.6},
		{"quiet speech over a quiet line", pcm16(hiss(rate, 0.3, 0.002, 3), voiced(rate, 1, 0.02), hiss(rate, 1, 0.002, 4)), 1.3 + 0.6},
		{"only silence", pcm16(silence(3)), 0},
		{"only steady noise", pcm16(hiss(rate, 3, 0.02, 5)), 0},
		{"speech at once, then a noisy room", pcm16(voiced(rate, 1, 0.3), hiss(rate, 1, 0.02, 6)), 1 + 0.6},
		{"a noisy room, speech, the room again", pcm16(hiss(rate, 0.5, 0.02, 7), voiced(rate, 1, 0.3), hiss(rate, 1, 0.02, 8)), 1.5 + 0.6},
		{"a click is not speech", pcm16(silence(0.5), voiced(rate, 0.02, 0.8), silence(2)), 0},
		{"still speaking", pcm16(silence(0.2), voiced(rate, 3, 0.3)), 0},
	}
	for _, tt := range tests {
		for _, chunk := range []int{3200, 1001, 640} { // odd sizes split frames and samples
			v := speech.NewEndOfSpeech(rate, 600*time.Millisecond)
			end := 0
			for off := 0; off < len(tt.audio); off += chunk {
				if v.Feed(tt.audio[off:min(off+chunk, len(tt.audio))]) {
					end = min(off+chunk, len(tt.audio))
					break
				}
			}
			if tt.endAt == 0 {
				if end != 0 {
					t.Errorf("%s (chunks of %d): ended at %.2fs, want no end", tt.name, chunk, float64(end)/2/rate)
				}
				continue
			}
			// Detected within one chunk and one frame of the expected point.
			got := float64(end) / 2 / rate
			if end == 0 || math.Abs(got-tt.endAt) > float64(chunk)/2/rate+0.02 {
				t.Errorf("%s (chunks of %d): ended at %.3fs, want %.2fs", tt.name, chunk, got, tt.endAt)
			}
		}
	}
}

func TestEndOfSpeechStaysEnded(t *testing.T) {
	v := speech.NewEndOfSpeech(8000, 200*time.Millisecond)
	if !v.Feed(pcm16(voiced(8000, 0.5, 0.3), make([]int16, 8000))) || !v.Heard() {
		t.Fatal("no end after speech and a second of silence at 8 kHz")
	}
	if !v.Feed(pcm16(voiced(8000, 0.5, 0.3))) {
		t.Fatal("speech after the end reopened the utterance")
	}
}
