package voice

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"go.uber.org/zap"

	"paradise/gen/api"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/chat"
	"paradise/internal/httpapi"
	"paradise/internal/logging"
	"paradise/internal/speech"
)

// Authenticator authenticates a REST request the way the ogen server does
// (the account security handler).
type Authenticator interface {
	HandleTokenAuth(ctx context.Context, op api.OperationName, t api.TokenAuth) (context.Context, error)
}

// Stream serves voiceChat's Server-Sent Events form in front of the ogen
// server (which generates SSE for clients only): transcript, the reply's
// text deltas and its audio, sentence by sentence, as they are made.
type Stream struct {
	voice  *Service
	auth   Authenticator
	errors *httpapi.Errors
	log    *zap.Logger
}

// NewStream returns the streaming route's handler.
func NewStream(v *Service, auth Authenticator, errs *httpapi.Errors, log *zap.Logger) *Stream {
	return &Stream{voice: v, auth: auth, errors: errs, log: log.Named("voice")}
}

// Route is the httpapi route of the streaming form.
func (st *Stream) Route() httpapi.Route {
	return httpapi.Route{Pattern: "POST /api/ai/voice-chat/{$}", Intercept: st.intercept}
}

func (st *Stream) intercept(server http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wantsStream(r) {
			st.serve(w, r)
			return
		}
		server.ServeHTTP(w, r)
	})
}

// wantsStream reports ?stream=true or Accept: text/event-stream.
func wantsStream(r *http.Request) bool {
	if v, err := strconv.ParseBool(r.URL.Query().Get("stream")); err == nil && v {
		return true
	}
	return httpapi.AcceptsEventStream(r)
}

// enumParam reads an optional query parameter that must be one of values.
func enumParam(q map[string][]string, name string, values ...string) (string, error) {
	v := ""
	if vs := q[name]; len(vs) > 0 {
		v = vs[0]
	}
	if v == "" {
		return "", nil
	}
	for _, ok := range values {
		if v == ok {
			return v, nil
		}
	}
	return "", apperr.Field(name, fmt.Sprintf("%q is not one of %s.", v, strings.Join(values, ", ")))
}

var formatNames = []string{"pcm", "wav", "mp3", "ogg_opus"}

// request reads the streamed form's parameters and audio like the ogen
// server reads the JSON form's.
func (st *Stream) request(r *http.Request) (a speech.Audio, convID int, reply speech.Format, err error) {
	q := r.URL.Query()
	format, err := enumParam(q, "format", formatNames...)
	if err != nil {
		return a, 0, "", err
	}
	rate, err := enumParam(q, "sample_rate", "8000", "16000", "24000")
	if err != nil {
		return a, 0, "", err
	}
	rf, err := enumParam(q, "reply_format", formatNames...)
	if err != nil {
		return a, 0, "", err
	}
	reply = speech.MP3
	if rf != "" {
		reply = speech.Format(rf)
	}
	if c := q.Get("conversation_id"); c != "" {
		if convID, err = strconv.Atoi(c); err != nil || convID < 1 {
			return a, 0, "", apperr.Field("conversation_id", "A valid integer of at least 1 is required.")
		}
	}
	lang := q.Get("language")
	if len(lang) > 16 {
		return a, 0, "", apperr.Field("language", "Ensure this field has no more than 16 characters.")
	}
	params := api.VoiceChatParams{Language: optString(lang)}
	if format != "" {
		params.Format = api.NewOptAudioFormat(api.AudioFormat(format))
	}
	if rate != "" {
		n, _ := strconv.Atoi(rate)
		params.SampleRate = api.NewOptSpeechSampleRate(api.SpeechSampleRate(n))
	}
	h := &Handler{voice: st.voice}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		if err := r.ParseMultipartForm(int64(st.voice.cfg.MaxAudioBytes)); err != nil {
			return a, 0, "", apperr.Field("audio", "Could not read the multipart upload.")
		}
		file, header, err := r.FormFile("audio")
		if err != nil {
			return a, 0, "", apperr.Field("audio", "This field is required.")
		}
		defer file.Close()
		up := &api.SpeechUploadMultipart{Language: optString(r.FormValue("language"))}
		up.Audio.File, up.Audio.Header = file, header.Header
		if f := r.FormValue("format"); f != "" {
			if _, err := speech.ParseFormat(f); err != nil {
				return a, 0, "", err
			}
			up.Format = api.NewOptAudioFormat(api.AudioFormat(f))
		}
		if sr, err := strconv.Atoi(r.FormValue("sample_rate")); err == nil {
			up.SampleRate = api.NewOptSpeechUploadMultipartSampleRate(api.SpeechUploadMultipartSampleRate(sr))
		}
		a, err = h.voiceAudio(up, params)
		return a, convID, reply, err
	}
	a, err = h.voiceAudio(&api.VoiceChatReqApplicationOctetStream{Data: r.Body}, params)
	return a, convID, reply, err
}

