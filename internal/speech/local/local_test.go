package local_test

import (
	"context"
	"encoding/binary"
	"io"
	"math"
	"strings"
	"testing"

	"paradise/internal/speech"
	"paradise/internal/speech/local"
)

// TestRoundTrip speaks a sentence with espeak-ng and hears it back with
// pocketsphinx, when both are installed (make speech-deps).
func TestRoundTrip(t *testing.T) {
	rec, syn, missing := local.Find()
	if rec == nil || syn == nil {
		t.Skip(missing)
	}
	ctx := context.Background()
	out, err := syn.Synthesize(ctx, speech.SynthesisRequest{Text: "hello world", Format: speech.WAV, SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	wav, _ := io.ReadAll(out.Body)
	a := speech.Audio{Format: speech.WAV, Data: wav}
	if _, err := speech.Check(&a, speech.Limits{}); err != nil || a.SampleRate != 16000 {
		t.Fatalf("synthesized WAV: rate %d, %v", a.SampleRate, err)
	}
	tr, err := rec.Recognize(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tr.Text, "hello") || !strings.Contains(tr.Text, "world") {
		t.Fatalf("heard %q, want hello world", tr.Text)
	}
}

func TestResample(t *testing.T) {
	// One second of a 440 Hz tone at 22050 Hz becomes one second at 16 kHz
	// and keeps its amplitude.
	in := make([]byte, 2*22050)
	for i := 0; i < 22050; i++ {
		binary.LittleEndian.PutUint16(in[2*i:], uint16(int16(10000*math.Sin(2*math.Pi*440*float64(i)/22050))))
	}
	out := local.Resample(in, 22050, 16000)
	if len(out) != 2*16000 {
		t.Fatalf("%d bytes, want 32000", len(out))
	}
	peak := 0
	for i := 0; i < len(out); i += 2 {
		peak = max(peak, int(int16(binary.LittleEndian.Uint16(out[i:]))))
	}
	if peak < 9500 || peak > 10000 {
		t.Fatalf("peak %d, want about 10000", peak)
	}
	if got := local.Resample(in, 16000, 16000); &got[0] != &in[0] {
		t.Fatal("same rate copied")
	}
}
