package voice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"paradise/gen/ws"
	"paradise/internal/account"
	"paradise/internal/apperr"
	"paradise/internal/chat"
	"paradise/internal/hub"
	"paradise/internal/speech"
)

// GroupSender sends frames to every session of a user's group, on every
// instance (the hub's Bus).
type GroupSender interface {
	SendToGroup(ctx context.Context, userID int, f ws.Frame) error
}

// Profiles reads a user's profile (the account service).
type Profiles interface {
	Get(ctx context.Context, id int) (account.User, error)
}

// audioChunk bounds a binary frame of reply audio: well under clients'
// read limits, and few enough frames for the session's send queue.
const audioChunk = 32 << 10

// Turns runs voice turns over the hub: voice_start opens a recording that
// binary frames fill, voice_end recognizes it and answers with stt, the
// chat reply (chat_delta, chat_done) to the group, and the reply's audio
// (tts_start, binary frames, tts_end) to the speaking session. A new
// voice_start or an abort interrupts the reply in progress.
type Turns struct {
	voice    *Service
	profiles Profiles
	bus      GroupSender

	mu sync.Mutex
	// sessions holds each session's current turn, by session id.
	sessions map[string]*turn
	running  sync.WaitGroup
}

// turn is one voice turn of a session.
type turn struct {
	id      ws.TurnID
	start   ws.VoiceStartPayload
	audio   bytes.Buffer
	rate    int
	started time.Time
	// cancel stops the reply; nil while recording.
	cancel context.CancelFunc
}