func optString(s string) api.OptString {
	if s == "" {
		return api.OptString{}
	}
	return api.NewOptString(s)
}

// event is one SSE event's data; the fields of every type share it.
type event struct {
	Type               string `json:"type"`
	Text               string `json:"text,omitempty"`
	Language           string `json:"language,omitempty"`
	DurationMS         *int   `json:"duration_ms,omitempty"`
	Provider           string `json:"provider,omitempty"`
	ConversationID     int    `json:"conversation_id,omitempty"`
	UserMessageID      int    `json:"user_message_id,omitempty"`
	AssistantMessageID int    `json:"assistant_message_id,omitempty"`
	Reply              string `json:"reply,omitempty"`
	FinishReason       string `json:"finish_reason,omitempty"`
	Truncated          *bool  `json:"truncated,omitempty"`
	Seq                *int   `json:"seq,omitempty"`
	Format             string `json:"format,omitempty"`
	Data               []byte `json:"data,omitempty"`
	Code               int    `json:"code,omitempty"`
	Message            string `json:"message,omitempty"`
}

// sse writes events; the reply's text and its audio come from two
// goroutines, so writes are serialized.
type sse struct {
	mu sync.Mutex
	w  http.ResponseWriter
}

func (s *sse) send(e event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return httpapi.WriteEvent(s.w, e.Type, e)
}

// failure is the error event of err.
func (st *Stream) failure(ctx context.Context, err error) event {
	var ae *apperr.Error
	if !errors.As(err, &ae) {
		logging.From(ctx, st.log).Error("Streamed voice chat failed", zap.Error(err))
		return event{Type: "error", Code: http.StatusInternalServerError, Message: "Internal server error."}
	}
	b := ae.Bounded()
	return event{Type: "error", Code: b.Code, Message: b.Message}
}

func (st *Stream) serve(w http.ResponseWriter, r *http.Request) {
	ctx, ok := st.errors.Authenticate(w, r, "TokenAuth", func(ctx context.Context, header string) (context.Context, error) {
		return st.auth.HandleTokenAuth(ctx, api.VoiceChatOperation, api.TokenAuth{APIKey: header})
	})
	if !ok {
		return
	}
	r = r.WithContext(ctx)
	a, convID, replyFormat, err := st.request(r)
	if err != nil {
		st.errors.Write(w, r, err)
		return
	}
	p := account.PrincipalFrom(ctx)
	v := st.voice
	caller := Caller{UserID: p.User.ID, MAC: p.Session.MAC}
	var outcome error
	defer func() { v.outcome("voice_chat", outcome) }()
	tr, err := v.transcribe(ctx, caller.UserID, a, nil)
	if err != nil {
		outcome = err
		st.errors.Write(w, r, err)
		return
	}
	httpapi.StartEventStream(w)
	out := &sse{w: w}
	ms := int(tr.Duration.Milliseconds())
	if err := out.send(event{Type: "transcript", Text: tr.Text, Language: tr.Language, DurationMS: &ms, Provider: tr.Provider}); err != nil {
		return
	}

	// Sentences go to a speaker goroutine as the text arrives; its
	// failure stops the audio, not the text.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan string, 64)
	spoke := make(chan error, 1)
	go func() {
		seq := 0
		var err error
		for sentence := range queue {
			if err != nil {
				continue // drain
			}
			_, err = v.speakAll(ctx, caller, []string{sentence}, replyFormat, 16000, func(b []byte) error {
				n := seq
				seq++
				return out.send(event{Type: "audio", Seq: &n, Format: string(replyFormat), Data: b})
			})
		}
		spoke <- err
	}()
	split := sentences{maxChars: v.cfg.MaxTextChars}
	reply, chatErr := v.chats.Chat(ctx, chat.Request{Caller: chat.Caller{User: p.User, MAC: p.Session.MAC}, Text: tr.Text,
		ConversationID: convID, Channel: chat.ChannelVoice}, chat.Events{
		Start: func(s chat.Started) error {
			return out.send(event{Type: "start", ConversationID: s.ConversationID, UserMessageID: s.UserMessageID})
		},
		Delta: func(text string) error {
			for _, s := range split.add(text) {
				queue <- s
			}
			return out.send(event{Type: "delta", Text: text})
		},
	})
	if chatErr == nil {
		for _, s := range split.flush() {
			queue <- s
		}
	}
	close(queue)
	speakErr := <-spoke
	switch {
	case r.Context().Err() != nil:
		outcome = r.Context().Err()
	case chatErr != nil:
		outcome = chatErr
		_ = out.send(st.failure(ctx, chatErr))
	case speakErr != nil:
		outcome = speakErr
		_ = out.send(st.failure(ctx, speakErr))
	default:
		truncated := reply.Truncated
		_ = out.send(event{Type: "done", ConversationID: reply.ConversationID, UserMessageID: reply.UserMessageID,
			AssistantMessageID: reply.AssistantMessageID, Reply: reply.Text, FinishReason: reply.FinishReason, Truncated: &truncated})
	}
}
