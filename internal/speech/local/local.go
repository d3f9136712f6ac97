// Package local is the development speech provider: synthesis through
// espeak-ng and recognition through pocketsphinx (CMU Sphinx, US English
// model), both Debian packages, run as processes. It is used only when no
// vendor is configured, so `make run` keeps the voice pipeline usable on
// a laptop; an engine that is not installed is simply absent.
package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"paradise/internal/speech"
)

// Name is the provider's name.
const Name = "local"

// Synthesizer speaks through espeak-ng.
type Synthesizer struct{ bin string }

// Recognizer listens through pocketsphinx_continuous.
type Recognizer struct{ bin string }

// Find looks the engines up on PATH; a nil result is an engine that is
// not installed, and missing then says what to install.
func Find() (rec *Recognizer, syn *Synthesizer, missing string) {
	var absent []string
	if p, err := exec.LookPath("espeak-ng"); err == nil {
		syn = &Synthesizer{bin: p}
	} else {
		absent = append(absent, "espeak-ng")
	}
	if p, err := exec.LookPath("pocketsphinx_continuous"); err == nil {
		rec = &Recognizer{bin: p}
	} else {
		absent = append(absent, "pocketsphinx")
	}
	if len(absent) > 0 {
		missing = "no speech vendor is configured (PARADISE_SPEECH_PROVIDER) and the development engine is not installed: apt-get install " +
			strings.Join(absent, " ")
		if rec == nil {
			missing += " pocketsphinx-en-us"
		}
		missing += " (or make speech-deps)."
	}
	return rec, syn, missing
}

// Name implements speech.Synthesizer.
func (s *Synthesizer) Name() string { return Name }

// Produces implements speech.Synthesizer: espeak-ng writes WAV (and the
// PCM inside it).
func (s *Synthesizer) Produces(f speech.Format) bool { return f == speech.WAV || f == speech.PCM }

// Synthesize implements speech.Synthesizer. voice is an espeak-ng voice
// ("en-us", "zh"); the default is en-us. espeak-ng speaks at 22050 Hz,
// resampled here to the rate asked for.
func (s *Synthesizer) Synthesize(ctx context.Context, r speech.SynthesisRequest) (speech.Synthesis, error) {
	voice := r.Voice
	if voice == "" || strings.ContainsAny(voice, " /\\") || strings.HasPrefix(voice, "-") {
		voice = "en-us"
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, s.bin, "--stdout", "-v", voice, "--")
	cmd.Stdin = strings.NewReader(r.Text)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return speech.Synthesis{}, speech.TransportError(ctx, Name, ctx.Err())
		}
		return speech.Synthesis{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "espeak-ng",
			Message: strings.TrimSpace(errOut.String()), Err: err}
	}
	wav := out.Bytes()
	// espeak-ng writes to a pipe, so its header's sizes are placeholders.
	info, err := speech.ParseWAVLoose(wav)
	if err != nil {
		return speech.Synthesis{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "espeak-ng", Message: err.Error()}
	}
	// Callers ask for 8, 16 or 24 kHz like the vendors give them.
	rate := r.SampleRate
	if rate == 0 {
		rate = 16000
	}
	body := Resample(info.Data, info.SampleRate, rate)
	if r.Format == speech.WAV {
		body = append(speech.WAVHeader(len(body), rate), body...)
	}
	return speech.Synthesis{Format: r.Format, SampleRate: rate, Provider: Name, Voice: voice, Body: io.NopCloser(bytes.NewReader(body))}, nil
}

// Name implements speech.Recognizer.
func (r *Recognizer) Name() string { return Name }

// Accepts implements speech.Recognizer: PCM and WAV (pocketsphinx reads
// 16 kHz samples; other rates are resampled here, which only the local
// engine needs).
func (r *Recognizer) Accepts(f speech.Format) bool { return f == speech.WAV || f == speech.PCM }

// Recognize implements speech.Recognizer.
func (r *Recognizer) Recognize(ctx context.Context, a speech.Audio) (speech.Transcript, error) {
	pcm := a.Data
	if a.Format == speech.WAV {
		info, err := speech.ParseWAV(a.Data)
		if err != nil {
			return speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindBadAudio, Code: "wav", Message: err.Error()}
		}
		pcm = info.Data
	}
	pcm = Resample(pcm, a.SampleRate, 16000)
	dir, err := os.MkdirTemp("", "paradise-asr-")
	if err != nil {
		return speech.Transcript{}, fmt.Errorf("local: temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "in.wav")
	if err := os.WriteFile(file, append(speech.WAVHeader(len(pcm), 16000), pcm...), 0o600); err != nil {
		return speech.Transcript{}, fmt.Errorf("local: write audio: %w", err)
	}
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, r.bin, "-infile", file, "-logfn", "/dev/null")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return speech.Transcript{}, speech.TransportError(ctx, Name, ctx.Err())
		}
		return speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindUnavailable, Code: "pocketsphinx",
			Message: strings.TrimSpace(errOut.String()), Err: err}
	}
	// Each line is an utterance's hypothesis.
	var words []string
	for _, line := range strings.Split(out.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			words = append(words, line)
		}
	}
	text := strings.Join(words, " ")
	if text == "" {
		return speech.Transcript{}, &speech.Error{Provider: Name, Kind: speech.KindEmpty, Code: "empty_result", Message: "nothing recognized"}
	}
	lang := a.Language
	if lang == "" {
		lang = "en-US"
	}
	return speech.Transcript{Text: text, Language: lang, Duration: speech.PCMDuration(len(pcm), 16000), Provider: Name}, nil
}

// Resample converts 16-bit mono PCM from one rate to another by linear
// interpolation: good enough for a development recognizer.
func Resample(pcm []byte, from, to int) []byte {
	if from == to || from <= 0 || to <= 0 || len(pcm) < 4 {
		return pcm
	}
	n := len(pcm) / 2
	m := int(int64(n) * int64(to) / int64(from))
	out := make([]byte, 2*m)
	sample := func(i int) float64 { return float64(int16(binary.LittleEndian.Uint16(pcm[2*i:]))) }
	for j := 0; j < m; j++ {
		pos := float64(j) * float64(from) / float64(to)
		i := int(pos)
		frac := pos - float64(i)
		v := sample(min(i, n-1))
		if i+1 < n {
			v += (sample(i+1) - v) * frac
		}
		binary.LittleEndian.PutUint16(out[2*j:], uint16(int16(v)))
	}
	return out
}
