// Package voice serves speech to clients: speech-to-text and
// text-to-speech over REST, with the limits, budgets and metrics around
// the vendors of internal/speech.
package voice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/internal/apperr"
	"paradise/internal/chat"
	"paradise/internal/config"
	"paradise/internal/device"
	"paradise/internal/redisdb"
	"paradise/internal/speech"
)

// CodeSpeechSeconds is the business code of the 429 when a user's daily
// speech seconds are spent (counted in the chat budget).
const CodeSpeechSeconds = chat.CodeDailySpeech

// Devices resolves a device session's device, for its persona voice.
type Devices interface {
	ResolveOwner(ctx context.Context, rawMAC string) (int, device.Owned, error)
	Get(ctx context.Context, id int) (device.Device, error)
}

// Service runs recognition and synthesis for users.
type Service struct {
	engines *Engines
	chats   Chats
	audio   *audioStore
	budget  chat.Budget
	devices Devices
	cfg     config.Speech
	metrics *Metrics
	log     *zap.Logger
}

// NewService returns the voice service.
func NewService(p ServiceParams) *Service {
	return &Service{engines: p.Engines, chats: p.Chats, audio: &audioStore{rdb: p.Redis, keys: p.Keys, ttl: p.Config.AudioURLTTL},
		budget: p.Budget, devices: p.Devices, cfg: p.Config, metrics: p.Metrics, log: p.Log.Named("voice")}
}

// ServiceParams are NewService's dependencies.
type ServiceParams struct {
	fx.In

	Engines *Engines
	Chats   Chats
	Budget  chat.Budget
	Devices Devices
	Redis   *redis.Client
	Keys    redisdb.Keys
	Config  config.Speech
	Metrics *Metrics
	Log     *zap.Logger
}

// Limits are the configured audio and text limits.
func (s *Service) Limits() speech.Limits {
	return speech.Limits{MaxAudioBytes: s.cfg.MaxAudioBytes, MaxAudioSeconds: s.cfg.MaxAudioSeconds, MaxTextChars: s.cfg.MaxTextChars}
}

// checkBudget refuses when the user's speech seconds of the day are
// spent (the chat budget counts them with the user's messages and tokens).
func (s *Service) checkBudget(ctx context.Context, userID int) error {
	return s.budget.CheckSpeech(ctx, userID)
}

// spend adds seconds of audio to the user's day (rounded up).
func (s *Service) spend(ctx context.Context, userID int, op string, d time.Duration) {
	if d <= 0 {
		return
	}
	s.metrics.AudioSeconds.WithLabelValues(op).Add(d.Seconds())
	secs := int64((d + time.Second - 1) / time.Second)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.budget.AddSpeech(ctx, userID, int(secs)); err != nil {
		s.log.Warn("Could not count speech seconds", zap.Int("user_id", userID), zap.Error(err))
	}
}

// outcome counts a request by its result.
func (s *Service) outcome(op string, err error) {
	out := "ok"
	if err != nil {
		out = "failed"
		var ae *apperr.Error
		if errors.As(err, &ae) {
			switch {
			case ae.Status == http.StatusTooManyRequests:
				out = "rejected"
			case ae.Status < 500:
				out = "invalid"
			}
		}
	}
	s.metrics.Requests.WithLabelValues(op, out).Inc()
}

// Transcribe checks and recognizes a user's recording.
func (s *Service) Transcribe(ctx context.Context, userID int, a speech.Audio) (t speech.Transcript, err error) {
	defer func() { s.outcome("recognize", err) }()
	return s.transcribe(ctx, userID, a, nil)
}

// streamed is a recognition that ran while the audio was recorded: it
// returns its transcript, or why there is none.
type streamed struct {
	provider string
	result   func(ctx context.Context) (speech.Transcript, error)
}