// NewTurns returns the hub voice handlers and ties the replies in
// progress to the app's lifecycle (sessions end as the hub stops, which
// cancels their replies).
func NewTurns(lc fx.Lifecycle, v *Service, profiles Profiles, bus GroupSender) *Turns {
	t := &Turns{voice: v, profiles: profiles, bus: bus, sessions: map[string]*turn{}}
	lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
		done := make(chan struct{})
		go func() { t.running.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	return t
}

// Handlers are the hub frame handlers of voice_start, voice_end and abort.
func (t *Turns) Handlers() []hub.FrameHandler {
	return []hub.FrameHandler{
		{Type: ws.VoiceStartFrame, Consume: true, Handle: t.voiceStart},
		{Type: ws.VoiceEndFrame, Consume: true, Handle: t.voiceEnd},
		{Type: ws.AbortFrame, Consume: true, Handle: t.abort},
	}
}

// Hooks drop a session's turn when it ends.
func (t *Turns) Hooks() hub.Hooks {
	return hub.Hooks{Name: "voice", Disconnect: func(_ context.Context, s *hub.Session) { t.drop(s) }}
}

// drop interrupts and forgets the session's turn.
func (t *Turns) drop(s *hub.Session) {
	t.mu.Lock()
	cur := t.sessions[s.ID()]
	delete(t.sessions, s.ID())
	t.mu.Unlock()
	s.SetBinaryHandler(nil)
	if cur != nil && cur.cancel != nil {
		cur.cancel()
	}
}

func turnError(code ws.ErrorCode, detail string) *hub.FrameError {
	return &hub.FrameError{Code: code, Detail: detail}
}

// voiceStart interrupts the previous turn and opens a recording.
func (t *Turns) voiceStart(_ context.Context, s *hub.Session, f *ws.Frame) error {
	t.drop(s)
	p := f.VoiceStart.Message
	cur := &turn{id: p.TurnID, start: p, rate: int(p.SampleRate.Or(16000)), started: time.Now()}
	t.mu.Lock()
	t.sessions[s.ID()] = cur
	t.mu.Unlock()
	maxBytes, maxSecs := t.voice.cfg.MaxAudioBytes, t.voice.cfg.MaxAudioSeconds
	s.SetBinaryHandler(func(_ context.Context, data []byte) error {
		over := cur.audio.Len()+len(data) > maxBytes
		if p.Format == ws.VoiceAudioFormatPcm {
			over = over || speech.PCMDuration(cur.audio.Len()+len(data), cur.rate) > time.Duration(maxSecs)*time.Second
		}
		if over {
			t.drop(s)
			return turnError(ws.ErrorCodeInvalidPayload, fmt.Sprintf(
				"Voice turn %s is over its limit (%d bytes, %d seconds); it was dropped.", cur.id, maxBytes, maxSecs))
		}
		cur.audio.Write(data)
		return nil
	})
	return nil
}

// voiceEnd closes the recording and answers it off the reader goroutine.
func (t *Turns) voiceEnd(ctx context.Context, s *hub.Session, f *ws.Frame) error {
	id := f.VoiceEnd.Message.TurnID
	t.mu.Lock()
	cur := t.sessions[s.ID()]
	if cur == nil || cur.id != id || cur.cancel != nil {
		t.mu.Unlock()
		// Like every refusal of a turn, it carries the turn id.
		return s.Send(ws.NewErrorFrame(ws.Error{Message: ws.ErrorPayload{Code: ws.ErrorCodeInvalidPayload,
			Detail:    fmt.Sprintf("No voice turn %s is recording; send voice_start first.", apperr.Truncate(string(id), 64)),
			RequestID: ws.NewOptRequestID(ws.RequestID(id))}}))
	}
	replyCtx, cancel := context.WithCancel(ctx)
	cur.cancel = cancel
	t.mu.Unlock()
	s.SetBinaryHandler(nil)
	t.running.Add(1)
	go func() {
		defer t.running.Done()
		defer cancel()
		t.answer(replyCtx, s, cur)
	}()
	return nil
}

// abort drops the session's turn: its recording or its reply.
func (t *Turns) abort(_ context.Context, s *hub.Session, f *ws.Frame) error {
	t.mu.Lock()
	cur := t.sessions[s.ID()]
	t.mu.Unlock()
	if cur != nil && cur.id == f.Abort.Message.TurnID {
		t.drop(s)
	}
	return nil
}

// answer recognizes a turn's recording, chats it and speaks the reply.
func (t *Turns) answer(ctx context.Context, s *hub.Session, cur *turn) {
	userID := s.UserID()
	a := speech.Audio{Format: speech.Format(cur.start.Format), SampleRate: cur.rate, Language: cur.start.Language.Or(""), Data: cur.audio.Bytes()}
	tr, err := t.voice.transcribe(ctx, userID, a)
	if err != nil {
		t.refuse(ctx, s, cur.id, err)
		return
	}
	_ = t.bus.SendToGroup(ctx, userID, ws.NewSttFrame(ws.Stt{Message: ws.SttPayload{TurnID: cur.id, Text: tr.Text,
		Language: tr.Language, DurationMs: int(tr.Duration.Milliseconds()), Provider: tr.Provider}}))
	user, err := t.profiles.Get(ctx, userID)
	if err != nil {
		t.refuse(ctx, s, cur.id, err)
		return
	}
	replyFormat := speech.Format(cur.start.ReplyFormat.Or(ws.VoiceAudioFormatMp3))

	// The speaker streams sentences' audio to the session while the model
	// writes the rest.
	queue := make(chan string, 64)
	spoke := make(chan error, 1)
	sent := 0
	go func() {
		var err error
		started := false
		for sentence := range queue {
			if err != nil || ctx.Err() != nil {
				continue
			}
			if !started {
				started = true
				err = s.Send(ws.NewTtsStartFrame(ws.TtsStart{Message: ws.TtsStartPayload{TurnID: cur.id,
					Format: ws.VoiceAudioFormat(replyFormat), SampleRate: 16000}}))
			}
			if err == nil {
				_, err = t.voice.speakAll(ctx, Caller{UserID: userID, MAC: s.MAC()}, []string{sentence}, replyFormat, 16000, func(b []byte) error {
					for len(b) > 0 {
						n := min(len(b), audioChunk)
						s.SendBinary(b[:n])
						sent += n
						b = b[n:]
					}
					return ctx.Err()
				})
			}
		}
		if started {
			_ = s.Send(ws.NewTtsEndFrame(ws.TtsEnd{Message: ws.TtsEndPayload{TurnID: cur.id, Bytes: sent, Interrupted: err != nil || ctx.Err() != nil}}))
		}
		spoke <- err
	}()

	split := sentences{maxChars: t.voice.cfg.MaxTextChars}
	var convID int
	reply, chatErr := t.voice.chats.Chat(ctx, chat.Request{Caller: chat.Caller{User: user, MAC: s.MAC()}, Text: tr.Text,
		ConversationID: int(cur.start.ConversationID.Or(0)), Channel: chat.ChannelVoice}, chat.Events{
		Start: func(st chat.Started) error { convID = st.ConversationID; return nil },
		Delta: func(text string) error {
			for _, sentence := range split.add(text) {
				queue <- sentence
			}
			return t.bus.SendToGroup(ctx, userID, ws.NewChatDeltaFrame(ws.ChatDelta{Message: ws.ChatDeltaPayload{
				RequestID: ws.RequestID(cur.id), ConversationID: int64(convID), Text: text}}))
		},
	})
	if chatErr == nil {
		for _, sentence := range split.flush() {
			queue <- sentence
		}
	}
	close(queue)
	if reply.AssistantMessageID != 0 {
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = t.bus.SendToGroup(sendCtx, userID, ws.NewChatDoneFrame(ws.ChatDone{Message: ws.ChatDonePayload{
			RequestID: ws.RequestID(cur.id), ConversationID: int64(reply.ConversationID),
			UserMessageID: int64(reply.UserMessageID), AssistantMessageID: int64(reply.AssistantMessageID),
			FinishReason: ws.ChatFinishReason(reply.FinishReason), Truncated: reply.Truncated,
			Provider: reply.Provider, Model: reply.Model,
			Usage: ws.ChatUsage{PromptTokens: reply.PromptTokens, CompletionTokens: reply.CompletionTokens, TotalTokens: reply.TotalTokens()},
		}}))
	}
	speakErr := <-spoke
	switch {
	case ctx.Err() != nil:
		// Interrupted (a new turn, abort, the session ended): said by tts_end.
	case chatErr != nil:
		t.refuse(ctx, s, cur.id, chatErr)
	case speakErr != nil:
		t.refuse(ctx, s, cur.id, speakErr)
	}
	t.mu.Lock()
	if t.sessions[s.ID()] == cur {
		delete(t.sessions, s.ID())
	}
	t.mu.Unlock()
}

// refuse answers the session with an error frame carrying the turn id.
func (t *Turns) refuse(ctx context.Context, s *hub.Session, id ws.TurnID, err error) {
	if ctx.Err() != nil {
		return
	}
	t.voice.outcome("voice_turn", err)
	payload := ws.ErrorPayload{Code: ws.ErrorCodeInternalError, Detail: "Could not answer the voice turn.", RequestID: ws.NewOptRequestID(ws.RequestID(id))}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		b := ae.Bounded()
		payload.Detail = apperr.Truncate(b.Message, 900)
		switch {
		case ae.Status == http.StatusNotFound:
			payload.Code = ws.ErrorCodeNotFound
		case ae.Status == http.StatusTooManyRequests:
			payload.Code = ws.ErrorCodeQuotaExceeded
		case ae.Status >= 500:
			payload.Code = ws.ErrorCodeUnavailable
		default:
			payload.Code = ws.ErrorCodeInvalidPayload
		}
		if ae.RetryAfter > 0 {
			payload.RetryAfter = ws.NewOptInt(int((ae.RetryAfter + time.Second - 1) / time.Second))
		}
	} else {
		s.Logger().Error("Voice turn failed", zap.Error(err))
	}
	_ = s.Send(ws.NewErrorFrame(ws.Error{Message: payload}))
}
