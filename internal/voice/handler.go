package voice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/httpapi"
	"paradise/internal/speech"
)

// Handler implements the speech operations of openapi.yaml.
type Handler struct {
	voice *Service
}

// NewHandler returns the speech REST handler.
func NewHandler(s *Service) *Handler { return &Handler{voice: s} }

func callerOf(ctx context.Context) Caller {
	p := account.PrincipalFrom(ctx)
	return Caller{UserID: p.User.ID, MAC: p.Session.MAC}
}

// readAudio reads at most limit bytes of audio; more is a 413 (4022).
func readAudio(r io.Reader, limit int) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig) || len(b) > limit:
		return nil, &apperr.Error{Status: http.StatusRequestEntityTooLarge, Code: speech.CodeAudioTooLong,
			Message: fmt.Sprintf("audio: Ensure the audio has no more than %d bytes.", limit),
			Fields:  map[string][]string{"audio": {fmt.Sprintf("Ensure the audio has no more than %d bytes.", limit)}}}
	case err != nil:
		return nil, fmt.Errorf("voice: read audio: %w", err)
	}
	return b, nil
}

// audioOf reads a speech upload: the raw body with the query's format, or
// a multipart upload whose fields override the query.
func (h *Handler) audioOf(req api.SpeechToTextReq, format api.OptAudioFormat, rate api.OptSpeechSampleRate, lang api.OptString) (speech.Audio, error) {
	a := speech.Audio{Format: speech.PCM, SampleRate: int(rate.Or(0)), Language: lang.Or("")}
	if f, ok := format.Get(); ok {
		a.Format = speech.Format(f)
	}
	limit := h.voice.cfg.MaxAudioBytes
	var err error
	switch req := req.(type) {
	case *api.SpeechToTextReqApplicationOctetStream:
		a.Data, err = readAudio(req.Data, limit)
	case *api.SpeechUploadMultipart:
		if f, ok := req.Format.Get(); ok {
			a.Format = speech.Format(f)
		} else if _, set := format.Get(); !set {
			// The part's own type: audio/wav, audio/mpeg, audio/ogg.
			if a.Format, err = speech.ParseFormat(req.Audio.Header.Get("Content-Type")); err != nil {
				return a, err
			}
		}
		if r, ok := req.SampleRate.Get(); ok {
			a.SampleRate = int(r)
		}
		if l, ok := req.Language.Get(); ok {
			a.Language = l
		}
		a.Data, err = readAudio(req.Audio.File, limit)
	default:
		return a, apperr.BadRequest("Unsupported request body.")
	}
	return a, err
}

// SpeechToText implements speechToText (POST /api/ai/speech-to-text/).
func (h *Handler) SpeechToText(ctx context.Context, req api.SpeechToTextReq, params api.SpeechToTextParams) (*api.SpeechTranscriptEnvelope, error) {
	a, err := h.audioOf(req, params.Format, params.SampleRate, params.Language)
	if err != nil {
		return nil, err
	}
	t, err := h.voice.Transcribe(ctx, callerOf(ctx).UserID, a)
	if err != nil {
		return nil, err
	}
	return &api.SpeechTranscriptEnvelope{Success: true, Code: http.StatusOK, Message: httpapi.OKMessage,
		Data: api.SpeechTranscript{Text: t.Text, Language: t.Language, DurationMs: int(t.Duration.Milliseconds()), Provider: t.Provider}}, nil
}

// TextToSpeech implements textToSpeech (POST /api/ai/text-to-speech/):
// the vendor's audio is copied to the client as it arrives.
func (h *Handler) TextToSpeech(ctx context.Context, req *api.TextToSpeechRequest) (api.TextToSpeechRes, error) {
	format := speech.MP3
	if f, ok := req.Format.Get(); ok {
		format = speech.Format(f)
	}
	syn, err := h.voice.Speak(ctx, callerOf(ctx), speech.SynthesisRequest{Text: req.Text, Voice: req.Voice.Or(""),
		Format: format, SampleRate: int(req.SampleRate.Or(0))})
	if err != nil {
		return nil, err
	}
	provider, voice := api.NewOptString(syn.Provider), api.NewOptString(syn.Voice)
	switch syn.Format {
	case speech.WAV:
		return &api.TextToSpeechOKAudioWavHeaders{XSpeechProvider: provider, XSpeechVoice: voice, Response: api.TextToSpeechOKAudioWav{Data: syn.Body}}, nil
	case speech.PCM:
		return &api.TextToSpeechOKAudioPcmHeaders{XSpeechProvider: provider, XSpeechVoice: voice, Response: api.TextToSpeechOKAudioPcm{Data: syn.Body}}, nil
	case speech.OggOpus:
		return &api.TextToSpeechOKAudioOggHeaders{XSpeechProvider: provider, XSpeechVoice: voice, Response: api.TextToSpeechOKAudioOgg{Data: syn.Body}}, nil
	}
	return &api.TextToSpeechOKAudioMpegHeaders{XSpeechProvider: provider, XSpeechVoice: voice, Response: api.TextToSpeechOKAudioMpeg{Data: syn.Body}}, nil
}
