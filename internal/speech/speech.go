// Package speech owns speech recognition (ASR) and synthesis (TTS): the
// Recognizer and Synthesizer interfaces the rest of the service uses, the
// audio checks every request passes (formats, size, duration, silence),
// the errors vendors' failures become, and the failover chain over the
// configured vendors. The vendors live in subpackages (speech/aliyun,
// speech/volcengine, speech/tencent, speech/local); none of them is
// imported by anything but this package's module.
package speech

import (
	"context"
	"io"
	"time"
)

// Format is an audio container or encoding.
type Format string

// The audio formats Paradise accepts or produces. Which of them a vendor
// takes is its own business (Recognizer.Formats); nothing is transcoded
// in Go.
const (
	// PCM is raw signed 16-bit little-endian mono samples at SampleRate.
	PCM Format = "pcm"
	// WAV is PCM in a RIFF/WAVE container.
	WAV Format = "wav"
	// MP3 is MPEG-1/2 layer III.
	MP3 Format = "mp3"
	// OggOpus is Opus in an Ogg container.
	OggOpus Format = "ogg_opus"
)

// Formats lists every format, in the order the specs list them.
var Formats = []Format{PCM, WAV, MP3, OggOpus}

// ContentType is the MIME type of audio in format f.
func (f Format) ContentType() string {
	switch f {
	case WAV:
		return "audio/wav"
	case MP3:
		return "audio/mpeg"
	case OggOpus:
		return "audio/ogg"
	default:
		return "audio/pcm"
	}
}

// Valid reports whether f is one of Formats.
func (f Format) Valid() bool {
	for _, g := range Formats {
		if f == g {
			return true
		}
	}
	return false
}

// Audio is a recording to recognize.
type Audio struct {
	Format Format
	// SampleRate is in Hz; required for PCM, read from the header for
	// WAV, and a hint for the compressed formats (16000 when zero).
	SampleRate int
	// Language is a BCP 47 tag such as "zh-CN" or "en-US"; empty means
	// the provider's default (Mandarin Chinese for the vendors).
	Language string
	Data     []byte
}

// Transcript is what a recognizer heard.
type Transcript struct {
	Text     string
	Language string
	// Duration is the audio's length as the vendor measured it, or as
	// computed from PCM/WAV sizes when the vendor does not say.
	Duration time.Duration
	// Provider names the vendor that answered.
	Provider string
}

// Recognizer turns a whole recording into text.
type Recognizer interface {
	// Name is the provider's name (aliyun, volcengine, tencent, local).
	Name() string
	// Recognize recognizes audio, already checked by Check. Failures are
	// *Error values (or ctx's error).
	Recognize(ctx context.Context, a Audio) (Transcript, error)
	// Accepts reports whether the provider takes audio in format f.
	Accepts(f Format) bool
}

// SynthesisRequest is text to speak.
type SynthesisRequest struct {
	Text string
	// Voice is a provider voice id; empty means the provider's default.
	Voice  string
	Format Format
	// SampleRate in Hz; zero means 16000.
	SampleRate int
}

// Synthesis is audio being synthesized: Body yields it as it arrives from
// the vendor and must be closed.
type Synthesis struct {
	Format     Format
	SampleRate int
	Provider   string
	Voice      string
	Body       io.ReadCloser
}

// Synthesizer turns text into audio.
type Synthesizer interface {
	Name() string
	// Synthesize starts synthesis; a failure before any audio is an
	// *Error. Errors while reading Body end the audio early.
	Synthesize(ctx context.Context, r SynthesisRequest) (Synthesis, error)
	// Produces reports whether the provider can produce format f.
	Produces(f Format) bool
}

// Provider is a vendor that both recognizes and synthesizes.
type Provider interface {
	Recognizer
	Synthesizer
}

// StreamParams open a streaming recognition of PCM audio.
type StreamParams struct {
	SampleRate int
	Language   string
	// Partial receives interim transcripts as the vendor sends them (each
	// the whole text heard so far), on the stream's own goroutine.
	Partial func(text string)
}

// AudioStream is a recognition in progress: audio goes in as it is
// recorded, the transcript comes out at the end.
type AudioStream interface {
	// Write sends the next piece of audio.
	Write(ctx context.Context, pcm []byte) error
	// Finish marks the end of the audio and waits for the final
	// transcript; the stream is closed after it.
	Finish(ctx context.Context) (Transcript, error)
	// Close abandons the stream (safe after Finish).
	Close() error
}

// StreamRecognizer recognizes audio while it is being recorded.
type StreamRecognizer interface {
	Name() string
	// AcceptsStream reports whether the vendor streams audio in format f
	// at rate Hz.
	AcceptsStream(f Format, rate int) bool
	// OpenStream connects and starts a recognition. Failures are *Error
	// values (or ctx's error).
	OpenStream(ctx context.Context, p StreamParams) (AudioStream, error)
}
