package speech

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"time"

	"paradise/internal/apperr"
)

// Limits bound the audio and text one request may carry.
type Limits struct {
	// MaxAudioBytes bounds a recording's size.
	MaxAudioBytes int
	// MaxAudioSeconds bounds a recording's duration (known exactly for
	// PCM and WAV; for compressed formats the vendor's figure is checked
	// against the speech-seconds budget afterwards).
	MaxAudioSeconds int
	// MaxTextChars bounds text to synthesize.
	MaxTextChars int
}

// silencePeak is the largest sample magnitude (of 32767) still counted as
// silence: a few bits of noise on an idle microphone.
const silencePeak = 64

// ParseFormat reads a format from a request: a name ("pcm", "ogg_opus",
// "opus") or a MIME type ("audio/wav", "audio/mpeg; ..."). It answers
// 400 with code 4021 for anything else.
func ParseFormat(s string) (Format, error) {
	v := strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = strings.TrimSpace(v[:i])
	}
	switch v {
	case "pcm", "audio/pcm", "audio/l16", "application/octet-stream", "":
		return PCM, nil
	case "wav", "audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave":
		return WAV, nil
	case "mp3", "audio/mpeg", "audio/mp3":
		return MP3, nil
	case "ogg_opus", "ogg", "opus", "audio/ogg", "audio/opus", "audio/ogg; codecs=opus":
		return OggOpus, nil
	}
	return "", UnsupportedFormat(s)
}

// UnsupportedFormat is the 400 (code 4021) of a format nobody takes.
func UnsupportedFormat(s string) *apperr.Error {
	msg := fmt.Sprintf("format: Unsupported audio format %q; use pcm, wav, mp3 or ogg_opus.", apperr.Truncate(s, 40))
	return &apperr.Error{Status: http.StatusBadRequest, Code: CodeUnsupportedFormat, Message: msg,
		Fields: map[string][]string{"format": {msg[len("format: "):]}}}
}

// badAudio is a 400 (code 4020) for audio Paradise itself cannot read.
func badAudio(detail string) *apperr.Error {
	return &apperr.Error{Status: http.StatusBadRequest, Code: CodeBadAudio, Message: "audio: " + detail,
		Fields: map[string][]string{"audio": {detail}}}
}

// tooLong is the 413 (code 4022) of audio over a cap.
func tooLong(detail string) *apperr.Error {
	return &apperr.Error{Status: http.StatusRequestEntityTooLarge, Code: CodeAudioTooLong, Message: "audio: " + detail,
		Fields: map[string][]string{"audio": {detail}}}
}

// Check validates a recording against the limits and returns its duration
// when the format tells it (PCM, WAV; zero otherwise). For WAV it takes
// the sample rate from the header.
func Check(a *Audio, l Limits) (time.Duration, error) {
	if !a.Format.Valid() {
		return 0, UnsupportedFormat(string(a.Format))
	}
	if len(a.Data) == 0 {
		return 0, EmptyAudio()
	}
	if l.MaxAudioBytes > 0 && len(a.Data) > l.MaxAudioBytes {
		return 0, tooLong(fmt.Sprintf("Ensure the audio has no more than %d bytes.", l.MaxAudioBytes))
	}
	var pcm []byte
	switch a.Format {
	case PCM:
		if a.SampleRate == 0 {
			a.SampleRate = 16000
		}
		if a.SampleRate != 8000 && a.SampleRate != 16000 && a.SampleRate != 24000 {
			msg := "Ensure sample_rate is 8000, 16000 or 24000."
			return 0, &apperr.Error{Status: http.StatusBadRequest, Code: CodeBadAudio, Message: "sample_rate: " + msg,
				Fields: map[string][]string{"sample_rate": {msg}}}
		}
		pcm = a.Data
	case WAV:
		info, err := ParseWAV(a.Data)
		if err != nil {
			return 0, badAudio(err.Error())
		}
		a.SampleRate = info.SampleRate
		pcm = info.Data
	default:
		if a.SampleRate == 0 {
			a.SampleRate = 16000
		}
		return 0, nil
	}
	if len(pcm) < 2 || silent(pcm) {
		return 0, EmptyAudio()
	}
	d := PCMDuration(len(pcm), a.SampleRate)
	if l.MaxAudioSeconds > 0 && d > time.Duration(l.MaxAudioSeconds)*time.Second {
		return d, tooLong(fmt.Sprintf("Ensure the audio lasts no more than %d seconds.", l.MaxAudioSeconds))
	}
	return d, nil
}