// transcribe checks a recording and recognizes it: from its streamed
// recognition when there is one (a hub voice turn on a streaming
// vendor), else (or when the streaming vendor failed for its own reasons)
// through the provider chain.
func (s *Service) transcribe(ctx context.Context, userID int, a speech.Audio, st *streamed) (speech.Transcript, error) {
	d, err := speech.Check(&a, s.Limits())
	if err != nil {
		return speech.Transcript{}, err
	}
	if err := s.checkBudget(ctx, userID); err != nil {
		return speech.Transcript{}, err
	}
	var t speech.Transcript
	if st != nil {
		t, err = st.result(ctx)
		var se *speech.Error
		if err != nil && errors.As(err, &se) && se.Failover() && ctx.Err() == nil {
			s.engines.Observer.Failover(st.provider, "recognize")
			st = nil
		}
	}
	if st == nil {
		t, err = s.engines.Recognizer.Recognize(ctx, a)
	}
	if err != nil {
		return speech.Transcript{}, speech.AsAppError(err)
	}
	if d > 0 && (t.Duration == 0 || a.Format == speech.PCM || a.Format == speech.WAV) {
		t.Duration = d // exact for PCM and WAV
	}
	if t.Language == "" {
		t.Language = "zh-CN"
	}
	s.spend(ctx, userID, "recognize", t.Duration)
	return t, nil
}

// CheckText validates text to synthesize.
func (s *Service) CheckText(text string) error {
	switch n := utf8.RuneCountInString(text); {
	case strings.TrimSpace(text) == "":
		return apperr.Field("text", "This field may not be blank.")
	case s.cfg.MaxTextChars > 0 && n > s.cfg.MaxTextChars:
		msg := fmt.Sprintf("Ensure this field has no more than %d characters.", s.cfg.MaxTextChars)
		return &apperr.Error{Status: http.StatusBadRequest, Code: speech.CodeTextTooLong, Message: "text: " + msg,
			Fields: map[string][]string{"text": {msg}}}
	}
	return nil
}

// Caller is who asks for speech: a user, through the app or (MAC set) a
// device.
type Caller struct {
	UserID int
	MAC    string
}

// voiceOf is the persona voice of the caller's device type, if any.
func (s *Service) voiceOf(ctx context.Context, c Caller) string {
	if c.MAC == "" {
		return ""
	}
	owner, owned, err := s.devices.ResolveOwner(ctx, c.MAC)
	if err != nil || owner != c.UserID {
		return ""
	}
	d, err := s.devices.Get(ctx, owned.Device.ID)
	if err != nil || d.Type == nil {
		return ""
	}
	return d.Type.Persona.Voice
}

// Speak starts synthesizing text for the caller; the audio streams from
// the returned Body, whose seconds are counted as it is read.
func (s *Service) Speak(ctx context.Context, c Caller, r speech.SynthesisRequest) (syn speech.Synthesis, err error) {
	defer func() { s.outcome("synthesize", err) }()
	if err := s.CheckText(r.Text); err != nil {
		return speech.Synthesis{}, err
	}
	if r.Format == "" {
		r.Format = speech.MP3
	}
	if r.SampleRate == 0 {
		r.SampleRate = 16000
	}
	if err := s.checkBudget(ctx, c.UserID); err != nil {
		return speech.Synthesis{}, err
	}
	if r.Voice == "" {
		r.Voice = s.voiceOf(ctx, c)
	}
	syn, err = s.engines.Synthesizer.Synthesize(ctx, r)
	if err != nil {
		return speech.Synthesis{}, speech.AsAppError(err)
	}
	syn.Body = &counted{ReadCloser: syn.Body, done: func(n int) {
		s.spend(ctx, c.UserID, "synthesize", spokenDuration(syn, n, r.Text))
	}}
	return syn, nil
}

// spokenDuration is how long n bytes of synthesized audio last: exact for
// PCM and WAV, estimated from the text for compressed formats (about four
// characters a second for Chinese, fifteen for alphabetic text).
func spokenDuration(syn speech.Synthesis, n int, text string) time.Duration {
	switch syn.Format {
	case speech.PCM:
		return speech.PCMDuration(n, syn.SampleRate)
	case speech.WAV:
		return speech.PCMDuration(max(n-44, 0), syn.SampleRate)
	}
	runes := utf8.RuneCountInString(text)
	if len(text) == runes {
		return time.Duration(runes) * time.Second / 15
	}
	return time.Duration(runes) * time.Second / 4
}
