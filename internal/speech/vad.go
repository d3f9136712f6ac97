package speech

import (
	"math"
	"time"
)

// EndOfSpeech finds where a speaker stops, in 16-bit little-endian mono
// PCM fed as it is recorded: once speech has been heard, a stretch of
// silence of the configured length ends the utterance. It is an energy
// detector over 20 ms frames with a noise floor that follows the room, so
// a steady hum (a fan, a quiet line) is not taken for speech and a short
// click is not taken for a start. Not safe for concurrent use.
type EndOfSpeech struct {
	frameBytes int
	// silenceFrames is how many quiet frames after speech end it.
	silenceFrames int

	carry []byte // the start of an incomplete frame
	// noise is the running RMS of frames that were not speech.
	noise float64
	seen  int // frames measured
	// loud counts consecutive speech frames; heard is set once there
	// were speechFrames of them.
	loud  int
	heard bool
	quiet int // consecutive quiet frames since speech
	ended bool
}

const (
	vadFrame = 20 * time.Millisecond
	// speechFrames of loud frames in a row are speech (60 ms): shorter
	// bursts are clicks and pops.
	speechFrames = 3
	// vadFloor is the lowest RMS (of 32767, about -50 dBFS) counted as
	// speech however quiet the room.
	vadFloor = 100
	// vadRatio is how far over the noise floor speech is (about 10 dB).
	vadRatio = 3.0
	// noiseCap bounds the floor the first frame sets (about -30 dBFS):
	// rooms are quieter, speech louder.
	noiseCap = 1000
	// noiseAdapt is how fast the floor follows quiet frames (per frame).
	noiseAdapt = 0.05
)

// NewEndOfSpeech returns a detector for PCM at rate Hz that ends an
// utterance after silence of the given length.
func NewEndOfSpeech(rate int, silence time.Duration) *EndOfSpeech {
	frame := max(rate*int(vadFrame/time.Millisecond)/1000, 1) * 2
	return &EndOfSpeech{frameBytes: frame, silenceFrames: max(int((silence+vadFrame-1)/vadFrame), 1)}
}

// Heard reports whether speech has been heard.
func (v *EndOfSpeech) Heard() bool { return v.heard }

// Feed measures more audio and reports whether the utterance has ended
// (it stays ended).
func (v *EndOfSpeech) Feed(pcm []byte) bool {
	if v.ended {
		return true
	}
	if len(v.carry) > 0 {
		need := v.frameBytes - len(v.carry)
		if len(pcm) < need {
			v.carry = append(v.carry, pcm...)
			return false
		}
		v.carry = append(v.carry, pcm[:need]...)
		pcm = pcm[need:]
		if v.frame(v.carry) {
			return true
		}
		v.carry = v.carry[:0]
	}
	for len(pcm) >= v.frameBytes {
		if v.frame(pcm[:v.frameBytes]) {
			return true
		}
		pcm = pcm[v.frameBytes:]
	}
	v.carry = append(v.carry, pcm...)
	return false
}

// frame classifies one frame and reports whether the utterance ended.
func (v *EndOfSpeech) frame(b []byte) bool {
	var sum float64
	for i := 0; i+1 < len(b); i += 2 {
		s := float64(int16(uint16(b[i]) | uint16(b[i+1])<<8))
		sum += s * s
	}
	rms := math.Sqrt(sum / float64(len(b)/2))
	v.seen++
	if v.seen == 1 {
		// The first frame sets the floor (a device starts recording
		// before the user speaks), bounded so a loud start is still heard.
		v.noise = min(rms, noiseCap)
	}
	if rms > max(vadFloor, v.noise*vadRatio) {
		v.loud++
		v.quiet = 0
		if v.loud >= speechFrames {
			v.heard = true
		}
		return false
	}
	v.loud = 0
	v.noise += (rms - v.noise) * noiseAdapt
	if v.heard {
		v.quiet++
		if v.quiet >= v.silenceFrames {
			v.ended = true
		}
	}
	return v.ended
}