// PCMDuration is the length of n bytes of 16-bit mono PCM at rate Hz.
func PCMDuration(n, rate int) time.Duration {
	if rate <= 0 {
		return 0
	}
	return time.Duration(n/2) * time.Second / time.Duration(rate)
}

// silent reports whether 16-bit little-endian samples never leave the
// noise floor.
func silent(pcm []byte) bool {
	for i := 0; i+1 < len(pcm); i += 2 {
		v := int16(binary.LittleEndian.Uint16(pcm[i:]))
		if v > silencePeak || v < -silencePeak {
			return false
		}
	}
	return true
}

// WAVInfo is what ParseWAV read.
type WAVInfo struct {
	SampleRate int
	Channels   int
	Bits       int
	// Data is the samples (the data chunk's body).
	Data []byte
}

// ParseWAV reads a RIFF/WAVE header: 16-bit mono PCM at 8, 16 or 24 kHz
// only, which is what the vendors' one-sentence recognizers take.
func ParseWAV(b []byte) (WAVInfo, error) { return parseWAV(b, true) }

// ParseWAVLoose is ParseWAV at any sample rate (espeak-ng speaks at
// 22050 Hz).
func ParseWAVLoose(b []byte) (WAVInfo, error) { return parseWAV(b, false) }

func parseWAV(b []byte, strictRate bool) (WAVInfo, error) {
	var w WAVInfo
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return w, fmt.Errorf("Not a WAV file (no RIFF/WAVE header).")
	}
	fmtSeen := false
	for p := 12; p+8 <= len(b); {
		id := string(b[p : p+4])
		size := int(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size > len(body) {
			if id == "data" {
				// Streamed WAVs carry a placeholder size; take what is there.
				size = len(body)
			} else {
				return w, fmt.Errorf("The WAV header is truncated.")
			}
		}
		switch id {
		case "fmt ":
			if size < 16 {
				return w, fmt.Errorf("The WAV format chunk is truncated.")
			}
			if tag := binary.LittleEndian.Uint16(body); tag != 1 && tag != 0xFFFE {
				return w, fmt.Errorf("The WAV file is not PCM (format tag %d).", tag)
			}
			w.Channels = int(binary.LittleEndian.Uint16(body[2:]))
			w.SampleRate = int(binary.LittleEndian.Uint32(body[4:]))
			w.Bits = int(binary.LittleEndian.Uint16(body[14:]))
			fmtSeen = true
		case "data":
			if !fmtSeen {
				return w, fmt.Errorf("The WAV data chunk comes before its format chunk.")
			}
			if w.Channels != 1 || w.Bits != 16 {
				return w, fmt.Errorf("The WAV file must be 16-bit mono (it is %d-bit, %d channels).", w.Bits, w.Channels)
			}
			if strictRate && w.SampleRate != 8000 && w.SampleRate != 16000 && w.SampleRate != 24000 {
				return w, fmt.Errorf("The WAV sample rate must be 8000, 16000 or 24000 Hz (it is %d).", w.SampleRate)
			}
			w.Data = body[:size]
			return w, nil
		}
		p += 8 + size + size%2
	}
	return w, fmt.Errorf("The WAV file has no data chunk.")
}

// WAVHeader is a 44-byte header for n bytes of 16-bit mono PCM at rate Hz.
func WAVHeader(n, rate int) []byte {
	h := make([]byte, 44)
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+n))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(n))
	return h
}
